// Hugging Face's tokenizers library (Rust, through its Node binding) on the benchmark's files:
// the same tokenizer and text as TokenizerBench, timed the same way (warm-up, then the mean of
// timed runs). Prints ms per encode and per decode, and checks the ids against Panamax's
// (ids.txt, written by compare.sh) when given.
// node hf_encode.mjs TOKENIZER.json TEXT.txt [IDS.txt]
import tk from 'tokenizers';
import fs from 'node:fs';

const [file, textFile, idsFile] = process.argv.slice(2);
const tok = tk.Tokenizer.fromFile(file);
const text = fs.readFileSync(textFile, 'utf8');
async function timeIt(what, f) {
  for (let i = 0; i < 30; i++) await f();
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    let n = 0;
    while (Number(process.hrtime.bigint() - t0) < 1e9) { await f(); n++; }
    runs.push(Number(process.hrtime.bigint() - t0) / 1e6 / n);
  }
  const mean = runs.reduce((a, b) => a + b) / runs.length;
  console.log(`hf ${what}: ${mean.toFixed(3)} ms/op (runs ${runs.map((x) => x.toFixed(3)).join(', ')})`);
}
const enc = await tok.encode(text, null, { addSpecialTokens: false });
const ids = enc.getIds();
console.log(`hf: ${text.length} characters, ${ids.length} tokens`);
if (idsFile) {
  const ours = fs.readFileSync(idsFile, 'utf8').trim().split(',').map(Number);
  const same = ours.length === ids.length && ours.every((x, i) => x === ids[i]);
  console.log(`hf ids equal Panamax's: ${same}`);
  if (!same) process.exitCode = 1;
}
await timeIt('encode', () => tok.encode(text, null, { addSpecialTokens: false }));
await timeIt('decode', () => tok.decode(ids, false));

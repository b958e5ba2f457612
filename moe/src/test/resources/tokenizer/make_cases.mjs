// Expected encodings and decodings of the tokenizer fixtures, computed by Hugging Face's own
// tokenizers library (Rust, through its Node binding: `npm install tokenizers@0.23.2`), never by
// Panamax. For each DIR holding a tokenizer.json, writes DIR/cases.json:
//   {"library": "...", "encode": [{"text", "ids", "ids_no_special"}...],
//    "decode": [{"ids", "text", "text_skip_special"}...]}
// node make_cases.mjs DIR...
import tk from 'tokenizers';
import fs from 'node:fs';
import path from 'node:path';

let seed = 20261125;
function rnd(n) { seed = (seed * 1103515245 + 12345) >>> 0; return ((seed >>> 8) % n); }

const PIECES = ['a', 'b', 'Z', 'the', 'The', 'HELLO', 'x', ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', '\r',
  '0', '7', '42', '123456', '3.14', '.', ',', '!', '?', "'s", "'LL", "'t", "'Re", '"', '(', ')', '[', ']',
  '-', '_', '#', '$', '+', '=', '<', '>', '/', '\\', '`', '~', '...', '——', '深', '度', '求', '索', '龥', '龦',
  'の', 'カ', 'ア', 'ー', '語', '한국', 'é', 'e\u0301', 'ﬁ', 'Ⅻ', '²', '½', 'İ', 'ß', 'Σ', 'ς', 'П', 'рив', 'ет',
  '🙂', '👩‍💻', '🇫🇷', '\u00a0', '\u3000', '\u2028', '\u0085', '\u200b', '١٢٣', '٣', 'ـ', 'ع',
  '<', '<think>', '</think>', '<answer>', '<｜', '｜>', '▁'];

function randomText(specials) {
  const n = 1 + rnd(24);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rnd(20);
    if (r === 0 && specials.length) s += specials[rnd(specials.length)];
    else s += PIECES[rnd(PIECES.length)];
  }
  return s;
}

const FIXED = ['', ' ', 'Hello world!', 'Hello  world', ' leading space', 'trailing space ', 'tabs\tand\nnewlines\r\n',
  '12345678901', '1 22 333 4444 55555', '3.14159', 'x=1+2*3', "I'm here, aren't you? WE'LL SEE.", 'snake_case and CamelCase',
  '深度求索发布了新的模型，它在数学和代码上表现很好。', 'ひらがなとカタカナ、そして漢字。', 'Привет, мир!', "l'été, où, déjà, naïve",
  'e\u0301 versus é', 'Emoji: 🙂 🚀 👩‍💻', '∑ ∫ ≤ ≥ → ←', 'def add(a, b):\n    return a + b\n',
  '<think>Let me add 23 and 19: 23 + 19 = 42.</think><answer>42</answer>', '     \n\n   \t  ', '...!!!???', '"quoted"',
  'ΟΔΥΣΣΕΥΣ ΣΑΣ. Σ', 'İstanbul', 'well-known, re-entry-1.5, 2,000.', 'a--b', '-x-', '``quoted``', 'a'.repeat(300), 'ab'.repeat(150), '深'.repeat(100), '9'.repeat(50), ' '.repeat(40) + 'x', '🙂'.repeat(20)];

function specialsOf(t) {
  const j = JSON.parse(fs.readFileSync(t, 'utf8'));
  return j.added_tokens.map((a) => a.content);
}

for (const dir of process.argv.slice(2)) {
  const file = path.join(dir, 'tokenizer.json');
  const tok = tk.Tokenizer.fromFile(file);
  const specials = specialsOf(file);
  const texts = [...FIXED];
  for (const s of specials) texts.push(s, 'x' + s + 'y', ' ' + s + ' ', 'a  ' + s + '  b', s + s, s.toLowerCase(), s.slice(0, s.length - 1));
  for (let i = 0; i < 400; i++) texts.push(randomText(specials));
  const encode = [];
  for (const text of texts) {
    const a = await tok.encode(text, null, { addSpecialTokens: true });
    const b = await tok.encode(text, null, { addSpecialTokens: false });
    encode.push({ text, ids: a.getIds(), ids_no_special: b.getIds() });
  }
  const size = tok.getVocabSize(true);
  const decode = [];
  for (const e of encode.slice(0, 80)) decode.push(e.ids);
  for (let i = 0; i < 200; i++) {
    const ids = [];
    const n = rnd(12);
    for (let k = 0; k < n; k++) ids.push(rnd(4) === 0 ? rnd(300) : rnd(size));
    decode.push(ids);
  }
  const dec = [];
  for (const ids of decode) dec.push({ ids, text: await tok.decode(ids, false), text_skip_special: await tok.decode(ids, true) });
  fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify({ library: 'tokenizers 0.23.2 (Node binding of the Rust library)', encode, decode: dec }, null, 0) + '\n');
  console.log(dir, encode.length, 'encodings', dec.length, 'decodings');
}

// Trains the benchmark tokenizer with Hugging Face's tokenizers library (npm install tokenizers@0.23.2):
// byte-level BPE, its default trainer, over the given files. finish.py then gives it DeepSeek-V3's
// pre-tokenizer, decoder, special tokens and every byte. See README.md beside this file.
import tk from 'tokenizers';
const t = new tk.Tokenizer(tk.BPE.empty());
t.setPreTokenizer(tk.byteLevelPreTokenizer(false, true));
t.train(process.argv.slice(3));
t.save(process.argv[2], false);
console.log('vocab', t.getVocabSize(true));

"""Trains the small byte-level BPE vocabularies of the tokenizer fixtures (test data only).

Writes three tokenizer.json files that share one vocabulary and merge list but differ in the
parts around it, each laid out as its family's released tokenizers are:
  deepseek-v3/  no normalizer; Split(\\p{N}{1,3}), Split(CJK and kana runs), Split(DeepSeek-V3's
                word regex), ByteLevel(use_regex=false); BOS through TemplateProcessing
  qwen2/        NFC; Split(Qwen2's regex, with (?i:'s|...)); ByteLevel(use_regex=false); no BOS
  gpt2/         ByteLevel(add_prefix_space=true, use_regex=true); ignore_merges; Lowercase+NFKC;
                BOS and EOS through TemplateProcessing
  mixed/        every other split behaviour, inverted splits, Digits and a prefix space after
                them; Strip, Replace and Prepend normalizers; RobertaProcessing
The expected encodings are then computed by Hugging Face's own tokenizers library
(make_cases.mjs), never by Panamax.

python3 train_bpe.py OUTDIR   (needs the `regex` module)
"""
import collections, json, os, sys
import regex

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "../../../../.."))

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))

DS_NUM = r"\p{N}{1,3}"
DS_CJK = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"
DS_WORD = (r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"""
           r"""| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
        r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

MULTI = """
深度求索发布了新的模型，它在数学和代码上表现很好。我们用强化学习训练推理能力。
日本語のテキストも少し入れておきます。ひらがなとカタカナ、そして漢字。
Привет, мир! Это небольшой текст на русском языке для проверки.
Ceci est un petit texte en français : l'été, où, déjà, naïve.
Emoji: 🙂 🚀 👩‍💻 and symbols ∑ ∫ ≤ ≥ → ← ©®™ €£¥.
def add(a, b):\n    return a + b  # 12345 + 67890 = 80235\n\tTabs\tand\r\nCRLF lines.
<think>Let me add 23 and 19: 23 + 19 = 42.</think><answer>42</answer>
"""

def corpus():
    texts = [MULTI * 20]
    for p in ("README.md", "bench/RESULTS.md"):
        f = os.path.join(ROOT, p)
        if os.path.exists(f):
            texts.append(open(f, encoding="utf-8").read()[:200000])
    return "\n".join(texts)

def pretokens(text):
    out = []
    for piece in regex.findall(DS_NUM + "|" + DS_CJK + "|" + DS_WORD, text):
        out.append(piece)
    return out

def train(text, merges_wanted):
    b2u = bytes_to_unicode()
    words = collections.Counter("".join(b2u[b] for b in p.encode("utf-8")) for p in pretokens(text))
    splits = {w: list(w) for w in words}
    merges = []
    for _ in range(merges_wanted):
        pairs = collections.Counter()
        for w, c in words.items():
            s = splits[w]
            for i in range(len(s) - 1):
                pairs[(s[i], s[i + 1])] += c
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        for w in words:
            s = splits[w]
            i, t = 0, []
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    t.append(s[i] + s[i + 1]); i += 2
                else:
                    t.append(s[i]); i += 1
            splits[w] = t
    return b2u, merges

def added(id_, content, special, lstrip=False, rstrip=False, single_word=False, normalized=None):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": (not special) if normalized is None else normalized, "special": special}

def split(pattern):
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}

def byte_level(prefix, use_regex):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True, "use_regex": use_regex}

def template(first, last, ids):
    single = ([{"SpecialToken": {"id": first, "type_id": 0}}] if first else []) + [{"Sequence": {"id": "A", "type_id": 0}}] \
        + ([{"SpecialToken": {"id": last, "type_id": 0}}] if last else [])
    pair = single + [{"Sequence": {"id": "B", "type_id": 1}}]
    return {"type": "TemplateProcessing", "single": single, "pair": pair,
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in (first, last) if t}}

def write(outdir, name, specials_front, b2u, merges, tail_added, normalizer, pre, post, ignore_merges, config):
    vocab = {}
    for t in specials_front:
        vocab[t] = len(vocab)
    for ch in b2u.values():
        vocab.setdefault(ch, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    adds = [added(vocab[t], t, True) for t in specials_front]
    ids = dict(vocab)
    for spec in tail_added:
        content = spec[0]
        ids[content] = len(ids)
        adds.append(added(ids[content], content, *spec[1:]))
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": adds,
           "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post(ids),
           "decoder": byte_level(True, True),
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                     "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
                     "vocab": vocab, "merges": [[a, b] for a, b in merges] if name != "gpt2" else [a + " " + b for a, b in merges]}}
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    if config is not None:
        with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=1)

def main():
    outdir = sys.argv[1]
    b2u, merges = train(corpus(), 1500)
    bos, eos, pad = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
    write(outdir, "deepseek-v3", [bos, eos, pad], b2u, merges,
          [("<｜User｜>", False), ("<｜Assistant｜>", False), ("<think>", False), ("</think>", False),
           ("<｜tool▁sep｜>", True, True, True), ("<｜place▁holder▁no▁1｜>", True)],
          None, {"type": "Sequence", "pretokenizers": [split(DS_NUM), split(DS_CJK), split(DS_WORD), byte_level(False, False)]},
          lambda ids: template(bos, None, ids), False,
          {"add_bos_token": True, "add_eos_token": False, "bos_token": {"content": bos, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
           "eos_token": {"content": eos, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
           "tokenizer_class": "LlamaTokenizerFast", "model_max_length": 16384})
    write(outdir, "qwen2", [], b2u, merges,
          [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<tool_call>", False), ("Special", False, False, False, True)],
          {"type": "NFC"}, {"type": "Sequence", "pretokenizers": [split(QWEN), byte_level(False, False)]},
          lambda ids: {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}, False,
          {"bos_token": None, "eos_token": "<|im_end|>", "tokenizer_class": "Qwen2Tokenizer"})
    write(outdir, "gpt2", ["<|endoftext|>"], b2u, merges,
          [("<mask>", True, True, False), ("[raw]", False, False, False, False, False), ("HeLLo", False)],
          {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]}, byte_level(True, True),
          lambda ids: {"type": "Sequence", "processors": [byte_level(True, True) | {"type": "ByteLevel"},
                                                          template("<|endoftext|>", "<|endoftext|>", ids)]}, True, None)
    write(outdir, "mixed", ["<s>", "<pad>", "</s>"], b2u, merges, [("<x>", True), ("Word", False)],
          {"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": True, "strip_right": True},
                                               {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
                                               {"type": "Replace", "pattern": {"Regex": "\\s{3,}"}, "content": " _ "},
                                               {"type": "Prepend", "prepend": "~"}]},
          mixed_pre(), lambda ids: {"type": "RobertaProcessing", "sep": ["</s>", ids["</s>"]], "cls": ["<s>", ids["<s>"]],
                                    "trim_offsets": True, "add_prefix_space": True}, False, None)

def mixed_pre():
    def sp(pattern, behavior, invert=False):
        return {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}
    return {"type": "Sequence", "pretokenizers": [
        sp({"String": "-"}, "MergedWithNext"), sp({"Regex": "[.,]"}, "MergedWithPrevious"), sp({"Regex": "\\p{L}+"}, "Contiguous", True),
        sp({"Regex": "\\s+"}, "Removed"), {"type": "Digits", "individual_digits": True}, byte_level(True, True)]}

if __name__ == "__main__":
    main()

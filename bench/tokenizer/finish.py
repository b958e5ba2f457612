"""Gives the trained benchmark tokenizer DeepSeek-V3's layout (see README.md beside this file).

python3 finish.py TRAINED.json OUT.json
"""
import json, sys

DS_NUM = r"\p{N}{1,3}"
DS_CJK = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"
DS_WORD = (r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"""
           r"""| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")

def byte_chars():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    n, out = 0, {}
    for b in range(256):
        out[b] = chr(b) if b in bs else chr(256 + n)
        n += b not in bs
    return out.values()

def split(p):
    return {"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": False}

tok = json.load(open(sys.argv[1], encoding="utf-8"))
vocab = tok["model"]["vocab"]
for c in byte_chars():
    vocab.setdefault(c, len(vocab))
specials = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"]
tok["added_tokens"] = []
for i, s in enumerate(specials):
    vocab[s] = len(vocab)
    tok["added_tokens"].append({"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                                "normalized": False, "special": i < 3})
bos = specials[0]
tok["normalizer"] = None
tok["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [split(DS_NUM), split(DS_CJK), split(DS_WORD),
                        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
tok["post_processor"] = {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                         "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                         "special_tokens": {bos: {"id": bos, "ids": [vocab[bos]], "tokens": [bos]}}}
tok["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
json.dump(tok, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
print(len(vocab), "tokens")

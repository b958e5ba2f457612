#!/usr/bin/env python3
"""Jinja2 (as transformers' apply_chat_template sets it up) laying out ChatTemplateBench's
conversation by the same template: prints the time per render and per parse, and the SHA-256 of
the output, which must equal the one ChatTemplateBench's setup prints.

    python3 bench/chat/jinja_render.py      # from the repository root; needs jinja2 >= 3.1
"""
import gzip
import hashlib
import json
import timeit

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

source = open("bench/src/main/resources/chat/deepseek-v3.jinja", encoding="utf-8").read()
text = gzip.open("bench/src/main/resources/tokenizer/text.txt.gz").read().decode("utf-8")
lines = [l for l in text.splitlines() if l.strip()][:64]
messages = [{"role": "system", "content": "You are a helpful assistant."}]
for i, line in enumerate(lines):
    messages.append({"role": "user", "content": line} if i % 2 == 0 else {"role": "assistant", "content": "<think>" + line + "</think>" + line})
context = dict(messages=messages, tools=None, documents=None, add_generation_prompt=True,
               bos_token="<｜begin▁of▁sentence｜>", eos_token="<｜end▁of▁sentence｜>")
template = env.from_string(source)
out = template.render(**context)
print("%d messages, %d characters laid out, sha256 %s" % (len(messages), len(out), hashlib.sha256(out.encode("utf-8")).hexdigest()))
for name, fn, n in (("render", lambda: template.render(**context), 200), ("parse", lambda: env.from_string(source), 50)):
    best = min(timeit.repeat(fn, number=n, repeat=5)) / n
    print("jinja2 %s: %.1f us" % (name, best * 1e6))

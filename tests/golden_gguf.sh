#!/usr/bin/env bash
# Writes the GGUF reference files the reader tests read (tests/reference/gguf_reference.py,
# with the gguf-py of llama.cpp's source, cloned from the git bundle npm's node-llama-cpp
# ships). Idempotent; regenerated when the scripts change.
set -euo pipefail
SRC="${LMF_SOURCE_DIR:?}"
OUT="${1:?usage: golden_gguf.sh OUT_DIR}"
PY="${LMF_PYTHON:-/usr/bin/python3}"
BUNDLE="${LMF_NPM_DIR:-$SRC/.deps/npm}/node_modules/node-llama-cpp/llama/gitRelease.bundle"
STAMP="$(cd "$SRC/tests" && sha256sum golden_gguf.sh reference/gguf_reference.py | sha256sum | cut -d' ' -f1)"
[[ "$(cat "$OUT/.done" 2>/dev/null)" == "$STAMP" ]] && exit 0
[[ -f "$BUNDLE" ]] || { echo "golden_gguf.sh: $BUNDLE missing: run scripts/setup" >&2; exit 1; }
mkdir -p "$OUT"
if [[ ! -d "$OUT/llama.cpp/gguf-py" ]]; then
  rm -rf "$OUT/llama.cpp"
  git clone -q "$BUNDLE" "$OUT/llama.cpp" 2>/dev/null
fi
rm -rf "$OUT/ref"
"$PY" "$SRC/tests/reference/gguf_reference.py" "$OUT/llama.cpp/gguf-py" "$OUT/ref"
echo "$STAMP" > "$OUT/.done"

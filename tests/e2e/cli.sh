#!/usr/bin/env bash
# End to end: each CLI command on golden checkpoints, as a user runs it.
source "$(dirname "$0")/lib.bash"
G="$LMF_GOLDEN"
T="$LMF_TMP/cli"; rm -rf "$T"; mkdir -p "$T"

# info: text and JSON agree with config.json
out="$("$LMF" info "$G/llama_untied_sharded")"
grep -q "architecture: LlamaForCausalLM" <<<"$out" && grep -q "context:      128" <<<"$out" \
  && grep -q "head:         separate" <<<"$out" && pass "info text" || failed "info text: $out"
"$LMF" info "$G/qwen2_bf16" --json --tensors > "$T/info.json"
"$PY" - "$T/info.json" <<'PY' && pass "info --json --tensors" || failed "info --json --tensors"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["architecture"] == "Qwen2ForCausalLM" and j["dtype"] == "bf16" and j["vocab"] == 512, j
names = {t["name"] for t in j["tensors"]}
assert "model.layers.0.self_attn.q_proj.bias" in names and len(names) == len(j["tensors"])
PY

# graph: lists ops with shapes
out="$("$LMF" graph "$G/gpt2")"
grep -q "attention(" <<<"$out" && grep -q "logits : f32 (M, 512)" <<<"$out" && pass "graph" || failed "graph"
# graph --plan: what the CPU engine runs (gelu fused into its linear, q/k/v read packed; Llama's
# ropes share one rope_table)
out="$("$LMF" graph --plan "$G/gpt2")"
grep -q "fused_act=gelu_tanh" <<<"$out" && grep -q "qkv=packed" <<<"$out" && ! grep -q "= gelu_tanh(" <<<"$out" &&
  [ "$(grep -c "= rope_table(" <<<"$("$LMF" graph --plan "$G/llama")")" = 1 ] && pass "graph --plan" || failed "graph --plan"

# generate --ids: greedy continuation equals the PyTorch reference's
for case in gpt2 llama qwen2; do
  want="$("$PY" - "$G/$case" <<'PY'
import sys; sys.path.insert(0, sys.argv[0] and __import__("os").environ["LMF_SOURCE_DIR"] + "/tests/reference")
import ref_models as R
t = R.load_safetensors(sys.argv[1] + "/expected.safetensors")
print(",".join(str(int(x)) for x in t["seq0.ids"]), " ".join(str(int(x)) for x in t["seq0.greedy"][:16]))
PY
)"
  prompt="${want%% *}"; cont="${want#* }"
  got="$("$LMF" generate "$G/$case" --ids -p "$prompt" -n 16 -q)"
  [[ "$got" == "${prompt//,/ } $cont" ]] && pass "generate --ids $case" || failed "generate --ids $case: got '$got' want '${prompt//,/ } $cont'"
done

# a batch of prompts from a file, one forward pass per step: the golden prompts (7, 13 and 1
# tokens), each line "[i] prompt continuation" with the PyTorch reference's greedy tokens
"$PY" - "$G/llama" "$T/prompts.txt" "$T/prompts.want" <<'PY'
import os, sys; sys.path.insert(0, os.environ["LMF_SOURCE_DIR"] + "/tests/reference")
import ref_models as R
t = R.load_safetensors(sys.argv[1] + "/expected.safetensors")
seqs = [i for i in range(8) if f"seq{i}.ids" in t]
ids = [[int(x) for x in t[f"seq{i}.ids"]] for i in seqs]
cont = [[int(x) for x in t[f"seq{i}.greedy"][:5]] for i in seqs]
open(sys.argv[2], "w").write("".join(",".join(map(str, p)) + "\n" for p in ids))
open(sys.argv[3], "w").write("".join(f"[{i + 1}] " + " ".join(map(str, p + c)) + "\n" for i, (p, c) in enumerate(zip(ids, cont))))
PY
out="$("$LMF" generate "$G/llama" --ids --file "$T/prompts.txt" -n 5 -q)"
[[ "$out" == "$(cat "$T/prompts.want")" ]] && pass "generate --file (batch) == reference greedy" \
  || failed "generate --file: got '$out' want '$(cat "$T/prompts.want")'"
single="$("$LMF" generate "$G/llama" --ids -p "$(sed -n 2p "$T/prompts.txt")" -n 5 -q)"
[[ "$(grep '^\[2\]' <<<"$out" | cut -d' ' -f2-)" == "$single" ]] && pass "batched == single" \
  || failed "batched != single: $(grep '^\[2\]' <<<"$out") vs $single"

# sampling: same seed, same text; threads do not change greedy output
a="$("$LMF" generate "$G/qwen2" --ids -p 5,6,7 -n 12 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 7 -q)"
b="$("$LMF" generate "$G/qwen2" --ids -p 5,6,7 -n 12 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 7 -q -t 1)"
[[ "$a" == "$b" ]] && pass "sampling reproducible with --seed" || failed "sampling: $a vs $b"

# text in, text out with a real GPT-2 tokenizer: the prompt encoded by gpt-3-encoder (npm), 8
# greedy tokens from the PyTorch reference, decoded by gpt-3-encoder
if [[ -d "$G/gpt2_tok" ]]; then
  gpt3() { node -e 'const e = require(process.argv[1] + "/node_modules/gpt-3-encoder"); const a = process.argv[3];
    process.stdout.write(process.argv[2] === "encode" ? e.encode(a).join(",") : e.decode(a.split(",").map(Number)));' \
    "$LMF_NPM_DIR" "$@"; }
  ids="$(gpt3 encode "Hello, world")"
  "$PY" "$LMF_SOURCE_DIR/tests/reference/ref_models.py" expect --model "$G/gpt2_tok" --prompts "$ids" --greedy 8 \
    --no-check --quiet --out "$T/hello.safetensors"
  cont="$("$PY" - "$T/hello.safetensors" <<'PY'
import os, sys; sys.path.insert(0, os.environ["LMF_SOURCE_DIR"] + "/tests/reference")
import ref_models as R
print(",".join(str(int(x)) for x in R.load_safetensors(sys.argv[1])["seq0.greedy"]))
PY
)"
  want="$(gpt3 decode "$ids,$cont")"
  out="$("$LMF" generate "$G/gpt2_tok" -p "Hello, world" -n 8 -q)"
  [[ "$out" == "$want" ]] && pass "generate text == reference ($ids -> $cont)" || failed "generate text: got '$out' want '$want'"
fi

# bench: table and JSON
out="$("$LMF" bench "$G/gpt2" -p 16 -n 8 -r 2 -t 1 --no-probe)"
grep -q "pp16" <<<"$out" && grep -q "tg8" <<<"$out" && pass "bench table" || failed "bench table: $out"
"$LMF" bench "$G/gpt2" -p 16 -n 8 -r 2 -t 1 --json > "$T/bench.json"
"$PY" - "$T/bench.json" <<'PY' && pass "bench --json" || failed "bench --json"
import json, sys
j = json.load(open(sys.argv[1]))
tests = {t["test"]: t for t in j["tests"]}
assert tests["pp16"]["tokens_per_s"] > 0 and tests["tg8"]["tokens_per_s"] > 0, j
assert j["read_bandwidth_bytes_per_s"] > 0 and j["sgemm_flops_per_s"] > 0
tg, wbw = tests["tg8"], j["weight_read_bandwidth_bytes_per_s"]
assert wbw > 0 and abs(tg["fraction_of_weight_read"] - tg["tokens_per_s"] * j["weight_bytes_per_token"] / wbw) < 1e-9, j
adj = tg["adjacent_weight_read_bytes_per_s"]
f = sorted(s * j["weight_bytes_per_token"] / b for s, b in zip(tg["samples"], adj))
assert len(adj) == len(tg["samples"]) == 2 and abs(tg["fraction_of_adjacent_weight_read"] - (f[0] + f[1]) / 2) < 1e-9, j
assert j["git_rev"] and "CPUs" in j["cpu"] and j["host"], (j["git_rev"], j["cpu"], j["host"])
PY
# --profile: per-op prefill and decode times; every step runs each linear of the graph once
"$LMF" bench "$G/gpt2" -p 4 -n 8 -r 1 -t 1 --no-probe --profile --json > "$T/prof.json"
"$LMF" graph "$G/gpt2" > "$T/graph.txt"
"$PY" - "$T/prof.json" "$T/graph.txt" <<'PY' && pass "bench --profile" || failed "bench --profile"
import json, sys, re
j = json.load(open(sys.argv[1]))
prof = {p["op"]: p for p in j["decode_profile"]}
linears = len(re.findall(r"= linear\(", open(sys.argv[2]).read()))
assert linears > 0 and prof["linear"]["calls_per_token"] == linears, (prof, linears)
assert all(p["ms_per_token"] >= 0 for p in prof.values()) and prof["linear"]["ms_per_token"] > 0
pre = {p["op"]: p for p in j["prefill_profile"]}
assert pre["linear"]["calls"] == linears and pre["linear"]["ms"] > 0 and all(p["ms"] >= 0 for p in pre.values()), pre
PY
finish

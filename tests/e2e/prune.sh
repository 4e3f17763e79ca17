#!/usr/bin/env bash
# End to end: `lmforge prune` of the reference Brown model (assets/brown-gpt2-4l): magnitude
# (per layer and global), wanda and 2:4 folders written with --dense load in info, ppl and
# generate; the report's counts equal those counted in the written file (PyTorch's reader),
# unpruned tensors are untouched, N:M holds in every group, a bf16 checkpoint stays bf16,
# perplexity rises with sparsity, and bad flags get one clear error line with nothing written.
source "$(dirname "$0")/lib.bash"
T="$LMF_TMP/prune"; rm -rf "$T"; mkdir -p "$T"
M="$(cd "$(dirname "$0")/../.." && pwd)/assets/brown-gpt2-4l"
REF="$LMF_SOURCE_DIR/tests/reference"
"$LMF" data prepare --corpus brown --tokenizer "$M/tokenizer.json" -o "$T/brown" -q

"$LMF" prune "$M" -o "$T/mag50" --sparsity 0.5 --dense --json > "$T/mag50.json" && pass "prune magnitude 50%" || failed "prune magnitude"
"$LMF" prune "$M" -o "$T/glob30" --sparsity 0.3 --scope global --dense --json > "$T/glob30.json" \
  && pass "prune magnitude global 30%" || failed "prune global"
"$LMF" prune "$M" -o "$T/wanda50" --method wanda --sparsity 0.5 --calib "$T/brown" --calib-samples 16 --calib-seq 256 \
  -t 2 --dense --json > "$T/wanda50.json" && pass "prune wanda 50%" || failed "prune wanda"
"$LMF" prune "$M" -o "$T/nm24" --method 2:4 --dense --json > "$T/nm24.json" && pass "prune --method 2:4" || failed "prune 2:4"
"$LMF" prune "$M" -o "$T/wnm24" --method wanda --nm 2:4 --calib "$T/brown" --calib-samples 16 --calib-seq 256 -t 2 \
  --dense --json > "$T/wnm24.json" && pass "prune wanda --nm 2:4" || failed "prune wanda 2:4"
"$LMF" prune "$M" -o "$T/mlp" --sparsity 0.6 --include 'mlp\.c_fc' --dense --json > "$T/mlp.json" \
  && pass "prune --include" || failed "prune --include"
out="$("$LMF" prune "$M" -o "$T/text" --sparsity 0.25 --dense)"
grep -qE "^  h\.3\.mlp\.c_proj +262144 +196608 +25\.00%$" <<<"$out" && grep -q "^pruned modules: 3145728 params, 2359296 non-zeros (25.00% sparse)$" <<<"$out" \
  && pass "text report: per-layer sparsity and totals" || failed "text report: $out"

# The reports against the files: non-zeros counted by PyTorch's reader, every other tensor
# bitwise the original, bytes the file's size, the N:M pattern in every group of 4 inputs.
"$PY" - "$M" "$T" <<'PY' && pass "reports = the files; other tensors untouched; 2:4 pattern" || failed "reports vs files"
import json, os, sys
sys.path.insert(0, os.environ["LMF_SOURCE_DIR"] + "/tests/reference")
import ref_models as R
M, T = sys.argv[1:]
orig = R.load_safetensors(M + "/model.safetensors")
for name, nm in (("mag50", False), ("glob30", False), ("wanda50", False), ("nm24", True), ("wnm24", True), ("mlp", False)):
    rep = json.load(open(f"{T}/{name}.json"))
    w = R.load_safetensors(f"{T}/{name}/model.safetensors")
    assert sorted(w) == sorted(orig), name
    assert rep["bytes"] == os.path.getsize(f"{T}/{name}/model.safetensors"), name
    layers = {l["module"]: l for l in rep["layers"]}
    assert rep["params"] == sum(t.numel() for t in orig.values()), (name, rep["params"])
    assert rep["nonzeros"] == sum(int((t != 0).sum()) for t in w.values()), name
    for k, t in w.items():
        mod = k[: -len(".weight")]
        if mod in layers:
            assert layers[mod]["params"] == t.numel() and layers[mod]["nonzeros"] == int((t != 0).sum()), (name, k)
            assert bool(((t == orig[k]) | (t == 0)).all()), (name, k, "kept weights changed")
            if nm:  # Conv1D (in, out): groups of 4 consecutive inputs of each output column
                g = (t != 0).reshape(t.shape[0] // 4, 4, t.shape[1]).sum(1)
                assert bool((g == 2).all()), (name, k)
        else:
            assert bool((t == orig[k]).all()), (name, k, "not pruned but changed")
    sp = 1 - rep["layer_nonzeros"] / rep["layer_params"]
    want = {"mag50": 0.5, "glob30": 0.3, "wanda50": 0.5, "nm24": 0.5, "wnm24": 0.5, "mlp": 0.6}[name]
    assert abs(sp - want) < 1e-5, (name, sp)  # round(S n) of each weight: 60% of 262144 is 157286
mlp = json.load(open(f"{T}/mlp.json"))
assert [l["module"] for l in mlp["layers"]] == [f"h.{i}.mlp.c_fc" for i in range(4)], mlp["layers"]
glob = json.load(open(f"{T}/glob30.json"))
assert len({round(l["nonzeros"] / l["params"], 3) for l in glob["layers"]}) > 1, "global: every layer at the same sparsity"
PY
cmp -s "$M/tokenizer.json" "$T/mag50/tokenizer.json" \
  && "$PY" -c "import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); assert a == b" "$M/config.json" "$T/mag50/config.json" \
  && pass "tokenizer.json copied, config.json the same" || failed "tokenizer/config"

"$LMF" info "$T/wanda50" | grep -q "GPT2LMHeadModel" && pass "info loads the pruned folder" || failed "info: $("$LMF" info "$T/wanda50")"
text="$("$LMF" generate "$T/nm24" -p "The jury said" -n 8 -t 2 -q)"
[[ "$text" == "The jury said"?* ]] && pass "generate on the 2:4 model: $text" || failed "generate: $text"
ppl() { "$LMF" ppl "$1" --data "$T/brown" --ctx 256 --max-tokens 20000 -t 2 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['ppl'])"; }
"$LMF" prune "$M" -o "$T/mag90" --sparsity 0.9 --dense -q
pd="$(ppl "$M")"; pm="$(ppl "$T/mag50")"; pw="$(ppl "$T/wanda50")"; p9="$(ppl "$T/mag90")"
"$PY" -c "import sys; d, m, w, n = map(float, sys.argv[1:]); assert d < m < n and d < w < n and n > 1.5 * d, sys.argv" \
  "$pd" "$pm" "$pw" "$p9" && pass "ppl: dense $pd < magnitude 50% $pm, wanda 50% $pw < magnitude 90% $p9" \
  || failed "ppl: dense $pd magnitude 50% $pm wanda 50% $pw magnitude 90% $p9"

# A bf16 checkpoint stays bf16 (torch_dtype unchanged), its kept weights bitwise the same.
B="$LMF_GOLDEN/qwen2_bf16"
"$LMF" prune "$B" -o "$T/bf16" --nm 2:4 --dense -q && "$PY" - "$B" "$T/bf16" <<'PY' && pass "bf16 stays bf16" || failed "bf16"
import json, os, sys
sys.path.insert(0, os.environ["LMF_SOURCE_DIR"] + "/tests/reference")
import ref_models as R
import torch
a, b = sys.argv[1:]
_, wa = R.load_checkpoint(a)
wb = R.load_safetensors(b + "/model.safetensors")
assert json.load(open(a + "/config.json"))["torch_dtype"] == json.load(open(b + "/config.json"))["torch_dtype"]
pruned = 0
for k, t in wb.items():
    assert t.dtype == torch.bfloat16, k
    assert bool(((t == wa[k]) | (t == 0)).all()), k
    pruned += int(((t == 0) & (wa[k] != 0)).sum())
assert pruned > 0
PY
"$LMF" generate "$T/bf16" --ids -p 1,2,3 -n 4 -q > /dev/null && pass "generate on the pruned bf16 model" || failed "generate bf16"

# Bad input: one error line naming the flag, nothing written.
expect_error "prune: sparsity 1" "--sparsity 1: must be in \[0, 1\)" "$LMF" prune "$M" -o "$T/bad" --sparsity 1 --dense
expect_error "prune: negative sparsity" "--sparsity -0.1: must be in \[0, 1\)" "$LMF" prune "$M" -o "$T/bad" --sparsity=-0.1 --dense
expect_error "prune: N >= M" "--method 4:4: N must be at least 1 and smaller than M" "$LMF" prune "$M" -o "$T/bad" --method 4:4 --dense
expect_error "prune: M does not divide" "--nm 1:3: M = 3 does not divide the 256 inputs of h.0.attn.c_attn" \
  "$LMF" prune "$M" -o "$T/bad" --nm 1:3 --dense
expect_error "prune: --include matches nothing" "--include 'nothing': matches no linear module" \
  "$LMF" prune "$M" -o "$T/bad" --sparsity 0.5 --include nothing --dense
expect_error "prune: wanda without --calib" "--calib DATA is required for --method wanda" \
  "$LMF" prune "$M" -o "$T/bad" --method wanda --sparsity 0.5 --dense
expect_error "prune: no --dense" "--dense is required" "$LMF" prune "$M" -o "$T/bad" --sparsity 0.5
expect_error "prune: output exists" "-o .*: exists and is not an empty folder" "$LMF" prune "$M" -o "$T/mag50" --sparsity 0.5 --dense
[[ ! -e "$T/bad" && ! -e "$T/bad.partial" ]] && pass "bad input wrote nothing" || failed "bad input left $T/bad"
finish

#!/usr/bin/env bash
# End to end: `lmforge quantize` of the reference Brown model (assets/brown-gpt2-4l) to
# int8-dynamic, w8, w4 and GPTQ w4: the folders load in info/generate/ppl/bench, are smaller on disk, keep the
# valid-split perplexity close to the float model's (int8-dynamic and w8 within 1%, w4 g128 within 5%,
# GPTQ better than round to nearest),
# and bad flags get one clear error line with nothing written.
source "$(dirname "$0")/lib.bash"
T="$LMF_TMP/quantize"; rm -rf "$T"; mkdir -p "$T"
M="$(cd "$(dirname "$0")/../.." && pwd)/assets/brown-gpt2-4l"
"$LMF" data prepare --corpus brown --tokenizer "$M/tokenizer.json" -o "$T/brown" -q
"$LMF" quantize "$M" -o "$T/w8" --method w8 -q && pass "quantize w8" || failed "quantize w8"
"$LMF" quantize "$M" -o "$T/i8" --method int8-dynamic -q && pass "quantize int8-dynamic" || failed "quantize int8-dynamic"
"$LMF" info "$T/i8" | grep -q "quantized:    int8-dynamic x 17" && pass "info: int8-dynamic" || failed "info i8: $("$LMF" info "$T/i8")"
"$LMF" quantize "$M" -o "$T/w4" --method w4 --group-size 128 && pass "quantize w4" || failed "quantize w4"
"$LMF" quantize "$M" -o "$T/w4a" --method w4 --group-size 64 --asym --head float --skip 'h\.0\.' -q \
  && pass "quantize w4 asym, float head, --skip" || failed "quantize w4 asym"
"$LMF" quantize "$M" -o "$T/w4kv" --method w4 --kv-cache int8 -q && pass "quantize w4 --kv-cache int8" || failed "kv int8"
"$LMF" info "$T/w4" | grep -q "quantized:    w4 g128 x 16, w8 g128 x 1" && pass "info: quantized layers" || failed "info: $("$LMF" info "$T/w4")"
"$LMF" info "$T/w4a" | grep -q "quantized:    w4 g64 x 12 " && pass "info: skipped layers stay float" || failed "info w4a"
# generate on text: the prompt's ids, the greedy ids generate --ids gives for them, decoded
gen_matches_ids() {  # MODEL THREADS: generate's text == the decoded ids of generate --ids
  local ids cont text
  ids="$("$LMF" tokenize "$1" "The jury said")"
  cont="$("$LMF" generate "$1" --ids -p "${ids// /,}" -n 8 -t "$2" -q)"
  text="$("$LMF" generate "$1" -p "The jury said" -n 8 -t "$2" -q)"
  [[ "$(wc -w <<<"$cont")" == $(($(wc -w <<<"$ids") + 8)) && "$text" == "$("$LMF" tokenize "$1" --ids "${cont// /,}")" \
     && "$text" == "The jury said"?* ]]
}
gen_matches_ids "$T/w4" 1 && pass "generate w4: text == decoded greedy ids" || failed "generate w4"
"$LMF" bench "$T/w8" -p 16 -n 8 -r 1 -t 1 --no-probe | grep -q tg8 && pass "bench w8" || failed "bench w8"
size() { stat -c %s "$1/model.safetensors"; }
"$PY" -c "import sys; f, a, b = map(int, sys.argv[1:]); assert b < a < f / 3, (f, a, b)" \
  "$(size "$M")" "$(size "$T/w8")" "$(size "$T/w4")" && pass "sizes: w4 < w8 < float / 3" || failed "sizes"
ppl() { "$LMF" ppl "$1" --data "$T/brown" --ctx 256 --max-tokens 20000 -t 2 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['ppl'])"; }
"$LMF" quantize "$M" -o "$T/gptq" --method gptq --calib "$T/brown" --calib-samples 32 --calib-seq 256 -t 2 -q \
  && pass "quantize gptq" || failed "quantize gptq"
"$LMF" quantize "$M" -o "$T/gptq_ao" --method gptq --act-order --calib "$T/brown" --calib-samples 16 -t 2 -q \
  && pass "quantize gptq --act-order" || failed "quantize gptq --act-order"
"$LMF" quantize "$M" -o "$T/sq" --method smoothquant --calib "$T/brown" --calib-samples 16 -t 2 -q \
  && pass "quantize smoothquant" || failed "quantize smoothquant"
grep -q '"norms_smoothed": 8' "$T/sq/config.json" && pass "smoothquant: 8 norms smoothed" || failed "smoothquant config"
pf="$(ppl "$M")"; p8="$(ppl "$T/w8")"; p4="$(ppl "$T/w4")"; pg="$(ppl "$T/gptq")"; pa="$(ppl "$T/gptq_ao")"; pi="$(ppl "$T/i8")"; ps="$(ppl "$T/sq")"; pk="$(ppl "$T/w4kv")"
"$PY" -c "import sys; a, b = map(float, sys.argv[1:]); assert abs(b / a - 1) < 0.01, (a, b)" "$p4" "$pk" \
  && pass "ppl: w4 $p4, w4 with int8 kv cache $pk" || failed "kv int8 ppl: $p4 vs $pk"
"$PY" -c "import sys; f, a, b, i, s = map(float, sys.argv[1:]); assert abs(a / f - 1) < 0.01 and abs(b / f - 1) < 0.05 and abs(i / f - 1) < 0.01 and abs(s / f - 1) < 0.01, (f, a, b, i, s)" \
  "$pf" "$p8" "$p4" "$pi" "$ps" && pass "ppl: float $pf, w8 $p8, w4 $p4, int8-dynamic $pi, smoothquant $ps" || failed "ppl: float $pf, w8 $p8, w4 $p4, i8 $pi, sq $ps"
# GPTQ calibrates on the train split; the valid split it is scored on is disjoint.
"$PY" -c "import sys; f, r, g, a = map(float, sys.argv[1:]); assert g < r and a < r and g / f - 1 < 0.05, (f, r, g, a)" \
  "$pf" "$p4" "$pg" "$pa" && pass "ppl: gptq $pg, act-order $pa < round to nearest $p4" || failed "gptq: $pg $pa vs rtn $p4"

# 3 bits: GPTQ's KL from the original is well below round to nearest's (perplexity alone is too noisy here)
"$LMF" quantize "$M" -o "$T/w3" --method w3 -q && "$LMF" quantize "$M" -o "$T/g3" --method gptq --bits 3 \
  --calib "$T/brown" --calib-samples 32 --calib-seq 256 -t 2 -q && pass "quantize w3, gptq --bits 3" || failed "3-bit"
kl() { "$LMF" ppl "$1" --data "$T/brown" --base "$M" --ctx 256 --max-tokens 20000 -t 2 --json -q | "$PY" -c "import json,sys; print(json.load(sys.stdin)['kl_mean'])"; }
# AWQ (scales + clipping, calibrated on the train split): closer to the original than round to nearest
"$LMF" quantize "$M" -o "$T/awq" --method awq --calib "$T/brown" --calib-samples 32 --calib-seq 256 -t 2 -q \
  && "$LMF" quantize "$M" -o "$T/awq3" --method awq --bits 3 --calib "$T/brown" --calib-samples 32 --calib-seq 256 -t 2 -q \
  && pass "quantize awq, awq --bits 3" || failed "quantize awq"
k4="$(kl "$T/w4")"; ka4="$(kl "$T/awq")"; ka3="$(kl "$T/awq3")"
k3="$(kl "$T/w3")"; kg3="$(kl "$T/g3")"
"$PY" -c "import sys; r, g = map(float, sys.argv[1:]); assert g < 0.5 * r, (r, g)" "$k3" "$kg3" \
  && pass "KL: gptq w3 $kg3 < half of w3 $k3" || failed "KL w3 $k3 gptq w3 $kg3"
"$PY" -c "import sys; r4, a4, r3, a3 = map(float, sys.argv[1:]); assert a4 < 0.95 * r4 and a3 < 0.9 * r3, sys.argv" \
  "$k4" "$ka4" "$k3" "$ka3" && pass "KL: awq $ka4 < w4 $k4, awq 3 bits $ka3 < w3 $k3" || failed "KL awq $ka4 w4 $k4 awq3 $ka3 w3 $k3"
"$LMF" info "$T/awq" | grep -q "quantized:    w4 g128 x 16" && pass "info: awq" || failed "info awq: $("$LMF" info "$T/awq")"
"$LMF" quantize "$M" -o "$T/awqnc" --method awq --no-clip --calib "$T/brown" --calib-samples 32 --calib-seq 256 -t 2 -q \
  && ! cmp -s "$T/awq/model.safetensors" "$T/awqnc/model.safetensors" && pass "awq --no-clip differs" || failed "awq --no-clip"
# --act int8: the same w4 weights with activations rounded to int8 per 32 inputs; barely further from the original
"$LMF" quantize "$M" -o "$T/w4a8" --method w4 --act int8 -q && pass "quantize w4 --act int8" || failed "quantize --act int8"
"$LMF" info "$T/w4a8" | grep -q "quantized:    w4 g128 a8 x 16, w8 g128 a8 x 1" && pass "info: a8" || failed "info a8: $("$LMF" info "$T/w4a8")"
gen_matches_ids "$T/w4a8" 2 && pass "generate w4 a8: text == decoded greedy ids" || failed "generate w4a8"
k48="$(kl "$T/w4a8")"
"$PY" -c "import sys; r, a = map(float, sys.argv[1:]); assert r < a < 1.1 * r + 2e-4, (r, a)" "$k4" "$k48" \
  && pass "KL: w4 a8 $k48 within 10% of w4 $k4" || failed "KL a8 $k48 vs w4 $k4"
cmp -s "$T/w4/model.safetensors" "$T/w4a8/model.safetensors" && pass "a8: the same weights" || failed "a8 weights differ"
# compare: the report, each model measured in its own child process
"$LMF" compare "$M" "$T/w8" "$T/w4" --data "$T/brown" --max-tokens 3000 -p 16 -n 8 -r 1 -t 2 --json > "$T/compare.json"
"$PY" - "$T/compare.json" <<'PY' && pass "compare --json" || failed "compare: $(cat "$T/compare.json")"
import json, sys
j = json.load(open(sys.argv[1]))
base, w8, w4 = j["models"]
assert base["method"] == "float" and w8["method"] == "w8 g128" and w4["method"] == "w4 g128", j
assert w4["file_mib"] < w8["file_mib"] < base["file_mib"] / 3
assert all(m["peak_rss_mib"] > 0 and m["tg8_tokens_per_s"] > 0 and m["pp16_tokens_per_s"] > 0 for m in j["models"])
assert "kl_mean" not in base and 0 <= w8["kl_mean"] < w4["kl_mean"] and 0.9 < w8["same_top"] <= 1
PY
"$LMF" compare "$M" "$T/w4" --data "$T/brown" --max-tokens 2000 -p 16 -n 8 -r 1 -t 2 2>/dev/null | grep -q "| w4 g128 |" \
  && pass "compare table" || failed "compare table"
expect_error "compare: missing model" "compare: .*/nope: not a model folder" "$LMF" compare "$M" "$T/nope" --data "$T/brown"
expect_error "compare: child error" "compare: ppl .* failed: unknown split 'bogus' \(splits: train, valid, test\)" \
  "$LMF" compare "$M" "$T/w8" --data "$T/brown" --split bogus
expect_error "unknown method" "--method 'w5': unknown quantization method \(supported: int8-dynamic, smoothquant, w8, w4, w3, gptq, awq\)" \
  "$LMF" quantize "$M" -o "$T/bad" --method w5
expect_error "bad --kv-cache" "--kv-cache 'int4': f32 or int8" "$LMF" quantize "$M" -o "$T/bad" --kv-cache int4
# A group size that does not divide a module's inputs: the module gets the largest that does, with a warning.
"$LMF" quantize "$M" -o "$T/g100" --group-size 100 -q 2> "$T/g100.err" \
  && grep -q "^lmforge: warning: h.0.attn.c_attn: group size 100 does not fit its 256 inputs; using 64$" "$T/g100.err" \
  && grep -q "^lmforge: warning: h.0.mlp.c_proj: group size 100 does not fit its 1024 inputs; using 64$" "$T/g100.err" \
  && "$LMF" info "$T/g100" | grep -q "quantized:    w4 g64 x 16, w8 g64 x 1" \
  && pass "group not dividing: per-module fallback with a warning" || failed "group 100: $(cat "$T/g100.err")"
expect_error "already quantized" "already quantized" "$LMF" quantize "$T/w8" -o "$T/bad"
expect_error "output exists" "-o .*/w4: exists and is not an empty folder" "$LMF" quantize "$M" -o "$T/w4"
"$LMF" quantize "$M" -o "$T/trail/" --method w8 -q && [[ -f "$T/trail/config.json" && ! -e "$T/trail/.partial" ]] \
  && "$LMF" info "$T/trail" >/dev/null && pass "-o with a trailing slash" || failed "-o with a trailing slash"
ln -s "$T/nowhere" "$T/dangling"
expect_error "output a dangling link" "-o .*/dangling: a symbolic link to .*/nowhere, which does not exist" \
  "$LMF" quantize "$M" -o "$T/dangling"
expect_error "gptq without --calib" "--calib DATA is required for this method" "$LMF" quantize "$M" -o "$T/bad" --method gptq
expect_error "gptq calib missing" "$T/nothing/manifest.json: missing \(run .lmforge data prepare" "$LMF" quantize "$M" -o "$T/bad" --method gptq --calib "$T/nothing"
expect_error "gptq zero samples" "--calib-samples 0 / --calib-seq 256: must be positive" "$LMF" quantize "$M" -o "$T/bad" --method gptq --calib "$T/brown" --calib-samples 0
expect_error "gptq bits" "--bits 5: gptq supports 3, 4 or 8" "$LMF" quantize "$M" -o "$T/bad" --method gptq --bits 5 --calib "$T/brown"
expect_error "awq without --calib" "--calib DATA is required for this method" "$LMF" quantize "$M" -o "$T/bad" --method awq
expect_error "awq bits" "--bits 2: awq supports 3, 4 or 8" "$LMF" quantize "$M" -o "$T/bad" --method awq --bits 2 --calib "$T/brown"
expect_error "bad --act" "--act 'int4': float or int8" "$LMF" quantize "$M" -o "$T/bad" --act int4
expect_error "--act with int8-dynamic" "--act int8: --method int8-dynamic already quantizes activations" \
  "$LMF" quantize "$M" -o "$T/bad" --method int8-dynamic --act int8
expect_error "--act int8 groups of 16" "int8 activation blocks need multiples of 32" \
  "$LMF" quantize "$M" -o "$T/bad" --act int8 --group-size 16
[[ ! -e "$T/bad" && ! -e "$T/bad.partial" && ! -e "$T/nowhere" && ! -e "$T/dangling.partial" ]] \
  && pass "nothing written on errors" || failed "partial output left"
finish

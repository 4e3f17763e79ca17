#!/usr/bin/env bash
# End to end: `lmforge train` of a small GPT-2-shaped model on the Brown corpus (GPT-2's
# tokenizer): the loss falls, the output folder loads in info/generate/ppl, a run
# interrupted and resumed ends with the same weights as an uninterrupted one, and bad
# flags get one clear error line.
source "$(dirname "$0")/lib.bash"
T="$LMF_TMP/train"; rm -rf "$T"; mkdir -p "$T"
TOK="$LMF_GOLDEN/gpt2-tokenizer.json"
"$LMF" data prepare --corpus brown --tokenizer "$TOK" -o "$T/brown" -q
cat > "$T/config.json" <<'JSON'
{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4,
 "n_positions": 64, "vocab_size": 50257, "bos_token_id": 50256, "eos_token_id": 50256}
JSON
ARGS=(--config "$T/config.json" --data "$T/brown" --steps 24 -b 4 --seq 32 --lr 3e-3 --warmup 4 --eval-interval 12
      --eval-batches 4 --log-interval 4 -t 2)
out="$("$LMF" train "${ARGS[@]}" -o "$T/a")"
first="$(grep -m1 -oE 'step +4 \| loss [0-9.]+' <<<"$out" | grep -oE '[0-9.]+$')"
last="$(grep -oE 'step +24 \| loss [0-9.]+' <<<"$out" | grep -oE '[0-9.]+$')"
"$PY" -c "import sys; a, b = map(float, sys.argv[1:]); assert 10 < a < 11.5 and b < a - 1, (a, b)" "$first" "$last" \
  && pass "train: loss falls ($first -> $last)" || failed "train: loss $first -> $last: $out"
grep -qE "step +24 \| valid loss [0-9.]+ \| ppl" <<<"$out" && pass "train: validation" || failed "train: no validation: $out"
for f in config.json model.safetensors tokenizer.json trainer_state.safetensors training_args.json train_log.jsonl; do
  [[ -f "$T/a/$f" ]] || failed "train: $f missing"
done
grep -q '"valid_ppl"' "$T/a/train_log.jsonl" && pass "train: train_log.jsonl" || failed "train: log"
"$LMF" info "$T/a" | grep -q "GPT2LMHeadModel" && pass "train: info loads the output" || failed "train: info"
"$LMF" generate "$T/a" -p "The jury said" -n 8 -t 1 >/dev/null && pass "train: generate" || failed "train: generate"
"$LMF" ppl "$T/a" --data "$T/brown" --ctx 64 --max-tokens 2000 -q | grep -q "perplexity" && pass "train: ppl" || failed "train: ppl"

# -q with the default thread count: the flags' target outlived register_train only by luck
# (a use-after-free that crashed with exit 139 on the Intel Xeon).
"$LMF" train --config "$T/config.json" --data "$T/brown" -o "$T/q" --steps 1 -b 1 --seq 8 -q \
  && [[ -f "$T/q/model.safetensors" ]] && pass "train: -q" || failed "train: -q"

# Interrupted at step 10, resumed: the same weights and optimizer state as run a.
"$LMF" train "${ARGS[@]}" -o "$T/b" --stop-at 10 -q
"$LMF" train -o "$T/b" --resume -q
cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors" && cmp -s "$T/a/trainer_state.safetensors" "$T/b/trainer_state.safetensors" \
  && pass "train: interrupted + resumed == uninterrupted (byte-identical)" || failed "train: resume differs"

expect_error "train: no --steps" "--steps is required" "$LMF" train --config "$T/config.json" --data "$T/brown" -o "$T/c"
expect_error "train: missing config" "nope.json" "$LMF" train --config "$T/nope.json" --data "$T/brown" -o "$T/c" --steps 2
expect_error "train: --data not prepared" "manifest.json" "$LMF" train --config "$T/config.json" --data "$T" -o "$T/c" --steps 2 --seq 32
expect_error "train: --resume without a run" "training_args.json is missing" "$LMF" train -o "$T/none" --resume
expect_error "train: bad --lr" "--lr must be > 0" "$LMF" train --config "$T/config.json" --data "$T/brown" -o "$T/c" --steps 2 --lr -1
expect_error "train: --seq past the context" "exceeds" "$LMF" train --config "$T/config.json" --data "$T/brown" -o "$T/c" --steps 2 --seq 65
[[ ! -e "$T/c" ]] && pass "train: nothing written on error" || failed "train: $T/c written on error"

# The tokenizer's folder has a tokenizer_config.json: train (--tokenizer a file in it) and
# distill (--tokenizer the folder) outputs keep it beside tokenizer.json, byte for byte.
mkdir -p "$T/tokdir"; cp "$TOK" "$T/tokdir/tokenizer.json"
printf '{"eos_token": "<|endoftext|>", "model_max_length": 64}\n' >"$T/tokdir/tokenizer_config.json"
"$LMF" train --config "$T/config.json" --data "$T/brown" --tokenizer "$T/tokdir/tokenizer.json" --steps 2 -b 2 \
  --seq 16 --lr 3e-3 --warmup 1 -t 2 -o "$T/tk" -q
"$LMF" distill --teacher "$T/a" --student "$T/config.json" --data "$T/brown" --tokenizer "$T/tokdir" --steps 2 -b 2 \
  --seq 16 --lr 3e-3 --warmup 1 -t 2 -o "$T/dk" -q
for d in tk dk; do
  cmp -s "$T/tokdir/tokenizer_config.json" "$T/$d/tokenizer_config.json" && cmp -s "$TOK" "$T/$d/tokenizer.json" \
    && pass "$d: output keeps tokenizer.json and tokenizer_config.json" || failed "$d: tokenizer files: $(ls "$T/$d")"
done

# Distillation from run a: a one-layer student taken from the teacher's layers, and one
# from a config; both load; interrupted + resumed distillation equals uninterrupted.
DARGS=(--teacher "$T/a" --data "$T/brown" --steps 12 -b 4 --seq 32 --lr 3e-3 --warmup 2 --eval-interval 12
       --eval-batches 4 --log-interval 4 -t 2 --temperature 3 --alpha 0.5)
out="$("$LMF" distill "${DARGS[@]}" --init-from-teacher --student-layers 1 -o "$T/s1")"
grep -qE "step +12 \| valid loss [0-9.]+" <<<"$out" && "$LMF" info "$T/s1" --json | grep -q '"layers": 1' \
  && pass "distill: --init-from-teacher student (1 layer)" || failed "distill: $out"
"$LMF" distill "${DARGS[@]}" --student "$T/config.json" -o "$T/s2" --stop-at 6 -q
"$LMF" distill -o "$T/s2" --resume -q
"$LMF" distill "${DARGS[@]}" --student "$T/config.json" -o "$T/s3" -q
cmp -s "$T/s2/model.safetensors" "$T/s3/model.safetensors" && pass "distill: resumed == uninterrupted" \
  || failed "distill: resume differs"
"$LMF" generate "$T/s2" -p "The" -n 4 -t 1 >/dev/null && pass "distill: the student generates" || failed "distill: generate"
# Teacher top-k cache: built on first use over the train split; a second run reads it
# without the teacher (its folder moved away) and ends byte-identical; mismatches refused.
"$PY" - "$T/small.txt" <<'PY'
import random, sys
random.seed(5)
words = "the jury said that city of a county election in an investigation produced no evidence any irregularities took place".split()
with open(sys.argv[1], "w") as f:
    for d in range(80):
        f.write(" ".join(random.choice(words) for _ in range(60)) + ".\n\n")
PY
"$LMF" data prepare --text "$T/small.txt" --tokenizer "$TOK" -o "$T/small" -q
KARGS=(--teacher "$T/a" --data "$T/small" --student "$T/config.json" --steps 8 -b 2 --lr 3e-3 --warmup 2
       --eval-interval 8 --eval-batches 1 --log-interval 4 -t 2 --temperature 2 --alpha 0.7 --top-k 8)
out="$("$LMF" distill "${KARGS[@]}" --seq 16 --teacher-cache "$T/tcache.safetensors" -o "$T/k1")"
grep -q "teacher cache: top-8 logits" <<<"$out" && [[ -f "$T/tcache.safetensors" ]] \
  && pass "distill: teacher cache built" || failed "distill: teacher cache: $out"
mv "$T/a" "$T/a_away"
out2="$("$LMF" distill "${KARGS[@]}" --seq 16 --teacher-cache "$T/tcache.safetensors" -o "$T/k2" 2>&1)" || true
mv "$T/a_away" "$T/a"
! grep -q "teacher cache: top-8" <<<"$out2" && cmp -s "$T/k1/model.safetensors" "$T/k2/model.safetensors" \
  && pass "distill: cached run without the teacher == first run" || failed "distill: cached rerun: $out2"
expect_error "distill: cache with another --seq" "built for seq 16, not 8" \
  "$LMF" distill "${KARGS[@]}" --seq 8 --teacher-cache "$T/tcache.safetensors" -o "$T/k3"
expect_error "distill: cache with --reverse-kl" "--reverse-kl needs its whole distribution" \
  "$LMF" distill "${KARGS[@]}" --seq 16 --reverse-kl --teacher-cache "$T/tcache.safetensors" -o "$T/k4"
expect_error "distill: bad --alpha" "--alpha in \[0, 1\]" "$LMF" distill --teacher "$T/a" --data "$T/brown" --student "$T/config.json" -o "$T/d" --steps 2 --alpha 2
expect_error "distill: no teacher" "--teacher MODEL is required" "$LMF" distill --data "$T/brown" --student "$T/config.json" -o "$T/d" --steps 2
expect_error "distill: resume a train run" "is a run of lmforge train" "$LMF" distill -o "$T/a" --resume

# The reference teacher kept in the repository (assets/brown-gpt2-4l): it loads, and its
# perplexity on Brown's valid split is what its training log says (241.9 at 16 x 128 tokens).
REF="$LMF_SOURCE_DIR/assets/brown-gpt2-4l"
"$LMF" data prepare --corpus brown --tokenizer "$REF/tokenizer.json" -o "$T/brown8k" -q
ppl="$("$LMF" ppl "$REF" --data "$T/brown8k" --ctx 128 -b 8 --max-tokens 16384 --json -q)"
"$PY" -c "import json,sys; p=json.loads(sys.argv[1])['ppl']; assert 200 < p < 300, p" "$ppl" \
  && pass "reference teacher: valid perplexity $(grep -oE '"ppl": [0-9.]+' <<<"$ppl")" || failed "reference teacher: $ppl"
finish

#!/usr/bin/env bash
# The distillation report (docs/distillation.md): a student with half the reference
# teacher's layers, distilled from the teacher, against the same student trained from
# scratch on the same tokens (same seed, batches and schedule), plus a student initialized
# from the teacher's layers; validation perplexity on Brown's valid split and a plot.
#
#   tools/distill_report.sh [OUT_DIR]      (default /tmp/lmf_distill_report; ~15 min on 2 cores)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LMF="${LMF:-$ROOT/build/lmforge}"
TEACHER="$ROOT/assets/brown-gpt2-4l"
OUT="${1:-/tmp/lmf_distill_report}"
mkdir -p "$OUT"
"$LMF" data prepare --corpus brown --tokenizer "$TEACHER/tokenizer.json" -o "$OUT/brown" -q
# The student: the teacher's config with 2 of its 4 layers.
/usr/bin/python3 - "$TEACHER/config.json" "$OUT/student.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["n_layer"] = 2; c.pop("torch_dtype", None)
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
COMMON=(--data "$OUT/brown" --steps 1000 -b 16 --seq 128 --lr 1e-3 --min-lr 1e-4 --warmup 100 --weight-decay 0.1
        --clip 1 --seed 1 --eval-interval 100 --eval-batches 16 --log-interval 100 -t 2 -q)
"$LMF" train --config "$OUT/student.json" "${COMMON[@]}" -o "$OUT/scratch"
"$LMF" distill --teacher "$TEACHER" --student "$OUT/student.json" --temperature 2 --alpha 0.5 "${COMMON[@]}" -o "$OUT/distilled"
"$LMF" distill --teacher "$TEACHER" --init-from-teacher --temperature 2 --alpha 0.5 "${COMMON[@]}" -o "$OUT/distilled_init"
"$ROOT/tools/plot_curves.py" "$OUT/distillation.svg" "from scratch=$OUT/scratch" "distilled=$OUT/distilled" \
  "distilled, init from teacher=$OUT/distilled_init" --title "2-layer student on Brown: validation perplexity"
for r in scratch distilled distilled_init; do
  echo "$r $(tail -n 1 "$OUT/$r/train_log.jsonl")"
done
"$LMF" ppl "$TEACHER" --data "$OUT/brown" --ctx 128 -b 8 -q
for r in scratch distilled distilled_init; do "$LMF" ppl "$OUT/$r" --data "$OUT/brown" --ctx 128 -b 8 -q; done
echo "plot: $OUT/distillation.svg"

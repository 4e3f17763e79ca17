#!/usr/bin/env bash
# Side-by-side speed of lmforge, PyTorch eager and ONNX Runtime on one checkpoint.
#
#   bench/run_peers.sh MODEL [-t 2] [-p 128] [-n 128] [-r 5] [--rounds 3] [--onnx FILE] [--out DIR]
#
# Each round runs, one after another (order rotated every round so no engine always runs
# first or last on a noisy machine):
#   lmforge bench MODEL -p P -n N -t T -r R --json      ($LMF or /work/main/build/lmforge)
#   /usr/bin/python3 bench/torch_baseline.py MODEL ... --json
#   node bench/ort_prefill.js FILE.onnx -p P -t T -r R --json   (prefill only)
# each under /usr/bin/time (peak RSS).  lmforge runs its bandwidth/sgemm probes in odd
# rounds only (--no-probe in even rounds, whose peak RSS is then the model's alone).
# The ONNX file is exported with bench/onnx_export.py when missing (default: OUT/model.onnx).
# Then bench/peers_table.py pools the samples of all rounds and prints a markdown table:
# medians, ratio to PyTorch, and the fraction of lmforge's yardsticks (its measured read
# bandwidth and sgemm peak) each engine reaches.  Raw JSON/time/load files stay in OUT.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
LMF="${LMF:-$root/build/lmforge}"
PY=/usr/bin/python3
export NODE_PATH="${NODE_PATH:-$root/.deps/npm/node_modules}"

model="" t=2 p=128 n=128 r=5 rounds=3 onnx="" out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -t|--threads) t="$2"; shift 2 ;;
    -p|--n-prompt) p="$2"; shift 2 ;;
    -n|--n-gen) n="$2"; shift 2 ;;
    -r|--repetitions) r="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --onnx) onnx="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) model="$1"; shift ;;
  esac
done
[[ -n "$model" ]] || { echo "usage: $0 MODEL [-t 2] [-p 128] [-n 128] [-r 5] [--rounds 3] [--onnx FILE] [--out DIR]" >&2; exit 2; }
[[ -x "$LMF" ]] || { echo "lmforge binary not found at $LMF (set LMF=...)" >&2; exit 1; }
out="${out:-$(mktemp -d /tmp/lmf_peers.XXXXXX)}"
mkdir -p "$out"
onnx="${onnx:-$out/model.onnx}"

have_ort=1
if ! node -e "require('onnxruntime-node')" 2>/dev/null; then
  echo "note: onnxruntime-node not found under NODE_PATH=$NODE_PATH; skipping ORT" >&2
  have_ort=0
fi
if [[ $have_ort == 1 && $p -gt 0 && ! -f "$onnx" ]]; then
  echo "exporting $model -> $onnx" >&2
  "$PY" "$here/onnx_export.py" "$model" "$onnx" --check-len "$p" >&2 || true
  [[ -f "$onnx" ]] || { echo "ONNX export failed; skipping ORT" >&2; have_ort=0; }
fi

engines=(lmforge torch)
[[ $have_ort == 1 && $p -gt 0 ]] && engines+=(ort)

run_one() {  # engine round
  local e="$1" k="$2" f="$out/$1.$2"
  local -a cmd
  case "$e" in
    lmforge) cmd=("$LMF" bench "$model" -p "$p" -n "$n" -t "$t" -r "$r" --json)
             # probes (bandwidth, sgemm peak) in odd rounds; even rounds give its RSS without them
             (( k % 2 == 0 )) && cmd+=(--no-probe) ;;
    torch) cmd=("$PY" "$here/torch_baseline.py" "$model" -p "$p" -n "$n" -t "$t" -r "$r" --json) ;;
    ort) cmd=(node "$here/ort_prefill.js" "$onnx" -p "$p" -t "$t" -r "$r" --json)
         [[ $k == 1 && -f "$onnx.check.json" ]] && cmd+=(--check) ;;
  esac
  cut -d' ' -f1-3 /proc/loadavg > "$f.load"
  echo "round $k: $e (load $(cat "$f.load"))" >&2
  /usr/bin/time -f "%M %e" -o "$f.time" "${cmd[@]}" > "$f.json" 2> "$f.err" || {
    echo "  $e failed (see $f.err)" >&2; rm -f "$f.json"; }
}

for ((k = 1; k <= rounds; ++k)); do
  m=${#engines[@]}
  for ((i = 0; i < m; ++i)); do
    run_one "${engines[$(((i + k - 1) % m))]}" "$k"
  done
done

"$PY" "$here/peers_table.py" "$out" --threads "$t" --onnx "$onnx"
echo "raw results: $out" >&2

#!/usr/bin/env bash
# Speed of quantized models side by side: lmforge float32 / w8 / w4 (GPTQ layout, head in
# 8 bits) / int8-dynamic / w8a8 and w4a8 (the same w8 and w4 weights with --act int8), and PyTorch 1.13 eager float32 / quantize_dynamic (per-channel
# int8, bench/torch_baseline.py --quantize-dynamic).
#
#   bench/quant_peers.sh MODEL [-t 2] [-p 128] [-n 128] [-r 3] [--rounds 3] [--out DIR]
#
# The quantized folders are made in OUT (default /tmp/lmf_quant_peers) when missing, with
# `lmforge quantize MODEL -o OUT/w8 --method w8` (w4, int8-dynamic alike; OUT/w4a8: --method w4
# --act int8). Each round runs
# every engine once (order rotated every round); lmforge's runs include its bandwidth
# probe, so each decode figure is set against the probe of its own run. Then a table of
# medians over the rounds: tokens/s, ratios, and the fraction of the bandwidth bound
# (bytes of weights a decode step reads x tokens/s / probe).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
LMF="${LMF:-$root/build/lmforge}"
PY=/usr/bin/python3
model="" t=2 p=128 n=128 r=3 rounds=3 out=/tmp/lmf_quant_peers
while [[ $# -gt 0 ]]; do
  case "$1" in
    -t|--threads) t="$2"; shift 2 ;;
    -p|--n-prompt) p="$2"; shift 2 ;;
    -n|--n-gen) n="$2"; shift 2 ;;
    -r|--repetitions) r="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) model="$1"; shift ;;
  esac
done
[[ -n "$model" ]] || { echo "usage: $0 MODEL [-t 2] [-p 128] [-n 128] [-r 3] [--rounds 3] [--out DIR]" >&2; exit 2; }
mkdir -p "$out"
for m in w8 w4 int8-dynamic w8a8 w4a8; do
  act=(); [[ "$m" == *a8 ]] && act=(--act int8)
  [[ -f "$out/$m/config.json" ]] || "$LMF" quantize "$model" -o "$out/$m" --method "${m%a8}" "${act[@]}" -t "$t" -q
done
engines=(lmf:f32 lmf:w8 lmf:w4 lmf:int8-dynamic lmf:w8a8 lmf:w4a8 torch:f32 torch:int8-dynamic)
for ((round = 1; round <= rounds; ++round)); do
  k=$(( (round - 1) % ${#engines[@]} ))
  for ((i = 0; i < ${#engines[@]}; ++i)); do
    e="${engines[$(( (i + k) % ${#engines[@]} ))]}"
    kind="${e%%:*}" fmt="${e#*:}"
    dir="$model"; [[ "$fmt" != f32 ]] && dir="$out/$fmt"
    dst="$out/r${round}_${kind}_${fmt}.json"
    echo "round $round: $e" >&2
    if [[ "$kind" == lmf ]]; then
      "$LMF" bench "$dir" -p "$p" -n "$n" -r "$r" -t "$t" --json > "$dst"
    else
      flag=(); [[ "$fmt" == int8-dynamic ]] && flag=(--quantize-dynamic)
      "$PY" "$here/torch_baseline.py" "$model" -p "$p" -n "$n" -r "$r" -t "$t" --json "${flag[@]}" > "$dst"
    fi
  done
done
"$PY" - "$out" "$rounds" "$p" "$n" "$model" <<'PY'
import json, os, statistics, sys
out, rounds, p, n, model = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = {}
for kind in ("lmf", "torch"):
    for fmt in ("f32", "w8", "w4", "int8-dynamic", "w8a8", "w4a8"):
        runs = [json.load(open(f"{out}/r{i}_{kind}_{fmt}.json")) for i in range(1, rounds + 1)
                if os.path.exists(f"{out}/r{i}_{kind}_{fmt}.json")]
        if not runs:
            continue
        get = lambda j, t: next(x["tokens_per_s"] for x in j["tests"] if x["test"] == t)
        pp = statistics.median(get(j, f"pp{p}") for j in runs)
        tg = [get(j, f"tg{n}") for j in runs]
        frac = [j["tests"][1].get("fraction_of_bandwidth_bound") for j in runs if kind == "lmf"]
        d = os.path.join(out, fmt) if fmt != "f32" else model
        size = os.path.getsize(os.path.join(d, "model.safetensors")) / 2**20
        per = ", ".join(f"{100 * j['tests'][1]['fraction_of_bandwidth_bound']:.0f}% @{j['read_bandwidth_bytes_per_s'] / 1e9:.0f}"
                        for j in runs if kind == "lmf" and j["tests"][1].get("fraction_of_bandwidth_bound"))
        rows[(kind, fmt)] = (pp, statistics.median(tg), min(tg), max(tg), statistics.median(frac) if frac and frac[0] else None, size, per)
base = rows[("lmf", "f32")][1]
print(f"| engine | weights | file MiB | pp{p} t/s | tg{n} t/s (min-max) | tg vs lmforge f32 | tg vs PyTorch same | fraction of bound | per run (@ probe GB/s) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for (kind, fmt), (pp, tg, lo, hi, frac, size, per) in rows.items():
    peer = rows.get(("torch", fmt if fmt in ("f32", "int8-dynamic") else None))
    vs = f"{tg / peer[1]:.1f}x" if kind == "lmf" and peer else ""
    name = "lmforge" if kind == "lmf" else "PyTorch 1.13"
    fb = f"{100 * frac:.1f}%" if frac else ""
    print(f"| {name} | {fmt} | {size:.1f} | {pp:.1f} | {tg:.1f} ({lo:.1f}-{hi:.1f}) | {tg / base:.2f}x | {vs} | {fb} | {per} |")
PY

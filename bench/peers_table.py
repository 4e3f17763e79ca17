#!/usr/bin/python3
"""Summarise a bench/run_peers.sh results folder as a markdown table.

  /usr/bin/python3 bench/peers_table.py DIR [--threads T] [--onnx FILE]

DIR holds ENGINE.ROUND.json (the engines' --json output), ENGINE.ROUND.time ("maxrss_kb
wall_s" from /usr/bin/time) and ENGINE.ROUND.load (load average before the run).
tokens/s median: over the timed samples of all rounds pooled.  Yardsticks from lmforge's
--json (medians over rounds): read bandwidth and sgemm peak; for every engine
  tg: % of bandwidth bound = t/s * weight_bytes_per_token / read_bandwidth
  pp: % of matmul peak     = t/s * flops_per_token / sgemm_peak
with flops_per_token = lmforge's gflops / tokens_per_s (its forward_flops(p, every_row) / p: a
pass with every layer on every prompt row, the work each peer does; lmforge's own last layer
runs past its attention on the logit row only, its executed_fraction_of_matmul_peak).
"""

import argparse
import glob
import json
import os
import statistics as st

NAMES = {"lmforge": "lmforge", "torch": "PyTorch 1.13 eager", "ort": "ONNX Runtime (node)"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", default="?")
    ap.add_argument("--onnx", default="")
    a = ap.parse_args()
    runs = {}  # engine -> list of (json, time, load)
    for f in sorted(glob.glob(os.path.join(a.dir, "*.json"))):
        base = os.path.basename(f)[:-5]
        if "." not in base:
            continue
        eng, rnd = base.rsplit(".", 1)
        if not rnd.isdigit():
            continue
        try:
            with open(f) as fh:
                j = json.load(fh)
        except (OSError, ValueError):
            continue
        tm = load = None
        try:
            with open(os.path.join(a.dir, base + ".time")) as fh:
                tm = [float(x) for x in fh.read().split()[-2:]]
            with open(os.path.join(a.dir, base + ".load")) as fh:
                load = fh.read().split()[0]
        except (OSError, ValueError, IndexError):
            pass
        runs.setdefault(eng, []).append((j, tm, load))

    samples = {}  # (engine, test) -> pooled samples
    for eng, rs in runs.items():
        for j, _, _ in rs:
            for t in j.get("tests", []):
                samples.setdefault((eng, t["test"]), []).extend(t["samples"])

    bw = peak = bytes_tok = flops_tok = run_tok = None
    if "lmforge" in runs:
        js = [j for j, _, _ in runs["lmforge"]]
        bws = [j["read_bandwidth_bytes_per_s"] for j in js if "read_bandwidth_bytes_per_s" in j]
        pks = [j["sgemm_flops_per_s"] for j in js if "sgemm_flops_per_s" in j]
        bw = st.median(bws) if bws else None
        peak = st.median(pks) if pks else None
        bytes_tok = js[0].get("weight_bytes_per_token")
        # run_tok: FLOPs per prefill token lmforge itself runs
        for t in js[0]["tests"]:
            if t["test"].startswith("pp") and "gflops" in t and t["tokens_per_s"] > 0:
                flops_tok = t["gflops"] * 1e9 / t["tokens_per_s"]
                if "executed_gflops" in t:
                    run_tok = t["executed_gflops"] * 1e9 / t["tokens_per_s"]

    tests = sorted({t for _, t in samples}, key=lambda s: (s[:2] != "pp", s))
    print(f"threads {a.threads}; medians over all timed samples of all rounds "
          f"(rounds: {', '.join(f'{NAMES.get(e, e)} {len(r)}' for e, r in runs.items())})\n")
    print("| engine | test | tokens/s median | min–max | n | ratio to PyTorch | % of lmforge's bound |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    order = [e for e in ("lmforge", "torch", "ort") if e in runs] + [e for e in runs if e not in NAMES]
    for test in tests:
        ref = samples.get(("torch", test))
        refm = st.median(ref) if ref else None
        for eng in order:
            xs = samples.get((eng, test))
            if not xs:
                continue
            med = st.median(xs)
            ratio = f"{med / refm:.2f}x" if refm else "—"
            frac = "—"
            if test.startswith("tg") and bw and bytes_tok:
                frac = f"{100 * med * bytes_tok / bw:.1f}% of BW"
            elif test.startswith("pp") and peak and flops_tok:
                frac = f"{100 * med * flops_tok / peak:.1f}% of sgemm peak"
            print(f"| {NAMES.get(eng, eng)} | {test} | {med:.2f} | {min(xs):.2f}–{max(xs):.2f} | {len(xs)} "
                  f"| {ratio} | {frac} |")
    print()
    if bw:
        print(f"lmforge yardsticks (median over rounds): read bandwidth {bw / 1e9:.2f} GB/s, "
              f"weights read per decode token {bytes_tok / 2**20:.2f} MiB -> bound {bw / bytes_tok:.2f} t/s; "
              f"sgemm peak {peak / 1e9:.1f} GFLOP/s" +
              (f", {flops_tok / 1e6:.1f} MFLOP per prefill token" if flops_tok else ""))
        pp = [t for t in tests if t.startswith("pp") and ("lmforge", t) in samples]
        if pp and peak and run_tok:
            med = st.median(samples[("lmforge", pp[0])])
            print(f"lmforge runs {run_tok / 1e6:.1f} MFLOP per prefill token itself (its last layer past the "
                  f"attention on the logit row only): {pp[0]} at {100 * med * run_tok / peak:.1f}% of the sgemm peak "
                  f"in FLOPs executed")
    print("\n(lmforge's peak RSS: from its --no-probe rounds when there are any)")
    print("\n| engine | peak RSS MiB (median) | wall s per run (median) | load avg before runs |")
    print("| --- | ---: | ---: | --- |")
    for eng in order:
        rs = runs[eng]
        rss = [tm[0] / 1024 for _, tm, _ in rs if tm]
        if eng == "lmforge":  # prefer runs without the probes' buffers
            rss = [tm[0] / 1024 for j, tm, _ in rs if tm and "read_bandwidth_bytes_per_s" not in j] or rss
        wall = [tm[1] for _, tm, _ in rs if tm]
        loads = " ".join(l for _, _, l in rs if l)
        print(f"| {NAMES.get(eng, eng)} | {st.median(rss):.0f} | {st.median(wall):.1f} | {loads} |"
              if rss else f"| {NAMES.get(eng, eng)} | — | — | {loads} |")
    for j, _, _ in runs.get("ort", []):
        if "check" in j:
            c = j["check"]
            print(f"\nORT check vs PyTorch on {c['tokens']} tokens: max |dlogits| {c['max_abs_diff']:.3g} "
                  f"(max |logit| {c['max_abs_logit']:.3g}), argmax {'equal' if c['argmax_equal'] else 'DIFFERS'}; "
                  f"ORT output dims {c['output_dims']}" + (f"; model {a.onnx}" if a.onnx else ""))


if __name__ == "__main__":
    main()

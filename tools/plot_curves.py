#!/usr/bin/python3
"""Validation curves of lmforge training runs as an SVG plot (standard library only).

  tools/plot_curves.py OUT.svg "LABEL=RUN_DIR" ["LABEL=RUN_DIR" ...] [--title TITLE]

Reads each RUN_DIR/train_log.jsonl (written by lmforge train / distill) and draws the
validation perplexity (valid_ppl) against the step, one line per run, log-scaled y.
"""
import json
import math
import sys


def main(argv):
    title = "validation perplexity"
    if "--title" in argv:
        i = argv.index("--title")
        title = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    out, runs = argv[0], [a.split("=", 1) for a in argv[1:]]
    series = []
    for label, d in runs:
        pts = [(j["step"], j["valid_ppl"]) for j in map(json.loads, open(f"{d}/train_log.jsonl")) if "valid_ppl" in j]
        series.append((label, pts))
    W, H, L, R, T, B = 720, 420, 70, 190, 40, 50
    xmax = max(s for _, p in series for s, _ in p)
    ys = [math.log(v) for _, p in series for _, v in p]
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or 1
    y0, y1 = y0 - pad, y1 + pad
    X = lambda s: L + (W - L - R) * s / xmax
    Y = lambda v: T + (H - T - B) * (1 - (math.log(v) - y0) / (y1 - y0))
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    e = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
         f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">optimizer step</text>',
         f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">'
         'perplexity (log scale)</text>']
    for k in range(6):
        s = xmax * k / 5
        e.append(f'<text x="{X(s):.1f}" y="{H - B + 16}" text-anchor="middle">{s:.0f}</text>')
        v = math.exp(y0 + (y1 - y0) * k / 5)
        e.append(f'<text x="{L - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
        e.append(f'<line x1="{L}" y1="{Y(v):.1f}" x2="{W - R}" y2="{Y(v):.1f}" stroke="#ddd"/>')
    for i, (label, pts) in enumerate(series):
        c = colors[i % len(colors)]
        e.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="' +
                 " ".join(f"{X(s):.1f},{Y(v):.1f}" for s, v in pts) + '"/>')
        e.append(f'<text x="{W - R + 10}" y="{T + 20 + 18 * i}" fill="{c}">{label} ({pts[-1][1]:.1f})</text>')
    e.append("</svg>")
    open(out, "w").write("\n".join(e) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

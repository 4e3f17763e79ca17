#!/usr/bin/env python3
"""Reference perplexity and model comparison for lmforge's parity tests.

Windows (the rule lmforge documents in src/runtime/perplexity.h, written here
independently): windows of `ctx` tokens start every `stride` tokens; the first
scores tokens 1..ctx-1, each later one only the tokens no earlier window scored
(never its own first token, which has no context).

  ref_ppl.py ids --n N --vocab V --seed S --out FILE        random token ids, one per line
  ref_ppl.py ppl --model DIR --ids FILE --ctx C --stride S [--base DIR] --out FILE.json
  ref_ppl.py perturb --model DIR --out DIR2 --noise 0.05 --seed S

Computed in float64 from the checkpoint on disk (ref_models.load_checkpoint).
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models as R  # noqa: E402


def windows(n, ctx, stride):
    out = [(0, min(ctx, n), 1)]
    while out[-1][1] < n:
        end = min(out[-1][1] + stride, n)
        begin = max(0, end - ctx)
        out.append((begin, end, max(out[-1][1], begin + 1)))  # a window's first token has no context
    return out


def scored_logprobs(model, ids, ctx, stride):
    """Yields (token index, log-softmax row) for every scored token."""
    for begin, end, score_from in windows(len(ids), ctx, stride):
        logits, _ = model.forward([ids[begin:end - 1]])
        logp = torch.log_softmax(logits[0].to(torch.float64), dim=-1)
        for t in range(score_from, end):
            yield t, logp[t - 1 - begin]


def cmd_ppl(a):
    cfg, w = R.load_checkpoint(a.model)
    model = R.Model(cfg, w, torch.float64)
    ids = [int(x) for x in open(a.ids).read().split()]
    nll = [-float(row[ids[t]]) for t, row in scored_logprobs(model, ids, a.ctx, a.stride)]
    n = len(nll)
    mean = sum(nll) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in nll) / (n - 1))
    res = {"tokens": n, "nll_mean": mean, "ppl": math.exp(mean), "ppl_stderr": math.exp(mean) * sd / math.sqrt(n)}
    if a.base:
        bcfg, bw = R.load_checkpoint(a.base)
        base = R.Model(bcfg, bw, torch.float64)
        kls, same = [], 0
        for (t, q), (_, p) in zip(scored_logprobs(model, ids, a.ctx, a.stride),
                                  scored_logprobs(base, ids, a.ctx, a.stride)):
            kls.append(max(0.0, float((p.exp() * (p - q)).sum())))
            same += int(torch.argmax(p)) == int(torch.argmax(q))
        kls.sort()
        res.update({"kl_mean": sum(kls) / len(kls), "kl_p99": kls[math.ceil(0.99 * len(kls)) - 1],
                    "kl_max": kls[-1], "same_top": same / len(kls)})
    with open(a.out, "w") as f:
        json.dump(res, f, indent=2)


def cmd_perturb(a):
    os.makedirs(a.out, exist_ok=True)
    for name in os.listdir(a.model):
        if name.endswith(".json") and name != "model.safetensors.index.json":
            shutil.copy(os.path.join(a.model, name), os.path.join(a.out, name))
    cfg, w = R.load_checkpoint(a.model)
    g = torch.Generator().manual_seed(a.seed)
    out = {}
    for k, v in w.items():
        noise = torch.randn(v.shape, generator=g, dtype=torch.float32)
        out[k] = (v.to(torch.float32) * (1 + a.noise * noise)).to(v.dtype)
    R.save_safetensors(os.path.join(a.out, "model.safetensors"), out, {"format": "pt"})


def cmd_ids(a):
    g = torch.Generator().manual_seed(a.seed)
    ids = torch.randint(0, a.vocab, (a.n,), generator=g)
    with open(a.out, "w") as f:
        f.write("\n".join(str(int(x)) for x in ids) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ppl")
    p.add_argument("--model", required=True)
    p.add_argument("--base")
    p.add_argument("--ids", required=True)
    p.add_argument("--ctx", type=int, required=True)
    p.add_argument("--stride", type=int, required=True)
    p.add_argument("--out", required=True)
    q = sub.add_parser("perturb")
    q.add_argument("--model", required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--noise", type=float, default=0.05)
    q.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("ids")
    r.add_argument("--n", type=int, required=True)
    r.add_argument("--vocab", type=int, required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", required=True)
    a = ap.parse_args()
    {"ppl": cmd_ppl, "perturb": cmd_perturb, "ids": cmd_ids}[a.cmd](a)


if __name__ == "__main__":
    main()

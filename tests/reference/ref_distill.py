#!/usr/bin/env python3
"""PyTorch reference for lmforge's training kernels (kernels_grad_parity_test.cpp).

  ref_distill.py distill --seed S --out FILE.json
      Random student/teacher logits and targets (one target -100) for every temperature
      in {1, 2, 3, 5}, alpha in {0, 0.3, 0.5, 1} and both KL directions, and for each the
      loss and d loss / d student computed in float64 by autograd:
        a = s / T, b = t / T
        forward:  soft = KL(p_t || p_s) = sum_r sum_v p_t (log p_t - log p_s) / R
                       = KLDivLoss(reduction="batchmean")(log_softmax(a), softmax(b))
        reverse:  soft = KL(p_s || p_t) = sum_r sum_v p_s (log p_s - log p_t) / R
                       = KLDivLoss(reduction="batchmean")(log_softmax(b), softmax(a))
        hard = cross_entropy(s, targets, ignore_index=-100)   (mean over scored rows)
        loss = alpha * T^2 * soft + (1 - alpha) * hard
      The explicit sums are what autograd differentiates; KLDivLoss is checked equal.

  ref_distill.py adamw --seed S --out FILE.json
      torch.optim.AdamW (foreach=False) on a float32 tensor for 3 steps with weight decay;
      writes the hyperparameters (float32-representable values), the initial weights, the
      gradient of each step (scaled by grad_scale in float32 before the step) and w, m, v
      after each step.

Plain torch + stdlib; run with /usr/bin/python3 (Debian's python3-torch 1.13). Values are
written as float64 JSON numbers (float32 inputs round-trip exactly).
"""
import argparse
import json
import os
import struct

import torch
import torch.nn.functional as F


def f32(x):
    """x rounded to the nearest float32, as a Python float."""
    return struct.unpack("f", struct.pack("f", x))[0]


def distill_reference(s, t, targets, temperature, alpha, reverse):
    """Loss and gradient w.r.t. s, in float64."""
    s = s.double().clone().requires_grad_(True)
    t = t.double()
    T = float(temperature)
    rows = s.shape[0]
    ls, lt = F.log_softmax(s / T, dim=-1), F.log_softmax(t / T, dim=-1)
    if reverse:
        soft = (ls.exp() * (ls - lt)).sum() / rows
        check = torch.nn.KLDivLoss(reduction="batchmean")(lt, ls.exp())
    else:
        soft = (lt.exp() * (lt - ls)).sum() / rows
        check = torch.nn.KLDivLoss(reduction="batchmean")(ls, lt.exp())
    assert abs(float(soft - check)) <= 1e-12 * max(1.0, abs(float(soft))), (float(soft), float(check))
    hard = F.cross_entropy(s, targets, ignore_index=-100)
    loss = alpha * T * T * soft + (1.0 - alpha) * hard
    loss.backward()
    return float(loss), s.grad


def cmd_distill(args):
    g = torch.Generator().manual_seed(args.seed)
    inputs, cases = [], []
    # (rows, vocab, logit scale): small odd shapes, a wider vocabulary, large logits.
    shapes = [(5, 37, 3.0), (3, 1001, 4.0), (1, 7, 1.0), (4, 65, 25.0)]
    for si, (rows, vocab, scale) in enumerate(shapes):
        s = (torch.randn(rows, vocab, generator=g) * scale).float()
        t = (0.6 * s + torch.randn(rows, vocab, generator=g) * scale * 0.8).float()
        targets = torch.randint(0, vocab, (rows,), generator=g)
        targets[(si + 1) % rows] = -100  # one unscored row (the only row when rows = 1)
        if rows == 1:
            targets[0] = 3
        inputs.append({"rows": rows, "vocab": vocab, "s": s.flatten().tolist(), "t": t.flatten().tolist(),
                       "targets": targets.tolist()})
        for temperature in (1.0, 2.0, 3.0, 5.0):
            for alpha in (0.0, 0.3, 0.5, 1.0):
                for reverse in (False, True):
                    a = f32(alpha)
                    loss, grad = distill_reference(s, t, targets, temperature, a, reverse)
                    cases.append({
                        "input": si, "temperature": temperature, "alpha": a, "reverse": reverse,
                        "loss": loss, "grad": grad.flatten().tolist(),
                    })
    write_json(args.out, {"inputs": inputs, "cases": cases})


def cmd_adamw(args):
    g = torch.Generator().manual_seed(args.seed)
    n = 1037  # not a multiple of any vector length
    hp = {"lr": f32(3e-3), "beta1": f32(0.9), "beta2": f32(0.95), "eps": f32(1e-8),
          "weight_decay": f32(0.1), "grad_scale": f32(0.37)}
    w = torch.randn(n, generator=g).float()
    param = torch.nn.Parameter(w.clone())
    opt = torch.optim.AdamW([param], lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                            weight_decay=hp["weight_decay"], foreach=False)
    steps = []
    for step in range(3):
        grad = (torch.randn(n, generator=g) * (0.1 if step != 1 else 1e-4)).float()
        param.grad = grad * hp["grad_scale"]  # float32 multiply, as the kernel does
        opt.step()
        st = opt.state[param]
        steps.append({"grad": grad.tolist(), "w": param.detach().tolist(),
                      "m": st["exp_avg"].tolist(), "v": st["exp_avg_sq"].tolist()})
    write_json(args.out, {"n": n, "hp": hp, "w0": w.tolist(), "steps": steps})


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("distill", "adamw"):
        q = sub.add_parser(name)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    {"distill": cmd_distill, "adamw": cmd_adamw}[args.cmd](args)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch reference for lmforge's training step (parity tests of tests/train/).

  /usr/bin/python3 tests/reference/ref_train.py --model DIR --out FILE.safetensors \
      [--batch 2] [--seq 16] [--seed 1] [--steps 3] [--lr 1e-3] [--beta1 0.9] \
      [--beta2 0.999] [--eps 1e-8] [--weight-decay 0.1]

Loads DIR (a checkpoint written by ref_models.py make) in float64, draws token ids
(B, T+1) from a seeded generator, and trains on the batch `inputs = ids[:, :T]`,
`targets = ids[:, 1:]` with loss = mean cross-entropy over all B*T positions (what
Hugging Face's causal-LM loss computes on labels = ids). For each step k = 1..K it
records the loss and the gradients (before the update) and then applies
torch.optim.AdamW (all in float64); writes, rounded to float32 (the C++ side reads F32):

  ids                 I64 (B, T+1)
  step{k}.loss        (1)          loss before the update of step k
  step{k}.grad.NAME   like NAME    gradient of that loss (NAME as in the checkpoint file)
  step{k}.NAME        like NAME    the weight after the update of step k

__metadata__: batch, seq, steps, lr, beta1, beta2, eps, weight_decay.
The forward is ref_models.Model (Hugging Face semantics) with autograd on; tied
weights are one tensor, so their gradient is the sum of both uses.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models as R  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    a = ap.parse_args()

    cfg, stored = R.load_checkpoint(a.model)
    params = {}
    for name, t in stored.items():
        if name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
            continue
        params[name] = t.to(torch.float64).clone().requires_grad_(True)
    model = R.Model(cfg, params, torch.float64)
    g = torch.Generator().manual_seed(a.seed)
    ids = torch.randint(0, model.V, (a.batch, a.seq + 1), generator=g)
    inputs, targets = ids[:, :-1], ids[:, 1:]
    opt = torch.optim.AdamW(list(params.values()), lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps,
                            weight_decay=a.weight_decay)
    out = {"ids": ids.to(torch.int64)}
    for k in range(1, a.steps + 1):
        opt.zero_grad()
        logits, _ = model.forward([row.tolist() for row in inputs])
        logits = torch.stack(logits)  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, model.V), targets.reshape(-1))
        loss.backward()
        out[f"step{k}.loss"] = loss.detach().reshape(1)
        for name, p in params.items():
            out[f"step{k}.grad.{name}"] = p.grad.detach().clone()
        opt.step()
        for name, p in params.items():
            out[f"step{k}.{name}"] = p.detach().clone()
    meta = {"batch": str(a.batch), "seq": str(a.seq), "steps": str(a.steps), "lr": repr(a.lr),
            "beta1": repr(a.beta1), "beta2": repr(a.beta2), "eps": repr(a.eps),
            "weight_decay": repr(a.weight_decay)}
    out = {k: (v if v.dtype == torch.int64 else v.to(torch.float32)) for k, v in out.items()}
    R.save_safetensors(a.out, out, meta)


if __name__ == "__main__":
    main()

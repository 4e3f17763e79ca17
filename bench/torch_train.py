#!/usr/bin/python3
"""PyTorch 1.13 eager training-step baseline for `lmforge train` (GPT-2 architecture).

  /usr/bin/python3 bench/torch_train.py MODEL [-b 4] [--seq 128] [-t 2] [--steps 6] [--json]

Loads a GPT2LMHeadModel checkpoint (config.json + model.safetensors, float32) into a
compact eager GPT-2 in the style of nanoGPT (nn.Linear-free: the checkpoint's Conv1D
weights used with torch.addmm, causal softmax attention, tied head), then times
optimizer steps on random token batches: forward, mean cross-entropy over all B*T
positions, backward, torch.optim.AdamW (foreach=False, PyTorch 1.13's default on CPU).
Step 0 is a warm-up; prints tokens/s (median over the timed steps) and peak RSS.
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

a = None


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("-b", "--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    return ap.parse_args()


a = parse()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(a.threads)

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
import ref_models as R  # noqa: E402


def main():
    torch.set_num_threads(a.threads)
    cfg, w = R.load_checkpoint(a.model)
    if cfg.get("model_type") != "gpt2":
        sys.exit("torch_train.py: GPT2LMHeadModel checkpoints only")
    w = {k[len("transformer."):] if k.startswith("transformer.") else k: v.float().clone().requires_grad_(True)
         for k, v in w.items() if not (k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"))}
    L, C, H = cfg["n_layer"], cfg["n_embd"], cfg["n_head"]
    D, V, eps = C // H, cfg["vocab_size"], cfg.get("layer_norm_epsilon", 1e-5)
    B, T = a.batch, a.seq
    mask = torch.triu(torch.full((T, T), float("-inf")), 1)
    pos = torch.arange(T)

    def lin(x, name):
        return torch.addmm(w[name + ".bias"], x.reshape(-1, x.shape[-1]), w[name + ".weight"]).reshape(
            *x.shape[:-1], -1)

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (C,), w[name + ".weight"], w[name + ".bias"], eps)

    def forward(ids):
        x = w["wte.weight"][ids] + w["wpe.weight"][pos]
        for i in range(L):
            p = f"h.{i}."
            q, k, v = lin(ln(x, p + "ln_1"), p + "attn.c_attn").split(C, dim=-1)
            q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + lin(y, p + "attn.c_proj")
            h = torch.nn.functional.gelu(lin(ln(x, p + "ln_2"), p + "mlp.c_fc"), approximate="tanh")
            x = x + lin(h, p + "mlp.c_proj")
        return ln(x, "ln_f") @ w["wte.weight"].t()

    opt = torch.optim.AdamW(list(w.values()), lr=1e-4, weight_decay=0.1, foreach=False)
    g = torch.Generator().manual_seed(1)
    times = []
    for step in range(a.steps + 1):
        ids = torch.randint(0, V, (B, T + 1), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = forward(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if step > 0:
            times.append(dt)
    tps = [B * T / t for t in times]
    out = {"engine": "pytorch-eager", "torch_version": torch.__version__, "model": a.model, "batch": B, "seq": T,
           "threads": a.threads, "tokens_per_s": statistics.median(tps), "samples": tps,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if a.json:
        print(json.dumps(out))
    else:
        print(f"pytorch {torch.__version__} train step B={B} T={T} threads {a.threads}: "
              f"{out['tokens_per_s']:.1f} tokens/s (median of {len(tps)}), peak RSS {out['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()

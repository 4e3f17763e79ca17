#!/usr/bin/env python3
"""PyTorch 1.13 reference for lmforge's pruning (src/compress/prune.h).

    ref_prune.py masks --model DIR --norms NORMS.safetensors --amounts 0.1,0.5 --nm 2:4,1:4 --out FILE

Reads the reference model's checkpoint (float) and, for every linear weight inside the
transformer blocks (the 2-D .weight tensors but the embeddings and the head), writes uint8
masks (1: kept) in the checkpoint tensor's own layout (GPT-2's Conv1D: (in, out);
torch.nn.Linear: (out, in)):
  layer.{a}.{module}         torch.nn.utils.prune.l1_unstructured(amount=a) + prune.remove
  global.{a}.{module}        prune.global_unstructured(L1Unstructured, amount=a) over all
  wanda.{a}.{module}         Wanda: per output row, the int(K a) lowest |W_ij| ||X_j||
  nm{N}_{M}.magnitude.{module}, nm{N}_{M}.wanda.{module}
                             N:M: per row, per M consecutive inputs, the N largest scores kept
  {module}.ref_norm          float32 (K) ||X_j||_2 of the module's input over the calibration
                             tokens NORMS:ids, from the float64 reference model
  {module}.cut_tied          int64 (len(amounts)): for l1_unstructured at each amount, 1 if the
                             round(a n)-th and next smallest |w| are equal (a tie at the cut,
                             where torch.topk's order decides), else 0

    ref_prune.py sparsegpt --in PROBLEM.safetensors --out FILE

SparseGPT (Frantar and Alistarh 2023, its reference code's algorithm) in float64 of W (K, N)
(rows: inputs, as lmforge stores a Conv1D) given calibration inputs X (n, K): H = 2/n XᵀX,
dead inputs zeroed, H += damp · mean(diag H) · I, U = cholesky(H⁻¹, upper); inputs in
blocks of `block`: unstructured, the block's int(S · block · N) least w² / U_kk² (ties:
the earlier in (output, input) order) pruned at the block's start; N:M, per group of M
inputs of each output the M - N least pruned at the group's start; each input's error
pushed onto the later inputs through U. PROBLEM holds W, X and params (float64:
sparsity, n, m, damp, block); FILE gets W (K, N) float32, the pruned weights.

NORMS holds ids (S, T) int32 and {module}.norm float32 (K), the norms lmforge measured: the
Wanda and N:M masks here are computed from those (scores in float64, ties broken by the
lower input index: a stable sort), so the masks compare exactly; ref_norm checks the norms.
"""
import argparse
import os
import sys

import torch
import torch.nn.utils.prune as prune

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models as R  # noqa: E402

SKIP = ("transformer.wte.weight", "transformer.wpe.weight", "wte.weight", "wpe.weight",
        "model.embed_tokens.weight", "lm_head.weight")


class Holder(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.weight = torch.nn.Parameter(w.clone())


def rows(w, gpt2):  # -> (out, in)
    return w.t() if gpt2 else w


def sparsegpt(W, X, sparsity, n_keep, m, damp, block):
    W = W.t().clone()  # (out, in), as the reference code's layer.weight
    rows, cols = W.shape
    H = 2.0 / X.shape[0] * X.t() @ X
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += damp * torch.mean(torch.diag(H)) * torch.eye(cols, dtype=H.dtype)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    if m:
        block = max(m, block // m * m)
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        mask1 = torch.zeros(W1.shape, dtype=torch.bool)
        if not m:
            tmp = W1 ** 2 / (torch.diag(Hinv1).reshape((1, -1))) ** 2
            k = int(tmp.numel() * sparsity)
            order = torch.sort(tmp.flatten(), stable=True).indices
            mask1.view(-1)[order[:k]] = True
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if m and i % m == 0:
                tmp = W1[:, i:i + m] ** 2 / (torch.diag(Hinv1)[i:i + m].reshape((1, -1))) ** 2
                srt = torch.sort(tmp, dim=1, stable=True).indices
                mask1.scatter_(1, i + srt[:, : m - n_keep], True)
            q = w.clone()
            q[mask1[:, i]] = 0
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        W[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    return W.t().contiguous()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("masks")
    d.add_argument("--model", required=True)
    d.add_argument("--norms", required=True)
    d.add_argument("--amounts", required=True)
    d.add_argument("--nm", default="2:4")
    d.add_argument("--out", required=True)
    sg = sub.add_parser("sparsegpt")
    sg.add_argument("--in", dest="inp", required=True)
    sg.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "sparsegpt":
        p = R.load_safetensors(a.inp)
        s, n, m, damp, block = p["params"].tolist()
        W = sparsegpt(p["W"].to(torch.float64), p["X"].to(torch.float64), s, int(n), int(m), damp, int(block))
        R.save_safetensors(a.out, {"W": W.to(torch.float32)})
        return
    cfg, weights = R.load_checkpoint(a.model)
    gpt2 = R.arch_of(cfg) == "gpt2"
    names = [k[: -len(".weight")] for k, v in weights.items()
             if k.endswith(".weight") and v.dim() == 2 and k not in SKIP]
    W = {n: weights[n + ".weight"].to(torch.float32) for n in names}
    nf = R.load_safetensors(a.norms)
    amounts = a.amounts.split(",")
    out = {}
    with torch.no_grad():
        for s in amounts:
            amt = float(s)
            mods = {n: Holder(W[n]) for n in names}
            for n, m in mods.items():
                prune.l1_unstructured(m, "weight", amount=amt)
                prune.remove(m, "weight")
                out[f"layer.{s}.{n}"] = (m.weight != 0).to(torch.uint8).contiguous()
            mods = {n: Holder(W[n]) for n in names}
            prune.global_unstructured([(m, "weight") for m in mods.values()],
                                      pruning_method=prune.L1Unstructured, amount=amt)
            for n, m in mods.items():
                prune.remove(m, "weight")
                out[f"global.{s}.{n}"] = (m.weight != 0).to(torch.uint8).contiguous()
        for n in names:
            ties = []
            for s in amounts:
                v = W[n].abs().flatten().sort().values
                k = round(float(s) * v.numel())
                ties.append(int(0 < k < v.numel() and bool(v[k - 1] == v[k])))
            out[f"{n}.cut_tied"] = torch.tensor(ties, dtype=torch.int64)

        def wanda_mask(n, norm, score_rows, prune_count):
            srt = torch.sort(score_rows, dim=1, stable=True).indices
            mask = torch.ones_like(score_rows, dtype=torch.bool)
            mask.scatter_(1, srt[:, :prune_count], False)
            return mask

        for n in names:
            Wr = rows(W[n], gpt2).to(torch.float64)
            norm = nf[n + ".norm"].to(torch.float64)
            metric = Wr.abs() * norm[None, :]
            K = Wr.shape[1]
            for s in amounts:
                m = wanda_mask(n, norm, metric, int(K * float(s)))
                out[f"wanda.{s}.{n}"] = rows(m, gpt2).to(torch.uint8).contiguous()
            for spec in a.nm.split(","):
                N, M = map(int, spec.split(":"))
                for kind, sc in (("magnitude", Wr.abs()), ("wanda", metric)):
                    g = sc.reshape(sc.shape[0], K // M, M)
                    srt = torch.sort(g, dim=2, stable=True).indices
                    mask = torch.ones_like(g, dtype=torch.bool)
                    mask.scatter_(2, srt[:, :, : M - N], False)
                    out[f"nm{N}_{M}.{kind}.{n}"] = rows(mask.reshape(sc.shape), gpt2).to(torch.uint8).contiguous()

        # The input norms from the float64 reference model on the same calibration ids.
        model = R.Model(cfg, weights, torch.float64)
        sq = {}
        orig = model._linear

        def observed(x, name, bias=True):
            x2 = x.reshape(-1, x.shape[-1]).to(torch.float64)
            sq[name] = sq.get(name, 0) + (x2 * x2).sum(0)
            return orig(x, name, bias)

        model._linear = observed
        ids = nf["ids"]
        for i in range(ids.shape[0]):
            model.forward([[int(t) for t in ids[i].tolist()]])
        for n in names:
            key = n[len("transformer."):] if gpt2 and n.startswith("transformer.") else n
            out[n + ".ref_norm"] = sq[key].sqrt().to(torch.float32).contiguous()
    R.save_safetensors(a.out, out)


if __name__ == "__main__":
    main()

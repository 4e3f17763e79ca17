#!/usr/bin/env python3
"""PyTorch 1.13 reference for lmforge's int8-dynamic quantization.

    ref_quant.py dynamic --model DIR --out FILE.safetensors

Puts every linear layer of the reference model (tests/reference/ref_models.py, float32),
the head included, into torch.nn.Linear modules and applies PyTorch's own
torch.quantization.quantize_dynamic with per_channel_dynamic_qconfig (int8 weights, one
scale per output channel; activations quantized per tensor at run time), then writes:
  <module>.int_repr  int8 (out, in)   the quantized weights
  <module>.scales    float32 (out)    their per-channel scales
  seq{i}.logits      float32 (T, V)   the quantized model's logits for the prompts of
                                      DIR/expected.safetensors (seq{i}.ids)
  layer.x, layer.y   float32          one layer (the first MLP up-projection) on random
  layer.name                          inputs x (T, in): y = that quantized layer(x)
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_models as R  # noqa: E402


def linear_names(model):
    skip = ("wte.weight", "wpe.weight", "model.embed_tokens.weight", "lm_head.weight")
    return [k[: -len(".weight")] for k, v in model.w.items()
            if k.endswith(".weight") and v.dim() == 2 and k not in skip]


def quantized_model(model_dir):
    cfg, weights = R.load_checkpoint(model_dir)
    m = R.Model(cfg, weights, torch.float32)
    mods = torch.nn.ModuleDict()
    key = lambda name: name.replace(".", "__")  # noqa: E731
    for name in linear_names(m) + ["lm_head"]:
        W = m.w[name + ".weight"]
        if m.arch == "gpt2" and name != "lm_head":
            W = W.t()  # Conv1D [in, out] -> nn.Linear [out, in]
        b = m.w.get(name + ".bias")
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=b is not None)
        lin.weight.data = W.contiguous().clone()
        if b is not None:
            lin.bias.data = b.clone()
        mods[key(name)] = lin
    q = torch.quantization.quantize_dynamic(
        mods, {torch.nn.Linear: torch.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8)
    m._linear = lambda x, name, bias=True: q[key(name)](x)
    m._head = lambda x: q["lm_head"](x)
    return m, q, key


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dynamic")
    d.add_argument("--model", required=True)
    d.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    m, q, key = quantized_model(a.model)
    out = {}
    for name in linear_names(m) + ["lm_head"]:
        w = q[key(name)].weight()
        out[name + ".int_repr"] = w.int_repr().contiguous()
        out[name + ".scales"] = w.q_per_channel_scales().to(torch.float32).contiguous()
    exp = R.load_safetensors(os.path.join(a.model, "expected.safetensors"))
    i = 0
    while f"seq{i}.ids" in exp:
        ids = [int(t) for t in exp[f"seq{i}.ids"].tolist()]
        with torch.no_grad():
            out[f"seq{i}.logits"] = m.forward([ids])[0][0].to(torch.float32).contiguous()
        i += 1
    name = next(n for n in linear_names(m) if n.endswith("c_fc") or n.endswith("up_proj"))
    lin = q[key(name)]
    x = torch.randn(7, lin.in_features) * 2.0
    x[3] = 0.0
    with torch.no_grad():
        out["layer.x"], out["layer.y"] = x, lin(x)
    R.save_safetensors(a.out, out, {"layer": name, "engine": torch.backends.quantized.engine})
    return 0


if __name__ == "__main__":
    sys.exit(main())

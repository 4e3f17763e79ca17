#!/usr/bin/python3
"""Export a Hugging Face checkpoint's full-sequence forward (no KV cache) to ONNX.

  /usr/bin/python3 bench/onnx_export.py MODEL OUT.onnx [--opset 17] [--all-logits] [--check-len 128]

Graph: input `input_ids` int64 (1, T) with dynamic T -> output `logits` float32 (1, V): the
logits of the LAST position only (the final norm and LM head run on that row alone, like
lmforge's prefill).  --all-logits exports (1, T, V) instead.  The model is bench/lean_model.py
(same math as tests/reference/ref_models.py, float32), traced with torch.onnx.export
(PyTorch 1.13's own serializer; the `onnx` python package is not needed).

Also writes OUT.onnx.check.json: {"ids": [...], "logits": [...]} for a random input of
--check-len tokens, the PyTorch model's last-token logits, which bench/ort_prefill.js --check
compares against ONNX Runtime's.
"""

import argparse
import json
import os
import sys
import time
import warnings

import torch

# The trace bakes `if T > 1` (mask the scores) as True: right for every T (T = 1 masks nothing).
warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lean_model  # noqa: E402


class Wrapper(torch.nn.Module):
    def __init__(self, m, last_only):
        super().__init__()
        self.m, self.last_only = m, last_only

    def forward(self, input_ids):
        return self.m(input_ids, 0, False, last_only=self.last_only)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--all-logits", action="store_true")
    ap.add_argument("--check-len", type=int, default=128)
    ap.add_argument("--no-dedup", action="store_true",
                    help="plain embedding gather (tied models then store wte and wte^T)")
    a = ap.parse_args()
    m = lean_model.load(a.model)
    m.export_tied_transposed = not a.no_dedup
    w = Wrapper(m, not a.all_logits).eval()
    dummy = torch.randint(0, m.V, (1, 8))
    axes = {"input_ids": {1: "seq"}}
    axes["logits"] = {1: "seq"} if a.all_logits else {}
    t0 = time.time()
    with torch.no_grad():
        torch.onnx.export(w, (dummy,), a.out, input_names=["input_ids"], output_names=["logits"],
                          dynamic_axes=axes, opset_version=a.opset, do_constant_folding=True)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 2**20:.1f} MiB, opset {a.opset}, "
          f"{'all' if a.all_logits else 'last-token'} logits) in {time.time() - t0:.1f} s", file=sys.stderr)
    g = torch.Generator().manual_seed(99)
    ids = torch.randint(0, m.V, (1, a.check_len), generator=g)
    with torch.inference_mode():
        lg = m(ids, 0, False, last_only=True)[0]
    with open(a.out + ".check.json", "w") as f:
        json.dump({"ids": ids[0].tolist(), "logits": lg.tolist(), "source": "bench/lean_model.py float32"}, f)
    print(f"wrote {a.out}.check.json ({a.check_len} tokens)", file=sys.stderr)


if __name__ == "__main__":
    main()

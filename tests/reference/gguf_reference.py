#!/usr/bin/env python3
"""GGUF reference files for lmforge's reader tests, written with llama.cpp's own gguf-py.

  gguf_reference.py GGUF_PY_DIR OUT_DIR

OUT_DIR/types.gguf holds one tensor per ggml type lmforge decodes (random blocks whose
float16 scale fields are finite, shapes of 1 to 3 dimensions) and metadata of every value
type (nested arrays too); OUT_DIR/expected/NAME.f32 is each tensor as gguf-py's
quants.dequantize decodes it (little-endian float32), OUT_DIR/types.meta.json the metadata
as written: {key: {"type": name, "value": ...}}.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES  # noqa: E402

out = sys.argv[2]
os.makedirs(os.path.join(out, "expected"), exist_ok=True)
rng = np.random.default_rng(7)

# Byte offsets of each block's float16 fields (scale d, min/dmin): random bytes there
# could be NaN or inf; they get small finite values instead.
F16_FIELDS = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
              T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
SHAPES = [(64,), (3, 64), (2, 2, 256)]  # numpy order: the last is ggml's ne[0]

w = gguf.GGUFWriter(os.path.join(out, "types.gguf"), arch="lmforge-test")
meta = {}
def kv(key, value, vtype, sub=None, name=None):
    w.add_key_value(key, value, vtype, sub_type=sub)
    meta[key] = {"type": name or vtype.name.lower(), "value": value}
V = gguf.GGUFValueType
kv("test.u8", 200, V.UINT8); kv("test.i8", -100, V.INT8); kv("test.u16", 60000, V.UINT16)
kv("test.i16", -30000, V.INT16); kv("test.u32", 4000000000, V.UINT32); kv("test.i32", -2000000000, V.INT32)
kv("test.f32", 0.15625, V.FLOAT32); kv("test.bool", True, V.BOOL); kv("test.string", "héllo ✓", V.STRING)
kv("test.u64", 2**63 + 5, V.UINT64); kv("test.i64", -(2**62), V.INT64); kv("test.f64", 1.0 / 3.0, V.FLOAT64)
kv("test.strings", ["a", "", "<|end|>"], V.ARRAY, V.STRING)
kv("test.ints", [1, -2, 3], V.ARRAY, V.INT32)
kv("test.nested", [[1, 2], [3]], V.ARRAY, V.ARRAY)

types = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
for t in types:
    block, nbytes = GGML_QUANT_SIZES[t]
    for si, shape in enumerate(SHAPES):
        if shape[-1] % block:
            continue
        n = int(np.prod(shape))
        if t == T.F32:
            raw = rng.standard_normal(n).astype(np.float32).view(np.uint8)
        elif t == T.F16:
            raw = rng.standard_normal(n).astype(np.float16).view(np.uint8)
        elif t == T.BF16:
            raw = (rng.standard_normal(n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
        else:
            blocks = rng.integers(0, 256, size=(n // block, nbytes), dtype=np.uint8)
            for off in F16_FIELDS[t]:
                blocks[:, off:off + 2] = rng.uniform(-0.1, 0.1, size=(n // block, 1)).astype(np.float16).view(np.uint8)
            raw = blocks.reshape(-1)
        name = f"{t.name.lower()}.{si}"
        byte_shape = list(shape[:-1]) + [shape[-1] // block * nbytes]
        w.add_tensor(name, raw.reshape(byte_shape), raw_dtype=t)
        ref = gguf.quants.dequantize(raw.reshape(byte_shape), t).astype(np.float32).reshape(-1)
        ref.astype("<f4").tofile(os.path.join(out, "expected", name + ".f32"))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
json.dump(meta, open(os.path.join(out, "types.meta.json"), "w"), ensure_ascii=False)

#!/usr/bin/python3
"""PyTorch reference for lmforge's model parity tests (plain torch + stdlib, no transformers).

Models (Hugging Face semantics and tensor names): GPT2LMHeadModel, LlamaForCausalLM (with
rope_scaling linear / dynamic / yarn / llama3, attention_bias, mlp_bias, head_dim),
Qwen2ForCausalLM, MistralForCausalLM (sliding_window) and Qwen3ForCausalLM (q_norm, k_norm).  Subcommands:

  make    write a random-weight checkpoint in exact HF layout (config.json + safetensors,
          optionally sharded with model.safetensors.index.json)
  expect  load a checkpoint from disk and write expected logits / greedy tokens

Run with /usr/bin/python3 (Debian python3-torch).  See tests/reference/README.md.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

assert sys.byteorder == "little", "safetensors writer assumes a little-endian host"

# ----------------------------------------------------------------------------------------
# safetensors (hand-written reader and writer)
# ----------------------------------------------------------------------------------------

_ST_TO_TORCH = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
_TORCH_TO_ST = {v: k for k, v in _ST_TO_TORCH.items()}
# numpy dtype used to move the raw bytes (bf16 travels as int16, bool as uint8)
_ST_TO_NP = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.int16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.uint8,
}

DTYPE_NAMES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
HF_DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def _raw_numpy(t):
    """Contiguous numpy view of a CPU tensor's bytes in safetensors order."""
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy()
    return t.numpy()


def save_safetensors(path, tensors, metadata=None):
    """Write `tensors` (name -> torch.Tensor) as a safetensors file.

    Layout: u64 little-endian header length, JSON header padded with spaces to a multiple
    of 8, then the raw little-endian data of each tensor, in sorted-name order, contiguous.
    """
    names = sorted(tensors)
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    offset = 0
    arrays = []
    for name in names:
        t = tensors[name]
        if t.dtype not in _TORCH_TO_ST:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {t.dtype}")
        a = _raw_numpy(t)
        n = a.nbytes
        header[name] = {"dtype": _TORCH_TO_ST[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
        arrays.append(a)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hjson).to_bytes(8, "little"))
        f.write(hjson)
        for a in arrays:
            if a.nbytes:
                f.write(memoryview(a.reshape(-1)).cast("B"))
    return offset


def load_safetensors(path, with_metadata=False):
    """Read a safetensors file into name -> torch.Tensor (own reader, validates offsets)."""
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    n = int.from_bytes(buf[:8], "little")
    if 8 + n > len(buf):
        raise ValueError(f"{path}: header length {n} exceeds file size {len(buf)}")
    header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        st = info["dtype"]
        if st not in _ST_TO_TORCH:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {st}")
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        npdt = np.dtype(_ST_TO_NP[st])
        count = int(np.prod(shape)) if shape else 1
        if e - b != count * npdt.itemsize or base + e > len(buf):
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {b},{e} for {st}{list(shape)}")
        a = np.frombuffer(buf, dtype=npdt, count=count, offset=base + b)
        if not a.flags.aligned:
            a = a.copy()
        t = torch.from_numpy(a).reshape(shape)
        if st == "BF16":
            t = t.view(torch.bfloat16)
        elif st == "BOOL":
            t = t.to(torch.bool)
        out[name] = t
    return (out, meta) if with_metadata else out


def load_checkpoint(d):
    """Read DIR/config.json and DIR/model.safetensors (or the sharded index) from disk.

    Returns (config dict, weights dict name -> tensor in the stored dtype)."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(d, "model.safetensors.index.json")
    weights = {}
    if os.path.exists(index):
        with open(index) as f:
            wm = json.load(f)["weight_map"]
        for fname in sorted(set(wm.values())):
            part = load_safetensors(os.path.join(d, fname))
            for k, v in part.items():
                if wm.get(k) != fname:
                    raise ValueError(f"{d}: tensor {k} in {fname} but index says {wm.get(k)}")
                weights[k] = v
        missing = set(wm) - set(weights)
        if missing:
            raise ValueError(f"{d}: index lists tensors missing from shards: {sorted(missing)[:5]}")
    else:
        weights = load_safetensors(os.path.join(d, "model.safetensors"))
    return cfg, weights


# ----------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------

def arch_of(cfg):
    mt = cfg.get("model_type")
    if mt in ("gpt2", "llama", "qwen2", "mistral", "qwen3"):
        return mt
    raise ValueError(f"unsupported model_type {mt!r}")


class KVCache:
    """Per-sequence cache: for each layer (k, v), each (Hkv, P, D), keys after RoPE."""

    def __init__(self, n_layers):
        self.layers = [None] * n_layers

    @property
    def length(self):
        return 0 if self.layers[0] is None else self.layers[0][0].shape[1]


class Model:
    """Functional forward of GPT-2 / Llama / Qwen2 with HF (eager) semantics.

    dtype: torch.float64 or float32 -> everything in that dtype (norms, softmax, RoPE too);
           torch.bfloat16 -> HF semantics with bf16 activations (torch bf16 CPU kernels;
           RMSNorm, Llama softmax and RoPE tables in float32 then cast, like HF);
           torch.float16 -> PyTorch 1.13 has no f16 CPU matmul/softmax/layer_norm, so this
           is EMULATED: each op computes in float32 from the f16 weights and its result is
           rounded to f16 (what an f16 kernel with float accumulation stores).
    """

    def __init__(self, cfg, weights, dtype=torch.float64):
        self.cfg = cfg
        self.arch = arch_of(cfg)
        self.emulate_f16 = dtype == torch.float16
        self.adt = torch.float32 if self.emulate_f16 else dtype        # activation dtype
        self.hp = torch.float64 if dtype == torch.float64 else torch.float32  # "upcast" dtype
        if self.emulate_f16:
            self.R = lambda t: t.to(torch.float16).to(torch.float32)
        else:
            self.R = lambda t: t
        w = {}
        for k, v in weights.items():
            if self.arch == "gpt2" and k.startswith("transformer."):
                k = k[len("transformer."):]
            if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
                continue  # old causal-mask buffers: not parameters
            w[k] = v.to(self.adt)
        self.w = w
        if self.arch == "gpt2":
            self.L = cfg["n_layer"]
            self.C = cfg["n_embd"]
            self.H = self.Hkv = cfg["n_head"]
            self.D = self.C // self.H
            self.eps = cfg.get("layer_norm_epsilon", 1e-5)
            self.ctx = cfg["n_positions"]
            act = cfg.get("activation_function", "gelu_new")
            if act != "gelu_new":
                raise ValueError(f"unsupported activation_function {act!r}")
            if "lm_head.weight" not in w or cfg.get("tie_word_embeddings", True):
                w["lm_head.weight"] = w["wte.weight"]
        else:
            self.L = cfg["num_hidden_layers"]
            self.C = cfg["hidden_size"]
            self.H = cfg["num_attention_heads"]
            self.Hkv = cfg.get("num_key_value_heads") or self.H
            self.D = cfg.get("head_dim") or self.C // self.H
            self.eps = cfg.get("rms_norm_eps", 1e-6)
            self.ctx = cfg.get("max_position_embeddings", 1 << 30)
            self.theta = float(cfg.get("rope_theta", 10000.0))
            if cfg.get("hidden_act", "silu") != "silu":
                raise ValueError(f"unsupported hidden_act {cfg.get('hidden_act')!r}")
            a = self.arch
            self.attn_bias = a in ("llama", "qwen3") and bool(cfg.get("attention_bias", False))
            self.qkv_bias = a == "qwen2" or self.attn_bias
            self.mlp_bias = a == "llama" and bool(cfg.get("mlp_bias", False))
            self.qk_norm = a == "qwen3"
            self.window = (cfg.get("sliding_window") or 0) if a == "mistral" else 0
            if a in ("qwen2", "qwen3") and cfg.get("use_sliding_window"):
                raise ValueError("use_sliding_window is not supported by the reference")
            self._init_rope(cfg.get("rope_scaling"))
            if cfg.get("tie_word_embeddings", False) or "lm_head.weight" not in w:
                w["lm_head.weight"] = w["model.embed_tokens.weight"]
        self.V = w["lm_head.weight"].shape[0]
        if self.H % self.Hkv:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")

    def new_cache(self):
        return KVCache(self.L)

    # -- building blocks ------------------------------------------------------------------
    def _linear(self, x, name, bias=True):
        W = self.w[name + ".weight"]
        b = self.w.get(name + ".bias") if bias else None
        if self.arch == "gpt2":  # Conv1D: weight [in, out], y = addmm(b, x, W)
            y = torch.addmm(b, x.reshape(-1, x.shape[-1]), W)
            return self.R(y.reshape(*x.shape[:-1], W.shape[1]))
        return self.R(torch.nn.functional.linear(x, W, b))

    def _head(self, x):  # (a separate method so that ref_quant.py can swap in a quantized head)
        W = self.w["lm_head.weight"]
        return torch.matmul(x, W.t()) if self.arch == "gpt2" else torch.nn.functional.linear(x, W)

    def _layer_norm(self, x, name):
        w, b = self.w[name + ".weight"], self.w[name + ".bias"]
        return self.R(torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, self.eps))

    def _rms_norm(self, x, name):
        h = x.to(self.hp)
        var = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(var + self.eps)
        return self.R(self.w[name + ".weight"] * self.R(h.to(self.adt)))

    @staticmethod
    def _gelu_new(x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    def _init_rope(self, rs):
        """HF modeling_rope_utils: inv_freq (D/2) and the attention factor for rope_scaling.
        In float64 mode everything is float64; else float32 as HF's buffers."""
        D, base = self.D, self.theta
        self.rope_type = None
        self.attn_factor = 1.0
        self.dyn = None
        if self.hp == torch.float64:
            ar = torch.arange(0, D, 2, dtype=torch.float64) / D
        else:
            ar = torch.arange(0, D, 2, dtype=torch.int64).float() / D
        inv = 1.0 / (base ** ar)
        if rs:
            t = rs.get("rope_type", rs.get("type"))
            self.rope_type = t
            if t == "default":
                pass
            elif t == "linear":
                inv = inv / rs["factor"]
            elif t == "dynamic":
                # recomputed per forward from the sequence length (below); the context grows
                self.dyn = (float(rs["factor"]), self.ctx, ar)
                self.ctx = int(math.floor(self.ctx * float(rs["factor"])))
            elif t == "llama3":
                factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
                old = rs["original_max_position_embeddings"]
                lo_w, hi_w = old / lo, old / hi
                wavelen = 2 * math.pi / inv
                il = torch.where(wavelen > lo_w, inv / factor, inv)
                smooth = (old / wavelen - lo) / (hi - lo)
                smoothed = (1 - smooth) * il / factor + smooth * il
                medium = ~(wavelen < hi_w) * ~(wavelen > lo_w)
                inv = torch.where(medium, smoothed, il)
            elif t == "yarn":
                factor = rs.get("factor")
                mpe = self.ctx
                if "original_max_position_embeddings" in rs:
                    orig = rs["original_max_position_embeddings"]
                    factor = mpe / orig
                else:
                    orig = mpe
                ms, msa = rs.get("mscale"), rs.get("mscale_all_dim")

                def get_mscale(scale, m=1):
                    return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0
                af = rs.get("attention_factor")
                if af is None:
                    af = get_mscale(factor, ms) / get_mscale(factor, msa) if (ms and msa) else get_mscale(factor)
                self.attn_factor = float(af)
                bf, bs = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

                def corr_dim(rot):
                    return (D * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(base))
                low, high = corr_dim(bf), corr_dim(bs)
                if rs.get("truncate", True):
                    low, high = math.floor(low), math.ceil(high)
                low, high = max(low, 0), min(high, D - 1)
                if low == high:
                    high += 0.001
                ramp = torch.clamp((torch.arange(D // 2, dtype=inv.dtype) - low) / (high - low), 0, 1)
                extra_factor = 1 - ramp
                pos_freqs = base ** ar
                inv = (1.0 / (factor * pos_freqs)) * (1 - extra_factor) + (1.0 / pos_freqs) * extra_factor
            else:
                raise ValueError(f"unsupported rope_scaling type {t!r}")
        self.inv_freq = inv

    def _inv_freq_for(self, seq_len):
        """Dynamic NTK (HF _compute_dynamic_ntk_parameters): the base grows once the sequence
        passes max_position_embeddings; one forward of one sequence uses its longest length."""
        if self.dyn is None or seq_len <= self.dyn[1]:
            return self.inv_freq
        factor, mpe, ar = self.dyn
        D = self.D
        base = self.theta * ((factor * seq_len / mpe) - (factor - 1)) ** (D / (D - 2))
        return 1.0 / (base ** ar)

    def _rope_tables(self, pos, seq_lens=None):
        """pos (B, T). seq_lens: per sequence, its length after this forward (dynamic NTK
        uses each sequence's own, as HF does for an unbatched forward)."""
        rows = []
        for b in range(pos.shape[0]):
            inv = self._inv_freq_for(seq_lens[b] if seq_lens is not None else 0)
            rows.append(pos[b].to(self.hp)[..., None] * inv)
        freqs = torch.stack(rows)  # (B, T, D/2)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos = self.R((emb.cos() * self.attn_factor).to(self.adt))[:, None]  # (B, 1, T, D)
        sin = self.R((emb.sin() * self.attn_factor).to(self.adt))[:, None]
        return cos, sin

    def _rope(self, x, cos, sin):
        h = x.shape[-1] // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
        return self.R(self.R(x * cos) + self.R(rot * sin))

    def _attention(self, li, q, k, v, caches, past, new_lens, allowed):
        """q: (B,H,T,D); k, v: (B,Hkv,T,D); past: cache lengths before this forward.
        Appends the valid new k/v of each sequence to its cache."""
        B, H, T, D = q.shape
        Pm = max(past)
        if Pm:
            pk = q.new_zeros((B, self.Hkv, Pm, D))
            pv = q.new_zeros((B, self.Hkv, Pm, D))
            for b, c in enumerate(caches):
                if past[b]:
                    ck, cv = c.layers[li]
                    pk[b, :, :ck.shape[1]] = ck
                    pv[b, :, :cv.shape[1]] = cv
            K = torch.cat([pk, k], dim=2)
            Vv = torch.cat([pv, v], dim=2)
        else:
            K, Vv = k, v
        for b, c in enumerate(caches):
            nk, nv = k[b, :, :new_lens[b]], v[b, :, :new_lens[b]]
            if c.layers[li] is None:
                c.layers[li] = (nk.clone(), nv.clone())
            else:
                c.layers[li] = (torch.cat([c.layers[li][0], nk], 1), torch.cat([c.layers[li][1], nv], 1))
        rep = H // self.Hkv
        if rep > 1:  # HF repeat_kv: query head h uses kv head h // rep
            Tk = K.shape[2]
            K = K[:, :, None].expand(B, self.Hkv, rep, Tk, D).reshape(B, H, Tk, D)
            Vv = Vv[:, :, None].expand(B, self.Hkv, rep, Tk, D).reshape(B, H, Tk, D)
        s = self.R(torch.matmul(q, K.transpose(-1, -2)))
        if self.arch == "gpt2":
            s = self.R(s / (float(D) ** 0.5))
            s = s.masked_fill(~allowed, torch.finfo(s.dtype).min)
            p = self.R(torch.softmax(s, dim=-1))
        else:
            s = self.R(s * (float(D) ** -0.5))
            s = s.masked_fill(~allowed, torch.finfo(s.dtype).min)
            p = self.R(torch.softmax(s, dim=-1, dtype=self.hp).to(self.adt))
        o = self.R(torch.matmul(p, Vv))  # (B,H,T,D)
        return o.transpose(1, 2).reshape(B, T, H * D)

    # -- forward --------------------------------------------------------------------------
    def forward(self, seqs, caches=None):
        """seqs: list of token-id lists (the NEW tokens of each sequence, may differ in length).
        caches: list of KVCache (one per sequence) or None for fresh ones; updated in place.
        Returns (list of logits tensors (T_i, V) in the model's dtype (float32 for bf16/f16),
        caches).  Sequences are right-padded to a batch; padded keys are masked out."""
        B = len(seqs)
        if caches is None:
            caches = [self.new_cache() for _ in range(B)]
        assert len(caches) == B
        new_lens = [len(s) for s in seqs]
        T = max(new_lens)
        if T == 0:
            return [torch.zeros(0, self.V, dtype=self.adt) for _ in seqs], caches
        past = [c.length for c in caches]
        for b in range(B):
            if past[b] + new_lens[b] > self.ctx:
                raise ValueError(f"sequence {b}: length {past[b] + new_lens[b]} exceeds context {self.ctx}")
            if any(not (0 <= t < self.V) for t in seqs[b]):
                raise ValueError(f"sequence {b}: token id out of range [0, {self.V})")
        ids = torch.zeros(B, T, dtype=torch.long)
        pos = torch.zeros(B, T, dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, :len(s)] = torch.tensor(s, dtype=torch.long)
            pos[b] = torch.clamp(past[b] + torch.arange(T), max=self.ctx - 1)
        Pm = max(past)
        # allowed[b, 0, i, j]: key j (Pm padded past slots, then T new slots) visible to query i
        past_ok = torch.arange(Pm)[None, :] < torch.tensor(past)[:, None]  # (B, Pm)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        allowed = torch.cat([past_ok[:, None, :].expand(B, T, Pm), causal[None].expand(B, T, T)], dim=2)
        if self.arch != "gpt2" and self.window:
            # HF Mistral: key at position j is visible to the query at position i iff i - j < sliding_window
            kpos = torch.cat([torch.arange(Pm)[None].expand(B, Pm), pos], dim=1)  # (B, Pm + T)
            allowed = allowed & ((pos[:, :, None] - kpos[:, None, :]) < self.window)
        allowed = allowed[:, None]

        w, R = self.w, self.R
        if self.arch == "gpt2":
            x = R(w["wte.weight"][ids] + w["wpe.weight"][pos])
            for i in range(self.L):
                p = f"h.{i}."
                h = self._layer_norm(x, p + "ln_1")
                qkv = self._linear(h, p + "attn.c_attn")
                q, k, v = qkv.split(self.C, dim=-1)
                q, k, v = (t.reshape(B, T, self.H, self.D).transpose(1, 2) for t in (q, k, v))
                a = self._attention(i, q, k, v, caches, past, new_lens, allowed)
                x = R(x + self._linear(a, p + "attn.c_proj"))
                h = self._layer_norm(x, p + "ln_2")
                m = R(self._gelu_new(self._linear(h, p + "mlp.c_fc")))
                x = R(x + self._linear(m, p + "mlp.c_proj"))
            x = self._layer_norm(x, "ln_f")
            logits = R(self._head(x))
        else:
            x = w["model.embed_tokens.weight"][ids]
            cos, sin = self._rope_tables(pos, [past[b] + new_lens[b] for b in range(B)])
            qkv_bias = self.qkv_bias
            for i in range(self.L):
                p = f"model.layers.{i}."
                h = self._rms_norm(x, p + "input_layernorm")
                q = self._linear(h, p + "self_attn.q_proj", qkv_bias)
                k = self._linear(h, p + "self_attn.k_proj", qkv_bias)
                v = self._linear(h, p + "self_attn.v_proj", qkv_bias)
                q = q.reshape(B, T, self.H, self.D)
                k = k.reshape(B, T, self.Hkv, self.D)
                if self.qk_norm:  # Qwen3: RMSNorm over head_dim of each head, before RoPE
                    q = self._rms_norm(q, p + "self_attn.q_norm")
                    k = self._rms_norm(k, p + "self_attn.k_norm")
                q, k = q.transpose(1, 2), k.transpose(1, 2)
                v = v.reshape(B, T, self.Hkv, self.D).transpose(1, 2)
                q, k = self._rope(q, cos, sin), self._rope(k, cos, sin)
                a = self._attention(i, q, k, v, caches, past, new_lens, allowed)
                x = R(x + self._linear(a, p + "self_attn.o_proj", self.attn_bias))
                h = self._rms_norm(x, p + "post_attention_layernorm")
                mb = self.mlp_bias
                g = R(torch.nn.functional.silu(self._linear(h, p + "mlp.gate_proj", mb)))
                u = self._linear(h, p + "mlp.up_proj", mb)
                x = R(x + self._linear(R(g * u), p + "mlp.down_proj", mb))
            x = self._rms_norm(x, "model.norm")
            logits = R(self._head(x))
        if self.adt != self.hp and self.hp == torch.float32:
            logits = logits.float()  # HF: logits.float()
        return [logits[b, :new_lens[b]] for b in range(B)], caches

    def greedy(self, prompts, n):
        """Greedy decode n tokens for each prompt (batched, KV cache).  Returns
        (tokens: list of lists, step_logits: list of (n, V) tensors) where step_logits[b][g]
        are the logits that chose token g (g=0 from the prefill's last row)."""
        logits, caches = self.forward(prompts)
        last = [l[-1] for l in logits]
        toks = [[] for _ in prompts]
        steps = [[] for _ in prompts]
        for g in range(n):
            for b in range(len(prompts)):
                steps[b].append(last[b])
                toks[b].append(int(torch.argmax(last[b])))
            if g + 1 < n:
                logits, caches = self.forward([[t[-1]] for t in toks], caches)
                last = [l[-1] for l in logits]
        return toks, [torch.stack(s) if s else torch.zeros(0, self.V, dtype=self.adt) for s in steps]


# ----------------------------------------------------------------------------------------
# make: random checkpoints in HF layout
# ----------------------------------------------------------------------------------------

DEFAULTS = {
    "gpt2": dict(layers=2, hidden=64, heads=4, kv_heads=None, inner=None, vocab=512, ctx=128),
    "llama": dict(layers=2, hidden=64, heads=4, kv_heads=2, inner=160, vocab=512, ctx=128),
    "qwen2": dict(layers=2, hidden=64, heads=4, kv_heads=2, inner=160, vocab=512, ctx=128),
    "mistral": dict(layers=2, hidden=64, heads=4, kv_heads=2, inner=160, vocab=512, ctx=128),
    "qwen3": dict(layers=2, hidden=64, heads=4, kv_heads=2, inner=160, vocab=512, ctx=128),
}
ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM",
                 "qwen3": "Qwen3ForCausalLM"}
# Random init.  Matrices ~ N(0, 1/fan_in); embeddings (and an untied lm_head) ~ N(0, LOGIT_STD^2/C)
# so the logits have std ~LOGIT_STD; the residual-branch output projections (attn c_proj / o_proj,
# mlp c_proj / down_proj) get gain RESID_GAIN so the residual stream is not dominated by the
# current token's embedding (with tied embeddings that makes greedy decoding repeat the input
# token forever); norm weights ~ 1 + N(0, 0.1^2); biases nonzero.
LOGIT_STD = 4.0
RESID_GAIN = 12.0


def make_config(arch, layers, hidden, heads, kv_heads, inner, vocab, ctx, tied, dtype,
                head_dim=None, bos=None, eos=None):
    dn = HF_DTYPE_NAMES[dtype]
    if arch == "gpt2":
        return {
            "activation_function": "gelu_new",
            "architectures": ["GPT2LMHeadModel"],
            "attn_pdrop": 0.1,
            "bos_token_id": vocab - 1 if bos is None else bos,
            "embd_pdrop": 0.1,
            "eos_token_id": vocab - 1 if eos is None else eos,
            "initializer_range": 0.02,
            "layer_norm_epsilon": 1e-05,
            "model_type": "gpt2",
            "n_ctx": ctx,
            "n_embd": hidden,
            "n_head": heads,
            "n_inner": inner,
            "n_layer": layers,
            "n_positions": ctx,
            "reorder_and_upcast_attn": False,
            "resid_pdrop": 0.1,
            "scale_attn_by_inverse_layer_idx": False,
            "scale_attn_weights": True,
            "summary_activation": None,
            "summary_first_dropout": 0.1,
            "summary_proj_to_labels": True,
            "summary_type": "cls_index",
            "summary_use_proj": True,
            "tie_word_embeddings": tied,
            "torch_dtype": dn,
            "transformers_version": "4.44.2",
            "use_cache": True,
            "vocab_size": vocab,
        }
    cfg = {
        "architectures": [ARCHITECTURES[arch]],
        "attention_dropout": 0.0,
        "bos_token_id": (1 if arch in ("llama", "mistral") else vocab - 1) if bos is None else bos,
        "eos_token_id": (2 if arch in ("llama", "mistral") else vocab - 1) if eos is None else eos,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": inner,
        "max_position_embeddings": ctx,
        "model_type": arch,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-05 if arch in ("llama", "mistral") else 1e-06,
        "rope_scaling": None,
        "rope_theta": 10000.0 if arch == "llama" else 1000000.0,
        "tie_word_embeddings": tied,
        "torch_dtype": dn,
        "transformers_version": "4.44.2",
        "use_cache": True,
        "vocab_size": vocab,
    }
    if arch == "llama":
        cfg.update({"attention_bias": False, "mlp_bias": False, "pretraining_tp": 1})
    elif arch == "mistral":
        cfg.update({"sliding_window": None, "head_dim": None})
    else:
        cfg.update({"max_window_layers": layers, "sliding_window": ctx, "use_sliding_window": False})
        if arch == "qwen3":
            cfg.update({"attention_bias": False, "head_dim": hidden // heads})
    if head_dim is not None:
        cfg["head_dim"] = head_dim
    return cfg


def param_specs(arch, cfg, prefix=True, attn_buffers=False):
    """[(name, shape, init)] in HF state_dict (module) order.  init: ("normal", mean, std),
    ("tril",) or ("const", value)."""
    S = []
    if arch == "gpt2":
        C, L, V, P = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
        F = cfg["n_inner"] or 4 * C
        pre = "transformer." if prefix else ""
        mat = lambda fan_in: ("normal", 0.0, 1.0 / math.sqrt(fan_in))
        out = lambda fan_in: ("normal", 0.0, RESID_GAIN / math.sqrt(fan_in))
        bias = ("normal", 0.0, 0.05)
        S += [(pre + "wte.weight", (V, C), ("normal", 0.0, LOGIT_STD / math.sqrt(C))),
              (pre + "wpe.weight", (P, C), ("normal", 0.0, 0.5 * LOGIT_STD / math.sqrt(C)))]
        for i in range(L):
            p = f"{pre}h.{i}."
            S += [(p + "ln_1.weight", (C,), ("normal", 1.0, 0.1)), (p + "ln_1.bias", (C,), bias)]
            if attn_buffers:
                S += [(p + "attn.bias", (1, 1, P, P), ("tril",)),
                      (p + "attn.masked_bias", (), ("const", -1e4))]
            S += [(p + "attn.c_attn.weight", (C, 3 * C), mat(C)), (p + "attn.c_attn.bias", (3 * C,), bias),
                  (p + "attn.c_proj.weight", (C, C), out(C)), (p + "attn.c_proj.bias", (C,), bias),
                  (p + "ln_2.weight", (C,), ("normal", 1.0, 0.1)), (p + "ln_2.bias", (C,), bias),
                  (p + "mlp.c_fc.weight", (C, F), mat(C)), (p + "mlp.c_fc.bias", (F,), bias),
                  (p + "mlp.c_proj.weight", (F, C), out(F)), (p + "mlp.c_proj.bias", (C,), bias)]
        S += [(pre + "ln_f.weight", (C,), ("normal", 1.0, 0.1)), (pre + "ln_f.bias", (C,), bias)]
        if not cfg["tie_word_embeddings"]:
            S += [("lm_head.weight", (V, C), ("normal", 0.0, LOGIT_STD / math.sqrt(C)))]
        return S
    C, L, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    H, Hkv, F = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["intermediate_size"]
    D = cfg.get("head_dim") or C // H
    mat = lambda fan_in: ("normal", 0.0, 1.0 / math.sqrt(fan_in))
    out = lambda fan_in: ("normal", 0.0, RESID_GAIN / math.sqrt(fan_in))
    bias = ("normal", 0.0, 0.1)
    ab = arch in ("llama", "qwen3") and bool(cfg.get("attention_bias"))
    qb = arch == "qwen2" or ab
    mb = arch == "llama" and bool(cfg.get("mlp_bias"))
    S += [("model.embed_tokens.weight", (V, C), ("normal", 0.0, LOGIT_STD / math.sqrt(C)))]
    for i in range(L):
        p = f"model.layers.{i}."
        S += [(p + "self_attn.q_proj.weight", (H * D, C), mat(C))]
        S += [(p + "self_attn.q_proj.bias", (H * D,), bias)] if qb else []
        S += [(p + "self_attn.k_proj.weight", (Hkv * D, C), mat(C))]
        S += [(p + "self_attn.k_proj.bias", (Hkv * D,), bias)] if qb else []
        S += [(p + "self_attn.v_proj.weight", (Hkv * D, C), mat(C))]
        S += [(p + "self_attn.v_proj.bias", (Hkv * D,), bias)] if qb else []
        S += [(p + "self_attn.o_proj.weight", (C, H * D), out(H * D))]
        S += [(p + "self_attn.o_proj.bias", (C,), bias)] if ab else []
        if arch == "qwen3":
            S += [(p + "self_attn.q_norm.weight", (D,), ("normal", 1.0, 0.1)),
                  (p + "self_attn.k_norm.weight", (D,), ("normal", 1.0, 0.1))]
        for name, shape in (("gate_proj", (F, C)), ("up_proj", (F, C)), ("down_proj", (C, F))):
            S += [(p + "mlp." + name + ".weight", shape, out(F) if name == "down_proj" else mat(C))]
            S += [(p + "mlp." + name + ".bias", (shape[0],), bias)] if mb else []
        S += [(p + "input_layernorm.weight", (C,), ("normal", 1.0, 0.1)),
              (p + "post_attention_layernorm.weight", (C,), ("normal", 1.0, 0.1))]
    S += [("model.norm.weight", (C,), ("normal", 1.0, 0.1))]
    if not cfg["tie_word_embeddings"]:
        S += [("lm_head.weight", (V, C), ("normal", 0.0, LOGIT_STD / math.sqrt(C)))]
    return S


def _shard_groups(sizes, k):
    """Split indices 0..n-1 into k contiguous non-empty groups of roughly equal byte size."""
    n = len(sizes)
    if k > n:
        raise ValueError(f"cannot split {n} tensors into {k} shards")
    total = float(sum(sizes))
    bounds = [0]
    cum = 0.0
    j = 0
    for s in range(1, k):
        # first index whose start is at or past s/k of the bytes, keeping every shard non-empty
        while j < n and cum + sizes[j] / 2 < s * total / k:
            cum += sizes[j]
            j += 1
        b = min(max(j, bounds[-1] + 1), n - (k - s))
        while j < b:
            cum += sizes[j]
            j += 1
        while j > b:
            j -= 1
            cum -= sizes[j]
        bounds.append(b)
    bounds.append(n)
    return [list(range(bounds[s], bounds[s + 1])) for s in range(k)]


def make_checkpoint(out, arch, dtype=torch.float32, seed=0, layers=None, hidden=None, heads=None,
                    kv_heads=None, inner=None, vocab=None, ctx=None, tied=True, shards=1,
                    prefix=True, attn_buffers=False, tokenizer=None, head_dim=None, eps=None,
                    rope_theta=None, rope_scaling=None, attention_bias=False, mlp_bias=False,
                    sliding_window=None):
    d = dict(DEFAULTS[arch])
    for k, v in dict(layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, inner=inner,
                     vocab=vocab, ctx=ctx).items():
        if v is not None:
            d[k] = v
    bos = eos = None
    if tokenizer:
        tv, bos, eos = _tokenizer_info(tokenizer, arch)
        if vocab is None:
            d["vocab"] = tv
        elif vocab < tv:
            raise ValueError(f"--vocab {vocab} is smaller than the tokenizer's {tv} ids")
    if arch == "gpt2":
        if head_dim is not None:
            raise ValueError("--head-dim is for llama/qwen2")
        d["kv_heads"] = None
        if d["hidden"] % d["heads"]:
            raise ValueError("hidden must be a multiple of heads")
    else:
        if d["kv_heads"] is None:
            d["kv_heads"] = d["heads"]
        if d["heads"] % d["kv_heads"]:
            raise ValueError("heads must be a multiple of kv-heads")
        if head_dim is None and d["hidden"] % d["heads"]:
            raise ValueError("hidden must be a multiple of heads (or give --head-dim)")
    cfg = make_config(arch, d["layers"], d["hidden"], d["heads"], d["kv_heads"], d["inner"],
                      d["vocab"], d["ctx"], tied, dtype, head_dim, bos, eos)
    if eps is not None:
        cfg["layer_norm_epsilon" if arch == "gpt2" else "rms_norm_eps"] = eps
    if rope_theta is not None:
        if arch == "gpt2":
            raise ValueError("--rope-theta is for llama/qwen2")
        cfg["rope_theta"] = rope_theta
    if rope_scaling is not None:
        if arch == "gpt2":
            raise ValueError("--rope-scaling is not for gpt2")
        cfg["rope_scaling"] = rope_scaling
    if attention_bias:
        if arch not in ("llama", "qwen3"):
            raise ValueError("--attention-bias is for llama/qwen3")
        cfg["attention_bias"] = True
    if mlp_bias:
        if arch != "llama":
            raise ValueError("--mlp-bias is for llama")
        cfg["mlp_bias"] = True
    if sliding_window is not None:
        if arch != "mistral":
            raise ValueError("--sliding-window is for mistral")
        cfg["sliding_window"] = sliding_window
    specs = param_specs(arch, cfg, prefix, attn_buffers)
    if shards > 1 and len(specs) < shards:
        raise ValueError(f"only {len(specs)} tensors, cannot make {shards} shards")

    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, shape, init in specs:
        if init[0] == "normal":
            t = torch.randn(shape, generator=g, dtype=torch.float32)
            t.mul_(init[2]).add_(init[1])
        elif init[0] == "tril":
            t = torch.tril(torch.ones(shape[-2:], dtype=torch.float32)).reshape(shape)
        else:
            t = torch.full(shape, init[1], dtype=torch.float32)
        tensors[name] = t.to(dtype)

    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):  # remove stale weights of a previous run
        if old.endswith(".safetensors") or old == "model.safetensors.index.json":
            os.remove(os.path.join(out, old))
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    if shards <= 1:
        save_safetensors(os.path.join(out, "model.safetensors"), tensors)
    else:
        names = [s[0] for s in specs]
        sizes = [tensors[n].numel() * tensors[n].element_size() for n in names]
        wm = {}
        for si, grp in enumerate(_shard_groups(sizes, shards)):
            fname = f"model-{si + 1:05d}-of-{shards:05d}.safetensors"
            save_safetensors(os.path.join(out, fname), {names[i]: tensors[names[i]] for i in grp})
            for i in grp:
                wm[names[i]] = fname
        index = {"metadata": {"total_size": sum(sizes)}, "weight_map": dict(sorted(wm.items()))}
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    if tokenizer:
        shutil.copyfile(tokenizer, os.path.join(out, "tokenizer.json"))
    return cfg


def _tokenizer_info(path, arch):
    """(vocab size = max id + 1, bos id, eos id) from a tokenizer.json."""
    with open(path) as f:
        tj = json.load(f)
    ids = {}
    voc = tj.get("model", {}).get("vocab", {})
    if isinstance(voc, dict):
        ids.update(voc)
    else:  # Unigram: list of [piece, score]
        ids.update({p[0]: i for i, p in enumerate(voc)})
    for a in tj.get("added_tokens", []):
        ids[a["content"]] = a["id"]
    n = max(ids.values()) + 1 if ids else 0
    bos = eos = None
    for tok in ("<|endoftext|>", "<s>", "<|begin_of_text|>"):
        if tok in ids:
            bos = ids[tok]
            break
    for tok in ("<|endoftext|>", "</s>", "<|end_of_text|>", "<|im_end|>"):
        if tok in ids:
            eos = ids[tok]
            break
    return n, bos, eos


# ----------------------------------------------------------------------------------------
# expect: expected outputs for the C++ parity tests
# ----------------------------------------------------------------------------------------

DEFAULT_PROMPT_LENGTHS = (7, 13, 1)
MIN_DEFAULT_MARGIN = 0.02


def default_prompts(model, greedy, lengths=DEFAULT_PROMPT_LENGTHS, tries=16):
    """Deterministic random prompts (ids < vocab) of the given lengths.  For each length the
    first of up to `tries` candidates whose greedy continuation has every top1-top2 margin
    >= MIN_DEFAULT_MARGIN is taken (else the candidate with the largest minimum margin), so
    the expected greedy tokens are unambiguous for an engine with float32 rounding errors."""
    g = torch.Generator().manual_seed(1234)
    prompts = []
    for n in lengths:
        best = None
        for _ in range(tries):
            p = torch.randint(0, model.V, (n,), generator=g).tolist()
            if not greedy:
                best = (0.0, p)
                break
            _, steps = model.greedy([p], greedy)
            top2 = torch.topk(steps[0], 2, dim=-1).values
            m = float((top2[:, 0] - top2[:, 1]).min())
            if best is None or m > best[0]:
                best = (m, p)
            if m >= MIN_DEFAULT_MARGIN:
                break
        prompts.append(best[1])
    return prompts


def _maxdiff(a, b):
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def expected_outputs(model_dir, prompts=None, greedy=24, check=True):
    cfg, weights = load_checkpoint(model_dir)
    stored = {w.dtype for w in weights.values() if w.is_floating_point()}
    ref = Model(cfg, weights, torch.float64)
    if prompts is None:
        prompts = default_prompts(ref, greedy)
    for i, p in enumerate(prompts):
        if not p:
            raise ValueError(f"prompt {i} is empty")
        if len(p) + greedy > ref.ctx:
            raise ValueError(f"prompt {i}: {len(p)} + {greedy} greedy tokens exceed context {ref.ctx}")

    out = {}
    report = []
    full = [ref.forward([p])[0][0] for p in prompts]
    toks, steps = [], []
    for p in prompts:  # unbatched greedy with KV cache
        t, s = ref.greedy([p], greedy)
        toks.append(t[0])
        steps.append(s[0])
    tol = 1e-9
    if check:
        # 1) token-by-token incremental decoding of the prompt == full forward
        for i, p in enumerate(prompts):
            cache = [ref.new_cache()]
            rows = [ref.forward([[t]], cache)[0][0][0] for t in p]
            dd = _maxdiff(torch.stack(rows), full[i])
            assert dd <= tol, f"seq{i}: incremental vs full logits differ by {dd}"
            # chunked prefill (two chunks) == full
            h = max(1, len(p) // 2)
            cache = [ref.new_cache()]
            a = ref.forward([p[:h]], cache)[0][0]
            b = ref.forward([p[h:]], cache)[0][0]
            dd = _maxdiff(torch.cat([a, b]), full[i])
            assert dd <= tol, f"seq{i}: chunked prefill vs full logits differ by {dd}"
        # 2) cached greedy step logits == full forward over prompt + greedy tokens (not for
        # dynamic NTK past max_position_embeddings: HF's frequencies follow each forward's
        # length, so the cached keys of earlier steps turned with other ones)
        for i, p in enumerate(prompts):
            if greedy and getattr(ref, "dyn", None) is None:
                lf = ref.forward([p + toks[i][:-1]])[0][0][len(p) - 1:]
                dd = _maxdiff(steps[i], lf)
                assert dd <= tol, f"seq{i}: cached greedy step logits vs full forward differ by {dd}"
        # 3) batched (ragged, padded + masked) == unbatched, for prefill and greedy decode
        bl, _ = ref.forward(prompts)
        for i in range(len(prompts)):
            dd = _maxdiff(bl[i], full[i])
            assert dd <= tol, f"seq{i}: batched vs unbatched logits differ by {dd}"
        bt, bs = ref.greedy(prompts, greedy)
        for i in range(len(prompts)):
            assert bt[i] == toks[i], f"seq{i}: batched greedy tokens differ"
            dd = _maxdiff(bs[i], steps[i])
            assert dd <= tol, f"seq{i}: batched vs unbatched greedy step logits differ by {dd}"

    native = None
    if stored & {torch.bfloat16, torch.float16}:
        ndt = torch.bfloat16 if torch.bfloat16 in stored else torch.float16
        native = Model(cfg, weights, ndt)
    for i, p in enumerate(prompts):
        out[f"seq{i}.ids"] = torch.tensor(p, dtype=torch.int64)
        out[f"seq{i}.logits"] = full[i].float()
        out[f"seq{i}.greedy"] = torch.tensor(toks[i], dtype=torch.int64)
        if greedy:
            top2 = torch.topk(steps[i], 2, dim=-1).values
            margin = top2[:, 0] - top2[:, 1]
        else:
            margin = torch.zeros(0, dtype=torch.float64)
        out[f"seq{i}.greedy_margin"] = margin.float()
        out[f"seq{i}.step_logits"] = steps[i].float()
        line = dict(seq=i, T=len(p), greedy=toks[i][:8],
                    min_margin=float(margin.min()) if greedy else None,
                    logit_std=float(full[i].std()) if full[i].numel() > 1 else 0.0)
        if native is not None:
            ln = native.forward([p])[0][0].float()
            out[f"seq{i}.logits_native"] = ln
            line["native_maxdiff"] = _maxdiff(ln, full[i])
        report.append(line)
    meta = {
        "format": "pt",
        "arch": ref.arch,
        "n_seqs": str(len(prompts)),
        "greedy": str(greedy),
        "stored_dtype": ",".join(sorted(str(s).replace("torch.", "") for s in stored)),
        "native_dtype": "" if native is None else
        ("bfloat16" if native.adt == torch.bfloat16 else "float16 (emulated: f32 ops, f16 rounding)"),
        "prompts": ";".join(",".join(str(t) for t in p) for p in prompts),
    }
    return out, meta, report


def _parse_prompts(s):
    if s is None:
        return None
    return [[int(t) for t in part.split(",") if t.strip()] for part in s.split(";") if part.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write a random-weight HF checkpoint")
    m.add_argument("--arch", required=True, choices=sorted(DEFAULTS))
    m.add_argument("--out", required=True)
    m.add_argument("--dtype", default="f32", choices=sorted(DTYPE_NAMES))
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--layers", type=int)
    m.add_argument("--hidden", type=int)
    m.add_argument("--heads", type=int)
    m.add_argument("--kv-heads", type=int)
    m.add_argument("--inner", type=int, help="MLP width (gpt2: n_inner, default null = 4*hidden)")
    m.add_argument("--head-dim", type=int, help="llama/qwen2: explicit head_dim in config.json")
    m.add_argument("--vocab", type=int)
    m.add_argument("--ctx", type=int)
    tg = m.add_mutually_exclusive_group()
    tg.add_argument("--tied", dest="tied", action="store_true", default=True)
    tg.add_argument("--untied", dest="tied", action="store_false")
    m.add_argument("--shards", type=int, default=1)
    m.add_argument("--no-prefix", action="store_true", help="gpt2: no 'transformer.' prefix")
    m.add_argument("--attn-buffers", action="store_true", help="gpt2: write attn.bias/attn.masked_bias")
    m.add_argument("--tokenizer", help="tokenizer.json to copy into the checkpoint")
    m.add_argument("--eps", type=float, help="norm epsilon in config.json (gpt2: layer_norm_epsilon, "
                   "llama/qwen2: rms_norm_eps)")
    m.add_argument("--rope-theta", type=float, help="llama/qwen2: rope_theta in config.json")
    m.add_argument("--rope-scaling", type=json.loads, help='rope_scaling in config.json as JSON, e.g. '
                   '\'{"rope_type": "linear", "factor": 2.0}\'')
    m.add_argument("--attention-bias", action="store_true", help="llama/qwen3: attention_bias true (q, k, v, o)")
    m.add_argument("--mlp-bias", action="store_true", help="llama: mlp_bias true (gate, up, down)")
    m.add_argument("--sliding-window", type=int, help="mistral: sliding_window in config.json")
    m.add_argument("--quiet", action="store_true")
    e = sub.add_parser("expect", help="write expected outputs for a checkpoint")
    e.add_argument("--model", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--prompts", help='token ids, e.g. "1,2,3;4,5" (default: 3 prompts of 7, 13, 1 tokens)')
    e.add_argument("--greedy", type=int, default=24)
    e.add_argument("--no-check", action="store_true", help="skip the self-checks")
    e.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    try:
        return _run(ap, a)
    except (ValueError, OSError, KeyError, AssertionError) as ex:
        print(f"ref_models.py {a.cmd}: error: {type(ex).__name__}: {ex}", file=sys.stderr)
        return 1


def _run(ap, a):
    t0 = time.time()
    if a.cmd == "make":
        if a.arch != "gpt2" and (a.no_prefix or a.attn_buffers):
            ap.error("--no-prefix/--attn-buffers are gpt2 options")
        if a.arch == "gpt2" and a.kv_heads is not None:
            ap.error("gpt2 has no --kv-heads")
        cfg = make_checkpoint(a.out, a.arch, DTYPE_NAMES[a.dtype], a.seed, a.layers, a.hidden, a.heads,
                              a.kv_heads, a.inner, a.vocab, a.ctx, a.tied, a.shards,
                              not a.no_prefix, a.attn_buffers, a.tokenizer, a.head_dim, a.eps,
                              a.rope_theta, a.rope_scaling, a.attention_bias, a.mlp_bias,
                              a.sliding_window)
        if not a.quiet:
            print(f"make {a.arch} -> {a.out} ({a.dtype}, {a.shards} shard(s)) in {time.time() - t0:.2f}s")
    else:
        out, meta, report = expected_outputs(a.model, _parse_prompts(a.prompts), a.greedy,
                                             check=not a.no_check)
        save_safetensors(a.out, out, meta)
        if not a.quiet:
            for r in report:
                print("  " + json.dumps(r))
            chk = "skipped" if a.no_check else "passed"
            print(f"expect {meta['arch']} {a.model} -> {a.out}: {meta['n_seqs']} seqs, "
                  f"self-checks {chk}, {time.time() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lean eager PyTorch model (GPT-2 / Llama / Qwen2) for lmforge's peer benchmarks.

Same math as tests/reference/ref_models.py's Model in float32 (Hugging Face eager semantics),
but written for speed instead of clarity, the way a careful eager implementation would be:
  - weights are the checkpoint's tensors themselves (no copies; float32 checkpoints only
    are used as-is, other dtypes are converted to float32 once);
  - batch 1, a preallocated KV cache per layer (written in place, no torch.cat per step);
  - the causal mask is built only for multi-token forwards; RoPE tables precomputed;
  - grouped-query attention without repeating K/V (query heads folded into rows);
  - `last_only=True` applies the final norm and the LM head to the last position only
    (what lmforge's prefill does), instead of to every position as HF does.

Loads the checkpoint with the reference's own loader (ref_models.load_checkpoint).
Run with /usr/bin/python3 (Debian python3-torch 1.13).
"""

import math
import os
import sys

import torch
import torch.nn.functional as F

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "tests", "reference"))
import ref_models as R  # noqa: E402


class LeanLM(torch.nn.Module):
    def __init__(self, cfg, weights, max_ctx=None):
        super().__init__()
        self.cfg = cfg
        self.arch = R.arch_of(cfg)
        w = {}
        for k, v in weights.items():
            if self.arch == "gpt2" and k.startswith("transformer."):
                k = k[len("transformer."):]
            if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
                continue
            w[k] = v if v.dtype == torch.float32 else v.to(torch.float32)
        if self.arch == "gpt2":
            self.L, self.C, self.H = cfg["n_layer"], cfg["n_embd"], cfg["n_head"]
            self.Hkv, self.D = self.H, self.C // self.H
            self.eps = cfg.get("layer_norm_epsilon", 1e-5)
            self.ctx = cfg["n_positions"]
            if cfg.get("activation_function", "gelu_new") != "gelu_new":
                raise ValueError("unsupported activation_function")
            if "lm_head.weight" not in w or cfg.get("tie_word_embeddings", True):
                w["lm_head.weight"] = w["wte.weight"]
        else:
            self.L, self.C = cfg["num_hidden_layers"], cfg["hidden_size"]
            self.H = cfg["num_attention_heads"]
            self.Hkv = cfg.get("num_key_value_heads") or self.H
            self.D = cfg.get("head_dim") or self.C // self.H
            self.eps = cfg.get("rms_norm_eps", 1e-6)
            self.ctx = cfg.get("max_position_embeddings", 1 << 30)
            if cfg.get("hidden_act", "silu") != "silu" or cfg.get("rope_scaling"):
                raise ValueError("unsupported hidden_act / rope_scaling")
            if cfg.get("tie_word_embeddings", False) or "lm_head.weight" not in w:
                w["lm_head.weight"] = w["model.embed_tokens.weight"]
        if max_ctx is not None:
            self.ctx = min(self.ctx, max_ctx)
        self.V = w["lm_head.weight"].shape[0]
        # Parameters (shared storage with the loaded checkpoint; names with '.' are not allowed)
        self._names = {}
        for k, v in w.items():
            n = k.replace(".", "_")
            if n in self._names.values():
                continue
            if k == "lm_head.weight" and v is w.get("wte.weight", w.get("model.embed_tokens.weight")):
                continue  # tied: refer to the embedding
            self.register_parameter(n, torch.nn.Parameter(v, requires_grad=False))
            self._names[k] = n
        self.tied = "lm_head.weight" not in self._names
        if self.arch != "gpt2":
            theta = float(self.cfg.get("rope_theta", 10000.0))
            inv = 1.0 / (theta ** (torch.arange(0, self.D, 2, dtype=torch.int64).float() / self.D))
            freqs = torch.arange(self.ctx, dtype=torch.int64).float()[:, None] * inv  # HF: float32
            emb = torch.cat([freqs, freqs], dim=-1)
            self.register_buffer("rope_cos", emb.cos(), persistent=False)  # (ctx, D)
            self.register_buffer("rope_sin", emb.sin(), persistent=False)
        self.kc = self.vc = None
        self.export_tied_transposed = False

    def p(self, name):
        if name == "lm_head.weight" and self.tied:
            name = "wte.weight" if self.arch == "gpt2" else "model.embed_tokens.weight"
        return getattr(self, self._names[name])

    def new_cache(self, max_len=None):
        n = max_len or self.ctx
        self.kc = [torch.zeros(1, self.Hkv, n, self.D) for _ in range(self.L)]
        self.vc = [torch.zeros(1, self.Hkv, n, self.D) for _ in range(self.L)]

    # -- attention over (optional) cache; q (1,H,T,D), k/v (1,Hkv,T,D) ---------------------
    def _attend(self, li, q, k, v, pos0, use_cache, scale):
        T = q.shape[2]
        if use_cache:
            self.kc[li][:, :, pos0:pos0 + T] = k
            self.vc[li][:, :, pos0:pos0 + T] = v
            K = self.kc[li][:, :, :pos0 + T]
            Vv = self.vc[li][:, :, :pos0 + T]
        else:
            K, Vv = k, v
        rep = self.H // self.Hkv
        if rep > 1:  # fold the rep query heads of each kv head into rows: no K/V copies
            q = q.reshape(1, self.Hkv, rep * T, self.D)
        s = torch.matmul(q, K.transpose(-1, -2))
        if self.arch == "gpt2":
            s = s / scale  # HF GPT-2: divide by sqrt(D)
        else:
            s = s * (1.0 / scale)  # HF Llama: multiply by D**-0.5
        if T > 1:  # causal mask (a single new token sees the whole cache)
            allowed = torch.ones(T, pos0 + T, dtype=torch.bool).tril(pos0)
            if rep > 1:
                s = s.view(1, self.Hkv, rep, T, -1)
            s = s.masked_fill(~allowed, torch.finfo(s.dtype).min)
            if rep > 1:
                s = s.view(1, self.Hkv, rep * T, -1)
        pr = torch.softmax(s, dim=-1)
        o = torch.matmul(pr, Vv)  # (1, Hkv, rep*T, D) or (1, H, T, D)
        return o.reshape(1, self.H, T, self.D).transpose(1, 2).reshape(1, T, self.H * self.D)

    def forward(self, ids, pos0=0, use_cache=False, last_only=True):
        """ids: (1, T) int64.  Returns logits (1, V) of the last position if last_only else
        (1, T, V).  With use_cache, keys/values go to slots pos0..pos0+T-1 of the cache."""
        T = ids.shape[1]
        scale = math.sqrt(float(self.D))
        P = self.p
        if self.arch == "gpt2":
            C = self.C
            if self.export_tied_transposed and self.tied:
                # ONNX export only: gather rows from wte^T's columns, so that the exported graph
                # keeps a single (C, V) copy of the tied table (the LM head's MatMul needs wte^T,
                # which constant folding would otherwise store as a second initializer).
                e = P("wte.weight").t().index_select(1, ids[0]).t().unsqueeze(0)
            else:
                e = F.embedding(ids, P("wte.weight"))
            x = e + P("wpe.weight")[pos0:pos0 + T]
            for i in range(self.L):
                pre = f"h.{i}."
                h = F.layer_norm(x, (C,), P(pre + "ln_1.weight"), P(pre + "ln_1.bias"), self.eps)
                qkv = self._conv1d(h.view(T, C), pre + "attn.c_attn")
                qkv = qkv.view(1, T, 3, self.H, self.D).permute(2, 0, 3, 1, 4)  # (3,1,H,T,D)
                a = self._attend(i, qkv[0], qkv[1], qkv[2], pos0, use_cache, scale)
                x = x + self._conv1d(a.view(T, C), pre + "attn.c_proj").view(1, T, C)
                h = F.layer_norm(x, (C,), P(pre + "ln_2.weight"), P(pre + "ln_2.bias"), self.eps)
                m = self._conv1d(h.view(T, C), pre + "mlp.c_fc")
                m = 0.5 * m * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (m + 0.044715 * torch.pow(m, 3.0))))
                x = x + self._conv1d(m, pre + "mlp.c_proj").view(1, T, C)
            if last_only:
                x = x[:, -1]
            x = F.layer_norm(x, (C,), P("ln_f.weight"), P("ln_f.bias"), self.eps)
            return self._head(x)
        # Llama / Qwen2
        if self.export_tied_transposed and self.tied:  # see the GPT-2 branch
            x = P("model.embed_tokens.weight").t().index_select(1, ids[0]).t().unsqueeze(0)
        else:
            x = F.embedding(ids, P("model.embed_tokens.weight"))
        cos = self.rope_cos[pos0:pos0 + T]
        sin = self.rope_sin[pos0:pos0 + T]
        bias = self.arch == "qwen2"
        half = self.D // 2

        def rms(x, name):
            return P(name) * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

        def lin(x, name, b):
            if self.qlin is not None:
                return self.qlin[name.replace(".", "_")](x)
            return F.linear(x, P(name + ".weight"), P(name + ".bias") if b else None)

        def rope(t):
            rot = torch.cat([-t[..., half:], t[..., :half]], dim=-1)
            return t * cos + rot * sin

        for i in range(self.L):
            pre = f"model.layers.{i}."
            h = rms(x, pre + "input_layernorm.weight")
            q = lin(h, pre + "self_attn.q_proj", bias).view(1, T, self.H, self.D).transpose(1, 2)
            k = lin(h, pre + "self_attn.k_proj", bias).view(1, T, self.Hkv, self.D).transpose(1, 2)
            v = lin(h, pre + "self_attn.v_proj", bias).view(1, T, self.Hkv, self.D).transpose(1, 2)
            a = self._attend(i, rope(q), rope(k), v, pos0, use_cache, scale)
            x = x + lin(a, pre + "self_attn.o_proj", False)
            h = rms(x, pre + "post_attention_layernorm.weight")
            g = F.silu(lin(h, pre + "mlp.gate_proj", False))
            x = x + lin(g * lin(h, pre + "mlp.up_proj", False), pre + "mlp.down_proj", False)
        if last_only:
            x = x[:, -1]
        x = rms(x, "model.norm.weight")
        return self._head(x)

    # -- linear layers: float, or PyTorch's dynamic int8 modules after quantize_dynamic() --
    qlin = None

    def _conv1d(self, x, name):  # GPT-2's Conv1D: weight (in, out)
        if self.qlin is not None:
            return self.qlin[name.replace(".", "_")](x)
        return torch.addmm(self.p(name + ".bias"), x, self.p(name + ".weight"))

    def _head(self, x):
        if self.qlin is not None:
            return self.qlin["lm_head"](x)
        return F.linear(x, self.p("lm_head.weight"))

    def quantize_dynamic(self):
        """PyTorch's own dynamic quantization of every linear layer and the head:
        torch.quantization.quantize_dynamic on nn.Linear copies of them, with
        per_channel_dynamic_qconfig (int8 weights, a scale per output channel;
        activations quantized per tensor at run time): what lmforge's int8-dynamic does."""
        mods = torch.nn.ModuleDict()
        for k in list(self._names) + (["lm_head.weight"] if self.tied else []):
            if not k.endswith(".weight") or k in ("wte.weight", "wpe.weight", "model.embed_tokens.weight"):
                continue
            W = self.p(k)
            if W.dim() != 2:
                continue
            name = k[: -len(".weight")]
            if self.arch == "gpt2" and name != "lm_head":
                W = W.t()  # Conv1D (in, out) -> nn.Linear (out, in)
            b = self.p(name + ".bias") if (name + ".bias") in self._names else None
            lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=b is not None)
            lin.weight.data = W.contiguous().clone()
            if b is not None:
                lin.bias.data = b.clone()
            mods[name.replace(".", "_")] = lin
        self.qlin = torch.quantization.quantize_dynamic(
            mods, {torch.nn.Linear: torch.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8)
        return self


def load(model_dir, max_ctx=None):
    cfg, w = R.load_checkpoint(model_dir)
    return LeanLM(cfg, w, max_ctx=max_ctx).eval()

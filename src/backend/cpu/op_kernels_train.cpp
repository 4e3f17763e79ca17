// lmforge CPU backend: the kernels of the training ops (ir/op_registry_train.cpp), thin
// adapters from the runtime's views to kernels_grad.h and oneDNN's sgemm (matmul.h), each
// with the parameters its prepare read from the node when the plan was built (op_kernels.h).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "backend/cpu/kernels_grad.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/op_kernels.h"
#include "core/error.h"

namespace lmf {

namespace {

using In = KernelIn;
using Out = KernelOut;

NoParams no_params(const PrepareContext&) { return {}; }

struct Attn {
  int64_t B, T, H, Hkv, D;
  float scale;
};

Attn prep_attn(const PrepareContext& c) {
  const Node& n = c.node;
  const Attn a{n.attr_int("batch"),    n.attr_int("seq"),      n.attr_int("heads"),
               n.attr_int("kv_heads"), n.attr_int("head_dim"), static_cast<float>(n.attr_float("scale"))};
  LMF_CHECK(a.B > 0 && a.T > 0 && a.H > 0 && a.Hkv > 0 && a.H % a.Hkv == 0 && a.D > 0, kInvalidArgument,
            "{}: batch {}, seq {}, {} heads, {} kv heads of {}", n.op, a.B, a.T, a.H, a.Hkv, a.D);
  return a;
}

void k_attention_causal(const Attn& a, In in, Out out, ExecContext& ctx) {
  cpu::attention_causal_forward(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), out[1]->f32(), a.B, a.T,
                                a.H, a.Hkv, a.D, a.scale, ctx.scratch);
}

void k_attention_causal_grad(const Attn& a, In in, Out out, ExecContext& ctx) {
  cpu::attention_causal_backward(in[0]->f32(), in[1]->f32(), in[2]->f32(), in[3]->f32(), in[4]->f32(), in[5]->f32(),
                                 out[0]->f32(), out[1]->f32(), out[2]->f32(), a.B, a.T, a.H, a.Hkv, a.D, a.scale,
                                 ctx.scratch);
}

struct Scale {
  float scale;
};

Scale prep_scale(const PrepareContext& c) { return {static_cast<float>(c.node.attr_float("scale"))}; }

void k_cross_entropy(const Scale& p, In in, Out out, ExecContext&) {
  out[0]->f32()[0] = static_cast<float>(
      cpu::cross_entropy(in[0]->f32(), in[1]->i32(), out[1]->f32(), in[0]->dims[0], in[0]->dims[1], p.scale));
}

struct Distill {
  float temperature, alpha, scale;
  bool reverse;
};

Distill prep_distill(const PrepareContext& c) {
  const Node& n = c.node;
  return {static_cast<float>(n.attr_float("temperature")), static_cast<float>(n.attr_float("alpha")),
          static_cast<float>(n.attr_float("scale")), n.attr_int("reverse") != 0};
}

void k_distill_loss(const Distill& p, In in, Out out, ExecContext&) {
  out[0]->f32()[0] = static_cast<float>(cpu::distill_loss(in[0]->f32(), in[1]->f32(), in[2]->i32(), out[1]->f32(),
                                                          in[0]->dims[0], in[0]->dims[1], p.temperature, p.alpha,
                                                          p.reverse, p.scale));
}

struct Layout {
  bool nk;  // W stored (N, K) ("nk"), else (K, N) ("kn")
};

Layout prep_layout(const PrepareContext& c) {
  const std::string& layout = c.node.attr_str("layout");
  LMF_CHECK(layout == "nk" || layout == "kn", kInvalidArgument, "{}: layout '{}' is neither nk nor kn", c.node.op,
            layout);
  return {layout == "nk"};
}

// dx (R, K) = dy (R, N) · W, W stored (N, K) ("nk") or (K, N) ("kn").
void k_linear_grad_x(const Layout& p, In in, Out out, ExecContext& ctx) {
  const int64_t R = in[0]->dims[0], N = in[0]->dims[1], K = out[0]->dims[1];
  if (!cpu::sgemm('N', p.nk ? 'N' : 'T', R, K, N, 1.0f, in[0]->f32(), N, in[1]->f32(), p.nk ? K : N, 0.0f,
                  out[0]->f32(), K))
    ctx.failed = "oneDNN sgemm";
}

// dW = dy^T · x, shaped like W: (N, K) for "nk", (K, N) for "kn".
void k_linear_grad_w(const Layout& p, In in, Out out, ExecContext& ctx) {
  const int64_t R = in[0]->dims[0], N = in[0]->dims[1], K = in[1]->dims[1];
  const bool ok = p.nk ? cpu::sgemm('T', 'N', N, K, R, 1.0f, in[0]->f32(), N, in[1]->f32(), K, 0.0f, out[0]->f32(), K)
                       : cpu::sgemm('T', 'N', K, N, R, 1.0f, in[1]->f32(), K, in[0]->f32(), N, 0.0f, out[0]->f32(), N);
  if (!ok) ctx.failed = "oneDNN sgemm";
}

// y (N) = sum over rows of x (R, N), rows in order; threads own column blocks.
void k_col_sum(const NoParams&, In in, Out out, ExecContext&) {
  const int64_t R = in[0]->dims[0], N = in[0]->dims[1];
  const float* x = in[0]->f32();
  float* y = out[0]->f32();
  constexpr int64_t kBlock = 256;
#pragma omp parallel for schedule(static)
  for (int64_t c0 = 0; c0 < N; c0 += kBlock) {
    const int64_t c1 = std::min(N, c0 + kBlock);
    for (int64_t c = c0; c < c1; ++c) y[c] = 0.0f;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = c0; c < c1; ++c) y[c] += x[r * N + c];
  }
}

struct PadCols {
  int64_t begin;
};

PadCols prep_pad_cols(const PrepareContext& c) {
  const PadCols p{c.node.attr_int("begin")};
  LMF_CHECK(p.begin >= 0 && p.begin + c.in[0]->dims[1] <= c.out[0]->dims[1], kInvalidArgument,
            "pad_cols: {} columns at {} in {}", c.in[0]->dims[1], p.begin, c.out[0]->dims[1]);
  return p;
}

void k_pad_cols(const PadCols& p, In in, Out out, ExecContext&) {
  const int64_t R = in[0]->dims[0], w = in[0]->dims[1], cols = out[0]->dims[1];
  float* y = out[0]->f32();
  for (int64_t r = 0; r < R; ++r) {
    std::memset(y + r * cols, 0, static_cast<size_t>(cols) * 4);
    std::memcpy(y + r * cols + p.begin, in[0]->f32() + r * w, static_cast<size_t>(w) * 4);
  }
}

void k_embedding_grad(const NoParams&, In in, Out out, ExecContext&) {
  cpu::embedding_backward(in[1]->i32(), in[2]->f32(), out[0]->f32(), in[1]->dims[0], in[0]->dims[0], in[0]->dims[1]);
}

NormParams prep_norm(const PrepareContext& c) { return {static_cast<float>(c.node.attr_float("eps"))}; }

void k_layer_norm_grad(const NormParams& p, In in, Out out, ExecContext&) {
  cpu::layer_norm_backward(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), out[1]->f32(), out[2]->f32(),
                           in[0]->dims[0], in[0]->dims[1], p.eps);
}

void k_rms_norm_grad(const NormParams& p, In in, Out out, ExecContext&) {
  const int64_t cols = p.group > 0 ? p.group : in[0]->dims[1];  // groups share the weight (D)
  cpu::rms_norm_backward(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), out[1]->f32(), in[0]->numel() / cols,
                         cols, p.eps);
}

void k_gelu_tanh_grad(const NoParams&, In in, Out out, ExecContext&) {
  cpu::gelu_tanh_backward(in[0]->f32(), in[1]->f32(), out[0]->f32(), in[0]->numel());
}

void k_silu_mul_grad(const NoParams&, In in, Out out, ExecContext&) {
  cpu::silu_mul_backward(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), out[1]->f32(), in[0]->numel());
}

RopeParams prep_rope(const PrepareContext& c) {
  RopeParams p = rope_params_of(c.node);
  LMF_CHECK(p.dynamic_factor == 0, kUnsupported, "rope_grad: dynamic NTK scaling is not differentiable here");
  return p;
}

void k_rope_grad(const RopeParams& p, In in, Out out, ExecContext&) {
  const int64_t rows = in[0]->dims[0], cols = in[0]->dims[1];
  float* y = out[0]->f32();
  std::memcpy(y, in[0]->f32(), static_cast<size_t>(rows * cols) * 4);
  cpu::rope_backward(y, rows, cols, p.heads, p.head_dim, in[1]->i32(), p.freqs());
}

}  // namespace

PrepareFn cpu_training_kernel(const std::string& op) {
  static const std::map<std::string, PrepareFn> t = {
      {"attention_causal", prepare_kernel<Attn, prep_attn, k_attention_causal>},
      {"attention_causal_grad", prepare_kernel<Attn, prep_attn, k_attention_causal_grad>},
      {"cross_entropy", prepare_kernel<Scale, prep_scale, k_cross_entropy>},
      {"distill_loss", prepare_kernel<Distill, prep_distill, k_distill_loss>},
      {"linear_grad_x", prepare_kernel<Layout, prep_layout, k_linear_grad_x>},
      {"linear_grad_w", prepare_kernel<Layout, prep_layout, k_linear_grad_w>},
      {"col_sum", prepare_kernel<NoParams, no_params, k_col_sum>},
      {"pad_cols", prepare_kernel<PadCols, prep_pad_cols, k_pad_cols>},
      {"embedding_grad", prepare_kernel<NoParams, no_params, k_embedding_grad>},
      {"layer_norm_grad", prepare_kernel<NormParams, prep_norm, k_layer_norm_grad>},
      {"rms_norm_grad", prepare_kernel<NormParams, prep_norm, k_rms_norm_grad>},
      {"gelu_tanh_grad", prepare_kernel<NoParams, no_params, k_gelu_tanh_grad>},
      {"silu_mul_grad", prepare_kernel<NoParams, no_params, k_silu_mul_grad>},
      {"rope_grad", prepare_kernel<RopeParams, prep_rope, k_rope_grad>},
  };
  auto it = t.find(op);
  return it == t.end() ? nullptr : it->second;
}

}  // namespace lmf

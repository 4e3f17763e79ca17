// lmforge CPU backend: the kernels of the training ops (ir/op_registry_train.cpp), thin
// adapters from the runtime's views to kernels_grad.h and oneDNN's sgemm.
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "backend/cpu/kernels_grad.h"
#include "backend/cpu/op_kernels.h"

namespace lmf {

namespace {

using In = const TensorView* const*;
using Out = TensorView* const*;

struct Attn {
  int64_t B, T, H, Hkv, D;
  float scale;
};

Attn attn_of(const Node& n) {
  return {n.attr_int("batch"), n.attr_int("seq"), n.attr_int("heads"), n.attr_int("kv_heads"), n.attr_int("head_dim"),
          static_cast<float>(n.attr_float("scale"))};
}

void k_attention_causal(const Node& n, In in, Out out, ExecContext& ctx) {
  const Attn a = attn_of(n);
  cpu::attention_causal_forward(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), out[1]->f32(), a.B, a.T,
                                a.H, a.Hkv, a.D, a.scale, ctx.scratch);
}

void k_attention_causal_grad(const Node& n, In in, Out out, ExecContext& ctx) {
  const Attn a = attn_of(n);
  cpu::attention_causal_backward(in[0]->f32(), in[1]->f32(), in[2]->f32(), in[3]->f32(), in[4]->f32(), in[5]->f32(),
                                 out[0]->f32(), out[1]->f32(), out[2]->f32(), a.B, a.T, a.H, a.Hkv, a.D, a.scale,
                                 ctx.scratch);
}

void k_cross_entropy(const Node& n, In in, Out out, ExecContext&) {
  out[0]->f32()[0] = static_cast<float>(cpu::cross_entropy(in[0]->f32(), in[1]->i32(), out[1]->f32(), in[0]->dims[0],
                                                           in[0]->dims[1], static_cast<float>(n.attr_float("scale"))));
}

void k_distill_loss(const Node& n, In in, Out out, ExecContext&) {
  out[0]->f32()[0] = static_cast<float>(cpu::distill_loss(
      in[0]->f32(), in[1]->f32(), in[2]->i32(), out[1]->f32(), in[0]->dims[0], in[0]->dims[1],
      static_cast<float>(n.attr_float("temperature")), static_cast<float>(n.attr_float("alpha")),
      n.attr_int("reverse") != 0, static_cast<float>(n.attr_float("scale"))));
}

// dx (R, K) = dy (R, N) · W, W stored (N, K) ("nk") or (K, N) ("kn").
void k_linear_grad_x(const Node& n, In in, Out out, ExecContext&) {
  const bool nk = n.attr_str("layout") == "nk";
  const int64_t R = in[0]->dims[0], N = in[0]->dims[1], K = out[0]->dims[1];
  dnnl_sgemm('N', nk ? 'N' : 'T', R, K, N, 1.0f, in[0]->f32(), N, in[1]->f32(), nk ? K : N, 0.0f, out[0]->f32(), K);
}

// dW = dy^T · x, shaped like W: (N, K) for "nk", (K, N) for "kn".
void k_linear_grad_w(const Node& n, In in, Out out, ExecContext&) {
  const bool nk = n.attr_str("layout") == "nk";
  const int64_t R = in[0]->dims[0], N = in[0]->dims[1], K = in[1]->dims[1];
  if (nk) {
    dnnl_sgemm('T', 'N', N, K, R, 1.0f, in[0]->f32(), N, in[1]->f32(), K, 0.0f, out[0]->f32(), K);
  } else {
    dnnl_sgemm('T', 'N', K, N, R, 1.0f, in[1]->f32(), K, in[0]->f32(), N, 0.0f, out[0]->f32(), N);
  }
}

// y (N) = sum over rows of x (R, N), rows in order; threads own column blocks.
void k_col_sum(const Node&, In in, Out out, ExecContext&) {
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

void k_pad_cols(const Node& n, In in, Out out, ExecContext&) {
  const int64_t R = in[0]->dims[0], w = in[0]->dims[1], cols = out[0]->dims[1], b = n.attr_int("begin");
  float* y = out[0]->f32();
  for (int64_t r = 0; r < R; ++r) {
    std::memset(y + r * cols, 0, static_cast<size_t>(cols) * 4);
    std::memcpy(y + r * cols + b, in[0]->f32() + r * w, static_cast<size_t>(w) * 4);
  }
}

void k_embedding_grad(const Node&, In in, Out out, ExecContext&) {
  cpu::embedding_backward(in[1]->i32(), in[2]->f32(), out[0]->f32(), in[1]->dims[0], in[0]->dims[0], in[0]->dims[1]);
}

void k_layer_norm_grad(const Node& n, In in, Out out, ExecContext&) {
  cpu::layer_norm_backward(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), out[1]->f32(), out[2]->f32(),
                           in[0]->dims[0], in[0]->dims[1], static_cast<float>(n.attr_float("eps")));
}

void k_rms_norm_grad(const Node& n, In in, Out out, ExecContext&) {
  cpu::rms_norm_backward(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), out[1]->f32(), in[0]->dims[0],
                         in[0]->dims[1], static_cast<float>(n.attr_float("eps")));
}

void k_gelu_tanh_grad(const Node&, In in, Out out, ExecContext&) {
  cpu::gelu_tanh_backward(in[0]->f32(), in[1]->f32(), out[0]->f32(), in[0]->numel());
}

void k_silu_mul_grad(const Node&, In in, Out out, ExecContext&) {
  cpu::silu_mul_backward(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), out[1]->f32(), in[0]->numel());
}

void k_rope_grad(const Node& n, In in, Out out, ExecContext&) {
  const int64_t rows = in[0]->dims[0], cols = in[0]->dims[1];
  float* y = out[0]->f32();
  std::memcpy(y, in[0]->f32(), static_cast<size_t>(rows * cols) * 4);
  cpu::rope_backward(y, rows, cols, n.attr_int("heads"), n.attr_int("head_dim"), in[1]->i32(),
                     static_cast<float>(n.attr_float("theta")));
}

}  // namespace

KernelFn cpu_training_kernel(const std::string& op) {
  static const std::map<std::string, KernelFn> t = {
      {"attention_causal", k_attention_causal},
      {"attention_causal_grad", k_attention_causal_grad},
      {"cross_entropy", k_cross_entropy},
      {"distill_loss", k_distill_loss},
      {"linear_grad_x", k_linear_grad_x},
      {"linear_grad_w", k_linear_grad_w},
      {"col_sum", k_col_sum},
      {"pad_cols", k_pad_cols},
      {"embedding_grad", k_embedding_grad},
      {"layer_norm_grad", k_layer_norm_grad},
      {"rms_norm_grad", k_rms_norm_grad},
      {"gelu_tanh_grad", k_gelu_tanh_grad},
      {"silu_mul_grad", k_silu_mul_grad},
      {"rope_grad", k_rope_grad},
  };
  auto it = t.find(op);
  return it == t.end() ? nullptr : it->second;
}

}  // namespace lmf

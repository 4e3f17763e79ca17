#include "backend/cpu/op_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "backend/cpu/kernels.h"
#include "backend/cpu/kernels_grad.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"
#include "core/error.h"

namespace lmf {

namespace {

using In = const TensorView* const*;
using Out = TensorView* const*;

void k_embedding(const Node&, In in, Out out, ExecContext&) {
  const float* table = in[0]->f32();
  const int32_t* ids = in[1]->i32();
  const int64_t n = in[1]->dims[0], c = in[0]->dims[1];
  float* y = out[0]->f32();
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(y + i * c, table + static_cast<int64_t>(ids[i]) * c, static_cast<size_t>(c) * 4);
}

void k_add(const Node&, In in, Out out, ExecContext&) {
  cpu::add(in[0]->f32(), in[1]->f32(), out[0]->f32(), in[0]->numel());
}

void k_gelu(const Node&, In in, Out out, ExecContext&) {
  cpu::gelu_tanh(in[0]->f32(), out[0]->f32(), in[0]->numel());
}

void k_silu_mul(const Node&, In in, Out out, ExecContext&) {
  cpu::silu_mul(in[0]->f32(), in[1]->f32(), out[0]->f32(), in[0]->numel());
}

void k_layer_norm(const Node& n, In in, Out out, ExecContext&) {
  cpu::layer_norm(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), in[0]->dims[0],
                  in[0]->dims[1], static_cast<float>(n.attr_float("eps")));
}

void k_rms_norm(const Node& n, In in, Out out, ExecContext&) {
  cpu::rms_norm(in[0]->f32(), in[1]->f32(), out[0]->f32(), in[0]->dims[0], in[0]->dims[1],
                static_cast<float>(n.attr_float("eps")));
}

void k_linear(const Node& n, In in, Out out, ExecContext& ctx) {
  const bool nk = n.attr_str("layout") == "nk";
  const int64_t M = in[0]->dims[0], K = in[0]->dims[1];
  const float* bias = n.inputs.size() == 3 ? in[2]->f32() : nullptr;
  const bool gelu = n.has_attr("fused_act");  // "gelu_tanh", the one the registry allows
  if (n.attr_str("layout") == "strips") {
    cpu::linear_strips(in[0]->f32(), in[1]->f32(), bias, out[0]->f32(), M, K, n.attr_int("out_features"), gelu, ctx.kernels);
    return;
  }
  const int64_t N = nk ? in[1]->dims[0] : in[1]->dims[1];
  cpu::linear(in[0]->f32(), in[1]->f32(), bias, out[0]->f32(), M, K, N, nk, ctx.scratch);
  if (gelu) cpu::gelu_tanh(out[0]->f32(), out[0]->f32(), M * N);
}

// The weights of a linear_q / embedding_q node in the "strips" layout (prepack_for_cpu).
cpu::QWeight qweight(const Node& n, In in, size_t first) {
  cpu::QWeight w;
  w.q = in[first]->i32();
  w.s = in[first + 1]->f32();
  w.zs = in[first + 2]->f32();
  w.K = n.attr_int("in_features");
  w.N = n.attr_int("out_features");
  w.group = n.attr_int("group_size");
  w.bits = static_cast<int>(n.attr_int("bits"));
  w.strip = n.attrs.count("strip_cols") ? n.attr_int("strip_cols") : cpu::kQStrip;
  return w;
}

void k_linear_q(const Node& n, In in, Out out, ExecContext& ctx) {
  const float* bias = n.inputs.size() == 5 ? in[4]->f32() : nullptr;
  const std::string act = n.has_attr("act") ? n.attr_str("act") : "float";
  if (act == "int8") {
    cpu::QWeightI8 w{in[1]->i32(), in[2]->f32(), in[3]->i32(), n.attr_int("in_features"), n.attr_int("out_features")};
    cpu::linear_q_i8(in[0]->f32(), w, bias, out[0]->f32(), in[0]->dims[0], ctx.scratch, ctx.kernels);
  } else if (act == "int8_block32") {
    cpu::linear_q_a8(in[0]->f32(), qweight(n, in, 1), bias, out[0]->f32(), in[0]->dims[0], ctx.scratch, ctx.kernels);
  } else {
    cpu::linear_q(in[0]->f32(), qweight(n, in, 1), bias, out[0]->f32(), in[0]->dims[0], ctx.scratch, ctx.kernels);
  }
  if (n.has_attr("fused_act"))  // "gelu_tanh", the one the registry allows
    cpu::gelu_tanh(out[0]->f32(), out[0]->f32(), in[0]->dims[0] * n.attr_int("out_features"));
}

void k_embedding_q(const Node& n, In in, Out out, ExecContext&) {
  cpu::embedding_q(qweight(n, in, 0), in[3]->i32(), in[3]->dims[0], out[0]->f32());
}

void k_split_cols(const Node& n, In in, Out out, ExecContext&) {
  const int64_t b = n.attr_int("begin"), e = n.attr_int("end");
  const int64_t rows = in[0]->dims[0], k = in[0]->dims[1], w = e - b;
  const float* x = in[0]->f32();
  float* y = out[0]->f32();
  for (int64_t r = 0; r < rows; ++r) std::memcpy(y + r * w, x + r * k + b, static_cast<size_t>(w) * 4);
}

void k_rope(const Node& n, In in, Out out, ExecContext&) {
  const int64_t rows = in[0]->dims[0], cols = in[0]->dims[1];
  float* y = out[0]->f32();
  if (n.has_attr("angles")) {  // "table": a rope_table's output
    cpu::rope_with_table(in[0]->f32(), y, rows, cols, n.attr_int("heads"), n.attr_int("head_dim"), in[1]->f32());
    return;
  }
  if (y != in[0]->f32()) std::memcpy(y, in[0]->f32(), static_cast<size_t>(rows * cols) * 4);
  cpu::rope(y, rows, cols, n.attr_int("heads"), n.attr_int("head_dim"), in[1]->i32(),
            static_cast<float>(n.attr_float("theta")));
}

void k_rope_table(const Node& n, In in, Out out, ExecContext&) {
  cpu::rope_table(in[0]->i32(), in[0]->dims[0], n.attr_int("head_dim"), static_cast<float>(n.attr_float("theta")),
                  out[0]->f32());
}

void k_gather_rows(const Node&, In in, Out out, ExecContext&) {
  const int64_t c = in[0]->dims[1], m = in[1]->dims[0];
  const int32_t* rows = in[1]->i32();
  for (int64_t i = 0; i < m; ++i)
    std::memcpy(out[0]->f32() + i * c, in[0]->f32() + static_cast<int64_t>(rows[i]) * c,
                static_cast<size_t>(c) * 4);
}

// q (N, H*D), k (N, Hkv*D), v (N, Hkv*D), caches (SLOTS, Hkv, S, D), slots (N), positions (N).
void k_attention(const Node& n, In in, Out out, ExecContext& ctx) {
  const int64_t H = n.attr_int("heads"), Hkv = n.attr_int("kv_heads"), D = n.attr_int("head_dim");
  const float scale = static_cast<float>(n.attr_float("scale"));
  const int64_t N = in[0]->dims[0], S = in[3]->dims[2];
  // Row strides of q, k and v: one (N, (H + 2 Hkv) D) value when packed.
  const bool packed = n.has_attr("qkv");
  const int64_t qs = packed ? (H + 2 * Hkv) * D : H * D, kvs = packed ? qs : Hkv * D;
  const float* q = in[0]->f32();
  const float* k = in[1]->f32() + (packed ? H * D : 0);
  const float* v = in[2]->f32() + (packed ? (H + Hkv) * D : 0);
  const int32_t* slots = in[5]->i32();
  const int32_t* pos = in[6]->i32();
  float* y = out[0]->f32();
  const bool i8 = n.inputs.size() == 9;  // int8 cache: rows scaled by in[7], in[8]
  float* kc = i8 ? nullptr : in[3]->f32();
  float* vc = i8 ? nullptr : in[4]->f32();
  auto* kc8 = static_cast<int8_t*>(in[3]->data);
  auto* vc8 = static_cast<int8_t*>(in[4]->data);
  float* ks = i8 ? in[7]->f32() : nullptr;
  float* vs = i8 ? in[8]->f32() : nullptr;
  // Append this step's keys and values to the cache (int8: max|row| / 127 per row); one
  // item per (token, kv head), shared among the threads below (a prompt's append is
  // hundreds of KB per layer, which kept the other threads idle when it ran serially).
  auto put8 = [D](const float* x, int8_t* q, float* scale) { *scale = cpu::quantize_int8_sym(x, D, q); };
  auto append = [&](int64_t item) {
    const int64_t t = item / Hkv, hk = item % Hkv;
    const int64_t row = (static_cast<int64_t>(slots[t]) * Hkv + hk) * S + pos[t], dst = row * D;
    if (i8) {
      put8(k + t * kvs + hk * D, kc8 + dst, ks + row);
      put8(v + t * kvs + hk * D, vc8 + dst, vs + row);
      return;
    }
    std::memcpy(kc + dst, k + t * kvs + hk * D, static_cast<size_t>(D) * 4);
    std::memcpy(vc + dst, v + t * kvs + hk * D, static_cast<size_t>(D) * 4);
  };
  // Runs: maximal spans of tokens of one slot at consecutive positions.
  int64_t nruns = 0;
  for (int64_t t = 0; t < N; ++t) {
    if (t > 0 && slots[t] == slots[t - 1] && pos[t] == pos[t - 1] + 1) {
      ctx.runs[4 * (nruns - 1) + 1] += 1;
      continue;
    }
    ctx.runs[4 * nruns + 0] = t;        // first token
    ctx.runs[4 * nruns + 1] = 1;        // tokens
    ctx.runs[4 * nruns + 2] = slots[t];
    ctx.runs[4 * nruns + 3] = pos[t];   // position of the first token
    ++nruns;
  }
  const int64_t group = H / Hkv, tasks = nruns * H;
  auto head = [&](int64_t task) {
    const int64_t* r = ctx.runs + 4 * (task / H);
    const int64_t h = task % H, hk = h / group;
    const int64_t t0 = r[0], T = r[1], slot = r[2], pos0 = r[3];
    const int64_t cache = (slot * Hkv + hk) * S * D;
    float* scratch = ctx.scratch + static_cast<int64_t>(omp_get_thread_num()) * ctx.scratch_per_thread;
    if (i8) {
      const int64_t rows = (slot * Hkv + hk) * S;
      cpu::attention_head_i8(q + t0 * qs + h * D, qs, kc8 + cache, ks + rows, vc8 + cache, vs + rows,
                             y + t0 * H * D + h * D, H * D, T, D, pos0, scale, scratch);
      return;
    }
    cpu::attention_head(q + t0 * qs + h * D, qs, kc + cache, vc + cache, y + t0 * H * D + h * D,
                        H * D, T, D, pos0, scale, scratch);
  };
  // No parallel region at all for one thread: libgomp allocates a team of one per
  // region, even under a false if() clause.
  const int64_t items = N * Hkv;
  if (tasks == 1 || omp_get_max_threads() == 1) {
    for (int64_t item = 0; item < items; ++item) append(item);
    for (int64_t task = 0; task < tasks; ++task) head(task);
    return;
  }
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) append(item);
    // (the for's barrier: every head reads the whole appended cache)
#pragma omp for schedule(static, 1)
    for (int64_t task = 0; task < tasks; ++task) head(task);
  }
}

const std::map<std::string, KernelFn>& table() {
  static const std::map<std::string, KernelFn> t = {
      {"embedding", k_embedding}, {"add", k_add},           {"gelu_tanh", k_gelu},
      {"silu_mul", k_silu_mul},   {"layer_norm", k_layer_norm}, {"rms_norm", k_rms_norm},
      {"linear", k_linear},       {"split_cols", k_split_cols}, {"rope", k_rope}, {"rope_table", k_rope_table},
      {"attention", k_attention}, {"gather_rows", k_gather_rows},
      {"linear_q", k_linear_q},   {"embedding_q", k_embedding_q},
  };
  return t;
}

}  // namespace

int64_t cpu_scratch_per_thread(const Node& n, int64_t cache_len) {
  return n.op == "attention" ? cpu::attention_head_scratch(cache_len, n.attr_int("head_dim")) : 0;
}

int64_t cpu_scratch_floats(const Node& n, const TensorView* const* in, int threads, const cpu::KernelOptions& ko) {
  if (n.op == "linear" && n.attr_str("layout") == "kn" && in[0]->dims[0] > 0)  // few-row (K, N) partials
    return cpu::few_rows_kn_blocks(in[0]->dims[1]) * std::min(cpu::kFewRows, in[0]->dims[0]) * in[1]->dims[1];
  if (n.op == "linear_q" && n.attrs.count("act") && n.attr_str("act") == "int8")
    return cpu::linear_q_i8_scratch(n.attr_int("in_features"), in[0]->dims[0]);
  if (n.op == "linear_q" && n.attrs.count("act") && n.attr_str("act") == "int8_block32")
    return cpu::linear_q_a8_scratch(n.attr_int("in_features"), n.attr_int("out_features"), n.attr_int("group_size"),
                                    in[0]->dims[0], ko);
  if (n.op == "linear_q")
    return cpu::linear_q_scratch(n.attr_int("in_features"), n.attr_int("out_features"), n.attr_int("group_size"),
                                 in[0]->dims[0], ko);
  if (n.op == "attention_causal") return threads * n.attr_int("seq");
  if (n.op == "attention_causal_grad")
    return cpu::attention_causal_backward_scratch(n.attr_int("batch"), n.attr_int("seq"), n.attr_int("heads"),
                                                  n.attr_int("kv_heads"), n.attr_int("head_dim"), threads);
  return 0;
}

KernelFn cpu_kernel(const std::string& op) {
  auto it = table().find(op);
  if (it != table().end()) return it->second;
  KernelFn f = cpu_training_kernel(op);
  LMF_CHECK(f != nullptr, kUnsupported, "no CPU kernel for op '{}'", op);
  return f;
}

}  // namespace lmf

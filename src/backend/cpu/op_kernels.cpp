#include "backend/cpu/op_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

#include "backend/cpu/kernels.h"
#include "backend/cpu/kernels_grad.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"
#include "core/error.h"

namespace lmf {

namespace {

using In = KernelIn;
using Out = KernelOut;

NoParams no_params(const PrepareContext&) { return {}; }

NormParams prep_norm(const PrepareContext& c) {
  return {static_cast<float>(c.node.attr_float("eps")), c.node.has_attr("group") ? c.node.attr_int("group") : 0};
}

void k_embedding(const NoParams&, In in, Out out, ExecContext&) {
  const float* table = in[0]->f32();
  const int32_t* ids = in[1]->i32();
  const int64_t n = in[1]->dims[0], c = in[0]->dims[1];
  float* y = out[0]->f32();
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(y + i * c, table + static_cast<int64_t>(ids[i]) * c, static_cast<size_t>(c) * 4);
}

void k_add(const NoParams&, In in, Out out, ExecContext&) {
  cpu::add(in[0]->f32(), in[1]->f32(), out[0]->f32(), in[0]->numel());
}

void k_gelu(const NoParams&, In in, Out out, ExecContext&) {
  cpu::gelu_tanh(in[0]->f32(), out[0]->f32(), in[0]->numel());
}

void k_silu_mul(const NoParams&, In in, Out out, ExecContext&) {
  cpu::silu_mul(in[0]->f32(), in[1]->f32(), out[0]->f32(), in[0]->numel());
}

void k_layer_norm(const NormParams& p, In in, Out out, ExecContext&) {
  cpu::layer_norm(in[0]->f32(), in[1]->f32(), in[2]->f32(), out[0]->f32(), in[0]->dims[0], in[0]->dims[1], p.eps);
}

void k_rms_norm(const NormParams& p, In in, Out out, ExecContext&) {
  const int64_t cols = p.group > 0 ? p.group : in[0]->dims[1];  // groups: (rows * C / group, group)
  cpu::rms_norm(in[0]->f32(), in[1]->f32(), out[0]->f32(), in[0]->numel() / cols, cols, p.eps);
}

LinearParams prep_linear(const PrepareContext& c) {
  const Node& n = c.node;
  LinearParams p;
  const std::string& layout = n.attr_str("layout");
  if (layout == "nk") {
    p.layout = LinearParams::Layout::kNK;
  } else if (layout == "kn") {
    p.layout = LinearParams::Layout::kKN;
  } else {
    LMF_CHECK(layout == "strips", kInvalidArgument, "linear: layout '{}' is none of nk, kn, strips", layout);
    p.layout = LinearParams::Layout::kStrips;
  }
  const TensorView& x = *c.in[0];
  const TensorView& w = *c.in[1];
  LMF_CHECK(x.rank == 2 && w.rank >= 2, kInvalidArgument, "linear: x of rank {}, W of rank {}", x.rank, w.rank);
  p.N = p.layout == LinearParams::Layout::kStrips ? n.attr_int("out_features")
        : p.layout == LinearParams::Layout::kNK  ? w.dims[0]
                                                 : w.dims[1];
  // The arguments sgemm would refuse (linear: x (M, K) at stride K, W at stride K or N).
  LMF_CHECK(x.dims[1] > 0 && p.N > 0, kInvalidArgument, "linear: {} inputs, {} outputs", x.dims[1], p.N);
  p.bias = n.inputs.size() == 3;
  p.gelu = n.has_attr("fused_act");  // "gelu_tanh", the one the registry allows
  return p;
}

void k_linear(const LinearParams& p, In in, Out out, ExecContext& ctx) {
  const int64_t M = in[0]->dims[0], K = in[0]->dims[1], N = p.N;
  const float* bias = p.bias ? in[2]->f32() : nullptr;
  if (p.layout == LinearParams::Layout::kStrips) {
    cpu::linear_strips(in[0]->f32(), in[1]->f32(), bias, out[0]->f32(), M, K, N, p.gelu);
    return;
  }
  if (!cpu::linear(in[0]->f32(), in[1]->f32(), bias, out[0]->f32(), M, K, N, p.layout == LinearParams::Layout::kNK,
                   ctx.scratch)) {
    ctx.failed = "oneDNN sgemm";
    return;
  }
  if (p.gelu) cpu::gelu_tanh(out[0]->f32(), out[0]->f32(), M * N);
}

// The shape of a linear_q / embedding_q node's weights in the "strips" layout
// (prepack_for_cpu); the pointers are the step's.
cpu::QWeight qweight_shape(const PrepareContext& c) {
  const Node& n = c.node;
  cpu::QWeight w;
  w.K = n.attr_int("in_features");
  w.N = n.attr_int("out_features");
  w.group = n.attr_int("group_size");
  w.bits = static_cast<int>(n.attr_int("bits"));
  w.strip = n.has_attr("strip_cols") ? n.attr_int("strip_cols") : cpu::kQStrip;
  LMF_CHECK(w.K > 0 && w.N > 0 && w.group > 0 && w.K % w.group == 0 && (w.bits == 4 || w.bits == 8) &&
                (w.strip == cpu::kQStrip || w.strip == cpu::kQStripWide),
            kInvalidArgument, "{}: {} x {}, group {}, {} bits, strips of {} columns", n.op, w.K, w.N, w.group, w.bits,
            w.strip);
  w.dequant_strips = c.backend.strips_fast(w.K, cpu::kDequantStripCols, c.kernels);
  return w;
}

cpu::QWeight qweight_at(cpu::QWeight w, In in, size_t first) {
  w.q = in[first]->i32();
  w.s = in[first + 1]->f32();
  w.zs = in[first + 2]->f32();
  return w;
}

LinearQParams prep_linear_q(const PrepareContext& c) {
  const Node& n = c.node;
  LinearQParams p;
  const std::string act = n.has_attr("act") ? n.attr_str("act") : "float";
  if (act == "int8") {
    p.act = LinearQParams::Act::kInt8;
  } else if (act == "int8_block32") {
    p.act = LinearQParams::Act::kBlock32;
  } else {
    LMF_CHECK(act == "float", kInvalidArgument, "linear_q: act '{}' is none of float, int8, int8_block32", act);
  }
  p.K = n.attr_int("in_features");
  p.N = n.attr_int("out_features");
  if (p.act != LinearQParams::Act::kInt8) p.w = qweight_shape(c);
  p.bias = n.inputs.size() == 5;
  p.gelu = n.has_attr("fused_act");  // "gelu_tanh", the one the registry allows
  return p;
}

void k_linear_q(const LinearQParams& p, In in, Out out, ExecContext& ctx) {
  const float* bias = p.bias ? in[4]->f32() : nullptr;
  const int64_t M = in[0]->dims[0];
  bool ok = true;
  if (p.act == LinearQParams::Act::kInt8) {
    const cpu::QWeightI8 w{in[1]->i32(), in[2]->f32(), in[3]->i32(), p.K, p.N};
    cpu::linear_q_i8(in[0]->f32(), w, bias, out[0]->f32(), M, ctx.scratch, ctx.kernels);
  } else if (p.act == LinearQParams::Act::kBlock32) {
    ok = cpu::linear_q_a8(in[0]->f32(), qweight_at(p.w, in, 1), bias, out[0]->f32(), M, ctx.scratch, ctx.kernels);
  } else {
    ok = cpu::linear_q(in[0]->f32(), qweight_at(p.w, in, 1), bias, out[0]->f32(), M, ctx.scratch, ctx.kernels);
  }
  if (!ok) {
    ctx.failed = "oneDNN sgemm";
    return;
  }
  if (p.gelu) cpu::gelu_tanh(out[0]->f32(), out[0]->f32(), M * p.N);
}

cpu::QWeight prep_embedding_q(const PrepareContext& c) { return qweight_shape(c); }

void k_embedding_q(const cpu::QWeight& w, In in, Out out, ExecContext&) {
  cpu::embedding_q(qweight_at(w, in, 0), in[3]->i32(), in[3]->dims[0], out[0]->f32());
}

SplitColsParams prep_split_cols(const PrepareContext& c) {
  const SplitColsParams p{c.node.attr_int("begin"), c.node.attr_int("end")};
  LMF_CHECK(0 <= p.begin && p.begin <= p.end && p.end <= c.in[0]->dims[1], kInvalidArgument,
            "split_cols: columns [{}, {}) of {}", p.begin, p.end, c.in[0]->dims[1]);
  return p;
}

void k_split_cols(const SplitColsParams& p, In in, Out out, ExecContext&) {
  const int64_t rows = in[0]->dims[0], k = in[0]->dims[1], w = p.end - p.begin;
  const float* x = in[0]->f32();
  float* y = out[0]->f32();
  for (int64_t r = 0; r < rows; ++r) std::memcpy(y + r * w, x + r * k + p.begin, static_cast<size_t>(w) * 4);
}

RopeParams prep_rope(const PrepareContext& c) { return rope_params_of(c.node); }

// Tokens of a dynamic-NTK rope: each turns with its sequence's frequencies (the base grows
// with the longest position of that sequence (slot) in this step); tokens of sequences
// within dynamic_max take the plain ones.
void rope_dynamic(const RopeParams& p, float* y, int64_t rows, int64_t cols, const int32_t* pos, const int32_t* slots) {
  std::map<int32_t, int64_t> len;  // slot -> longest position + 1 in the step
  for (int64_t t = 0; t < rows; ++t) len[slots[t]] = std::max<int64_t>(len[slots[t]], int64_t{pos[t]} + 1);
  std::map<int64_t, std::vector<double>> freqs;  // len -> inv_freq
  const double D = static_cast<double>(p.head_dim);
  for (int64_t t = 0; t < rows; ++t) {
    const int64_t n = len[slots[t]];
    const std::vector<double>* f = &p.inv_freq;
    if (n > p.dynamic_max) {
      auto it = freqs.find(n);
      if (it == freqs.end()) {
        const double base = static_cast<double>(p.theta) *
                            std::pow(p.dynamic_factor * static_cast<double>(n) / static_cast<double>(p.dynamic_max) -
                                         (p.dynamic_factor - 1.0),
                                     D / (D - 2.0));
        std::vector<double> v(p.inv_freq.size());
        for (size_t i = 0; i < v.size(); ++i) v[i] = std::pow(base, -2.0 * static_cast<double>(i) / D);
        it = freqs.emplace(n, std::move(v)).first;
      }
      f = &it->second;
    }
    cpu::rope(y + t * cols, 1, cols, p.heads, p.head_dim, pos + t, cpu::RopeFreqs{f->data(), p.scale});
  }
}

void k_rope(const RopeParams& p, In in, Out out, ExecContext&) {
  const int64_t rows = in[0]->dims[0], cols = in[0]->dims[1];
  float* y = out[0]->f32();
  if (p.table) {
    cpu::rope_with_table(in[0]->f32(), y, rows, cols, p.heads, p.head_dim, in[1]->f32());
    return;
  }
  if (y != in[0]->f32()) std::memcpy(y, in[0]->f32(), static_cast<size_t>(rows * cols) * 4);
  if (p.dynamic_factor > 0) {
    rope_dynamic(p, y, rows, cols, in[1]->i32(), in[2]->i32());
    return;
  }
  cpu::rope(y, rows, cols, p.heads, p.head_dim, in[1]->i32(), p.freqs());
}

void k_rope_table(const RopeParams& p, In in, Out out, ExecContext&) {
  cpu::rope_table(in[0]->i32(), in[0]->dims[0], p.head_dim, p.freqs(), out[0]->f32());
}

void k_gather_rows(const NoParams&, In in, Out out, ExecContext&) {
  const int64_t c = in[0]->dims[1], m = in[1]->dims[0];
  const int32_t* rows = in[1]->i32();
  for (int64_t i = 0; i < m; ++i)
    std::memcpy(out[0]->f32() + i * c, in[0]->f32() + static_cast<int64_t>(rows[i]) * c,
                static_cast<size_t>(c) * 4);
}

AttentionParams prep_attention(const PrepareContext& c) {
  const Node& n = c.node;
  AttentionParams p;
  p.H = n.attr_int("heads");
  p.Hkv = n.attr_int("kv_heads");
  p.D = n.attr_int("head_dim");
  p.scale = static_cast<float>(n.attr_float("scale"));
  p.packed = n.has_attr("qkv");
  p.i8 = n.inputs.size() == 9;
  p.window = n.has_attr("window") ? n.attr_int("window") : 0;
  LMF_CHECK(p.H > 0 && p.Hkv > 0 && p.H % p.Hkv == 0 && p.D > 0 && p.window >= 0, kInvalidArgument,
            "attention: {} heads, {} kv heads of {}, window {}", p.H, p.Hkv, p.D, p.window);
  return p;
}

// q (N, H*D), k (N, Hkv*D), v (N, Hkv*D), caches (SLOTS, Hkv, S, D), slots (N), positions (N).
void k_attention(const AttentionParams& p, In in, Out out, ExecContext& ctx) {
  const int64_t H = p.H, Hkv = p.Hkv, D = p.D;
  const float scale = p.scale;
  const int64_t N = in[0]->dims[0], S = in[3]->dims[2];
  // Row strides of q, k and v: one (N, (H + 2 Hkv) D) value when packed.
  const bool packed = p.packed;
  const int64_t qs = packed ? (H + 2 * Hkv) * D : H * D, kvs = packed ? qs : Hkv * D;
  const float* q = in[0]->f32();
  const float* k = in[1]->f32() + (packed ? H * D : 0);
  const float* v = in[2]->f32() + (packed ? (H + Hkv) * D : 0);
  const int32_t* slots = in[5]->i32();
  const int32_t* pos = in[6]->i32();
  float* y = out[0]->f32();
  const bool i8 = p.i8;  // int8 cache: rows scaled by in[7], in[8]
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
    if (p.window > 0 && pos0 + T > p.window) {  // sliding window: each query over its own last `window` keys
      for (int64_t t = 0; t < T; ++t) {
        const int64_t at = pos0 + t, first = std::max<int64_t>(0, at - p.window + 1);
        const float* qt = q + (t0 + t) * qs + h * D;
        float* yt = y + (t0 + t) * H * D + h * D;
        if (i8) {
          const int64_t rows = (slot * Hkv + hk) * S + first;
          cpu::attention_head_i8(qt, qs, kc8 + cache + first * D, ks + rows, vc8 + cache + first * D, vs + rows, yt,
                                 H * D, 1, D, at - first, scale, scratch);
        } else {
          cpu::attention_head(qt, qs, kc + cache + first * D, vc + cache + first * D, yt, H * D, 1, D, at - first,
                              scale, scratch);
        }
      }
      return;
    }
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

const std::map<std::string, PrepareFn>& table() {
  static const std::map<std::string, PrepareFn> t = {
      {"embedding", prepare_kernel<NoParams, no_params, k_embedding>},
      {"add", prepare_kernel<NoParams, no_params, k_add>},
      {"gelu_tanh", prepare_kernel<NoParams, no_params, k_gelu>},
      {"silu_mul", prepare_kernel<NoParams, no_params, k_silu_mul>},
      {"layer_norm", prepare_kernel<NormParams, prep_norm, k_layer_norm>},
      {"rms_norm", prepare_kernel<NormParams, prep_norm, k_rms_norm>},
      {"linear", prepare_kernel<LinearParams, prep_linear, k_linear>},
      {"split_cols", prepare_kernel<SplitColsParams, prep_split_cols, k_split_cols>},
      {"rope", prepare_kernel<RopeParams, prep_rope, k_rope>},
      {"rope_table", prepare_kernel<RopeParams, prep_rope, k_rope_table>},
      {"attention", prepare_kernel<AttentionParams, prep_attention, k_attention>},
      {"gather_rows", prepare_kernel<NoParams, no_params, k_gather_rows>},
      {"linear_q", prepare_kernel<LinearQParams, prep_linear_q, k_linear_q>},
      {"embedding_q", prepare_kernel<cpu::QWeight, prep_embedding_q, k_embedding_q>},
  };
  return t;
}

}  // namespace

RopeParams rope_params_of(const Node& n) {
  RopeParams p;
  p.head_dim = n.attr_int("head_dim");
  p.theta = static_cast<float>(n.attr_float("theta"));
  if (n.op != "rope_table") p.heads = n.attr_int("heads");
  p.table = n.has_attr("angles");  // "table": a rope_table's output
  LMF_CHECK(p.head_dim > 0 && p.head_dim % 2 == 0 && (n.op == "rope_table" || p.heads > 0), kInvalidArgument,
            "{}: {} heads of {}", n.op, p.heads, p.head_dim);
  if (n.has_attr("inv_freq")) {  // comma-separated doubles (C99 hex floats, exact)
    const std::string& s = n.attr_str("inv_freq");
    const char* c = s.c_str();
    while (*c) {
      char* end = nullptr;
      p.inv_freq.push_back(std::strtod(c, &end));
      LMF_CHECK(end != c && (*end == ',' || *end == 0), kInvalidArgument, "{}: bad inv_freq '{}'", n.op, s);
      c = *end ? end + 1 : end;
    }
    LMF_CHECK(static_cast<int64_t>(p.inv_freq.size()) == p.head_dim / 2, kInvalidArgument,
              "{}: {} inv_freq values for head_dim {}", n.op, p.inv_freq.size(), p.head_dim);
  } else {
    p.inv_freq = cpu::rope_inv_freq(p.theta, p.head_dim);
  }
  if (n.has_attr("scale")) p.scale = n.attr_float("scale");
  if (n.has_attr("dynamic_factor")) {
    p.dynamic_factor = n.attr_float("dynamic_factor");
    p.dynamic_max = n.attr_int("dynamic_max");
    LMF_CHECK(n.op == "rope" && !p.table && n.inputs.size() == 3 && p.dynamic_factor > 0 && p.dynamic_max > 0 &&
                  p.head_dim > 2,
              kInvalidArgument, "{}: dynamic NTK needs the slots, a factor and a length", n.op);
  }
  return p;
}

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

PreparedKernel cpu_prepare(const PrepareContext& c) {
  const std::string& op = c.node.op;
  auto it = table().find(op);
  PrepareFn f = it != table().end() ? it->second : cpu_training_kernel(op);
  LMF_CHECK(f != nullptr, kUnsupported, "no CPU kernel for op '{}'", op);
  return f(c);
}

}  // namespace lmf

#include "backend/cpu/matmul.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "backend/cpu/kernels.h"
#include "core/error.h"

namespace lmf::cpu {

void linear(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K,
            int64_t N, bool w_nk, float* scratch) {
  if (M == 0) return;
  if (M <= kFewRows && w_nk) {
    linear_few_rows(x, w, bias, y, M, K, N);
    return;
  }
  if (M <= kFewRows && scratch) {
    linear_few_rows_kn(x, w, bias, y, M, K, N, scratch);
    return;
  }
  // Row-major sgemm: y = x · op(W); op(W) = W^T for the (N, K) layout.
  dnnl_sgemm('N', w_nk ? 'T' : 'N', M, N, K, 1.0f, x, K, w, w_nk ? K : N, 0.0f, y, N);
  if (bias) add_bias(y, bias, M, N);
}

namespace {

using dnnl::memory;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

memory::desc strips_desc(int64_t K, int64_t N) {
  return memory::desc({K, N}, memory::data_type::f32, memory::format_tag::BA16a64b);
}

memory::desc rows_desc(int64_t M, int64_t N, int64_t ld) {
  return memory::desc({M, N}, memory::data_type::f32, memory::dims{ld, 1});
}

dnnl::matmul::primitive_desc matmul_pd(int64_t M, int64_t K, int64_t N, bool bias, const memory::desc& w,
                                       bool gelu = false) {
  const memory::desc x = rows_desc(M, K, K), y = rows_desc(M, N, N);
  dnnl::primitive_attr attr;
  if (gelu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  if (!bias) return dnnl::matmul::primitive_desc(dnnl::matmul::desc(x, w, y), attr, cpu_engine());
  const memory::desc b({1, N}, memory::data_type::f32, memory::format_tag::ab);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(x, w, b, y), attr, cpu_engine());
}

std::mutex g_mu;

}  // namespace

bool strips_fast(int64_t K, int64_t N, const KernelOptions& ko) {
  if (!ko.strips || K <= 0 || N <= 0 || K % 16 != 0) return false;
  static std::map<std::pair<int64_t, int64_t>, bool> known;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = known.find({K, N});
  if (it != known.end()) return it->second;
  bool yes = false;
  try {
    const memory::desc any({K, N}, memory::data_type::f32, memory::format_tag::any);
    yes = matmul_pd(128, K, N, true, any).weights_desc() == strips_desc(K, N);
  } catch (const dnnl::error&) {
    yes = false;
  }
  return known.emplace(std::make_pair(K, N), yes).first->second;
}

void pack_strips(const float* w, bool w_nk, int64_t K, int64_t N, float* out) {
  const int64_t S = strip_count(N);
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < S; ++s)
    for (int64_t k = 0; k < K; ++k) {
      float* row = out + (s * K + k) * kStripCols;
      for (int64_t c = 0; c < kStripCols; ++c) {
        const int64_t n = s * kStripCols + c;
        row[c] = n >= N ? 0.0f : (w_nk ? w[n * K + k] : w[k * N + n]);
      }
    }
}

void linear_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                   bool gelu, const KernelOptions& ko) {
  if (M == 0) return;
  if (M <= kFewRows) {
    linear_few_rows_strips(x, w, bias, y, M, K, N);
    if (gelu) gelu_tanh(y, y, M * N);
    return;
  }
  if (ko.onednn_strips) {
    matmul_strips(x, w, bias, y, M, K, N, gelu);
    return;
  }
  gemm_strips(x, w, bias, y, M, K, N, gelu);
}

void matmul_strips(const float* x, const float* w, const float* bias, float* y, int64_t M, int64_t K, int64_t N,
                   bool gelu) {
  static std::map<std::tuple<int64_t, int64_t, int64_t, bool, bool>, dnnl::matmul> made;
  thread_local dnnl::stream stream(cpu_engine());  // one per calling thread: sessions may run side by side
  dnnl::matmul* prim = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    const auto key = std::make_tuple(M, K, N, bias != nullptr, gelu);
    auto it = made.find(key);
    if (it == made.end()) {
      try {
        it = made.emplace(key, dnnl::matmul(matmul_pd(M, K, N, bias != nullptr, strips_desc(K, N), gelu))).first;
      } catch (const dnnl::error& e) {
        fail(ErrorCode::kInternal, "oneDNN matmul ({} x {} x {}): {}", M, K, N, e.what());
      }
    }
    prim = &it->second;
  }
  auto mem = [](const memory::desc& d, const float* p) {
    return memory(d, cpu_engine(), const_cast<float*>(p));
  };
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, mem(rows_desc(M, K, K), x)},
                                          {DNNL_ARG_WEIGHTS, mem(strips_desc(K, N), w)},
                                          {DNNL_ARG_DST, mem(rows_desc(M, N, N), y)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, mem(rows_desc(1, N, N), bias));
  prim->execute(stream, args);
  stream.wait();
}

}  // namespace lmf::cpu

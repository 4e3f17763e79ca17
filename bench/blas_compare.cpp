// oneDNN against OpenBLAS at GPT-2 small's matmul shapes, 2 threads, GFLOP/s (BENCHMARKS.md,
// "Why oneDNN"): sgemm with the weight (K, N) or (N, K) in both libraries, and lmforge's
// the 64-column strips a plan holds where this CPU's oneDNN takes them (backend.h
// strips_fast): oneDNN's matmul primitive on them (made here, once per shape, outside the
// timing; lmforge itself no longer has this path) and lmforge's own kernel (linear_strips:
// gemm_strips for many rows, the streaming kernel for few). Best of 7 with
// the weight hot in cache; then the prefill-like case: the 48 layer matmuls of GPT-2 small
// at 128 rows in order, each with its own weight (340 MB, read from memory as in a model),
// sgemm (K, N) against both on strips.
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "backend/cpu/backend.h"
#include "backend/cpu/matmul.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// 64-byte aligned, as a plan's tensors are (a std::vector's 16-byte alignment costs the
// primitive's 512-bit loads on the strips about 10%).
template <class T>
struct AlignedAlloc {
  using value_type = T;
  AlignedAlloc() = default;
  template <class U>
  AlignedAlloc(const AlignedAlloc<U>&) {}  // NOLINT
  T* allocate(size_t n) { return static_cast<T*>(std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64)); }
  void deallocate(T* p, size_t) { std::free(p); }
  bool operator==(const AlignedAlloc&) const { return true; }
};
using Floats = std::vector<float, AlignedAlloc<float>>;

Floats filled(size_t n, unsigned seed) {
  Floats v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 7919 + seed) % 1000) * 1e-5f - 0.005f;
  return v;
}

// oneDNN's matmul primitive y (M, N) = x (M, K) · W with W in 64-column strips (BA16a64b),
// made once; run() binds the buffers and executes.
class StripsPrimitive {
 public:
  StripsPrimitive(const dnnl::engine& e, long M, long K, long N)
      : engine_(e),
        stream_(e),
        x_({M, K}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab),
        w_({K, N}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::BA16a64b),
        y_({M, N}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab),
        prim_(dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_, w_, y_), e)) {}
  void run(const float* x, const float* w, float* y) {
    auto mem = [&](const dnnl::memory::desc& d, const float* p) {
      return dnnl::memory(d, engine_, const_cast<float*>(p));
    };
    prim_.execute(stream_, {{DNNL_ARG_SRC, mem(x_, x)}, {DNNL_ARG_WEIGHTS, mem(w_, w)}, {DNNL_ARG_DST, mem(y_, y)}});
    stream_.wait();
  }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::memory::desc x_, w_, y_;
  dnnl::matmul prim_;
};

const std::vector<std::pair<long, long>> kLayer = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};

}  // namespace

int main() {
  omp_set_num_threads(2);
  openblas_set_num_threads(2);
  const lmf::cpu::Backend backend;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  using lmf::cpu::kStripCols;
  printf("| M | K | N | oneDNN sgemm (K,N) | oneDNN sgemm (N,K) | OpenBLAS (K,N) | OpenBLAS (N,K) | oneDNN primitive, strips | lmforge, strips |\n");
  printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::vector<std::pair<long, long>> shapes = kLayer;
  shapes.emplace_back(768, 50257);
  for (long M : {128L, 1L})
    for (auto [K, N] : shapes) {
      const Floats w = filled(static_cast<size_t>(N * K), 1), x = filled(static_cast<size_t>(M * K), 2);
      Floats y(static_cast<size_t>(M * N));
      const bool strips = backend.strips_fast(K, N);
      Floats ws;
      std::unique_ptr<StripsPrimitive> prim;
      if (strips) {
        ws.resize(static_cast<size_t>(lmf::cpu::strip_count(N) * K * kStripCols));
        lmf::cpu::pack_strips(w.data(), false, K, N, ws.data());
        prim = std::make_unique<StripsPrimitive>(engine, M, K, N);
      }
      double best[6] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
      for (int r = 0; r < 7; ++r) {
        for (int tr = 0; tr < 2; ++tr) {
          double t = now();
          dnnl_sgemm('N', tr ? 'T' : 'N', M, N, K, 1.f, x.data(), K, w.data(), tr ? K : N, 0.f, y.data(), N);
          best[tr] = std::min(best[tr], now() - t);
          t = now();
          cblas_sgemm(CblasRowMajor, CblasNoTrans, tr ? CblasTrans : CblasNoTrans, M, N, K, 1.f, x.data(), K, w.data(),
                      tr ? K : N, 0.f, y.data(), N);
          best[2 + tr] = std::min(best[2 + tr], now() - t);
        }
        if (strips) {
          double t = now();
          prim->run(x.data(), ws.data(), y.data());
          best[4] = std::min(best[4], now() - t);
          t = now();
          lmf::cpu::linear_strips(x.data(), ws.data(), nullptr, y.data(), M, K, N);
          best[5] = std::min(best[5], now() - t);
        }
      }
      const double f = 2.0 * M * N * K / 1e9;
      printf("| %ld | %ld | %ld | %.1f | %.1f | %.1f | %.1f | ", M, K, N, f / best[0], f / best[1], f / best[2],
             f / best[3]);
      if (strips) printf("%.1f | %.1f |\n", f / best[4], f / best[5]);
      else printf("(not taken) | (not taken) |\n");
    }

  // The prefill-like sequence: 12 layers x 4 matmuls, every weight its own.
  const long M = 128;
  std::vector<Floats> kn, st;
  std::vector<std::unique_ptr<StripsPrimitive>> prims;
  double flops = 0;
  bool strips = true;
  for (int l = 0; l < 12; ++l)
    for (auto [K, N] : kLayer) {
      kn.push_back(filled(static_cast<size_t>(K * N), static_cast<unsigned>(l)));
      strips = strips && backend.strips_fast(K, N);
      if (strips) {
        st.emplace_back(static_cast<size_t>(lmf::cpu::strip_count(N) * K * kStripCols));
        lmf::cpu::pack_strips(kn.back().data(), false, K, N, st.back().data());
      }
      flops += 2.0 * M * K * N;
    }
  if (strips)
    for (auto [K, N] : kLayer) prims.push_back(std::make_unique<StripsPrimitive>(engine, M, K, N));
  const Floats x = filled(static_cast<size_t>(M * 3072), 3);
  Floats y(static_cast<size_t>(M * 3072));
  printf("\nGPT-2 small's 48 layer matmuls at %ld rows in sequence, own weights (GFLOP/s per pass):\n", M);
  for (int rep = 0; rep < 5; ++rep) {
    double t = now();
    size_t i = 0;
    for (int l = 0; l < 12; ++l)
      for (auto [K, N] : kLayer) dnnl_sgemm('N', 'N', M, N, K, 1.f, x.data(), K, kn[i++].data(), N, 0.f, y.data(), N);
    const double t_sgemm = now() - t;
    printf("  sgemm (K,N) %.1f", flops / t_sgemm / 1e9);
    if (strips) {
      t = now();
      i = 0;
      for (int l = 0; l < 12; ++l)
        for (size_t j = 0; j < kLayer.size(); ++j, ++i) prims[j]->run(x.data(), st[i].data(), y.data());
      printf("   oneDNN strips %.1f", flops / (now() - t) / 1e9);
      t = now();
      i = 0;
      for (int l = 0; l < 12; ++l)
        for (auto [K, N] : kLayer) lmf::cpu::linear_strips(x.data(), st[i++].data(), nullptr, y.data(), M, K, N);
      printf("   lmforge strips %.1f", flops / (now() - t) / 1e9);
    }
    printf("\n");
  }
}

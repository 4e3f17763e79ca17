// Google Benchmark for the float32 CPU kernels at real model shapes, single-threaded
// (OMP_NUM_THREADS=1 is set by main below unless the caller overrides it).
//
// KERNELS_BENCH_AVX2=1 limits the Highway kernels to their AVX2 code (what a CPU without
// AVX-512 runs; the int8 paths are chosen by each benchmark's argument).
//
// Built by bench/CMakeLists.txt as build/bench/kernels_bench.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include <hwy/targets.h>

#include "backend/cpu/kernels.h"
#include "backend/cpu/qmatmul.h"

namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Decode (T = 1) or prefill (T = S) attention for one head: S cache rows of D.
void BM_AttentionHead(benchmark::State& state) {
  const int64_t S = state.range(0), D = state.range(1), T = state.range(2);
  const auto q = randn(T * D, 1), k = randn(S * D, 2), v = randn(S * D, 3);
  std::vector<float> out(T * D), scratch(lmf::cpu::attention_head_scratch(S, D));
  for (auto _ : state) {
    lmf::cpu::attention_head(q.data(), D, k.data(), v.data(), out.data(), D, T, D, S - T,
                             1.0f / std::sqrt(float(D)), scratch.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AttentionHead)->Args({512, 64, 1})->Args({2048, 128, 1})->Args({128, 64, 128});

// A GPT-2 small layer's prompt attention as the model runs it: H heads of D over a T-token
// prompt, q read from the packed c_attn output (row stride 3 H D), each head's keys and
// values from its cache, out (T, H D); the heads shared by `threads` threads as the
// attention op shares them (static, one head at a time). Compare with BM_AttentionHead x H
// / threads.
void BM_AttentionLayer(benchmark::State& state) {
  const int64_t T = state.range(0), H = state.range(1), D = 64, threads = state.range(2);
  const int64_t qs = 3 * H * D;
  const auto qkv = randn(T * qs, 1), k = randn(H * T * D, 2), v = randn(H * T * D, 3);
  std::vector<float> out(T * H * D), scratch(threads * lmf::cpu::attention_head_scratch(T, D));
  const int64_t per = lmf::cpu::attention_head_scratch(T, D);
  for (auto _ : state) {
#pragma omp parallel for schedule(static, 1) num_threads(threads)
    for (int64_t h = 0; h < H; ++h)
      lmf::cpu::attention_head(qkv.data() + h * D, qs, k.data() + h * T * D, v.data() + h * T * D, out.data() + h * D,
                               H * D, T, D, 0, 0.125f, scratch.data() + omp_get_thread_num() * per);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AttentionLayer)->Args({128, 12, 1})->Args({128, 12, 2})->UseRealTime();

void BM_RmsNorm(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto x = randn(rows * cols, 4), g = randn(cols, 5);
  std::vector<float> y(rows * cols);
  for (auto _ : state) {
    lmf::cpu::rms_norm(x.data(), g.data(), y.data(), rows, cols, 1e-5f);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * rows * cols * 8);
}
BENCHMARK(BM_RmsNorm)->Args({1, 768})->Args({128, 768});

void BM_LayerNorm(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto x = randn(rows * cols, 4), g = randn(cols, 5), b = randn(cols, 6);
  std::vector<float> y(rows * cols);
  for (auto _ : state) {
    lmf::cpu::layer_norm(x.data(), g.data(), b.data(), y.data(), rows, cols, 1e-5f);
    benchmark::DoNotOptimize(y.data());
  }
}
BENCHMARK(BM_LayerNorm)->Args({128, 768});

void BM_GeluTanh(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = randn(n, 7);
  std::vector<float> y(n);
  for (auto _ : state) {
    lmf::cpu::gelu_tanh(x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_GeluTanh)->Arg(3072)->Arg(128 * 3072);

void BM_Softmax(benchmark::State& state) {
  const int64_t cols = state.range(0);
  const auto x0 = randn(cols, 8);
  auto x = x0;
  for (auto _ : state) {
    lmf::cpu::softmax(x.data(), 1, cols);
    benchmark::DoNotOptimize(x.data());
  }
}
BENCHMARK(BM_Softmax)->Arg(50257);

void BM_Rope(benchmark::State& state) {
  const int64_t T = state.range(0), H = 32, D = 128;
  auto x = randn(T * H * D, 9);
  std::vector<int32_t> pos(T);
  for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>(1000 + t);
  for (auto _ : state) {
    lmf::cpu::rope(x.data(), T, H * D, H, D, pos.data(), 10000.0f);
    benchmark::DoNotOptimize(x.data());
  }
}
BENCHMARK(BM_Rope)->Arg(1);

void BM_Argmax(benchmark::State& state) {
  const auto x = randn(state.range(0), 10);
  for (auto _ : state) benchmark::DoNotOptimize(lmf::cpu::argmax(x.data(), state.range(0)));
}
BENCHMARK(BM_Argmax)->Arg(50257);

}  // namespace

// One decode row through a group-128 quantized matrix in the strip layout (random words),
// float activations (linear_q: arg 3 = 0 in the strips the plan lays out, the bf16 kernel's wide ones where
// the CPU has it; 3 = 16-column strips: the float kernel, or where q_pair_takes() the pair kernel)
// or int8 blocks (linear_q_a8, arg 3 = 1; 2 = its code without VNNI, kWiden); bytes/s counts the
// strips and scales. 768 x 768 at 4 bits (0.3 MB) stays in L2: the kernel's own speed.
void BM_LinearQDecode(benchmark::State& state) {
  const int64_t K = state.range(0), N = state.range(1), G = 128;
  const int bits = static_cast<int>(state.range(2));
  const bool act8 = state.range(3) == 1 || state.range(3) == 2;
  const int64_t W = act8 || state.range(3) == 3 ? lmf::cpu::kQStrip : lmf::cpu::q_strip_cols(bits, G, true);
  const int64_t st = lmf::cpu::q_strips(N, W), words = st * K / (32 / bits) * W, scales = st * K / G * W;
  std::vector<int32_t> q(static_cast<size_t>(words));
  for (int64_t i = 0; i < words; ++i) q[static_cast<size_t>(i)] = static_cast<int32_t>(static_cast<uint32_t>(i) * 2654435761u);
  std::vector<float> s(static_cast<size_t>(scales), 0.01f), zs(s.size(), 0.08f), x = randn(static_cast<size_t>(K), 4),
      y(static_cast<size_t>(N)),
      scratch(static_cast<size_t>(std::max(lmf::cpu::linear_q_scratch(K, N, G, 1), lmf::cpu::linear_q_a8_scratch(K, N, G, 1))));
  const lmf::cpu::QWeight w{q.data(), s.data(), zs.data(), K, N, G, bits, W};
  lmf::cpu::KernelOptions ko;
  if (state.range(3) == 2) ko.i8_isa = lmf::cpu::QI8Isa::kWiden;
  for (auto _ : state) {
    (act8 ? lmf::cpu::linear_q_a8 : lmf::cpu::linear_q)(x.data(), w, nullptr, y.data(), 1, scratch.data(), ko);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * (words + 2 * scales) * 4);
}
BENCHMARK(BM_LinearQDecode)
    ->Args({768, 768, 4, 0})->Args({768, 768, 4, 1})->Args({768, 768, 4, 2})->Args({768, 768, 8, 0})
    ->Args({768, 768, 8, 1})->Args({768, 768, 8, 2})
    ->Args({3072, 768, 4, 0})->Args({3072, 768, 4, 1})->Args({768, 768, 4, 3})->Args({3072, 768, 4, 3})
    ->Args({768, 768, 8, 3})->Args({768, 50257, 8, 3})->Args({768, 3072, 8, 3})->Args({768, 50257, 4, 3});

// int8-dynamic decode (linear_q_i8, one row) on each integer path: arg 2 = 0 portable, 1
// kWiden (16-bit pairwise products), 2 kDot (AVX-512 VNNI; capped at what the CPU has); bytes/s counts the weight strips.
void BM_LinearQInt8Decode(benchmark::State& state) {
  const int64_t K = state.range(0), N = state.range(1);
  const auto isa = static_cast<lmf::cpu::QI8Isa>(state.range(2));
  const int64_t st = lmf::cpu::q_strips(N), words = st * K / 4 * lmf::cpu::kQStrip;
  std::vector<int32_t> q(static_cast<size_t>(words), 0), colsum(static_cast<size_t>(st * lmf::cpu::kQStrip), 0);
  for (int64_t i = 0; i < words; ++i) q[static_cast<size_t>(i)] = static_cast<int32_t>(static_cast<uint32_t>(i) * 2654435761u);
  std::vector<float> s(colsum.size(), 0.01f), x = randn(static_cast<size_t>(K), 4), y(static_cast<size_t>(N)),
      scratch(static_cast<size_t>(lmf::cpu::linear_q_i8_scratch(K, 1)));
  const lmf::cpu::QWeightI8 w{q.data(), s.data(), colsum.data(), K, N};
  lmf::cpu::KernelOptions ko;
  ko.i8_isa = isa;
  if (lmf::cpu::q_i8_isa(ko) != isa) state.SkipWithError("this CPU lacks the instruction set");
  for (auto _ : state) {
    lmf::cpu::linear_q_i8(x.data(), w, nullptr, y.data(), 1, scratch.data(), ko);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * words * 4);
}
BENCHMARK(BM_LinearQInt8Decode)->Args({768, 768, 0})->Args({768, 768, 1})->Args({768, 768, 2});

int main(int argc, char** argv) {
  if (std::getenv("OMP_NUM_THREADS") == nullptr) omp_set_num_threads(1);
  if (std::getenv("KERNELS_BENCH_AVX2") != nullptr) hwy::SetSupportedTargetsForTest(HWY_AVX2);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}

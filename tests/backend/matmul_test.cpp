// Tests for the float32 CPU matmul (src/backend/cpu/matmul.h): cpu::linear on both its
// paths (the few-row streaming kernel for M <= kFewRows, oneDNN's sgemm above) and the
// few-row kernels linear_few_rows ((N, K)) and linear_few_rows_kn ((K, N)) directly, against a double-precision scalar
// reference, on every Highway target compiled in and supported by this CPU, with 1
// and 2 threads; plus thread-count invariance and the pre-pack pass that puts every
// linear weight in (K, N) layout.
//
// Error is measured per element relative to the scale of the terms that make it up:
//   err = |y - ref| / scale, scale = sum_k |x_k| |w_k| + |b|.
// The tolerance is the worst-case bound of float32 accumulation in any order,
// gamma(K + 1) = (K + 1) u / (1 - (K + 1) u), u = 2^-24 (K products summed, then or
// onto the bias), so it holds for any correct
// float32 kernel, while a term dropped or counted twice (about 1/K of the scale)
// or a wrong element fails it. Each test prints its measured maximum.
#include "support/cpu_test.h"
#include "backend/cpu/matmul.h"

#include <gtest/gtest.h>
#include <hwy/targets.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/prepack.h"
#include "ir/graph.h"
#include "runtime/executor.h"

namespace lmf::cpu {
namespace {

using test::randn;
using test::target_name;
using test::targets_to_test;
using test::uniform;
using test::with_threads;

const std::vector<int64_t> kRows = {1, 2, 3, 5, 8, 9, 64};
const std::vector<int64_t> kDims = {1, 7, 63, 65, 769};
constexpr float kSentinel = -12345.0f;



struct Problem {
  int64_t M, K, N;
  std::vector<float> x, w_kn, bias;  // x (M, K), W (K, N), bias (N)
  std::vector<double> ref, scale;    // (M, N)
  Problem(int64_t m, int64_t k, int64_t n, uint32_t seed) : M(m), K(k), N(n) {
    x = randn(static_cast<size_t>(M * K), seed);
    w_kn = randn(static_cast<size_t>(K * N), seed + 1);
    bias = randn(static_cast<size_t>(N), seed + 2);
    ref.assign(static_cast<size_t>(M * N), 0.0);
    scale.assign(static_cast<size_t>(M * N), 0.0);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k2 = 0; k2 < K; ++k2) {
        const double xv = x[i * K + k2];
        for (int64_t j = 0; j < N; ++j) {
          ref[i * N + j] += xv * w_kn[k2 * N + j];
          scale[i * N + j] += std::fabs(xv * w_kn[k2 * N + j]);
        }
      }
  }
  std::vector<float> w_nk() const {
    std::vector<float> t(w_kn.size());
    for (int64_t k2 = 0; k2 < K; ++k2)
      for (int64_t j = 0; j < N; ++j) t[j * K + k2] = w_kn[k2 * N + j];
    return t;
  }
  double tol() const {
    const double nu = static_cast<double>(K + 1) * std::ldexp(1.0, -24);
    return nu / (1 - nu);
  }
  // Largest relative error of y (M, N, plus sentinels after it) against the reference.
  double max_err(const std::vector<float>& y, bool with_bias, std::string* where) const {
    double worst = 0;
    for (int64_t i = 0; i < M * N; ++i) {
      const double b = with_bias ? bias[i % N] : 0.0;
      const double s = scale[i] + std::fabs(b);
      const double err = std::fabs(y[i] - (ref[i] + b)) / (s > 0 ? s : 1.0);
      if (!(err <= worst)) {  // NaN too
        worst = err;
        *where = "row " + std::to_string(i / N) + " col " + std::to_string(i % N);
      }
    }
    for (size_t i = static_cast<size_t>(M * N); i < y.size(); ++i)
      if (y[i] != kSentinel) {
        *where = "write past y at " + std::to_string(i);
        return std::numeric_limits<double>::infinity();
      }
    return worst;
  }
  std::string str() const {
    return "M=" + std::to_string(M) + " K=" + std::to_string(K) + " N=" + std::to_string(N);
  }
};

// Problems are built once and shared by the per-target runs (the reference dominates).
const Problem& problem(int64_t M, int64_t K, int64_t N, uint32_t seed) {
  static std::map<std::tuple<int64_t, int64_t, int64_t, uint32_t>, Problem> cache;
  const auto key = std::make_tuple(M, K, N, seed);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, Problem(M, K, N, seed)).first;
  return it->second;
}



class Matmul : public test::PerTarget {};

INSTANTIATE_TEST_SUITE_P(Targets, Matmul, ::testing::ValuesIn(test::targets_to_test()), test::target_param_name);

// Calls run(y) for each thread count and bias choice and checks y against p.
template <class Run>
void check_all(const Problem& p, const char* what, double* worst_ratio, Run&& run) {
  for (int threads : {1, 2}) {
    for (bool with_bias : {false, true}) {
      std::vector<float> y(static_cast<size_t>(p.M * p.N + 19), kSentinel);
      with_threads(threads, [&] { run(y.data(), with_bias ? p.bias.data() : nullptr); });
      std::string where;
      const double err = p.max_err(y, with_bias, &where);
      *worst_ratio = std::max(*worst_ratio, err / p.tol());
      ASSERT_LE(err, p.tol()) << what << " " << p.str() << (with_bias ? " bias" : " no bias") << " threads "
                              << threads << " target " << target_name() << " at " << where;
    }
  }
}

TEST_P(Matmul, LinearMatchesReference) {
  double worst = 0;  // largest err / tolerance seen
  uint32_t seed = 1;
  for (int64_t M : kRows)
    for (int64_t K : kDims)
      for (int64_t N : kDims) {
        const Problem& p = problem(M, K, N, seed += 3);
        check_all(p, "linear", &worst, [&](float* y, const float* bias) {
          linear(p.x.data(), p.w_kn.data(), bias, y, M, K, N, false);
        });
      }
  std::printf("[ error ] linear (K, N) %-7s max %.3g of tolerance gamma(K + 1)\n", target_name().c_str(), worst);
}

TEST_P(Matmul, LinearNkMatchesReference) {
  double worst = 0;
  uint32_t seed = 500;
  for (int64_t M : {1, 9})
    for (int64_t K : {7, 65})
      for (int64_t N : {1, 63, 769}) {
        const Problem& p = problem(M, K, N, seed += 3);
        const auto w_nk = p.w_nk();
        check_all(p, "linear nk", &worst, [&](float* y, const float* bias) {
          linear(p.x.data(), w_nk.data(), bias, y, M, K, N, true);
        });
      }
  std::printf("[ error ] linear (N, K) %-7s max %.3g of tolerance\n", target_name().c_str(), worst);
}

TEST_P(Matmul, FewRowsMatchesReference) {
  double worst = 0;
  uint32_t seed = 1000;
  for (int64_t M = 1; M <= kFewRows; ++M)
    for (int64_t K : {1, 2, 7, 8, 9, 63, 65, 769})
      for (int64_t N : {1, 7, 16, 63, 65, 100, 769, 1030}) {
        const Problem& p = problem(M, K, N, seed += 3);
        const auto w_nk = p.w_nk();
        check_all(p, "linear_few_rows", &worst, [&](float* y, const float* bias) {
          linear_few_rows(p.x.data(), w_nk.data(), bias, y, M, K, N);
        });
      }
  for (int64_t M : {9, 17})  // more than kFewRows rows: W is read once per group of 4
    for (int64_t N : {7, 769}) {
      const Problem& p = problem(M, 65, N, seed += 3);
      const auto w_nk = p.w_nk();
      check_all(p, "linear_few_rows", &worst, [&](float* y, const float* bias) {
        linear_few_rows(p.x.data(), w_nk.data(), bias, y, M, 65, N);
      });
    }
  std::printf("[ error ] few rows (N, K) %-7s max %.3g of tolerance\n", target_name().c_str(), worst);
}

// The few-row kernel computes every element as one dot product in a fixed order
// whatever the thread count (threads own rows of W), so its output is bit-identical for
// 1, 2, 3 and 4 threads.
TEST_P(Matmul, FewRowsThreadCountInvariance) {
  for (int64_t M : {1, 4, 8})
    for (int64_t N : {65, 769, 1030}) {
      const int64_t K = 193;
      const Problem& p = problem(M, K, N, 77);
      const auto w_nk = p.w_nk();
      std::vector<std::vector<float>> out;
      for (int threads : {1, 2, 3, 4}) {
        std::vector<float> y(static_cast<size_t>(M * N));
        with_threads(threads, [&] {
          linear(p.x.data(), w_nk.data(), p.bias.data(), y.data(), M, K, N, true);
        });
        out.push_back(y);
      }
      for (size_t t = 1; t < out.size(); ++t)
        for (size_t i = 0; i < out[0].size(); ++i)
          ASSERT_EQ(out[t][i], out[0][i]) << p.str() << " thread counts 1 vs " << t + 1 << " at " << i;
    }
}

// The (K, N) few-row kernel (K split in blocks, partials summed in block order).
TEST_P(Matmul, FewRowsKnMatchesReference) {
  double worst = 0;
  uint32_t seed = 2000;
  for (int64_t M = 1; M <= kFewRows; ++M)
    for (int64_t K : {1, 2, 7, 8, 9, 63, 65, 769})
      for (int64_t N : {1, 7, 16, 63, 65, 100, 769, 1030}) {
        const Problem& p = problem(M, K, N, seed += 3);
        std::vector<float> scratch(static_cast<size_t>(few_rows_kn_scratch(K, N)));
        check_all(p, "linear_few_rows_kn", &worst, [&](float* y, const float* bias) {
          linear_few_rows_kn(p.x.data(), p.w_kn.data(), bias, y, M, K, N, scratch.data());
        });
      }
  for (int64_t M : {9, 17})  // more than kFewRows rows: W is read once per group of 8
    for (int64_t N : {7, 769}) {
      const Problem& p = problem(M, 65, N, seed += 3);
      std::vector<float> scratch(static_cast<size_t>(few_rows_kn_scratch(65, N)));
      check_all(p, "linear_few_rows_kn", &worst, [&](float* y, const float* bias) {
        linear(p.x.data(), p.w_kn.data(), bias, y, M, 65, N, false, scratch.data());
      });
    }
  std::printf("[ error ] few rows (K, N) %-7s max %.3g of tolerance\n", target_name().c_str(), worst);
}

// Its blocks depend on K only and are summed in block order, so the output is
// bit-identical for 1, 2, 3 and 4 threads.
TEST_P(Matmul, FewRowsKnThreadCountInvariance) {
  for (int64_t M : {1, 4, 8})
    for (int64_t N : {65, 769, 1030}) {
      const int64_t K = 777;
      const Problem& p = problem(M, K, N, 78);
      std::vector<float> scratch(static_cast<size_t>(few_rows_kn_scratch(K, N)));
      std::vector<std::vector<float>> out;
      for (int threads : {1, 2, 3, 4}) {
        std::vector<float> y(static_cast<size_t>(M * N));
        with_threads(threads, [&] {
          linear(p.x.data(), p.w_kn.data(), p.bias.data(), y.data(), M, K, N, false, scratch.data());
        });
        out.push_back(y);
      }
      for (size_t t = 1; t < out.size(); ++t)
        for (size_t i = 0; i < out[0].size(); ++i)
          ASSERT_EQ(out[t][i], out[0][i]) << p.str() << " thread counts 1 vs " << t + 1 << " at " << i;
    }
}

// ---- 64-column strips (linear_strips) ---------------------------------------------

// pack_strips puts W[k][n] at strip n / 64, row k, column n % 64, from either layout,
// and zeros in the last strip's columns past N.
TEST(Strips, PackLayout) {
  for (int64_t N : {1, 64, 65, 130}) {
    const int64_t K = 3;
    const Problem& p = problem(1, K, N, 90);
    const auto w_nk = p.w_nk();
    const int64_t S = strip_count(N);
    ASSERT_EQ(S, (N + 63) / 64);
    for (bool nk : {false, true}) {
      std::vector<float> out(static_cast<size_t>(S * K * kStripCols), kSentinel);
      pack_strips(nk ? w_nk.data() : p.w_kn.data(), nk, K, N, out.data());
      for (int64_t s = 0; s < S; ++s)
        for (int64_t k = 0; k < K; ++k)
          for (int64_t c = 0; c < kStripCols; ++c) {
            const int64_t n = s * kStripCols + c;
            ASSERT_EQ(out[static_cast<size_t>((s * K + k) * kStripCols + c)], n < N ? p.w_kn[k * N + n] : 0.0f)
                << "N=" << N << (nk ? " from (N, K)" : " from (K, N)") << " strip " << s << " k " << k << " c " << c;
          }
    }
  }
}

// The few-row strips kernel on every target; more rows (lmforge's tiled kernel, which the
// quantized prefill uses too) where this CPU's oneDNN takes the layout (Backend::strips_fast,
// the plan's rule). M = 17 and 64 leave partial 6-row tiles.
TEST_P(Matmul, StripsMatchesReference) {
  double worst = 0;
  uint32_t seed = 3000;
  int primitive_cases = 0;
  const Backend backend;
  for (int64_t M : {1, 2, 3, 4, 5, 8, 9, 17, 64})
    for (int64_t K : {16, 48, 784})
      for (int64_t N : {1, 63, 64, 65, 769}) {
        if (M > kFewRows && !backend.strips_fast(K, N)) continue;
        primitive_cases += M > kFewRows;
        const Problem& p = problem(M, K, N, seed += 3);
        std::vector<float> w(static_cast<size_t>(strip_count(N) * K * kStripCols));
        pack_strips(p.w_kn.data(), false, K, N, w.data());
        check_all(p, "linear_strips", &worst, [&](float* y, const float* bias) {
          linear_strips(p.x.data(), w.data(), bias, y, M, K, N);
        });
      }
  std::printf("[ error ] strips %-7s max %.3g of tolerance (%d cases on the many-row kernel)\n", target_name().c_str(),
              worst, primitive_cases);
}

// Every y element of the strips kernels (few rows and many) is one chain of fused
// multiply-adds in k order whichever thread computes it: bit-identical for 1 to 4 threads.
TEST_P(Matmul, StripsThreadCountInvariance) {
  for (int64_t M : {1, 4, 8, 17, 64})
    for (int64_t N : {65, 769, 1030}) {
      const int64_t K = 208;
      const Problem& p = problem(M, K, N, 79);
      std::vector<float> w(static_cast<size_t>(strip_count(N) * K * kStripCols));
      pack_strips(p.w_kn.data(), false, K, N, w.data());
      std::vector<std::vector<float>> out;
      for (int threads : {1, 2, 3, 4}) {
        std::vector<float> y(static_cast<size_t>(M * N));
        with_threads(threads, [&] { linear_strips(p.x.data(), w.data(), p.bias.data(), y.data(), M, K, N); });
        out.push_back(y);
      }
      for (size_t t = 1; t < out.size(); ++t)
        for (size_t i = 0; i < out[0].size(); ++i)
          ASSERT_EQ(out[t][i], out[0][i]) << p.str() << " thread counts 1 vs " << t + 1 << " at " << i;
    }
}

// ---- pre-pack --------------------------------------------------------------------------

// A float32 tensor of `shape` holding randn(seed), those values also in *values when given.
Tensor random_tensor(const std::vector<int64_t>& shape, uint32_t seed, std::vector<float>* values = nullptr) {
  Tensor t = Tensor::empty(DType::kF32, shape);
  const auto v = randn(static_cast<size_t>(t.numel()), seed);
  std::copy(v.begin(), v.end(), t.mutable_data_as<float>());
  if (values) *values = v;
  return t;
}

// (N, K) linear weights become their (K, N) transpose; (K, N) ones stay in place (same
// memory, no copy); the head (the linear giving the graph's output) stays (N, K) in place,
// here tied to the embedding's table, which is kept for the embedding.
TEST(Prepack, LinearWeightsBecomeKnExceptTheHead) {
  const int64_t C = 5, V = 7;
  Graph g;
  std::vector<float> u_data;
  Tensor table = random_tensor({V, C}, 1), w = random_tensor({C, C}, 2), u = random_tensor({C, C}, 3, &u_data);
  const float* w_mem = w.data_as<float>();
  const float* table_mem = table.data_as<float>();
  const int ids = g.add_input("ids", DType::kI32, {"N"});
  const int tv = g.add_weight("wte", std::move(table));
  const int wv = g.add_weight("w", std::move(w));
  const int uv = g.add_weight("u", std::move(u));
  int x = g.add("embedding", {tv, ids});
  x = g.add("linear", {x, wv}, {{"layout", std::string("kn")}});
  x = g.add("linear", {x, uv}, {{"layout", std::string("nk")}});
  const int logits = g.add("linear", {x, tv}, {{"layout", std::string("nk")}}, "logits");
  g.mark_output(logits);

  EXPECT_EQ(prepack_for_cpu(g, Backend()), 1);
  g.verify();
  std::vector<const Node*> linears;
  for (const Node& n : g.nodes())
    if (n.op == "linear") linears.push_back(&n);
  ASSERT_EQ(linears.size(), 3u);
  EXPECT_EQ(linears[0]->attr_str("layout"), "kn");
  EXPECT_EQ(g.value(linears[0]->inputs[1]).data.data_as<float>(), w_mem) << "a (K, N) weight was copied";
  EXPECT_EQ(linears[1]->attr_str("layout"), "kn");
  const Value& ut = g.value(linears[1]->inputs[1]);
  for (int64_t n = 0; n < C; ++n)
    for (int64_t k = 0; k < C; ++k) EXPECT_EQ(ut.data.data_as<float>()[k * C + n], u_data[n * C + k]);
  EXPECT_EQ(linears[2]->attr_str("layout"), "nk");
  EXPECT_EQ(g.value(linears[2]->inputs[1]).data.data_as<float>(), table_mem) << "the head was copied";
  EXPECT_NE(g.find("wte"), -1) << "the embedding's table was removed";
}

// A float weight that is not 64-byte aligned (as a checkpoint's header may place it)
// becomes an aligned copy with the same values, for every reader (here a tied embedding and
// head); an aligned one stays in place.
TEST(Prepack, MisalignedWeightsBecomeAlignedCopies) {
  const int64_t C = 6, V = 9;
  const auto table_data = randn(static_cast<size_t>(V * C), 4), w_data = randn(static_cast<size_t>(C * C), 5);
  auto buf = std::shared_ptr<float>(static_cast<float*>(alloc_aligned((V * C + C * C + 16) * 4)), free_aligned);
  float* table_at = buf.get() + 2;  // 8 bytes past a 64-byte boundary
  float* w_at = buf.get() + 16 + V * C - (V * C) % 16;  // aligned
  std::copy(table_data.begin(), table_data.end(), table_at);
  std::copy(w_data.begin(), w_data.end(), w_at);
  Graph g;
  const int ids = g.add_input("ids", DType::kI32, {"N"});
  const int tv = g.add_weight("wte", Tensor::borrow(DType::kF32, {V, C}, table_at, buf));
  const int wv = g.add_weight("w", Tensor::borrow(DType::kF32, {C, C}, w_at, buf));
  int x = g.add("embedding", {tv, ids});
  x = g.add("linear", {x, wv}, {{"layout", std::string("kn")}});
  const int logits = g.add("linear", {x, tv}, {{"layout", std::string("nk")}}, "logits");
  g.mark_output(logits);
  EXPECT_EQ(prepack_for_cpu(g, Backend()), 1);
  g.verify();
  const Value& t = g.value(g.find("wte"));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data.data()) % 64, 0u);
  EXPECT_NE(t.data.data_as<float>(), table_at);
  for (int64_t i = 0; i < V * C; ++i) EXPECT_EQ(t.data.data_as<float>()[i], table_data[i]);
  EXPECT_EQ(g.value(g.find("w")).data.data_as<float>(), w_at) << "an aligned weight was copied";
  int readers = 0;  // the embedding and the head still read the (now aligned) table
  for (const Node& n : g.nodes())
    readers += (n.op == "embedding" && n.inputs[0] == g.find("wte")) || (n.op == "linear" && n.inputs[1] == g.find("wte"));
  EXPECT_EQ(readers, 2);
}

// Where oneDNN takes 64-column strips (K % 16 == 0, an AVX-512 CPU), every linear weight
// but the head's becomes strips, from (N, K) and (K, N) alike, with the same values;
// elsewhere the (K, N) rule above holds.
TEST(Prepack, LinearWeightsBecomeStripsWhereOneDnnTakesThem) {
  const int64_t C = 32, V = 70;
  Graph g;
  std::vector<float> w_data;
  Tensor table = random_tensor({V, C}, 6), w = random_tensor({C, V}, 7, &w_data);  // w: (K = 32, N = 70)
  Tensor u = random_tensor({C, V}, 8);  // (N = 32, K = 70) for the "nk" linear
  const int ids = g.add_input("ids", DType::kI32, {"N"});
  const int tv = g.add_weight("wte", std::move(table));
  const int wv = g.add_weight("w", std::move(w));
  const int uv = g.add_weight("u", std::move(u));
  int x = g.add("embedding", {tv, ids});
  x = g.add("linear", {x, wv}, {{"layout", std::string("kn")}});  // (M, 70)
  x = g.add("linear", {x, uv}, {{"layout", std::string("nk")}});  // K = 70: not a multiple of 16
  const int logits = g.add("linear", {x, tv}, {{"layout", std::string("nk")}}, "logits");
  g.mark_output(logits);
  const bool strips = Backend().strips_fast(C, V);
  EXPECT_EQ(prepack_for_cpu(g, Backend()), strips ? 2 : 1);  // w to strips (or left in place); u transposed
  g.verify();
  std::vector<const Node*> linears;
  for (const Node& n : g.nodes())
    if (n.op == "linear") linears.push_back(&n);
  ASSERT_EQ(linears.size(), 3u);
  EXPECT_EQ(linears[1]->attr_str("layout"), "kn");
  EXPECT_EQ(linears[2]->attr_str("layout"), "nk");
  if (!strips) {
    EXPECT_EQ(linears[0]->attr_str("layout"), "kn");
    GTEST_SKIP() << "oneDNN on this CPU does not take 64-column strips";
  }
  ASSERT_EQ(linears[0]->attr_str("layout"), "strips");
  EXPECT_EQ(linears[0]->attr_int("out_features"), V);
  const Tensor& t = g.value(linears[0]->inputs[1]).data;
  ASSERT_EQ(t.shape(), (std::vector<int64_t>{2, C, 64}));
  for (int64_t k = 0; k < C; ++k)
    for (int64_t n = 0; n < 128; ++n)
      ASSERT_EQ(t.data_as<float>()[(n / 64 * C + k) * 64 + n % 64], n < V ? w_data[k * V + n] : 0.0f) << k << " " << n;
}

// ---- fusions of the pre-pack (prepack.h) ------------------------------------------

// x -> linear (q, k, v side by side) -> three split_cols -> attention -> linear -> gelu_tanh
// -> linear -> "y", with the MLP's gelu output also read by `extra` when `gelu_read_twice`.
Graph fusion_graph(bool gelu_read_twice) {
  const int64_t H = 2, D = 8, C = H * D;
  Graph g;
  auto weight = [&](const char* name, int64_t rows, int64_t cols, uint32_t seed) {
    return g.add_weight(name, random_tensor({rows, cols}, seed));
  };
  const int x = g.add_input("x", DType::kF32, {"N", C});
  const int slots = g.add_input("slots", DType::kI32, {"N"});
  const int pos = g.add_input("positions", DType::kI32, {"N"});
  const int kc = g.add_state("k", DType::kF32, {"SLOTS", H, "S", D});
  const int vc = g.add_state("v", DType::kF32, {"SLOTS", H, "S", D});
  const int qkv = g.add("linear", {x, weight("w1", C, 3 * C, 11)}, {{"layout", std::string("kn")}});
  const int q = g.add("split_cols", {qkv}, {{"begin", int64_t{0}}, {"end", C}});
  const int k = g.add("split_cols", {qkv}, {{"begin", C}, {"end", 2 * C}});
  const int v = g.add("split_cols", {qkv}, {{"begin", 2 * C}, {"end", 3 * C}});
  const int a = g.add("attention", {q, k, v, kc, vc, slots, pos},
                      {{"heads", H}, {"kv_heads", H}, {"head_dim", D}, {"scale", 0.35}});
  const int h = g.add("linear", {a, weight("w2", C, 4 * C, 12)}, {{"layout", std::string("kn")}});
  const int act = g.add("gelu_tanh", {h});
  const int y = g.add("linear", {act, weight("w3", 4 * C, C, 13)}, {{"layout", std::string("kn")}}, "y");
  g.mark_output(y);
  if (gelu_read_twice) g.mark_output(g.add("add", {h, h}, {}, "extra"));
  return g;
}

// The plan of fusion_graph: the gelu is the MLP linear's fused_act and the attention reads
// the c_attn output packed (no gelu_tanh or split_cols nodes); its output matches the
// unfused, unpacked graph's (prepack off) for a few-row and a many-row prompt (on AVX-512
// CPUs the few-row and the many-row strips kernels, the gelu in the latter's epilogue).
TEST(Prepack, FusedGeluAndPackedQkvMatchTheUnfusedGraph) {
  for (int64_t n : {5, 12}) {
    std::vector<float> outs[2];
    for (int fused = 0; fused < 2; ++fused) {
      PlanOptions o;
      o.max_tokens = o.max_rows = 16, o.cache_len = 32, o.prepack = fused == 1;
      Executor e(fusion_graph(false), o);
      int ops = 0;
      for (const Node& node : e.graph().nodes()) ops += node.op == "gelu_tanh" || node.op == "split_cols";
      EXPECT_EQ(ops, fused ? 0 : 4);
      if (fused)
        for (const Node& node : e.graph().nodes()) {
          if (node.op == "attention") EXPECT_EQ(node.attr_str("qkv"), "packed");
          if (node.op == "linear" && e.graph().value(node.outputs[0]).shape[1] == Dim(int64_t{64}))
            EXPECT_EQ(node.attr_str("fused_act"), "gelu_tanh");
        }
      const auto xs = randn(static_cast<size_t>(n * 16), 21);
      std::copy(xs.begin(), xs.end(), e.input_f32("x"));
      for (int64_t t = 0; t < n; ++t) e.input_i32("slots")[t] = 0, e.input_i32("positions")[t] = static_cast<int32_t>(t);
      e.run(n, 1);
      const auto* y = static_cast<const float*>(e.data(e.graph().find("y")));
      outs[fused].assign(y, y + n * 16);
    }
    double worst = 0, scale = 0;
    for (size_t i = 0; i < outs[0].size(); ++i)
      worst = std::max(worst, std::fabs(double{outs[1][i]} - outs[0][i])), scale = std::max(scale, std::fabs(double{outs[0][i]}));
    EXPECT_LE(worst, 1e-5 * scale) << n << " tokens";
  }
}

// Three ropes on the positions, two with one (head_dim, theta) and one with another theta,
// and a fourth on other positions: the two share a rope_table made by the plan's first
// node; the others (alone in their group) keep computing their angles. The output is
// bit-identical to the graph without the pre-pack.
TEST(Prepack, RopesSharingPositionsReadOneTable) {
  auto build = [] {
    Graph g;
    const int x = g.add_input("x", DType::kF32, {"N", 24});
    const int pos = g.add_input("positions", DType::kI32, {"N"});
    const int pos2 = g.add_input("positions2", DType::kI32, {"N"});
    auto rope = [&](int in, int p, int64_t heads, double theta) {
      return g.add("rope", {in, p}, {{"heads", heads}, {"head_dim", int64_t{8}}, {"theta", theta}});
    };
    const int a = rope(x, pos, 3, 10000.0);
    const int b = rope(a, pos, 3, 10000.0);
    const int c = rope(b, pos, 3, 500000.0);
    g.mark_output(g.add("add", {rope(c, pos2, 3, 10000.0), x}, {}, "y"));
    return g;
  };
  Graph g = build();
  prepack_for_cpu(g, Backend());
  g.verify();
  ASSERT_EQ(g.nodes()[0].op, "rope_table");
  int tables = 0, with_table = 0;
  for (const Node& n : g.nodes()) {
    tables += n.op == "rope_table";
    with_table += n.op == "rope" && n.has_attr("angles");
  }
  EXPECT_EQ(tables, 1);
  EXPECT_EQ(with_table, 2);
  std::vector<float> outs[2];
  for (int shared = 0; shared < 2; ++shared) {
    PlanOptions o;
    o.max_tokens = o.max_rows = 16, o.cache_len = 16, o.prepack = shared == 1;
    Executor e(build(), o);
    const int64_t n = 11;
    const auto xs = randn(static_cast<size_t>(n * 24), 23);
    std::copy(xs.begin(), xs.end(), e.input_f32("x"));
    for (int64_t t = 0; t < n; ++t)
      e.input_i32("positions")[t] = static_cast<int32_t>(7 * t + 1), e.input_i32("positions2")[t] = static_cast<int32_t>(t);
    e.run(n, 1);
    const auto* y = static_cast<const float*>(e.data(e.graph().find("y")));
    outs[shared].assign(y, y + n * 24);
  }
  EXPECT_EQ(outs[0], outs[1]);
}

// A gelu whose input something else reads too stays a node of its own.
TEST(Prepack, GeluWhoseInputHasOtherReadersIsNotFused) {
  Graph g = fusion_graph(true);
  prepack_for_cpu(g, Backend());
  g.verify();
  int gelus = 0;
  for (const Node& n : g.nodes()) {
    gelus += n.op == "gelu_tanh";
    EXPECT_FALSE(n.has_attr("fused_act")) << n.op;
  }
  EXPECT_EQ(gelus, 1);
}

}  // namespace
}  // namespace lmf::cpu

// Tests for the float32 CPU kernels (src/backend/cpu/kernels.h) against plain scalar
// double-precision references, on every Highway target compiled in and supported by
// this CPU (each TEST_P runs once per target), plus thread-count invariance.
//
// Errors are measured relative to the reference's scale, per element:
//   err = |y - ref| / scale, scale = the magnitude of the terms that make up ref
// (e.g. |xhat * g| + |b| for layer_norm, sum_s p_s |v_s| for attention), so cancellation
// in the reference does not turn rounding noise into a large relative error. Each test
// prints its measured maximum ("[ error ] kernel target: max ...") and the tolerance it
// checks; figures measured on an AMD EPYC (AVX-512) are noted next to each tolerance.
#include "support/cpu_test.h"
#include "backend/cpu/kernels.h"

#include <gtest/gtest.h>
#include <hwy/targets.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace lmf::cpu {
namespace {

using test::randn;
using test::target_name;
using test::targets_to_test;
using test::uniform;
using test::with_threads;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const std::vector<int64_t> kSizes = {1, 3, 17, 63, 64, 65, 127, 768, 1000};



// Largest err = |got - ref| / scale seen, with where it happened.
struct MaxErr {
  double max = 0.0;
  std::string where;
  void add(double got, double ref, double scale, const std::string& at = "") {
    const double err = scale > 0 ? std::fabs(got - ref) / scale : std::fabs(got - ref);
    if (!(err <= max)) {  // also records NaN
      max = err;
      where = at;
    }
  }
};


// Prints the measured maximum; tol < 0 marks a figure reported for information only.
void report(const char* kernel, const MaxErr& e, double tol) {
  char t[32] = "information only";
  if (tol >= 0) std::snprintf(t, sizeof t, "tolerance %.0e", tol);
  std::printf("[ error ] %-15s %-7s max %.3g (%s)%s%s\n", kernel, target_name().c_str(), e.max,
              t, e.where.empty() ? "" : " at ", e.where.c_str());
}


class Kernels : public test::PerTarget {};

INSTANTIATE_TEST_SUITE_P(Targets, Kernels, ::testing::ValuesIn(test::targets_to_test()), test::target_param_name);

// Which targets the per-target tests (test::PerTarget) run on this machine, listed in the
// log, and that it is every compiled one the CPU has: the CPU's features are read here
// with the compiler's __builtin_cpu_supports, not Highway's detection, so AVX2 and the
// scalar fallback run on an AVX-512 machine too, and AVX-512 runs where the CPU has it.
// LMF_TEST_SIMD (test::required_simd) names targets a CI machine must run.
TEST(KernelsSetup, ReportsTargets) {
  const int64_t compiled = kernel_simd_targets();
  int64_t run = 0;
  for (int64_t t : targets_to_test()) run |= t;
  std::printf("[ simd  ] compiled: %s; targets run: %s; compiled, not on this CPU: %s\n",
              test::target_names(compiled).c_str(), test::target_names(run).c_str(),
              test::target_names(compiled & ~run).c_str());
  EXPECT_NE(run, 0);
  const int64_t fallback = compiled & (HWY_SCALAR | HWY_EMU128);
#if HWY_ARCH_X86  // (aarch64's baseline is NEON: Highway compiles no fallback below it)
  EXPECT_NE(fallback, 0) << "no scalar fallback compiled";
#endif
  EXPECT_EQ(run & fallback, fallback) << "the scalar fallback does not run";
#if HWY_ARCH_X86
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
  const bool avx3 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (__builtin_cpu_supports("sse4.2") && (compiled & HWY_SSE4)) EXPECT_TRUE(run & HWY_SSE4) << "SSE4 does not run";
  if (avx2 && (compiled & HWY_AVX2)) EXPECT_TRUE(run & HWY_AVX2) << "the CPU has AVX2, the tests do not run it";
  if (avx3 && (compiled & HWY_AVX3)) EXPECT_TRUE(run & HWY_AVX3) << "the CPU has AVX-512, the tests do not run it";
#endif
  for (const std::string& want : test::required_simd()) {
    bool highway = false, ran = false, in = false;
    for (int bit = 0; bit < 63; ++bit)
      if (want == hwy::TargetName(int64_t{1} << bit)) highway = true, ran = run & (int64_t{1} << bit), in = compiled & (int64_t{1} << bit);
    // (a target only the quantized kernels compile, AVX3_DL: QMatmulPaths checks it)
    if (highway && in) EXPECT_TRUE(ran) << "LMF_TEST_SIMD names " << want << ", which does not run here";
    else EXPECT_TRUE(want == "VNNI" || want == "BF16" || want == "PAIR") << "LMF_TEST_SIMD: unknown path " << want;
  }
  // Dispatch follows the mask each per-target test sets.
  for (int64_t t : targets_to_test()) {
    hwy::SetSupportedTargetsForTest(t);
    EXPECT_EQ(target_name(), hwy::TargetName(t));
    hwy::SetSupportedTargetsForTest(0);
  }
}

// ---- elementwise ---------------------------------------------------------------------

TEST_P(Kernels, AddIsExact) {
  for (int64_t n : kSizes) {
    const auto a = randn(n, 1), b = randn(n, 2);
    std::vector<float> y(n);
    add(a.data(), b.data(), y.data(), n);
    auto inplace = a;
    add(inplace.data(), b.data(), inplace.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(y[i], a[i] + b[i]) << "n=" << n << " i=" << i;  // IEEE add is exact-rounded
      ASSERT_EQ(inplace[i], y[i]);
    }
  }
}

TEST_P(Kernels, AddBiasIsExact) {
  for (int64_t rows : {1, 3, 7}) {
    for (int64_t cols : kSizes) {
      const auto y0 = randn(rows * cols, 3), bias = randn(cols, 4);
      auto y = y0;
      add_bias(y.data(), bias.data(), rows, cols);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          ASSERT_EQ(y[r * cols + c], y0[r * cols + c] + bias[c]) << rows << "x" << cols;
        }
      }
    }
  }
}

double gelu_ref(double x) {
  // 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)); the second form has no cancellation for
  // x < 0 (checked equal to the first below where the first is accurate).
  const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}

// Inputs covering both tails densely, every test size, and odd lengths for the tails.
std::vector<float> activation_inputs() {
  std::vector<float> x = uniform(200003, 5, -12.0f, 12.0f);
  const auto y = randn(1001, 6, 0.0f, 3.0f);
  x.insert(x.end(), y.begin(), y.end());
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, -20.0f, 100.0f, -100.0f, 1e20f, -1e20f}) {
    x.push_back(v);
  }
  return x;
}

TEST_P(Kernels, GeluTanhMatchesReference) {
  for (double x = -5.0; x <= 5.0; x += 0.01) {  // the reference's identity
    const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
    ASSERT_NEAR(gelu_ref(x), 0.5 * x * (1.0 + std::tanh(u)), 1e-14);
  }
  const auto x = activation_inputs();
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(n);
  gelu_tanh(x.data(), y.data(), n);
  // Relative error per element where the value is a normal float. For x >= -3 plain
  // relative error. In the negative tail gelu is ill-conditioned: its condition number
  // kappa = |x f'(x) / f(x)| reaches ~230 at x = -10 (value ~1e-37), so the float
  // rounding of the exp argument (~2 ulp, in any float32 evaluation) becomes up to ~1e-5
  // relative; there the error is measured relative to |ref| * max(1, kappa), i.e. in
  // units of what a relative change of x by the same amount would do.
  // Measured: 6.9e-7 (AVX3), 7.7e-7 (SCALAR) for x >= -3; 3.0e-7 kappa-scaled. (The
  // float tanh form 0.5x(1 + tanhf(u)) measures 1.3e-5 at x = -3 from the cancellation.)
  MaxErr near, all;
  for (int64_t i = 0; i < n; ++i) {
    const double xd = x[i], ref = gelu_ref(xd);
    ASSERT_TRUE(std::isfinite(y[i])) << x[i];
    if (std::fabs(ref) < 1e-37) {  // below float's normal range (x < -10): -0 or denormal
      ASSERT_LE(std::fabs(y[i]), 1e-37) << x[i];
      continue;
    }
    const double z = std::sqrt(8.0 / M_PI) * (xd + 0.044715 * xd * xd * xd);  // 2u
    const double sig = 1.0 / (1.0 + std::exp(-z));
    const double kappa =
        std::fabs(1.0 + xd * (1.0 - sig) * std::sqrt(8.0 / M_PI) * (1.0 + 3 * 0.044715 * xd * xd));
    all.add(y[i], ref, std::fabs(ref) * std::max(1.0, kappa), "x=" + std::to_string(x[i]));
    if (x[i] >= -3.0f) near.add(y[i], ref, std::fabs(ref), "x=" + std::to_string(x[i]));
  }
  report("gelu x>=-3", near, 1e-6);
  report("gelu/kappa", all, 1e-6);
  EXPECT_LE(near.max, 1e-6);
  EXPECT_LE(all.max, 1e-6);
  // Odd sizes and in place give the same bits as the long run (same code for tails).
  for (int64_t m : kSizes) {
    std::vector<float> part(x.begin(), x.begin() + m);
    gelu_tanh(part.data(), part.data(), m);
    ASSERT_EQ(0, std::memcmp(part.data(), y.data(), m * sizeof(float))) << "n=" << m;
  }
}

TEST_P(Kernels, SiluMulMatchesReference) {
  const auto g = activation_inputs();
  const int64_t n = static_cast<int64_t>(g.size());
  const auto u = randn(n, 7);
  std::vector<float> y(n);
  silu_mul(g.data(), u.data(), y.data(), n);
  // exp (1 ulp; -g is exact), add, divide, multiply: a few ulp. Measured: 1.7e-7 on
  // every target.
  MaxErr e;
  for (int64_t i = 0; i < n; ++i) {
    const double gd = g[i];
    const double ref = gd / (1.0 + std::exp(-gd)) * u[i];
    ASSERT_TRUE(std::isfinite(y[i])) << g[i];
    if (std::fabs(ref) < 1e-37) {  // g < -80: result -0 or denormal
      ASSERT_LE(std::fabs(y[i]), 1e-37) << g[i];
      continue;
    }
    e.add(y[i], ref, std::fabs(ref), "g=" + std::to_string(g[i]));
  }
  report("silu_mul", e, 1e-6);
  EXPECT_LE(e.max, 1e-6);
  for (int64_t m : kSizes) {  // y aliasing gate
    std::vector<float> part(g.begin(), g.begin() + m);
    silu_mul(part.data(), u.data(), part.data(), m);
    ASSERT_EQ(0, std::memcmp(part.data(), y.data(), m * sizeof(float))) << "n=" << m;
  }
}

// ---- norms and softmax ---------------------------------------------------------------

TEST_P(Kernels, LayerNormMatchesReference) {
  // Float sums of <= 1000 terms over 4 vector accumulators and a two-pass variance:
  // errors ~ a few ulp of the output's terms. Measured: 2.0e-7 on every target.
  // Relative to |xhat*g| + |b| alone: 3.2e-5, from rows with mean 100 and std 2, where
  // the float mean itself is off by up to ulp(100)/2 = 3.8e-6.
  MaxErr e, e_terms;
  for (int64_t rows : {1, 3, 7}) {
    for (int64_t cols : kSizes) {
      // A large common offset checks the two-pass variance.
      const auto x = randn(rows * cols, 10 + cols, rows == 3 ? 100.0f : 0.5f, 2.0f);
      const auto g = randn(cols, 11, 1.0f, 0.5f), b = randn(cols, 12);
      const float eps = 1e-5f;
      std::vector<float> y(rows * cols);
      layer_norm(x.data(), g.data(), b.data(), y.data(), rows, cols, eps);
      auto inplace = x;
      layer_norm(inplace.data(), g.data(), b.data(), inplace.data(), rows, cols, eps);
      ASSERT_EQ(0, std::memcmp(inplace.data(), y.data(), y.size() * sizeof(float)));
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * cols;
        double mean = 0, var = 0;
        for (int64_t c = 0; c < cols; ++c) mean += xr[c];
        mean /= cols;
        for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
        var /= cols;
        const double rstd = 1.0 / std::sqrt(var + eps);
        for (int64_t c = 0; c < cols; ++c) {
          // Terms x*rstd*g, mean*rstd*g, b: float x itself is only known to half an ulp,
          // which moves y by ulp(x)*rstd*|g| however y is computed.
          const double term = (xr[c] - mean) * rstd * g[c];
          const double scale =
              (std::fabs(xr[c]) + std::fabs(mean)) * rstd * std::fabs(g[c]) + std::fabs(b[c]);
          e.add(y[r * cols + c], term + b[c], scale,
                std::to_string(rows) + "x" + std::to_string(cols));
          e_terms.add(y[r * cols + c], term + b[c], std::fabs(term) + std::fabs(b[c]) + 1e-30);
        }
      }
    }
  }
  report("layer_norm", e, 1e-5);
  report("ln |xhat g|+|b|", e_terms, -1);
  EXPECT_LE(e.max, 1e-5);
}

TEST_P(Kernels, RmsNormMatchesReference) {
  // A float sum of squares (<= 1000 terms, 4 accumulators), then products: a few ulp.
  // Measured: 1.9e-7 (AVX3), 3.2e-7 (SCALAR).
  MaxErr e;
  for (int64_t rows : {1, 3, 7}) {
    for (int64_t cols : kSizes) {
      const auto x = randn(rows * cols, 20 + cols, 0.0f, rows == 3 ? 30.0f : 1.0f);
      const auto g = randn(cols, 21, 1.0f, 0.5f);
      const float eps = 1e-6f;
      std::vector<float> y(rows * cols);
      rms_norm(x.data(), g.data(), y.data(), rows, cols, eps);
      auto inplace = x;
      rms_norm(inplace.data(), g.data(), inplace.data(), rows, cols, eps);
      ASSERT_EQ(0, std::memcmp(inplace.data(), y.data(), y.size() * sizeof(float)));
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * cols;
        double ms = 0;
        for (int64_t c = 0; c < cols; ++c) ms += double(xr[c]) * xr[c];
        const double rstd = 1.0 / std::sqrt(ms / cols + eps);
        for (int64_t c = 0; c < cols; ++c) {
          const double ref = xr[c] * rstd * g[c];
          e.add(y[r * cols + c], ref, std::fabs(ref) + 1e-30,
                std::to_string(rows) + "x" + std::to_string(cols));
        }
      }
    }
  }
  report("rms_norm", e, 1e-5);
  EXPECT_LE(e.max, 1e-5);
}

TEST_P(Kernels, SoftmaxMatchesReference) {
  // Per element relative: exp (1 ulp) of x - max (rounded: |x - max| * 0.5 ulp), a
  // float sum and a reciprocal. Measured: 1.2e-6 (AVX3), 1.6e-6 (SCALAR).
  MaxErr e;
  for (int64_t rows : {1, 3, 7}) {
    for (int64_t cols : kSizes) {
      auto x = randn(rows * cols, 30 + cols, 0.0f, 3.0f);
      if (rows == 3) {
        for (float& v : x) v += 1000.0f;  // large logits: needs the max shift
      }
      if (rows == 7 && cols > 1) {
        for (int64_t c = 0; c < cols; c += 2) x[c] = -kInf;  // masked entries of row 0
      }
      auto y = x;
      softmax(y.data(), rows, cols);
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * cols;
        double m = -kInf, sum = 0;
        for (int64_t c = 0; c < cols; ++c) m = std::max<double>(m, xr[c]);
        for (int64_t c = 0; c < cols; ++c) sum += std::exp(xr[c] - m);
        for (int64_t c = 0; c < cols; ++c) {
          const double ref = std::exp(xr[c] - m) / sum;
          if (ref == 0.0) {
            ASSERT_EQ(y[r * cols + c], 0.0f);
            continue;
          }
          e.add(y[r * cols + c], ref, ref, std::to_string(rows) + "x" + std::to_string(cols));
        }
      }
    }
  }
  report("softmax", e, 1e-5);
  EXPECT_LE(e.max, 1e-5);
}

// ---- RoPE ----------------------------------------------------------------------------

// Rope inputs: T tokens of nheads heads of D (rows padded by `pad` floats), positions
// 3t + 7 but one at 4000; D = 80 has halves that are not a multiple of 16 floats.
struct RopeShape { int64_t T, nheads, D, pad; float theta; };
struct RopeCase {
  RopeShape s;
  int64_t stride;
  std::vector<float> x0;
  std::vector<int32_t> pos;
};
std::vector<RopeCase> rope_cases() {
  std::vector<RopeCase> out;
  for (const RopeShape s : {RopeShape{1, 1, 2, 0, 10000.0f}, RopeShape{3, 2, 6, 5, 10000.0f},
                            RopeShape{37, 4, 64, 7, 10000.0f}, RopeShape{5, 3, 34, 0, 500000.0f},
                            RopeShape{5, 3, 80, 0, 500000.0f}, RopeShape{2, 2, 128, 1, 10000.0f},
                            RopeShape{2, 1, 600, 3, 1e6f}}) {
    RopeCase c{s, s.nheads * s.D + s.pad, {}, std::vector<int32_t>(static_cast<size_t>(s.T))};
    c.x0 = randn(s.T * c.stride, 40 + static_cast<uint32_t>(s.D));
    for (int64_t t = 0; t < s.T; ++t) c.pos[t] = static_cast<int32_t>(t == 1 ? 4000 : 3 * t + 7);
    out.push_back(std::move(c));
  }
  return out;
}

TEST_P(Kernels, RopeMatchesReference) {
  // cos/sin exact to float rounding, then 2 products and a sum: ~2 ulp of the pair's
  // magnitude. Measured: 1.2e-7 on every target.
  MaxErr e;
  for (const auto& [s, stride, x0, pos] : rope_cases()) {
    auto x = x0;
    rope(x.data(), s.T, stride, s.nheads, s.D, pos.data(), s.theta);
    const int64_t half = s.D / 2;
    for (int64_t t = 0; t < s.T; ++t) {
      for (int64_t c = s.nheads * s.D; c < stride; ++c) {
        ASSERT_EQ(x[t * stride + c], x0[t * stride + c]) << "padding written";
      }
      for (int64_t h = 0; h < s.nheads; ++h) {
        const float* a = x0.data() + t * stride + h * s.D;
        const float* got = x.data() + t * stride + h * s.D;
        for (int64_t i = 0; i < half; ++i) {
          const double ang = pos[t] * std::pow(double(s.theta), -2.0 * i / s.D);
          const double x1 = a[i], x2 = a[i + half];
          const double scale = std::fabs(x1) + std::fabs(x2);
          const std::string at = "D=" + std::to_string(s.D) + " pos=" + std::to_string(pos[t]);
          e.add(got[i], x1 * std::cos(ang) - x2 * std::sin(ang), scale, at);
          e.add(got[i + half], x2 * std::cos(ang) + x1 * std::sin(ang), scale, at);
        }
      }
    }
  }
  report("rope", e, 1e-6);
  EXPECT_LE(e.max, 1e-6);
}

// rope_table + rope_with_table give rope()'s bits, into another buffer (padding left as
// it was) and in place.
TEST_P(Kernels, RopeWithTableIsBitIdenticalToRope) {
  for (const auto& [s, stride, x0, pos] : rope_cases()) {
    auto want = x0;
    rope(want.data(), s.T, stride, s.nheads, s.D, pos.data(), s.theta);
    std::vector<float> table(s.T * s.D);
    rope_table(pos.data(), s.T, s.D, s.theta, table.data());
    const float sentinel = -12345.0f;
    std::vector<float> y(x0.size(), sentinel);
    rope_with_table(x0.data(), y.data(), s.T, stride, s.nheads, s.D, table.data());
    auto in_place = x0;
    rope_with_table(in_place.data(), in_place.data(), s.T, stride, s.nheads, s.D, table.data());
    for (int64_t t = 0; t < s.T; ++t)
      for (int64_t c = 0; c < stride; ++c) {
        const size_t i = static_cast<size_t>(t * stride + c);
        const std::string at = "D=" + std::to_string(s.D) + " t=" + std::to_string(t) + " c=" + std::to_string(c);
        if (c >= s.nheads * s.D) {
          ASSERT_EQ(y[i], sentinel) << "padding written at " << at;
          continue;
        }
        ASSERT_EQ(y[i], want[i]) << at;
        ASSERT_EQ(in_place[i], want[i]) << "in place, " << at;
      }
  }
}

// ---- attention -----------------------------------------------------------------------

// out row (D) for query q at position p over k, v (p + 1, D), in double.
std::vector<double> attention_ref(const float* q, const float* k, const float* v, int64_t D,
                                  int64_t p, double scale, std::vector<double>* abs_scale) {
  std::vector<double> s(p + 1), out(D, 0.0);
  double m = -INFINITY, sum = 0;
  for (int64_t j = 0; j <= p; ++j) {
    double dot = 0;
    for (int64_t i = 0; i < D; ++i) dot += double(q[i]) * k[j * D + i];
    s[j] = dot * scale;
    m = std::max(m, s[j]);
  }
  for (int64_t j = 0; j <= p; ++j) sum += (s[j] = std::exp(s[j] - m));
  abs_scale->assign(D, 0.0);
  for (int64_t j = 0; j <= p; ++j) {
    for (int64_t i = 0; i < D; ++i) {
      out[i] += s[j] / sum * v[j * D + i];
      (*abs_scale)[i] += s[j] / sum * std::fabs(v[j * D + i]);
    }
  }
  return out;
}

// H query heads sharing one kv head (GQA), q and out rows strided wider than H*D.
void check_attention(int64_t T, int64_t D, int64_t pos0, MaxErr* e) {
  const int64_t H = 3, S = pos0 + T;
  const int64_t q_stride = H * D + 7, out_stride = H * D + 3;
  const auto q = randn(T * q_stride, 50 + D, 0.0f, 1.0f);
  const auto k = randn(S * D, 51 + D), v = randn(S * D, 52 + D, 0.5f, 1.0f);
  const float sentinel = 12345.0f;
  std::vector<float> out(T * out_stride, sentinel);
  const int64_t need = attention_head_scratch(S, D);
  std::vector<float> scratch(need + 16, sentinel);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  for (int64_t h = 0; h < H; ++h) {
    attention_head(q.data() + h * D, q_stride, k.data(), v.data(), out.data() + h * D, out_stride,
                   T, D, pos0, scale, scratch.data());
  }
  for (int64_t i = need; i < need + 16; ++i) ASSERT_EQ(scratch[i], sentinel) << "scratch overrun";
  std::vector<double> abs_scale;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t c = H * D; c < out_stride; ++c) {
      ASSERT_EQ(out[t * out_stride + c], sentinel) << "out padding written";
    }
    for (int64_t h = 0; h < H; ++h) {
      const auto ref = attention_ref(q.data() + t * q_stride + h * D, k.data(), v.data(), D,
                                     pos0 + t, scale, &abs_scale);
      for (int64_t i = 0; i < D; ++i) {
        e->add(out[t * out_stride + h * D + i], ref[i], abs_scale[i],
               "T=" + std::to_string(T) + " D=" + std::to_string(D) + " pos0=" +
                   std::to_string(pos0));
      }
    }
  }
  // In place (out = q, same stride) gives the same bits.
  auto qo = q;
  for (int64_t h = 0; h < H; ++h) {
    attention_head(qo.data() + h * D, q_stride, k.data(), v.data(), qo.data() + h * D, q_stride, T,
                   D, pos0, scale, scratch.data());
  }
  for (int64_t t = 0; t < T; ++t) {
    ASSERT_EQ(0, std::memcmp(qo.data() + t * q_stride, out.data() + t * out_stride,
                             H * D * sizeof(float)));
  }
}

TEST_P(Kernels, AttentionHeadMatchesReference) {
  // Dot products over D and sums over up to 1100 rows in float, scores ~ N(0, 1):
  // error relative to sum_s p_s |v_s|. Measured: 1.0e-6 (AVX3), 1.1e-6 (SCALAR).
  MaxErr e;
  for (int64_t D : {1, 3, 17, 64, 80, 128}) {
    for (int64_t T : {1, 37}) {
      for (int64_t pos0 : {0, 1, 63, 1000}) {
        if (D == 128 && pos0 == 1000 && T == 37) continue;  // keep the test fast
        check_attention(T, D, pos0, &e);
        if (HasFatalFailure()) return;
      }
    }
  }
  report("attention_head", e, 1e-5);
  EXPECT_LE(e.max, 1e-5);
}

TEST_P(Kernels, AttentionHeadSharpScores) {
  // Large scores (|q.k| * scale up to ~100): the max shift keeps exp finite and a
  // dominant key wins; out equals its v row to float rounding.
  const int64_t D = 64, S = 300;
  auto k = randn(S * D, 60), v = randn(S * D, 61);
  std::vector<float> q(D);
  for (int64_t i = 0; i < D; ++i) q[i] = 10.0f * k[123 * D + i];
  std::vector<float> out(D), scratch(attention_head_scratch(S, D));
  attention_head(q.data(), D, k.data(), v.data(), out.data(), D, 1, D, S - 1, 1.0f,
                 scratch.data());
  for (int64_t i = 0; i < D; ++i) ASSERT_NEAR(out[i], v[123 * D + i], 1e-6) << i;
}

TEST_P(Kernels, ExpNonPositiveMatchesStdExp) {
  // A sweep over [-90, 0] (an odd count: the tail path too), then the edges.
  const int64_t n = 90001;
  std::vector<float> x(n), y(n);
  for (int64_t i = 0; i < n; ++i) x[i] = -90.0f * static_cast<float>(i) / static_cast<float>(n - 1);
  exp_nonpositive(x.data(), y.data(), n);
  double near = 0, far = 0;  // largest relative error on [-20, 0] and on [-87, -20)
  for (int64_t i = 0; i < n; ++i) {
    const double ref = std::exp(static_cast<double>(x[i]));
    if (x[i] < -88.0f) {
      ASSERT_EQ(y[i], 0.0f) << "x=" << x[i];
    } else if (x[i] < -87.0f) {  // the edge of float's normal range: 0 or a tiny value
      ASSERT_LE(y[i], 1.7e-38f) << "x=" << x[i];
    } else {
      const double rel = std::fabs(y[i] - ref) / ref;
      (x[i] >= -20.0f ? near : far) = std::max(x[i] >= -20.0f ? near : far, rel);
    }
  }
  std::printf("[ error ] exp_nonpositive %-7s max rel %.3g on [-20, 0], %.3g on [-87, -20)\n",
              target_name().c_str(), near, far);
  EXPECT_LE(near, 2.4e-7);  // two float ulps; measured 7.4e-8 (AVX3), 9.1e-8 (SCALAR)
  EXPECT_LE(far, 2.4e-7);
  std::vector<float> edge = {0.0f, -0.0f, -1e-30f, -HUGE_VALF, -100.0f, std::nanf("")}, out(edge.size());
  exp_nonpositive(edge.data(), out.data(), static_cast<int64_t>(edge.size()));
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 1.0f);
  EXPECT_EQ(out[2], 1.0f);
  EXPECT_EQ(out[3], 0.0f);
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_TRUE(std::isnan(out[5]));
  exp_nonpositive(x.data(), x.data(), n);  // in place
  EXPECT_EQ(0, std::memcmp(x.data(), y.data(), n * sizeof(float)));
}

// ---- argmax --------------------------------------------------------------------------

TEST_P(Kernels, Argmax) {
  for (int64_t n : {1, 3, 17, 63, 64, 65, 127, 768, 1000, 50257}) {
    auto x = randn(n, 70 + n);
    const int64_t expect = std::max_element(x.begin(), x.end()) - x.begin();
    ASSERT_EQ(argmax(x.data(), n), expect) << n;
    // Ties: the first wins, wherever it sits relative to the vector lanes.
    for (int64_t first : {int64_t{0}, n / 3, n - 1}) {
      auto y = x;
      y[first] = 100.0f;
      for (int64_t j = first + 1; j < n; j += 7) y[j] = 100.0f;
      ASSERT_EQ(argmax(y.data(), n), first) << n;
    }
    auto neg = x;
    for (float& v : neg) v = -std::fabs(v) - 1.0f;
    ASSERT_EQ(argmax(neg.data(), n),
              std::max_element(neg.begin(), neg.end()) - neg.begin());
  }
  std::vector<float> odd = {kNaN, -kInf, 3.0f, kNaN, 7.0f, 7.0f, -kInf};
  EXPECT_EQ(argmax(odd.data(), 7), 4);  // NaNs skipped
  std::vector<float> infs(70, -kInf);
  EXPECT_EQ(argmax(infs.data(), 70), 0);
  infs[69] = kInf;
  infs[40] = kNaN;
  EXPECT_EQ(argmax(infs.data(), 70), 69);
  std::vector<float> nans(33, kNaN);
  EXPECT_EQ(argmax(nans.data(), 33), 0);
  EXPECT_EQ(argmax(nans.data(), 0), -1);
}

// ---- threads -------------------------------------------------------------------------

// Runs every threaded kernel on shapes above the parallel threshold.
std::vector<float> run_threaded_kernels(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  const int64_t rows = 257, cols = 1001, n = rows * cols;
  const auto x = randn(n, 80), g = randn(cols, 81), b = randn(cols, 82), u = randn(n, 83);
  std::vector<float> all, y(n);
  const auto keep = [&] { all.insert(all.end(), y.begin(), y.end()); };
  layer_norm(x.data(), g.data(), b.data(), y.data(), rows, cols, 1e-5f); keep();
  rms_norm(x.data(), g.data(), y.data(), rows, cols, 1e-5f); keep();
  gelu_tanh(x.data(), y.data(), n); keep();
  silu_mul(x.data(), u.data(), y.data(), n); keep();
  add(x.data(), u.data(), y.data(), n); keep();
  y = x; add_bias(y.data(), b.data(), rows, cols); keep();
  y = x; softmax(y.data(), rows, cols); keep();
  std::vector<int32_t> pos(rows);
  for (int64_t t = 0; t < rows; ++t) pos[t] = static_cast<int32_t>(5 * t);
  y = x; rope(y.data(), rows, cols, 7, 142, pos.data(), 10000.0f); keep();
  omp_set_num_threads(saved);
  return all;
}

TEST_P(Kernels, ThreadCountInvariance) {
  const auto one = run_threaded_kernels(1);
  const auto two = run_threaded_kernels(2);
  const auto four = run_threaded_kernels(4);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(one.data(), four.data(), one.size() * sizeof(float)));
}

}  // namespace
}  // namespace lmf::cpu

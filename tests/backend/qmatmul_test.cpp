// Tests for the quantized-weight matmul (src/backend/cpu/qmatmul.h): linear_q on both
// paths (up to kQStripRows rows: the strip kernel; more: dequantize + sgemm) and embedding_q,
// against a float64 reference of the dequantized computation y = x · ((q - z) s) + b, for
// 3 (held as 4-bit strips), 4 and 8 bits, every group size, odd K/N shapes, on every Highway target compiled in
// and supported here, with 1 and 2 threads, in 16-column strips and (4-bit) wide ones; and
// few-row results independent of the thread count.
//
// Error per element is relative to the scale of its terms, sum_k |x_k| |w_k| + |b|; the
// tolerance allows float32 accumulation in any order plus the split of each group's
// sum into s * sum(x q) - z s * sum(x) (both sums exact to float32 rounding): 4 (K + 2) u
// relative to sum_k |x_k| (|q_k| + |z|) s, u = 2^-24. A wrong element, nibble or group
// is off by about a whole term and fails. The bf16 kernel (one row, wide strips) and the
// pair kernel (one row, 16-column strips, AVX2 without VNNI) have their own tolerances
// (tolerance_bf16, tolerance_pair).
#include "backend/cpu/qmatmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "backend/cpu/matmul.h"
#include "core/quant.h"
#include "support/cpu_test.h"
#include "hwy/targets.h"

namespace lmf::cpu {
namespace {

using test::randn;
using test::with_threads;

struct Stripped {
  std::vector<int32_t> q;
  std::vector<float> s, zs;
  QWeight w;
};

Stripped strips_of(const quant::Packed& p, int64_t K, int64_t N, const quant::Spec& spec, int64_t W = kQStrip) {
  Stripped t;
  const int64_t st = q_strips(N, W);
  t.q.resize(static_cast<size_t>(st * K / (32 / strip_bits(spec.bits)) * W));
  t.s.resize(static_cast<size_t>(st * K / spec.group * W));
  t.zs.resize(t.s.size());
  q_tile(p.qweight.data_as<int32_t>(), p.scales.data(), false, p.qzeros.data_as<int32_t>(), K, N, spec.bits,
         spec.group, t.q.data(), t.s.data(), t.zs.data(), W);
  t.w = {t.q.data(), t.s.data(), t.zs.data(), K, N, spec.group, strip_bits(spec.bits), W};
  return t;
}

// The strip widths to test for these weights: 16, and for 4-bit strips with groups of 16k
// the wide layout (the bf16 kernel's, for one row on CPUs with AVX-512 BF16; the float
// kernels read it 16 columns at a time on any CPU).
std::vector<int64_t> widths(int bits, int64_t G) {
  if (strip_bits(bits) == 4 && G % 16 == 0) return {kQStrip, kQStripWide};
  return {kQStrip};
}

// The cases both linear_q tests run: 3, 4 and 8 bits, groups 32/64/128, odd shapes,
// symmetric and asymmetric, random weights rounded to nearest.
struct Case {
  int bits;
  int64_t G, K, N;
  bool sym;
  quant::Packed p;
  Tensor deq;  // (K, N) float32
  Stripped t, wide;  // 16-column strips; 64 (wide.w.q null where widths() has no wide layout)
  std::vector<float> bias;
};

template <class F>
void for_each_case(F&& f) {
  for (int bits : {3, 4, 8})
    for (int64_t G : {32, 64, 128})
      for (auto [K, N] : std::vector<std::pair<int64_t, int64_t>>{{128, 37}, {384, 16}, {256, 257}, {128, 1}, {128, 1100}}) {
        if (K % G) continue;
        if (N > 512 && (G != 128 || bits == 3)) continue;  // more than one prefill chunk: one group size, 4 and 8 bits
        for (bool sym : {true, false}) {
          const quant::Spec spec{bits, G, sym};
          std::vector<float> wf = randn(static_cast<size_t>(K * N), static_cast<uint32_t>(K + N + G + bits), 0, 0.05f);
          quant::Packed p = quant::quantize_rtn(wf.data(), K, N, spec);
          Tensor deq = quant::dequantize(p, K, bits);
          Stripped t = strips_of(p, K, N, spec);
          Stripped wide = widths(bits, G).size() > 1 ? strips_of(p, K, N, spec, kQStripWide) : Stripped{};
          Case c{bits,          G,           K, N, sym, std::move(p), std::move(deq), std::move(t), std::move(wide),
                 randn(static_cast<size_t>(N), 3, 0, 0.1f)};
          f(c);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
}

// Column n of x (K values, float64) · Ŵ + b: the value, the scale of its terms
// Σ|x ŵ| + |b|, Σ|x| (q + z) s and Σ|x| 16 s (the tolerance's terms, see the top).
// blockmax: Σ_k max|x_b(k)| |ŵ_k| over the blocks of 32 inputs (when K is a multiple of 32).
struct Ref {
  double y, scale, bound, bound16, blockmax;
};
Ref ref_of(const Case& c, const double* x, int64_t n) {
  Ref r{c.bias[n], std::fabs(c.bias[n]), 0, 0, 0};
  double bmax = 0;
  for (int64_t k = 0; k < c.K; ++k) {
    if (k % 32 == 0) {
      bmax = 0;
      for (int64_t j = k; j < std::min(c.K, k + 32); ++j) bmax = std::max(bmax, std::fabs(x[j]));
    }
    const double wv = c.deq.data_as<float>()[k * c.N + n], sc = quant::get_scale(c.p, k / c.G, n);
    r.y += x[k] * wv;
    r.scale += std::fabs(x[k] * wv);
    r.bound += std::fabs(x[k]) * (quant::get_q(c.p, c.bits, k, n) + quant::get_zero(c.p, c.bits, k / c.G, n)) * sc;
    r.bound16 += std::fabs(x[k]) * 16 * sc;
    r.blockmax += bmax * std::fabs(wv);
  }
  return r;
}

double tolerance(const Case& c, const Ref& r) {
  return 4.0 * static_cast<double>(c.K + 2) * std::ldexp(1.0, -24) * (r.bound + r.scale);
}

// The bf16 kernel (4-bit strips, AVX-512 BF16): x̃ within 2^-16 |x| of x gives at most
// 2^-16 Σ|x ŵ|; its sums run over x̃ (1 + q/16) and 16 s Σ x̃, hence the extra 16 s term.
double tolerance_bf16(const Case& c, const Ref& r) {
  return std::ldexp(1.0, -16) * r.scale +
         4.0 * static_cast<double>(c.K + 2) * std::ldexp(1.0, -24) * (r.bound + r.bound16 + r.scale);
}

// The pair kernel: x̃ within max|x_b| / 64516 of x (4 bits: sx / 508, sx = max|x_b| / 127;
// 8 bits: max|x_b| / 65534; 2^-20 more for the float32 rounding of x / sx), so y within that times Σ|ŵ| per block, plus
// float32 sums over the two parts (each as tolerance's).
double tolerance_pair(const Case& c, const Ref& r) {
  return (1.0 / 64516 + std::ldexp(1.0, -20)) * r.blockmax + 2 * tolerance(c, r);
}

// x̃ of the pair kernel, rebuilt here (float32 steps as the kernel takes them), per block:
// two int8 parts: sx = max|x_b| / 127, u = x · (127 / max|x_b|), hi = round(u), lo =
// round(254 (u - hi)), x̃ = sx hi + (sx / 254) lo (4 bits); int16 (x16: 8 bits): sx =
// max|x_b| / 32767, x̃ = sx round(x · (32767 / max|x_b|)).
std::vector<double> pair_parts(const std::vector<float>& x, bool x16) {
  std::vector<double> xt(x.size());
  const float top = x16 ? 32767.0f : 127.0f;
  for (size_t i = 0; i < x.size(); i += 32) {
    float amax = 0;
    for (size_t j = i; j < i + 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float sx = amax / top, iv = amax > 0 ? top / amax : 0.0f, sl = sx / 254.0f;
    for (size_t j = i; j < i + 32; ++j) {
      const float u = x[j] * iv, h = std::clamp(std::nearbyint(u), -top, top), r = u - h;
      const float l = x16 ? 0.0f : std::clamp(std::nearbyint(r * 254.0f), -127.0f, 127.0f);
      xt[j] = static_cast<double>(sx) * h + static_cast<double>(sl) * l;
    }
  }
  return xt;
}

// The targets compiled into the quantized kernels (AVX3_DL too) that this CPU supports,
// best first; a test's dispatch limited to one of them.
std::vector<int64_t> q_targets() {
  std::vector<int64_t> out;
  for (int64_t t = hwy::SupportedTargets() & q_simd_targets(); t != 0; t &= t - 1) out.push_back(t & -t);
  return out;
}
std::string q_target_name() {
  const int64_t t = hwy::SupportedTargets() & q_simd_targets();
  return hwy::TargetName(t & -t);
}
class QMatmul : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    hwy::SetSupportedTargetsForTest(GetParam());
    ASSERT_EQ(q_target_name(), hwy::TargetName(GetParam())) << "dispatch was not limited to the target";
  }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

// One configuration of linear_q's kernels (KernelOptions) on 16-column or wide strips,
// and what check_linear_q saw of it.
struct Pass {
  bool wide, bf16, pair;
  const char* name;
  QI8Isa isa = QI8Isa::kDot;
  double worst = 0;  // the largest error relative to the terms' scale
  int64_t bf16_cases = 0, pair_cases = 0;
};

// linear_q on every case, M = 1 .. 65 rows, 1 and 2 threads, for each pass, against the
// float64 reference (computed once per case and M for all passes): 16-column strips or wide
// ones (the float kernels, 16 columns at a time; one row of wide strips on a CPU with
// AVX-512 BF16: the bf16 kernel; one row of 16-column strips where q_pair_takes(): the pair
// kernel; past kQStripRows, dequantize + sgemm, and into 64-column strips for gemm_strips,
// 512 columns at a time), each within its tolerance; the pair kernel also within
// tolerance() of the float64 result for its x̃ (pair_parts). Records each pass's largest
// relative error and counts its bf16 and pair kernels' cases.
void check_linear_q(std::vector<Pass>& passes) {
  for_each_case([&](const Case& c) {
    const int64_t K = c.K, N = c.N;
    for (int64_t M : {1, 2, 3, 5, 8, 9, 65}) {
      std::vector<float> x = randn(static_cast<size_t>(M * K), static_cast<uint32_t>(M), 0, 1.0f);
      const std::vector<double> xd(x.begin(), x.end());
      std::vector<Ref> ref, ref_pair;  // (M, N); the pair kernel's x̃ · Ŵ (one row), when run
      ref.reserve(static_cast<size_t>(M * N));
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) ref.push_back(ref_of(c, xd.data() + m * K, n));
      for (Pass& p : passes) {
        if (p.wide && c.wide.w.q == nullptr) continue;
        KernelOptions ko;
        ko.bf16 = p.bf16;
        ko.i8_pair = p.pair;
        ko.i8_isa = p.isa;
        const QWeight& w = p.wide ? c.wide.w : c.t.w;
        std::vector<float> scratch(static_cast<size_t>(linear_q_scratch(K, N, c.G, M, ko)));
        const bool bf16 = p.wide && M == 1 && q_bf16_cpu(ko);
        const bool pair = !p.wide && M == 1 && q_pair_takes(K, c.G, w.bits, ko);
        p.bf16_cases += bf16;
        p.pair_cases += pair;
        if (pair && ref_pair.empty()) {
          const std::vector<double> xt = pair_parts(x, w.bits == 8);
          for (int64_t n = 0; n < N; ++n) ref_pair.push_back(ref_of(c, xt.data(), n));
        }
        // Past kQStripRows rows both prefill paths: dequantized to (K, cols) for sgemm, and to
        // 64-column strips for gemm_strips (a plan's choice on AVX-512 CPUs).
        for (int run = 0; run < (M > kQStripRows ? 4 : 2); ++run) {
          const int threads = 1 + run % 2;
          QWeight wp = w;
          wp.dequant_strips = run >= 2;
          std::vector<float> y(static_cast<size_t>(M * N), -1.0f);
          bool ok = false;
          with_threads(threads, [&] { ok = linear_q(x.data(), wp, c.bias.data(), y.data(), M, scratch.data(), ko); });
          ASSERT_TRUE(ok) << "linear_q's sgemm failed";
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              const Ref& r = ref[m * N + n];
              const double err = std::fabs(y[m * N + n] - r.y);
              ASSERT_LE(err, bf16 ? tolerance_bf16(c, r) : pair ? tolerance_pair(c, r) : tolerance(c, r))
                  << p.name << ": bits " << c.bits << " G " << c.G << " K " << K << " N " << N << " M " << M
                  << " sym " << c.sym << " threads " << threads << " strip " << w.strip << " dequant_strips "
                  << wp.dequant_strips << " at " << m << "," << n;
              if (pair) {
                const Ref& rt = ref_pair[n];
                ASSERT_LE(std::fabs(y[m * N + n] - rt.y), 2 * tolerance(c, rt))
                    << p.name << ": the pair kernel against its x̃: bits " << c.bits << " G " << c.G << " K " << K
                    << " N " << N << " at " << m << "," << n;
              }
              p.worst = std::max(p.worst, err / (r.bound + r.scale));
            }
        }
      }
    }
  });
}

// 16-column strips, wide ones, and with the one-row kernel this CPU has turned off: wide
// ones without the bf16 kernel (!bf16, AVX-512 BF16), 16-column ones without
// the pair kernel (!i8_pair, AVX2 or VNNI); the float kernels take the one row
// then. With VNNI, 16-column strips once more with the integer path limited to kWiden (the
// pair kernel's form without VNNI).
TEST_P(QMatmul, MatchesFloat64ReferenceOfDequantizedWeights) {
  std::vector<Pass> passes = {{false, true, true, "16-column"}, {true, true, true, "wide"}};
  const bool has_bf16 = q_bf16_cpu(), has_pair = q_pair_cpu();
  if (has_bf16) passes.push_back({true, false, true, "wide (bf16 kernel off)"});
  if (has_pair) passes.push_back({false, true, false, "16-column (pair kernel off)"});
  if (q_i8_isa() == QI8Isa::kDot) passes.push_back({false, true, true, "16-column (pair kernel without VNNI)", QI8Isa::kWiden});
  check_linear_q(passes);
  for (const Pass& p : passes) {
    if (has_bf16) EXPECT_EQ(p.bf16_cases > 0, p.wide && p.bf16) << "the bf16 kernel runs on one row of wide strips";
    if (has_pair) EXPECT_EQ(p.pair_cases > 0, !p.wide && p.pair) << "the pair kernel runs on one row of 16-column strips";
    std::printf("    %s, %s strips: max relative error %.3g%s\n", q_target_name().c_str(), p.name, p.worst,
                p.bf16_cases   ? " (one row: the bf16 kernel)"
                : p.pair_cases ? " (one row: the pair kernel)"
                               : "");
  }
}

TEST_P(QMatmul, FewRowsDoNotDependOnThreads) {
  const int64_t K = 512, N = 1000, G = 128;
  for (int bits : {4, 8}) {
    quant::Spec spec{bits, G, false};
    std::vector<float> wf = randn(static_cast<size_t>(K * N), 11, 0, 0.05f);
    quant::Packed p = quant::quantize_rtn(wf.data(), K, N, spec);
    for (int64_t W : widths(bits, G)) {
      Stripped t = strips_of(p, K, N, spec, W);
      for (int64_t M : {1, 4, 8}) {
        std::vector<float> x = randn(static_cast<size_t>(M * K), 5, 0, 1.0f);
        std::vector<float> scratch(static_cast<size_t>(linear_q_scratch(K, N, G, M)));
        std::vector<float> y1(static_cast<size_t>(M * N)), y3(y1.size());
        with_threads(1, [&] { linear_q(x.data(), t.w, nullptr, y1.data(), M, scratch.data()); });
        with_threads(3, [&] { linear_q(x.data(), t.w, nullptr, y3.data(), M, scratch.data()); });
        EXPECT_EQ(y1, y3) << "bits " << bits << " M " << M << " strip " << W;
      }
    }
  }
}

TEST_P(QMatmul, EmbeddingIsTheDequantizedColumn) {
  const int64_t C = 64, V = 41;
  for (int bits : {3, 4, 8}) {
    quant::Spec spec{bits, 32, true};
    std::vector<float> wf = randn(static_cast<size_t>(C * V), 2, 0, 0.05f);
    quant::Packed p = quant::quantize_rtn(wf.data(), C, V, spec);
    Tensor deq = quant::dequantize(p, C, bits);
    for (int64_t W : widths(bits, spec.group)) {  // (the wide layout's indexing needs no bf16)
      Stripped t = strips_of(p, C, V, spec, W);
      const std::vector<int32_t> ids = {0, 15, 16, 40, 7, 40};
      std::vector<float> out(ids.size() * C);
      embedding_q(t.w, ids.data(), static_cast<int64_t>(ids.size()), out.data());
      for (size_t i = 0; i < ids.size(); ++i)
        for (int64_t c = 0; c < C; ++c)
          ASSERT_EQ(out[i * C + c], deq.data_as<float>()[c * V + ids[i]])
              << "bits " << bits << " id " << ids[i] << " strip " << W;
    }
  }
}

// Every (target, integer code) this CPU runs: the quantized kernels' targets, each with
// kDot where it has it, kWiden and kPortable. f(isa) runs with dispatch limited to the
// target; returns the names run.
template <class F>
std::string for_each_target_and_isa(F&& f) {
  std::string names;
  for (int64_t t : q_targets()) {
    hwy::SetSupportedTargetsForTest(t);
    for (QI8Isa isa : {QI8Isa::kDot, QI8Isa::kWiden, QI8Isa::kPortable}) {
      KernelOptions ko;
      ko.i8_isa = isa;
      if (q_i8_isa(ko) != isa) continue;
      f(ko);
      static const char* kName[] = {"portable", "widen", "dot"};
      names += std::string(names.empty() ? "" : " ") + hwy::TargetName(t) + "/" + kName[static_cast<int>(isa)];
      if (::testing::Test::HasFatalFailure()) break;
    }
    hwy::SetSupportedTargetsForTest(0);
    if (::testing::Test::HasFatalFailure()) break;
  }
  return names;
}

// The one activation rounding (quantize_int8_sym) on every target: the bytes of the rule
// computed here (q = clamp(nearbyint(x · 127/max|x|), ±127), scale max|x|/127), for
// lengths with and without vector tails, an all-zero row and exact ties.
TEST(QMatmulRound, OneRuleOnEveryTarget) {
  std::string run;
  for (int64_t t : q_targets()) {
    hwy::SetSupportedTargetsForTest(t);
    for (int64_t n : {1, 7, 16, 31, 32, 33, 64, 100, 768, 1000}) {
      std::vector<float> x = randn(static_cast<size_t>(n), static_cast<uint32_t>(n), 0, 1.0f);
      if (n == 33) std::fill(x.begin(), x.end(), 0.0f);
      if (n == 100) {  // ties: x · 127/max|x| = k + 0.5 exactly (max|x| = 127)
        for (int64_t k = 0; k < n; ++k) x[k] = static_cast<float>(k % 20) - 9.5f;
        x[0] = 127.0f;
      }
      std::vector<int8_t> q(static_cast<size_t>(n), 99);
      const float s = quantize_int8_sym(x.data(), n, q.data());
      float amax = 0;
      for (float v : x) amax = std::max(amax, std::fabs(v));
      const float inv = amax > 0 ? 127.0f / amax : 0.0f;
      ASSERT_EQ(s, amax / 127.0f) << hwy::TargetName(t) << " n " << n;
      for (int64_t k = 0; k < n; ++k)
        ASSERT_EQ(q[k], static_cast<int8_t>(std::clamp(std::nearbyint(x[k] * inv), -127.0f, 127.0f)))
            << hwy::TargetName(t) << " n " << n << " at " << k << " x " << x[k];
    }
    hwy::SetSupportedTargetsForTest(0);
    run += std::string(run.empty() ? "" : " ") + hwy::TargetName(t);
  }
  std::printf("    int8 rounding checked on: %s\n", run.c_str());
}

// int8-dynamic: each row of x is quantized to int8 (scale max|x|/127) and the int32 sums
// are exact, so y = sx · sw · Σ qx qw + b up to the rounding of that last product
// (checked against the same computation in float64, 4 ulp); every target and integer
// code (for_each_target_and_isa) gives identical bits; and y stays within the activation
// rounding bound of the float result with the dequantized weights: |Δy| <= sx/2 · Σ_k |w_k|.
TEST(QMatmulInt8, ExactIntegerSumsEveryTargetAndIsaIdenticalAndBound) {
  std::string run;
  for (auto [K, N] : std::vector<std::pair<int64_t, int64_t>>{{64, 16}, {128, 37}, {768, 100}, {4, 1}, {36, 5}}) {
    std::vector<float> wf = randn(static_cast<size_t>(K * N), static_cast<uint32_t>(K + N), 0, 0.05f);
    wf[0] = -1.0f;  // column 0's most negative weight: q = -128
    quant::Packed p = quant::quantize_per_channel_int8(wf.data(), K, N);
    Tensor deq = quant::dequantize(p, K, 8);
    const int64_t st = q_strips(N);
    std::vector<int32_t> q(static_cast<size_t>(st * K / 4 * kQStrip)), colsum(static_cast<size_t>(st * kQStrip));
    std::vector<float> sw(static_cast<size_t>(st * kQStrip));
    q_tile_i8(p.qweight.data_as<int32_t>(), p.scales.data(), true, K, N, q.data(), sw.data(), colsum.data());
    QWeightI8 w{q.data(), sw.data(), colsum.data(), K, N};
    std::vector<float> bias = randn(static_cast<size_t>(N), 9, 0, 0.1f);
    for (int64_t M : {1, 3, 4, 9, 33}) {
      std::vector<float> x = randn(static_cast<size_t>(M * K), static_cast<uint32_t>(M * 7), 0, 1.0f);
      x[0] = 0.0f;
      std::vector<float> scratch(static_cast<size_t>(linear_q_i8_scratch(K, M)));
      std::vector<float> y1(static_cast<size_t>(M * N)), y2(y1.size());
      for (int threads : {1, 2}) {
        with_threads(threads, [&] { linear_q_i8(x.data(), w, bias.data(), y1.data(), M, scratch.data()); });
        run = for_each_target_and_isa([&](const KernelOptions& ko) {
          std::fill(y2.begin(), y2.end(), -7.0f);
          with_threads(threads, [&] { linear_q_i8(x.data(), w, bias.data(), y2.data(), M, scratch.data(), ko); });
          ASSERT_EQ(y1, y2) << "K " << K << " N " << N << " M " << M << " " << q_target_name() << " isa "
                            << static_cast<int>(ko.i8_isa);
        });
        if (HasFatalFailure()) return;
      }
      for (int64_t m = 0; m < M; ++m) {
        float amax = 0;
        for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(x[m * K + k]));
        const float sx = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
        for (int64_t n = 0; n < N; ++n) {
          int64_t dot = 0;
          double ref = bias[n], wabs = 0;
          for (int64_t k = 0; k < K; ++k) {
            const int64_t qx = static_cast<int64_t>(std::nearbyint(x[m * K + k] * inv));
            dot += qx * (quant::get_q(p, 8, k, n) - 128);
            ref += static_cast<double>(x[m * K + k]) * deq.data_as<float>()[k * N + n];
            wabs += std::fabs(deq.data_as<float>()[k * N + n]);
          }
          const double exact = static_cast<double>(dot) * sx * quant::get_scale(p, 0, n) + bias[n];
          const double yv = y1[m * N + n];
          ASSERT_NEAR(yv, exact, 4 * std::ldexp(std::fabs(exact - bias[n]) + std::fabs(bias[n]), -24) + 1e-30)
              << "K " << K << " M " << M << " at " << m << "," << n;
          ASSERT_LE(std::fabs(yv - ref), 0.5 * sx * wabs * (1 + 1e-5) + 1e-6) << m << "," << n;
        }
      }
    }
  }
  std::printf("    int8 kernels compared (target/code): %s\n", run.c_str());
}

// int8_block32 activations: x̂ = sx_b · round(x / sx_b) per 32 inputs (sx_b = max|x_b|/127),
// y = x̂ · Ŵ + b. Checked against that computation done here in float64 (x̂ built from
// this test's own rounding; tolerance as for linear_q above), on every target and integer
// code (for_each_target_and_isa: kDot, kWiden: integer sums for any number of rows;
// kPortable: x̂ through the float kernels, strips or, past kQStripRows rows, dequantize +
// sgemm), 3, 4 and 8 bits, every group size, symmetric and asymmetric; and y stays within
// the activation rounding bound of the float-activation result: |Δy| <= Σ_k sx_b(k)/2 · |ŵ_k|.
TEST(QMatmulA8, MatchesFloat64ReferenceOfRoundedActivationsOnEveryPath) {
  double worst = 0;
  std::string run;
  for_each_case([&](const Case& c) {
    const int64_t K = c.K, N = c.N;
    ASSERT_TRUE(q_a8_supported(K, c.G, c.t.w.bits));
    for (int64_t M : {1, 2, 3, 5, 9, 65}) {
      std::vector<float> x = randn(static_cast<size_t>(M * K), static_cast<uint32_t>(M + 17), 0, 1.0f);
      for (int64_t k = 0; k < 32; ++k) x[k] = 0.0f;  // an all-zero block (scale 0)
      if (M > 1) x[K + 5] = 40.0f;                    // an outlier in one block of row 1
      std::vector<double> xh(x.size()), half(x.size());
      for (int64_t i = 0; i < M * K; i += 32) {
        float amax = 0;
        for (int64_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[i + j]));
        const float sx = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
        for (int64_t j = 0; j < 32; ++j) {
          xh[i + j] = static_cast<double>(sx) * std::nearbyint(x[i + j] * inv);
          half[i + j] = 0.5 * sx;
        }
      }
      const std::vector<double> xd(x.begin(), x.end());
      std::vector<float> scratch(static_cast<size_t>(linear_q_a8_scratch(K, N, c.G, M)));
      std::vector<std::vector<float>> ys;
      const int threads = M % 2 ? 1 : 2;
      run = for_each_target_and_isa([&](const KernelOptions& ko) {
        ys.emplace_back(static_cast<size_t>(M * N), -1.0f);
        with_threads(threads, [&] { linear_q_a8(x.data(), c.t.w, c.bias.data(), ys.back().data(), M, scratch.data(), ko); });
      });
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          const Ref r = ref_of(c, xh.data() + m * K, n), fl = ref_of(c, xd.data() + m * K, n);
          double round = 0;
          for (int64_t k = 0; k < K; ++k) round += half[m * K + k] * std::fabs(c.deq.data_as<float>()[k * N + n]);
          const double tol = tolerance(c, r);
          for (size_t i = 0; i < ys.size(); ++i) {
            const double err = std::fabs(ys[i][m * N + n] - r.y);
            ASSERT_LE(err, tol) << "bits " << c.bits << " G " << c.G << " K " << K << " N " << N << " M " << M
                                << " sym " << c.sym << " path " << i << " of " << run << " at " << m << "," << n;
            worst = std::max(worst, err / (r.bound + r.scale));
          }
          ASSERT_LE(std::fabs(ys[0][m * N + n] - fl.y), round * (1 + 1e-5) + tol) << m << "," << n;
        }
    }
  });
  std::printf("    int8-block activations: max relative error %.3g (target/code: %s)\n", worst, run.c_str());
}

// The bf16 kernel (q_bf16_split, q_bf16_strips) on every target: vdpbf16ps where AVX3_DL
// runs on a CPU with AVX-512 BF16, the same sums emulated elsewhere; one row, wide 4-bit
// strips, within tolerance_bf16 of the float64 reference.
TEST_P(QMatmul, Bf16KernelMatchesFloat64Reference) {
  double worst = 0;
  for_each_case([&](const Case& c) {
    if (c.wide.w.q == nullptr) return;
    const QWeight& w = c.wide.w;
    std::vector<float> x = randn(static_cast<size_t>(c.K), 21, 0, 1.0f);
    const std::vector<double> xd(x.begin(), x.end());
    std::vector<uint32_t> parts(static_cast<size_t>(c.K));
    std::vector<float> xsum(static_cast<size_t>(c.K / c.G)), y(static_cast<size_t>(c.N), -1.0f);
    q_bf16_split(x.data(), c.K, c.G, parts.data(), xsum.data());
    q_bf16_strips(parts.data(), w, xsum.data(), c.bias.data(), y.data(), 0, q_strips(c.N, kQStripWide));
    for (int64_t n = 0; n < c.N; ++n) {
      const Ref r = ref_of(c, xd.data(), n);
      const double err = std::fabs(y[n] - r.y);
      ASSERT_LE(err, tolerance_bf16(c, r)) << "bits " << c.bits << " G " << c.G << " K " << c.K << " N " << c.N
                                           << " at " << n;
      worst = std::max(worst, err / (r.bound + r.scale));
    }
  });
  std::printf("    %s, bf16 kernel (%s): max relative error %.3g\n", q_target_name().c_str(),
              q_bf16_cpu() ? "vdpbf16ps" : "emulated", worst);
}

// Which targets and paths of the quantized kernels (Highway, qgemv*.cpp) the tests above run
// here, listed in the log; the best this CPU has is what the CPU's features say, read with
// the compiler's CPU check rather than Highway's (so a VNNI machine does not silently test
// only the kWiden or portable code, on AVX3_DL or on AVX3); LMF_TEST_SIMD names (VNNI, BF16, PAIR, Highway targets
// such as AVX3_DL) must run.
TEST(QMatmulPaths, ReportsTheTargetsAndPathsRun) {
  const int64_t compiled = q_simd_targets();
  int64_t run = 0;
  for (int64_t t : q_targets()) run |= t;
  const QI8Isa best = q_i8_isa();
  std::printf("[ simd  ] quantized kernels compiled: %s; targets run: %s; best integer code %s; pair kernel %s; "
              "bf16 kernel %s\n",
              test::target_names(compiled).c_str(), test::target_names(run).c_str(),
              best == QI8Isa::kDot ? "dot (VNNI)" : best == QI8Isa::kWiden ? "widen" : "portable",
              q_pair_cpu() ? "yes, and off" : "no", q_bf16_cpu() ? "vdpbf16ps, and off" : "emulated only (tests)");
  // (x86's baseline has no SIMD target, so the scalar fallback is compiled; aarch64's baseline
  // is NEON, and Highway compiles no fallback below it)
  if (compiled & (HWY_SCALAR | HWY_EMU128))
    EXPECT_NE(run & (HWY_SCALAR | HWY_EMU128), 0) << "the scalar fallback does not run";
#if HWY_ARCH_X86
  EXPECT_NE(compiled & (HWY_SCALAR | HWY_EMU128), 0) << "no scalar fallback compiled";
#endif
#if HWY_ARCH_X86
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const bool dl = avx512 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi2") &&
                  __builtin_cpu_supports("vaes") && __builtin_cpu_supports("vpclmulqdq") &&
                  __builtin_cpu_supports("avx512bitalg") && __builtin_cpu_supports("avx512vpopcntdq");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) EXPECT_TRUE(run & HWY_AVX2) << "AVX2 does not run";
  if (avx512) EXPECT_TRUE(run & HWY_AVX3) << "AVX3 does not run";
  if (dl) EXPECT_TRUE(run & HWY_AVX3_DL) << "the CPU has AVX3_DL (VNNI), the tests do not run it";
  const bool vnni = avx512 && __builtin_cpu_supports("avx512vnni");
  EXPECT_EQ(best, vnni ? QI8Isa::kDot : QI8Isa::kWiden);
  // AVX3 takes vpdpbusd where the CPU has AVX512_VNNI (Cascade Lake: VNNI without the rest of
  // AVX3_DL), so the tests limited to AVX3 run that path here too (AVX3/dot above).
  if (run & HWY_AVX3) {
    hwy::SetSupportedTargetsForTest(HWY_AVX3);
    const QI8Isa avx3 = q_i8_isa();
    hwy::SetSupportedTargetsForTest(0);
    std::printf("[ simd  ] AVX3's integer code here: %s\n", avx3 == QI8Isa::kDot ? "dot (VNNI, Cascade Lake's path)" : "widen");
    EXPECT_EQ(avx3, vnni ? QI8Isa::kDot : QI8Isa::kWiden) << "AVX3 on a CPU with AVX512_VNNI";
  }
  if (std::getenv("LMF_NO_BF16") == nullptr)
    EXPECT_EQ(q_bf16_cpu(), dl && __builtin_cpu_supports("avx512bf16"));
#else
  EXPECT_EQ(best, QI8Isa::kWiden);
  EXPECT_FALSE(q_bf16_cpu());
#endif
  for (const std::string& want : test::required_simd()) {
    if (want == "VNNI") EXPECT_EQ(best, QI8Isa::kDot) << "LMF_TEST_SIMD names VNNI, which does not run here";
    if (want == "BF16") EXPECT_TRUE(q_bf16_cpu()) << "LMF_TEST_SIMD names BF16, which does not run here";
    if (want == "PAIR") EXPECT_TRUE(q_pair_cpu()) << "LMF_TEST_SIMD names PAIR, which does not run here";
    for (int bit = 0; bit < 63; ++bit)
      if (want == hwy::TargetName(int64_t{1} << bit))
        EXPECT_TRUE(run & (int64_t{1} << bit)) << "LMF_TEST_SIMD names " << want << ", which does not run here";
  }
}

TEST(QMatmulA8, SupportNeedsGroupsOf32) {
  EXPECT_TRUE(q_a8_supported(768, 128, 4));
  EXPECT_TRUE(q_a8_supported(768, 768, 8));
  EXPECT_FALSE(q_a8_supported(768, 16, 4));
  EXPECT_FALSE(q_a8_supported(100, 100, 8));
  EXPECT_FALSE(q_a8_supported(768, 128, 3));  // 3-bit weights run as 4-bit strips
}

INSTANTIATE_TEST_SUITE_P(Targets, QMatmul, ::testing::ValuesIn(q_targets()), test::target_param_name);

}  // namespace
}  // namespace lmf::cpu

// Tests for the quantized-weight matmul (src/backend/cpu/qmatmul.h): linear_q on both
// paths (few rows: the strip kernel; many rows: dequantize + sgemm) and embedding_q,
// against a float64 reference of the dequantized computation y = x · ((q - z) s) + b, for
// 4 and 8 bits, every group size, odd K/N shapes, on every Highway target compiled in
// and supported here, with 1 and 2 threads; and few-row results independent of the
// thread count.
//
// Error per element is relative to the scale of its terms, sum_k |x_k| |w_k| + |b|; the
// tolerance allows float32 accumulation in any order plus the split of each group's
// sum into s * sum(x q) - z s * sum(x) (both sums exact to float32 rounding): 4 (K + 2) u
// relative to sum_k |x_k| (|q_k| + |z|) s, u = 2^-24. A wrong element, nibble or group
// is off by about a whole term and fails.
#include "backend/cpu/qmatmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <tuple>
#include <vector>

#include "backend/cpu/matmul.h"
#include "core/quant.h"
#include "support/cpu_test.h"

namespace lmf::cpu {
namespace {

using test::randn;
using test::target_name;
using test::with_threads;

struct Stripped {
  std::vector<int32_t> q;
  std::vector<float> s, zs;
  QWeight w;
};

Stripped strips_of(const quant::Packed& p, int64_t K, int64_t N, const quant::Spec& spec) {
  Stripped t;
  const int64_t st = q_strips(N);
  t.q.resize(static_cast<size_t>(st * K / quant::pack_factor(spec.bits) * kQStrip));
  t.s.resize(static_cast<size_t>(st * K / spec.group * kQStrip));
  t.zs.resize(t.s.size());
  q_tile(p.qweight.data_as<int32_t>(), p.scales.data_as<uint16_t>(), p.qzeros.data_as<int32_t>(), K, N, spec.bits,
         spec.group, t.q.data(), t.s.data(), t.zs.data());
  t.w = {t.q.data(), t.s.data(), t.zs.data(), K, N, spec.group, spec.bits};
  return t;
}

class QMatmul : public test::PerTarget {};

TEST_P(QMatmul, MatchesFloat64ReferenceOfDequantizedWeights) {
  double worst = 0;
  for (int bits : {4, 8})
    for (int64_t G : {32, 64, 128})
      for (auto [K, N] : std::vector<std::pair<int64_t, int64_t>>{{128, 37}, {384, 16}, {256, 257}, {128, 1}}) {
        if (K % G) continue;
        for (bool sym : {true, false}) {
          quant::Spec spec{bits, G, sym};
          std::vector<float> wf = randn(static_cast<size_t>(K * N), static_cast<uint32_t>(K + N + G + bits), 0, 0.05f);
          quant::Packed p = quant::quantize_rtn(wf.data(), K, N, spec);
          Tensor deq = quant::dequantize(p, K, bits);
          Stripped t = strips_of(p, K, N, spec);
          std::vector<float> bias = randn(static_cast<size_t>(N), 3, 0, 0.1f);
          for (int64_t M : {1, 2, 3, 5, 8, 9, 40}) {
            std::vector<float> x = randn(static_cast<size_t>(M * K), static_cast<uint32_t>(M), 0, 1.0f);
            std::vector<float> scratch(static_cast<size_t>(linear_q_scratch(K, N, G, M)));
            for (int threads : {1, 2}) {
              std::vector<float> y(static_cast<size_t>(M * N), -1.0f);
              with_threads(threads, [&] { linear_q(x.data(), t.w, bias.data(), y.data(), M, scratch.data()); });
              for (int64_t m = 0; m < M; ++m)
                for (int64_t n = 0; n < N; ++n) {
                  double ref = bias[n], scale = std::fabs(bias[n]), bound = 0;
                  for (int64_t k = 0; k < K; ++k) {
                    const double wv = deq.data_as<float>()[k * N + n];
                    ref += static_cast<double>(x[m * K + k]) * wv;
                    scale += std::fabs(x[m * K + k] * wv);
                    const double s = quant::get_scale(p, k / G, n);
                    bound += std::fabs(x[m * K + k]) * (quant::get_q(p, bits, k, n) + quant::get_zero(p, bits, k / G, n)) * s;
                  }
                  const double err = std::fabs(y[m * N + n] - ref);
                  const double tol = 4.0 * static_cast<double>(K + 2) * std::ldexp(1.0, -24) * (bound + scale);
                  ASSERT_LE(err, tol) << "bits " << bits << " G " << G << " K " << K << " N " << N << " M " << M
                                      << " sym " << sym << " threads " << threads << " at " << m << "," << n;
                  worst = std::max(worst, err / (bound + scale));
                }
            }
          }
        }
      }
  std::printf("    %s: max relative error %.3g\n", target_name().c_str(), worst);
}

TEST_P(QMatmul, FewRowsDoNotDependOnThreads) {
  const int64_t K = 512, N = 1000, G = 128;
  for (int bits : {4, 8}) {
    quant::Spec spec{bits, G, false};
    std::vector<float> wf = randn(static_cast<size_t>(K * N), 11, 0, 0.05f);
    quant::Packed p = quant::quantize_rtn(wf.data(), K, N, spec);
    Stripped t = strips_of(p, K, N, spec);
    for (int64_t M : {1, 4, 8}) {
      std::vector<float> x = randn(static_cast<size_t>(M * K), 5, 0, 1.0f);
      std::vector<float> scratch(static_cast<size_t>(linear_q_scratch(K, N, G, M)));
      std::vector<float> y1(static_cast<size_t>(M * N)), y3(y1.size());
      with_threads(1, [&] { linear_q(x.data(), t.w, nullptr, y1.data(), M, scratch.data()); });
      with_threads(3, [&] { linear_q(x.data(), t.w, nullptr, y3.data(), M, scratch.data()); });
      EXPECT_EQ(y1, y3) << "bits " << bits << " M " << M;
    }
  }
}

TEST_P(QMatmul, EmbeddingIsTheDequantizedColumn) {
  const int64_t C = 64, V = 41;
  for (int bits : {4, 8}) {
    quant::Spec spec{bits, 32, true};
    std::vector<float> wf = randn(static_cast<size_t>(C * V), 2, 0, 0.05f);
    quant::Packed p = quant::quantize_rtn(wf.data(), C, V, spec);
    Tensor deq = quant::dequantize(p, C, bits);
    Stripped t = strips_of(p, C, V, spec);
    const std::vector<int32_t> ids = {0, 15, 16, 40, 7, 40};
    std::vector<float> out(ids.size() * C);
    embedding_q(t.w, ids.data(), static_cast<int64_t>(ids.size()), out.data());
    for (size_t i = 0; i < ids.size(); ++i)
      for (int64_t c = 0; c < C; ++c)
        ASSERT_EQ(out[i * C + c], deq.data_as<float>()[c * V + ids[i]]) << "bits " << bits << " id " << ids[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, QMatmul, ::testing::ValuesIn(test::targets_to_test()), test::target_param_name);

}  // namespace
}  // namespace lmf::cpu

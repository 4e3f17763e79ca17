// Tests for attention over an int8 KV cache (attention_head_i8, kernels.h): against a
// float64 reference computed on the dequantized rows (ks[s] k8[s], vs[s] v8[s]), on every
// Highway target, head sizes with and without a vector tail, several cache lengths; and
// the int8 cache's own error against the float cache stays at the size of its rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/kernels.h"
#include "support/cpu_test.h"

namespace lmf::cpu {
namespace {

using test::randn;

struct Row8 {
  std::vector<int8_t> q;
  std::vector<float> s;
};

Row8 quantize_rows(const std::vector<float>& x, int64_t rows, int64_t D) {
  Row8 r{std::vector<int8_t>(x.size()), std::vector<float>(static_cast<size_t>(rows))};
  for (int64_t i = 0; i < rows; ++i) {
    float amax = 0;
    for (int64_t j = 0; j < D; ++j) amax = std::max(amax, std::fabs(x[i * D + j]));
    r.s[i] = amax / 127.0f;
    for (int64_t j = 0; j < D; ++j) r.q[i * D + j] = static_cast<int8_t>(std::nearbyint(x[i * D + j] * 127.0f / amax));
  }
  return r;
}

class AttentionI8 : public test::PerTarget {};

TEST_P(AttentionI8, MatchesFloat64OnDequantizedRows) {
  for (int64_t D : {64, 20, 3})
    for (auto [pos0, T] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {0, 5}, {37, 1}, {100, 3}}) {
      const int64_t S = pos0 + T;
      std::vector<float> q = randn(static_cast<size_t>(T * D), 1), k = randn(static_cast<size_t>(S * D), 2),
                         v = randn(static_cast<size_t>(S * D), 3);
      Row8 k8 = quantize_rows(k, S, D), v8 = quantize_rows(v, S, D);
      std::vector<float> out(static_cast<size_t>(T * D)), scratch(static_cast<size_t>(attention_head_scratch(S, D) + 16)),
          out_f(out.size());
      const float scale = 1.0f / std::sqrt(static_cast<float>(D));
      attention_head_i8(q.data(), D, k8.q.data(), k8.s.data(), v8.q.data(), v8.s.data(), out.data(), D, T, D, pos0,
                        scale, scratch.data());
      attention_head(q.data(), D, k.data(), v.data(), out_f.data(), D, T, D, pos0, scale, scratch.data());
      double worst = 0, worst_f = 0;
      for (int64_t t = 0; t < T; ++t) {
        const int64_t n = pos0 + t + 1;
        std::vector<double> p(static_cast<size_t>(n));
        double m = -1e300, sum = 0;
        for (int64_t s = 0; s < n; ++s) {
          double dot = 0;
          for (int64_t j = 0; j < D; ++j) dot += static_cast<double>(q[t * D + j]) * k8.s[s] * k8.q[s * D + j];
          p[s] = dot * scale;
          m = std::max(m, p[s]);
        }
        for (auto& x : p) sum += (x = std::exp(x - m));
        for (int64_t j = 0; j < D; ++j) {
          double ref = 0;
          for (int64_t s = 0; s < n; ++s) ref += p[s] / sum * v8.s[s] * v8.q[s * D + j];
          worst = std::max(worst, std::fabs(out[t * D + j] - ref));
          worst_f = std::max(worst_f, std::fabs(out[t * D + j] - static_cast<double>(out_f[t * D + j])));
        }
      }
      EXPECT_LT(worst, 2e-5) << "D " << D << " pos0 " << pos0 << " T " << T;  // values are O(1)
      EXPECT_LT(worst_f, 0.05) << "D " << D << " pos0 " << pos0 << " T " << T;  // int8 rounding, not a bug
    }
}

INSTANTIATE_TEST_SUITE_P(Targets, AttentionI8, ::testing::ValuesIn(test::targets_to_test()), test::target_param_name);

}  // namespace
}  // namespace lmf::cpu

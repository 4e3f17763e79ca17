// Tests for cpu::log_sum_exp (kernels_grad.h), the one log-sum-exp that perplexity (and
// compare's KL) and the training/validation loss (cpu::cross_entropy) share, on every
// Highway target compiled in and supported by this CPU: it matches a double-precision
// scalar reference to 1e-6 relative, and a perplexity computed from it (mean of
// lse(row) - row[target]) equals the validation loss cross_entropy reports on the same rows.
#include "support/cpu_test.h"
#include "backend/cpu/kernels_grad.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace lmf {
namespace {

// log(sum exp(x)) in double, max-shifted.
double lse_reference(const float* x, int64_t n) {
  double mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - mx);
  return mx + std::log(s);
}

class LogSumExp : public test::PerTarget {};
INSTANTIATE_TEST_SUITE_P(Targets, LogSumExp, ::testing::ValuesIn(test::targets_to_test()), test::target_param_name);

TEST_P(LogSumExp, MatchesDoubleReference) {
  double worst = 0;
  uint32_t seed = 1;
  // Vocabulary sizes with and without a vector tail (GPT-2's 50257), logit scales from flat
  // to peaked, and an offset (logits ~ 80) where a float lse would lose digits.
  for (int64_t V : {1, 3, 17, 1000, 50257})
    for (float stddev : {0.5f, 3.0f, 12.0f})
      for (float mean : {0.0f, -5.0f, 80.0f}) {
        const std::vector<float> x = test::randn(static_cast<size_t>(V), seed++, mean, stddev);
        const double ref = lse_reference(x.data(), V);
        const double got = cpu::log_sum_exp(x.data(), V);
        const double rel = std::abs(got - ref) / std::max(1.0, std::abs(ref));
        worst = std::max(worst, rel);
        EXPECT_LE(rel, 1e-6) << "V " << V << " stddev " << stddev << " mean " << mean << ": " << got << " vs "
                             << ref;
      }
  std::printf("[ error ] log_sum_exp %-7s max %.3g relative (tolerance 1e-06)\n", test::target_name().c_str(), worst);
}

TEST_P(LogSumExp, PerplexityAndValidationLossAgree) {
  const int64_t R = 24, V = 50257;
  std::vector<float> logits = test::randn(static_cast<size_t>(R * V), 7, 0.0f, 4.0f);
  std::vector<int32_t> targets(R);
  for (int64_t r = 0; r < R; ++r) targets[r] = static_cast<int32_t>((r * 7919) % V);
  // What perplexity() sums: nll = lse(row) - row[target], and the double reference's.
  double nll = 0, nll_ref = 0;
  for (int64_t r = 0; r < R; ++r) {
    const float* row = logits.data() + r * V;
    nll += cpu::log_sum_exp(row, V) - row[targets[r]];
    nll_ref += lse_reference(row, V) - row[targets[r]];
  }
  nll /= R, nll_ref /= R;
  std::vector<float> grad(logits.size());
  const double loss = cpu::cross_entropy(logits.data(), targets.data(), grad.data(), R, V, 1.0f);
  // The same routine on the same rows: equal but for the order the rows are added in.
  EXPECT_NEAR(loss, nll, 1e-12 * nll) << "validation loss " << loss << " vs perplexity's mean nll " << nll;
  EXPECT_NEAR(loss, nll_ref, 1e-6 * nll_ref);
  EXPECT_NEAR(std::exp(loss), std::exp(nll), 1e-11 * std::exp(nll));
}

}  // namespace
}  // namespace lmf

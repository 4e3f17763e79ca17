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

// compare's KL (kl_divergence) and distillation's soft term at T = 1 are the same
// quantity, computed by two routines (a double evaluation loop and the fused SIMD
// loss-and-gradient row): they agree with each other and with a double reference, so a
// model's reported KL and the KL it was distilled on cannot drift apart.
TEST_P(LogSumExp, CompareKlAndDistillKlAgree) {
  const int64_t R = 8, V = 50257;
  const std::vector<float> t = test::randn(static_cast<size_t>(R * V), 11, 0.0f, 3.0f);
  std::vector<float> s = t;
  const std::vector<float> noise = test::randn(static_cast<size_t>(R * V), 12, 0.0f, 0.7f);
  for (size_t i = 0; i < s.size(); ++i) s[i] += noise[i];
  double kl_sum = 0, ref_sum = 0;
  for (int64_t r = 0; r < R; ++r) {
    const float* p = t.data() + r * V;
    const float* q = s.data() + r * V;
    int64_t ap = -1, aq = -1;
    const double kl = cpu::kl_divergence(p, q, V, &ap, &aq);
    const double lp = lse_reference(p, V), lq = lse_reference(q, V);
    double ref = 0;
    int64_t rp = 0, rq = 0;
    for (int64_t i = 0; i < V; ++i) {
      ref += std::exp(p[i] - lp) * ((p[i] - lp) - (q[i] - lq));
      if (p[i] > p[rp]) rp = i;
      if (q[i] > q[rq]) rq = i;
    }
    EXPECT_NEAR(kl, ref, 1e-6 * ref) << "row " << r;
    EXPECT_EQ(ap, rp);
    EXPECT_EQ(aq, rq);
    kl_sum += kl, ref_sum += ref;
  }
  ASSERT_GT(ref_sum, 0.1);  // the rows differ: a KL that is not trivially 0
  std::vector<int32_t> targets(R, -100);
  std::vector<float> ds(s.size());
  // alpha = 1, T = 1: loss = (1/R) sum_r KL(p_t || p_s).
  const double soft = cpu::distill_loss(s.data(), t.data(), targets.data(), ds.data(), R, V, 1.0f, 1.0f, false, 1.0f);
  EXPECT_NEAR(soft, kl_sum / R, 1e-5 * kl_sum / R) << "distill soft " << soft << " vs compare KL " << kl_sum / R;
  // An identical pair: exactly 0, never negative.
  EXPECT_EQ(cpu::kl_divergence(t.data(), t.data(), V), 0.0);
}

}  // namespace
}  // namespace lmf

// Sampler (src/runtime/sampler.h) against the analytic truncated softmax: for small
// logit vectors the test computes, independently and in double, the support and the
// probabilities Hugging Face's warpers give (temperature, then top-k keeping the k
// largest, then top-p as TopPLogitsWarper does it: ascending order, drop the tokens
// whose cumulative probability is <= 1 - p, always keep the top one), draws 20000
// tokens over 4 seeds and checks the support exactly and each frequency within 5
// binomial standard deviations. Then seeds, greedy, and non-finite logits (NaN as
// -inf, +inf taking all the mass, all-NaN rows) with their documented picks.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <vector>

namespace lmf {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// The Hugging Face distribution over token ids (absent ids: probability 0). Logits must
// be finite and distinct; asserts that no cumulative sum sits within 1e-6 of 1 - p, so
// the expected support does not depend on rounding.
std::map<int, double> reference(const std::vector<float>& logits, double T, int top_k, double top_p) {
  const int V = static_cast<int>(logits.size());
  std::vector<int> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] < logits[b]; });  // ascending
  if (top_k > 0 && top_k < V) order.erase(order.begin(), order.end() - top_k);
  auto softmax = [&](const std::vector<int>& ids) {
    double mx = -1e300, sum = 0;
    for (int i : ids) mx = std::max(mx, logits[i] / T);
    std::map<int, double> p;
    for (int i : ids) sum += p[i] = std::exp(logits[i] / T - mx);
    for (auto& [i, v] : p) v /= sum;
    return p;
  };
  std::map<int, double> p = softmax(order);
  std::vector<int> kept;
  double cum = 0;
  for (size_t j = 0; j < order.size(); ++j) {
    cum += p[order[j]];
    EXPECT_GT(std::abs(cum - (1 - top_p)), 1e-6) << "ill-posed case: a cumulative sum sits on 1 - top_p";
    if (cum > 1 - top_p || j + 1 == order.size()) kept.push_back(order[j]);
  }
  return softmax(kept);
}

// Draws n tokens from each of `seeds` samplers; counts per token id.
std::vector<int64_t> draw(const std::vector<float>& logits, SamplingOptions o, int seeds, int n) {
  std::vector<int64_t> count(logits.size(), 0);
  for (int s = 0; s < seeds; ++s) {
    o.seed = 1000 + static_cast<uint64_t>(s);
    Sampler sampler(o, static_cast<int64_t>(logits.size()));
    for (int i = 0; i < n; ++i) {
      const int32_t t = sampler.sample(logits.data());
      EXPECT_TRUE(t >= 0 && t < static_cast<int32_t>(logits.size())) << t;
      if (t >= 0 && t < static_cast<int32_t>(logits.size())) ++count[static_cast<size_t>(t)];
    }
  }
  return count;
}

// Support exact (count > 0 iff p > 0; every p here is >= 1e-3, so 20000 draws see it)
// and |count - N p| <= 5 sqrt(N p (1 - p)).
void expect_matches(const std::vector<int64_t>& count, const std::map<int, double>& want, double min_p = 1e-3) {
  const double N = static_cast<double>(std::accumulate(count.begin(), count.end(), int64_t{0}));
  for (size_t i = 0; i < count.size(); ++i) {
    const double p = want.count(static_cast<int>(i)) ? want.at(static_cast<int>(i)) : 0.0;
    if (p == 0) {
      EXPECT_EQ(count[i], 0) << "token " << i << " is outside the support";
      continue;
    }
    if (p >= min_p) EXPECT_GT(count[i], 0) << "token " << i << " (p " << p << ") never drawn";
    const double sigma = std::sqrt(N * p * (1 - p));
    EXPECT_LE(std::abs(static_cast<double>(count[i]) - N * p), 5 * sigma + 1e-9)
        << "token " << i << ": " << count[i] << " draws, expected " << N * p << " (p " << p << ")";
  }
}

std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return l;
}

// p = (0.04, 0.4, 0.1, 0.25, 0.15, 0.06): the analytic answers are plain arithmetic.
const std::vector<float> kSix = log_probs({0.04, 0.4, 0.1, 0.25, 0.15, 0.06});

TEST(SamplerReference, HandComputedCases) {  // the reference itself, against arithmetic
  auto near = [](const std::map<int, double>& got, const std::map<int, double>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [i, p] : want) EXPECT_NEAR(got.at(i), p, 1e-6) << i;
  };
  near(reference(kSix, 1, 0, 1), {{0, 0.04}, {1, 0.4}, {2, 0.1}, {3, 0.25}, {4, 0.15}, {5, 0.06}});
  near(reference(kSix, 1, 3, 1), {{1, 0.5}, {3, 0.3125}, {4, 0.1875}});        // 0.4, 0.25, 0.15 over 0.8
  near(reference(kSix, 1, 0, 0.7), {{1, 0.5}, {3, 0.3125}, {4, 0.1875}});      // 0.4 + 0.25 + 0.15 >= 0.7
  near(reference(kSix, 1, 0, 0.3), {{1, 1.0}});                                // the top token alone
  near(reference(kSix, 0.5, 0, 1), {{0, 0.0016 / 0.2602}, {1, 0.16 / 0.2602}, {2, 0.01 / 0.2602},
                                    {3, 0.0625 / 0.2602}, {4, 0.0225 / 0.2602}, {5, 0.0036 / 0.2602}});  // p^2
}

TEST(Sampler, MatchesTheTruncatedSoftmax) {
  struct Case {
    float T;
    int top_k;
    float top_p;
  };
  for (const Case c : {Case{1, 0, 1}, Case{1, 3, 1}, Case{1, 0, 0.7f}, Case{0.5f, 0, 1}, Case{2, 0, 1}, Case{2, 4, 0.8f},
                       Case{2, 4, 0.9f}, Case{1.3f, 5, 0.95f}, Case{1, 0, 0.3f}, Case{1, 1, 1}, Case{1, 10, 1}}) {
    SCOPED_TRACE(testing::Message() << "T " << c.T << " top_k " << c.top_k << " top_p " << c.top_p);
    SamplingOptions o;
    o.temperature = c.T;
    o.top_k = c.top_k;
    o.top_p = c.top_p;
    expect_matches(draw(kSix, o, 4, 5000), reference(kSix, c.T, c.top_k, c.top_p));
  }
}

TEST(Sampler, MatchesTheTruncatedSoftmaxOverALargerVocabulary) {
  std::mt19937 gen(7);
  std::normal_distribution<float> n(0, 2);
  std::vector<float> logits(300);
  for (float& x : logits) x = n(gen);
  for (const float top_p : {1.0f, 0.9f, 0.5f}) {
    SCOPED_TRACE(top_p);
    SamplingOptions o;
    o.temperature = 0.8f;
    o.top_k = 40;
    o.top_p = top_p;
    expect_matches(draw(logits, o, 4, 5000), reference(logits, 0.8, 40, top_p), 0.01);
  }
}

TEST(Sampler, SeedsReproduceAndDiffer) {
  SamplingOptions o;
  o.temperature = 1;
  auto run = [&](uint64_t seed, uint64_t stream) {
    o.seed = seed;
    Sampler s(o, 6, stream);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(kSix.data()));
    return out;
  };
  EXPECT_EQ(run(5, 0), run(5, 0));
  EXPECT_NE(run(5, 0), run(6, 0));  // 200 draws of entropy ~2.2 bits agree by chance with p ~ 2^-300
  EXPECT_NE(run(5, 0), run(5, 1));  // batch rows get their own streams
}

TEST(Sampler, GreedyAndTopOnePickTheFirstMaximum) {
  const std::vector<float> l = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  SamplingOptions greedy;
  EXPECT_EQ(Sampler(greedy, 5).sample(l.data()), 1);
  SamplingOptions top1;
  top1.temperature = 1;
  top1.top_k = 1;
  Sampler s(top1, 5);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(l.data()), 1);
}

// NaN counts as -inf: never drawn, the rest keeps its softmax (sorted and unsorted paths).
TEST(SamplerNonFinite, NaNLogitsAreNeverDrawn) {
  std::vector<float> l = {kNaN, std::log(0.5f), kNaN, std::log(0.3f), std::log(0.2f), kNaN};
  for (const auto& [top_k, top_p] : {std::pair{0, 1.0f}, std::pair{2, 1.0f}, std::pair{0, 0.99f}}) {
    SCOPED_TRACE(testing::Message() << "top_k " << top_k << " top_p " << top_p);
    SamplingOptions o;
    o.temperature = 1;
    o.top_k = top_k;
    o.top_p = top_p;
    const std::map<int, double> want = top_k == 2 ? std::map<int, double>{{1, 0.625}, {3, 0.375}}
                                                  : std::map<int, double>{{1, 0.5}, {3, 0.3}, {4, 0.2}};
    expect_matches(draw(l, o, 4, 5000), want);
  }
  SamplingOptions greedy;
  EXPECT_EQ(Sampler(greedy, 6).sample(l.data()), 1);
}

// Half the vocabulary NaN, interleaved: the sort must stay a strict weak ordering (the
// old comparator's NaN broke it: undefined behaviour, out-of-range reads in practice).
TEST(SamplerNonFinite, ManyNaNsKeepTheSortValid) {
  std::mt19937 gen(3);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> l(4096);
  for (size_t i = 0; i < l.size(); ++i) l[i] = i % 2 ? kNaN : n(gen);
  for (const auto& [top_k, top_p] : {std::pair{0, 0.9f}, std::pair{100, 1.0f}, std::pair{0, 1.0f}}) {
    SamplingOptions o;
    o.temperature = 1;
    o.top_k = top_k;
    o.top_p = top_p;
    Sampler s(o, static_cast<int64_t>(l.size()));
    for (int i = 0; i < 300; ++i) {
      const int32_t t = s.sample(l.data());
      ASSERT_TRUE(t >= 0 && t < 4096 && t % 2 == 0) << t;
    }
  }
}

// +inf logits share all the probability (softmax's limit); top-k 1 takes the first.
TEST(SamplerNonFinite, InfiniteLogitsTakeAllTheMass) {
  const std::vector<float> l = {1.0f, kInf, 0.0f, kInf, kNaN, -kInf};
  for (const float top_p : {1.0f, 0.6f}) {
    SamplingOptions o;
    o.temperature = 0.7f;
    o.top_p = top_p;
    expect_matches(draw(l, o, 4, 5000), {{1, 0.5}, {3, 0.5}});  // top-p 0.6 needs both halves
  }
  SamplingOptions o;
  o.temperature = 1;
  o.top_k = 1;
  EXPECT_EQ(Sampler(o, 6).sample(l.data()), 1);
  o.top_k = 0;  // -inf logits get probability 0, the finite ones their softmax
  expect_matches(draw({0.0f, -kInf, 1.0f, -kInf}, o, 4, 5000),
                 {{0, 1 / (1 + std::exp(1.0))}, {2, std::exp(1.0) / (1 + std::exp(1.0))}});
}

// Nothing above -inf: sampling returns greedy's pick (the first non-NaN maximum, else 0).
TEST(SamplerNonFinite, RowsWithNothingAboveMinusInfinityFallBackToGreedy) {
  SamplingOptions o;
  o.temperature = 1;
  for (const int top_k : {0, 2}) {
    o.top_k = top_k;
    EXPECT_EQ(Sampler(o, 3).sample(std::vector<float>{kNaN, kNaN, kNaN}.data()), 0);
    EXPECT_EQ(Sampler(o, 3).sample(std::vector<float>{kNaN, -kInf, -kInf}.data()), 1);
    EXPECT_EQ(Sampler(o, 3).sample(std::vector<float>{-kInf, -kInf, -kInf}.data()), 0);
  }
}

// A temperature so small that 1/T is inf: the maximum still gets probability 1, not NaN.
TEST(SamplerNonFinite, TinyTemperatureIsGreedy) {
  SamplingOptions o;
  o.temperature = 1e-39f;
  ASSERT_TRUE(std::isinf(1.0f / o.temperature));
  Sampler s(o, 4);
  const std::vector<float> l = {1.0f, 3.0f, 2.0f, -1.0f};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(l.data()), 1);
}

}  // namespace
}  // namespace lmf

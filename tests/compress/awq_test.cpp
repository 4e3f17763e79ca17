// Tests for AWQ (compress/awq.h): on inputs with a few large channels (the case AWQ is
// for), the searched scales cut the output error of 4- and 3-bit round to nearest on
// held-out inputs; clipping (group 128, Gaussian weights) cuts it too and only ever
// narrows the range; equal channels give s = 1 (plain round to nearest); the Hessian form
// of the error equals the error computed on the tokens; on the golden GPT-2, Llama and
// Qwen2 models, the searched scales folded into the norms leave the float logits unchanged
// (1e-5) and cover the expected norms (two per layer; the untied head's final norm is left
// alone), while moving them: scales away from 1 on most norms, and those norms and the
// linears reading them changed.
#include "compress/awq.h"

#include <gtest/gtest.h>

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "compress/gptq.h"
#include "models/model.h"
#include "runtime/session.h"
#include "support/golden.h"

namespace lmf::compress {
namespace {

struct Problem {
  int64_t K = 128, N = 64, n = 2048;
  std::vector<float> W, Xcal, Xtest, xmean;
  std::vector<double> H;
};

// Tokens whose channels j < outliers are `big` times larger than the others.
std::vector<float> inputs(int64_t n, int64_t K, int outliers, float big, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> x(static_cast<size_t>(n * K));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < K; ++j) x[r * K + j] = d(rng) * ((j * 37) % K < outliers ? big : 1.0f);
  return x;
}

Problem make_problem(int outliers, float big) {
  Problem p;
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0, 1);
  p.W.resize(static_cast<size_t>(p.K * p.N));
  for (float& w : p.W) w = 0.02f * d(rng);
  p.Xcal = inputs(p.n, p.K, outliers, big, 1);
  p.Xtest = inputs(p.n, p.K, outliers, big, 2);
  p.H.assign(static_cast<size_t>(p.K * p.K), 0.0);
  p.xmean.assign(static_cast<size_t>(p.K), 0.0f);
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t i = 0; i < p.K; ++i) {
      p.xmean[i] += std::fabs(p.Xcal[r * p.K + i]) / static_cast<float>(p.n);
      for (int64_t j = 0; j < p.K; ++j) p.H[i * p.K + j] += 2.0 * p.Xcal[r * p.K + i] * p.Xcal[r * p.K + j] / p.n;
    }
  return p;
}

// Σ over tokens of ||x (Ŵ - W)||², Ŵ = diag(1/s) deq(Q(diag(s) W')) with W' = clipped (or W).
double output_error(const std::vector<float>& X, int64_t n, const Problem& p, const std::vector<float>& s,
                    const std::vector<float>& w_quant_src, const quant::Spec& spec) {
  std::vector<float> ws(p.W.size());
  for (int64_t k = 0; k < p.K; ++k)
    for (int64_t c = 0; c < p.N; ++c) ws[k * p.N + c] = w_quant_src[k * p.N + c] * s[k];
  const Tensor d = quant::dequantize(quant::quantize_rtn(ws.data(), p.K, p.N, spec), p.K, spec.bits);
  double e = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < p.N; ++c) {
      double y = 0;
      for (int64_t k = 0; k < p.K; ++k)
        y += X[r * p.K + k] * (d.data_as<float>()[k * p.N + c] / s[k] - p.W[k * p.N + c]);
      e += y * y;
    }
  return e;
}

TEST(Awq, ScalesBeatRoundToNearestOnHeldOutInputs) {
  const Problem p = make_problem(4, 20.0f);
  const std::vector<float> ones(static_cast<size_t>(p.K), 1.0f);
  for (int bits : {3, 4}) {
    const quant::Spec spec{bits, 32, true};
    const AwqScales sc = awq_search_scales({p.W.data()}, {p.N}, p.K, p.H, p.xmean, spec);
    ASSERT_EQ(sc.s.size(), static_cast<size_t>(p.K));
    EXPECT_GT(sc.alpha, 0.0);
    EXPECT_LT(sc.err, sc.err_rtn);
    const double rtn = output_error(p.Xtest, p.n, p, ones, p.W, spec);
    const double awq = output_error(p.Xtest, p.n, p, sc.s, p.W, spec);
    std::printf("    %d bits: alpha %.2f, AWQ / RTN held-out output error = %.3f\n", bits, sc.alpha, awq / rtn);
    EXPECT_LT(awq, 0.8 * rtn) << bits << " bits";
  }
}

TEST(Awq, SearchSumsTheErrorsOfLayersSharingTheInput) {
  const Problem p = make_problem(4, 20.0f);
  const quant::Spec spec{4, 32, false};
  const int64_t N1 = 32, N2 = p.N - N1;  // the same weights as two layers of 32 and 32 columns
  std::vector<float> a(static_cast<size_t>(p.K * N1)), b(static_cast<size_t>(p.K * N2));
  for (int64_t k = 0; k < p.K; ++k)
    for (int64_t c = 0; c < p.N; ++c) (c < N1 ? a[k * N1 + c] : b[k * N2 + c - N1]) = p.W[k * p.N + c];
  const AwqScales one = awq_search_scales({p.W.data()}, {p.N}, p.K, p.H, p.xmean, spec);
  const AwqScales two = awq_search_scales({a.data(), b.data()}, {N1, N2}, p.K, p.H, p.xmean, spec);
  EXPECT_EQ(one.alpha, two.alpha);
  EXPECT_NEAR(one.err, two.err, 1e-4 * one.err);
  EXPECT_NEAR(one.err_rtn, quantization_error(p.W.data(), p.K, p.N, p.H, spec), 1e-4 * one.err_rtn);
}

TEST(Awq, EqualChannelsGiveRoundToNearest) {
  Problem p = make_problem(0, 1.0f);
  std::fill(p.xmean.begin(), p.xmean.end(), 0.8f);
  const AwqScales sc = awq_search_scales({p.W.data()}, {p.N}, p.K, p.H, p.xmean, quant::Spec{4, 64, true});
  for (float v : sc.s) EXPECT_EQ(v, 1.0f);
  EXPECT_EQ(sc.err, sc.err_rtn);
}

TEST(Awq, HessianErrorIsTheTokensError) {
  const Problem p = make_problem(4, 20.0f);
  const quant::Spec spec{4, 32, true};
  const std::vector<float> ones(static_cast<size_t>(p.K), 1.0f);
  const double tokens = output_error(p.Xcal, p.n, p, ones, p.W, spec) * 2.0 / static_cast<double>(p.n);
  EXPECT_NEAR(quantization_error(p.W.data(), p.K, p.N, p.H, spec), tokens, 1e-3 * tokens);
}

TEST(Awq, ClippingHelpsAtFewBitsAndOnlyNarrows) {
  const Problem p = make_problem(0, 1.0f);
  const std::vector<float> ones(static_cast<size_t>(p.K), 1.0f);
  for (int bits : {3, 4}) {
    const quant::Spec spec{bits, 128, true};
    std::vector<float> c = p.W;
    awq_clip(c.data(), p.K, p.N, p.H, spec);
    int64_t clipped = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      EXPECT_LE(std::fabs(c[i]), std::fabs(p.W[i]));
      EXPECT_TRUE(c[i] == p.W[i] || std::signbit(c[i]) == std::signbit(p.W[i]));
      clipped += c[i] != p.W[i];
    }
    EXPECT_GT(clipped, 0);
    const double plain = output_error(p.Xtest, p.n, p, ones, p.W, spec);
    const double clip = output_error(p.Xtest, p.n, p, ones, c, spec);
    std::printf("    %d bits: %lld weights clipped, clipped / plain held-out output error = %.3f\n", bits,
                static_cast<long long>(clipped), clip / plain);
    EXPECT_LT(clip, (bits == 3 ? 0.9 : 0.95) * plain) << bits << " bits";
    EXPECT_LT(quantization_error(c.data(), p.K, p.N, p.H, spec), quantization_error(p.W.data(), p.K, p.N, p.H, spec));
  }
}

TEST(Awq, BadSpecsAreRefused) {
  const Problem p = make_problem(4, 20.0f);
  EXPECT_THROW(awq_search_scales({p.W.data()}, {p.N}, p.K, p.H, p.xmean, quant::Spec{4, 48, true}), Error);
  std::vector<float> c = p.W;
  EXPECT_THROW(awq_clip(c.data(), p.K, p.N, p.H, quant::Spec{5, 32, true}), Error);
}

std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& ids) {
  Session s(m, {.max_batch = 1, .max_context = 0, .max_step_tokens = 64, .threads = 2});
  SeqChunk c{0, ids};
  auto l = s.step(std::span<const SeqChunk>(&c, 1), true);
  return {l.begin(), l.end()};
}

class AwqModel : public ::testing::TestWithParam<std::string> {};

TEST_P(AwqModel, FoldedScalesPreserveTheFloatModel) {
  const std::string dir = test::golden_dir(GetParam());
  const test::Expected exp = test::load_expected(dir);
  Model m = load_model(dir);
  const auto before = logits_of(m, exp.prompts[0]);
  const auto weights_before = test::weights_of(m.graph);
  std::vector<std::vector<int32_t>> samples(exp.prompts.begin(), exp.prompts.end());
  std::map<int, std::vector<float>> xmean;
  auto H = collect_hessians(m, samples, 2, &xmean);
  const std::vector<AwqNorm> norms = awq_scale_norms(m.graph, H, xmean, quant::Spec{4, 32, true});
  double moved = 0;
  for (const AwqNorm& an : norms) {
    EXPECT_LE(an.scales.err, an.scales.err_rtn) << an.norm;
    for (float v : an.scales.s) moved = std::max(moved, std::fabs(std::log(static_cast<double>(v))));
  }
  const int scaled = static_cast<int>(norms.size());
  EXPECT_EQ(scaled, 2 * m.info.layers);
  // The fold moved something: scales away from 1 (|log s| > 0.05, a 5% rescale of some
  // channel) on most norms (the search may keep s = 1, alpha 0, where no alpha beats round
  // to nearest), and each norm with s != 1 and every linear reading it changed by more than
  // 1e-3 of its largest weight (a no-op fold would leave them bit-identical).
  EXPECT_GT(moved, 0.05);
  const std::vector<std::string> changed = test::weights_moved(m.graph, weights_before, 1e-3);
  size_t linears = 0, rescaled = 0;
  for (const AwqNorm& an : norms) {
    double norm_moved = 0;
    for (float v : an.scales.s) norm_moved = std::max(norm_moved, std::fabs(std::log(static_cast<double>(v))));
    if (norm_moved < 0.01) continue;
    rescaled += 1;
    linears += an.linears;
    EXPECT_NE(std::find(changed.begin(), changed.end(), an.norm), changed.end()) << an.norm << " not moved";
  }
  EXPECT_GE(2 * rescaled, norms.size());
  EXPECT_GE(changed.size(), rescaled + linears);
  const auto after = logits_of(m, exp.prompts[0]);
  const double kept = test::rel_error(after.data(), before.data(), static_cast<int64_t>(before.size()));
  EXPECT_LT(kept, 1e-5);  // measured 4-6e-7 of the largest logit
  std::printf("    %s: %d norms scaled (%zu with |log s| > 0.01), largest |log s| %.3f, %zu weights moved (> 1e-3), "
              "logits kept to %.2e\n", GetParam().c_str(), scaled, rescaled, moved, changed.size(), kept);
}

INSTANTIATE_TEST_SUITE_P(Golden, AwqModel, ::testing::Values("gpt2", "llama", "llama_untied_sharded", "qwen2"));

}  // namespace
}  // namespace lmf::compress

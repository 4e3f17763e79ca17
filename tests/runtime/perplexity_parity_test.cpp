// Perplexity and model comparison against the PyTorch reference (tests/reference/
// ref_ppl.py, float64) on the same windows: ppl within 1e-4 relative; KL mean, p99
// and max within 1e-3 relative (float32 logits; KL is a small difference of
// log-probabilities); same-top-token rate equal. Also: a model against itself has
// KL 0 and 100% same top token.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/model.h"
#include "runtime/perplexity.h"
#include "support/golden.h"

namespace lmf {
namespace {

std::vector<int32_t> read_ids(const std::string& path) {
  std::ifstream in(path);
  std::vector<int32_t> ids;
  int32_t x;
  while (in >> x) ids.push_back(x);
  return ids;
}

struct Case {
  std::string model;
  int64_t ctx, stride;
};

class PplParity : public ::testing::TestWithParam<Case> {};

TEST_P(PplParity, MatchesReference) {
  const Case c = GetParam();
  const std::string g = std::string(LMF_TEST_DATA) + "/golden/";
  std::ifstream f(g + c.model + "/ppl_" + std::to_string(c.ctx) + "_" + std::to_string(c.stride) + ".json");
  ASSERT_TRUE(f.good());
  const nlohmann::json ref = nlohmann::json::parse(f);
  const std::vector<int32_t> ids = read_ids(g + "ppl_ids.txt");
  ASSERT_EQ(ids.size(), 300u);
  Model base = load_model(g + c.model), variant = load_model(g + c.model + "_perturbed");
  for (int64_t batch : {1, 3}) {
    SessionOptions so{.max_batch = batch, .max_context = c.ctx, .max_step_tokens = batch * c.ctx, .threads = 2};
    Session sb(base, so), sv(variant, so);
    PerplexityResult p = perplexity(sv, ids, c.ctx, c.stride, batch);
    EXPECT_EQ(p.tokens, ref["tokens"].get<int64_t>());
    EXPECT_NEAR(p.ppl(), ref["ppl"].get<double>(), 1e-4 * ref["ppl"].get<double>()) << "batch " << batch;
    EXPECT_NEAR(p.ppl_stderr(), ref["ppl_stderr"].get<double>(), 1e-3 * ref["ppl_stderr"].get<double>());
    CompareResult k = compare_models(sb, sv, ids, c.ctx, c.stride, batch);
    EXPECT_EQ(k.tokens, ref["tokens"].get<int64_t>());
    EXPECT_NEAR(k.variant.ppl(), ref["ppl"].get<double>(), 1e-4 * ref["ppl"].get<double>());
    for (const char* key : {"kl_mean", "kl_p99", "kl_max"}) {
      const double want = ref[key].get<double>();
      const double got = std::string(key) == "kl_mean" ? k.kl_mean : std::string(key) == "kl_p99" ? k.kl_p99 : k.kl_max;
      EXPECT_NEAR(got, want, 1e-3 * want) << key;
    }
    EXPECT_NEAR(k.same_top, ref["same_top"].get<double>(), 1e-12);
    EXPECT_GT(k.kl_mean, 0.0);

    CompareResult self = compare_models(sb, sb, ids, c.ctx, c.stride, batch);
    EXPECT_LT(self.kl_max, 1e-9);
    EXPECT_EQ(self.same_top, 1.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, PplParity,
                         ::testing::Values(Case{"gpt2", 64, 64}, Case{"gpt2", 64, 32}, Case{"llama", 48, 16}));

TEST(Windows, EveryTokenScoredAtMostOnce) {
  for (int64_t n : {2, 3, 10, 100, 257})
    for (auto [ctx, stride] : std::vector<std::pair<int64_t, int64_t>>{{2, 1}, {4, 4}, {8, 3}, {16, 8}, {300, 300}}) {
      std::vector<int> seen(static_cast<size_t>(n), 0);
      for (const Window& w : make_windows(n, ctx, stride)) {
        EXPECT_LE(w.end - w.begin, ctx);
        EXPECT_GT(w.score_from, w.begin);
        for (int64_t t = w.score_from; t < w.end; ++t) ++seen[static_cast<size_t>(t)];
      }
      EXPECT_EQ(seen[0], 0);
      // Overlapping windows score every later token once; non-overlapping ones skip
      // each window's first token (it has no context).
      for (int64_t t = 1; t < n; ++t)
        EXPECT_EQ(seen[static_cast<size_t>(t)], stride == ctx && t % ctx == 0 && t + ctx <= n ? 0 : 1) << n << " " << ctx << " " << stride;
    }
}

TEST(Windows, BadArguments) {
  EXPECT_THROW(make_windows(100, 1, 1), Error);
  EXPECT_THROW(make_windows(100, 8, 9), Error);
  EXPECT_THROW(make_windows(100, 8, 0), Error);
  EXPECT_THROW(make_windows(1, 8, 8), Error);
}

}  // namespace
}  // namespace lmf

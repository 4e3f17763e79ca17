// runtime/bench: the benchmark library function `lmforge bench` prints.
#include "runtime/bench.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "support/golden.h"

namespace lmf {
namespace {

TEST(Bench, TimesEachRepetitionAndProfilesTheLast) {
  const Model m = load_model(test::golden_dir("llama"));
  BenchOptions o;
  o.prompt = 8, o.gen = 4, o.reps = 3, o.probe = false, o.profile = true;
  const BenchResult r = run_benchmark(m, o);
  ASSERT_EQ(r.prefill_tps.size(), 3u);
  ASSERT_EQ(r.decode_tps.size(), 3u);
  for (double t : r.prefill_tps) EXPECT_GT(t, 0);
  for (double t : r.decode_tps) EXPECT_GT(t, 0);
  EXPECT_TRUE(r.adjacent_weight_bw.empty());  // no probe: no yardsticks
  EXPECT_EQ(r.read_bw, 0);
  EXPECT_EQ(r.sgemm_peak, 0);
  // The decode profile is of one repetition: every layer's attention once per token.
  std::set<std::string> ops;
  for (const auto& [op, t] : r.decode_profile) {
    ops.insert(op);
    if (op == "attention") EXPECT_EQ(t.calls, o.gen * m.info.layers);
  }
  EXPECT_TRUE(ops.count("attention") && ops.count("linear")) << "decode profile lacks attention/linear";
  EXPECT_FALSE(r.prefill_profile.empty());
  for (size_t i = 1; i < r.decode_profile.size(); ++i)  // largest first
    EXPECT_GE(r.decode_profile[i - 1].second.seconds, r.decode_profile[i].second.seconds);
  EXPECT_GT(r.bytes_per_token, 0);
  EXPECT_GT(r.prefill_flops, 0);
  EXPECT_LE(r.prefill_flops_run, r.prefill_flops);
}

TEST(Bench, RefusesOptionsTheModelCannotTake) {
  const Model m = load_model(test::golden_dir("llama"));
  BenchOptions o;
  o.probe = false;
  o.prompt = 0, o.gen = 0;
  EXPECT_THROW(run_benchmark(m, o), Error);
  o.prompt = 4, o.gen = 1, o.reps = 0;
  EXPECT_THROW(run_benchmark(m, o), Error);
  o.reps = 1, o.prompt = m.info.context + 1;
  try {
    run_benchmark(m, o);
    ADD_FAILURE() << "a prompt past the context was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceed the model's context"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lmf

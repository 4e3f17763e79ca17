// The session's KV cache is sized to the request: it starts at what the caller reserves,
// grows (keeping every sequence's positions) when a step needs more, and never past the
// context; a grown cache gives the same logits as one sized up front.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/model.h"
#include "runtime/executor.h"
#include "runtime/session.h"
#include "support/golden.h"

namespace lmf {
namespace {

namespace fs = std::filesystem;

// Feeds two sequences of different lengths through `s` in chunks of `chunk` tokens and
// returns every logit row of every step, in order.
std::vector<float> run_two_sequences(Session& s, int64_t chunk) {
  const std::vector<int32_t> a = {5, 9, 17, 3, 44, 101, 7, 7, 250, 31, 2, 8, 90, 12, 60, 61, 62, 63, 64, 65};
  const std::vector<int32_t> b = {400, 13, 8, 8, 1, 77, 300, 21, 4, 5, 6};
  std::vector<float> out;
  size_t ia = 0, ib = 0;
  while (ia < a.size() || ib < b.size()) {
    std::vector<SeqChunk> chunks;
    const size_t ta = std::min(static_cast<size_t>(chunk), a.size() - ia);
    const size_t tb = std::min(static_cast<size_t>(chunk) / 2 + 1, b.size() - ib);
    if (ta) chunks.push_back({0, std::span<const int32_t>(a).subspan(ia, ta), 0});
    if (tb) chunks.push_back({1, std::span<const int32_t>(b).subspan(ib, tb), 0});
    ia += ta;
    ib += tb;
    std::span<const float> l = s.step(chunks, true);
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

TEST(Session, GrownCacheGivesTheLogitsOfOneSizedUpFront) {
  for (const char* name : {"llama", "gpt2"}) {
    Model m = load_model(test::golden_dir(name));
    Session full(m, {.max_batch = 2, .max_context = 0, .reserve_context = 64, .max_step_tokens = 16, .threads = 2});
    Session grown(m, {.max_batch = 2, .max_context = 0, .reserve_context = 3, .max_step_tokens = 16, .threads = 2});
    EXPECT_EQ(grown.capacity(), 3);
    const std::vector<float> want = run_two_sequences(full, 4);
    const std::vector<float> got = run_two_sequences(grown, 4);
    EXPECT_GE(grown.capacity(), 20) << name;  // grew (3 -> 6 -> 12 -> 24)
    EXPECT_LE(grown.capacity(), 24) << name;
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0) << name << ": grown cache changed the logits";
  }
}

// Plans share nothing (each executor owns its cpu::Backend; kernels keep no static state):
// two sessions built and run at the same time in two threads give, bit for bit, the
// logits of one built and run alone.
TEST(Session, TwoSessionsInTwoThreadsGiveTheLogitsOfOne) {
  for (const char* name : {"gpt2", "llama"}) {
    Model m = load_model(test::golden_dir(name));
    const SessionOptions o{.max_batch = 2, .max_context = 0, .reserve_context = 32, .max_step_tokens = 16, .threads = 2};
    std::vector<float> want;
    {
      Session alone(m, o);
      want = run_two_sequences(alone, 5);
    }
    std::vector<float> got[2];
    std::thread a([&] {
      Session s(m, o);
      got[0] = run_two_sequences(s, 5);
    });
    std::thread b([&] {
      Session s(m, o);
      got[1] = run_two_sequences(s, 5);
    });
    a.join();
    b.join();
    for (const std::vector<float>& g : got) {
      ASSERT_EQ(g.size(), want.size()) << name;
      EXPECT_EQ(std::memcmp(g.data(), want.data(), g.size() * 4), 0) << name << ": a concurrent session differs";
    }
  }
}

TEST(Session, LongContextModelHoldsOnlyWhatIsReserved) {
  // A Llama 3.2-style context (131072 positions) must not be allocated up front.
  const fs::path dir = fs::temp_directory_path() / "lmf_session_long_ctx";
  fs::remove_all(dir);
  fs::copy(test::golden_dir("llama"), dir, fs::copy_options::recursive);
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  cfg["max_position_embeddings"] = 131072;
  std::ofstream(dir / "config.json") << cfg.dump();
  Model m = load_model(dir.string());
  ASSERT_EQ(m.info.context, 131072);
  Session s(m, {.max_batch = 2, .max_context = 0, .max_step_tokens = 8, .threads = 1});
  EXPECT_EQ(s.context(), 131072);
  EXPECT_EQ(s.capacity(), Session::kDefaultReserve);
  // Llama golden: 2 layers x (k, v) x 2 kv heads x head dim 16 x 4 bytes.
  EXPECT_EQ(s.kv_bytes_per_token(), 2 * 2 * 2 * 16 * 4);
  EXPECT_EQ(static_cast<int64_t>(s.executor().state_bytes()), s.kv_bytes_per_token() * 2 * Session::kDefaultReserve);
  s.reserve(1000);
  EXPECT_EQ(s.capacity(), 1000);
  EXPECT_EQ(static_cast<int64_t>(s.executor().state_bytes()), s.kv_bytes_per_token() * 2 * 1000);
  s.reserve(10'000'000);  // capped at the context
  EXPECT_EQ(s.capacity(), 131072);
  fs::remove_all(dir);
}

TEST(Session, StepPastTheContextLimitIsAnError) {
  Model m = load_model(test::golden_dir("llama"));
  Session s(m, {.max_batch = 1, .max_context = 10, .max_step_tokens = 16, .threads = 1});
  EXPECT_EQ(s.context(), 10);
  const std::vector<int32_t> t(11, 3);
  try {
    s.step(std::vector<SeqChunk>{{0, t}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than the context of 10"), std::string::npos) << e.what();
  }
}

TEST(Executor, RunChecksItsRowsAgainstThePlan) {
  Model m = load_model(test::golden_dir("llama"));
  Executor e(m.graph, {.max_tokens = 4, .max_rows = 2, .slots = 1, .cache_len = 8, .threads = 1});
  EXPECT_THROW(e.run(5, 1), Error);  // more tokens than the plan holds
  EXPECT_THROW(e.run(4, 3), Error);  // more logit rows than the plan holds
  EXPECT_THROW(e.run(0, 0), Error);
}

}  // namespace
}  // namespace lmf

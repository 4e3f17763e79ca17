// Tests for the teacher top-k cache (train/teacher_cache.h): built over the aligned
// windows of a token stream with a deterministic "teacher", fill() gives back each
// position's k largest logits at their ids and, elsewhere, the tail logit under which
// softmax(out / T) keeps the teacher's exact probabilities on the top k and spreads the
// rest of the mass evenly; with k = the vocabulary it gives the teacher's logits exactly; metadata that differs
// (another teacher, seq, k) is refused naming the field; and the aligned batch sampler
// only draws windows at multiples of seq.
#include "train/teacher_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "train/train_loop.h"

namespace lmf {
namespace {

constexpr int64_t kV = 40, kSeq = 8;

// The "teacher": logits that depend on the token and its position in the window.
float logit(int32_t token, int64_t t, int64_t v) { return std::sin(0.37f * static_cast<float>(token * 7 + t * 3 + v * 11)); }

struct CacheTest : ::testing::Test {
  std::vector<int32_t> train;
  std::vector<float> buf;
  std::string path;
  void SetUp() override {
    for (int i = 0; i < 8 * kSeq + 5; ++i) train.push_back((i * 13) % kV);
    path = (std::filesystem::temp_directory_path() / ("lmf_tcache_" + std::to_string(::getpid()))).string();
    std::filesystem::remove(path);
  }
  void TearDown() override { std::filesystem::remove(path); }
  TeacherCache::LogitsFn teacher() {
    return [this](std::span<const int32_t> tokens) {
      buf.resize(tokens.size() * kV);
      for (size_t r = 0; r < tokens.size(); ++r)
        for (int64_t v = 0; v < kV; ++v) buf[r * kV + v] = logit(tokens[r], static_cast<int64_t>(r) % kSeq, v);
      return static_cast<const float*>(buf.data());
    };
  }
};

TEST_F(CacheTest, FillGivesTheTopKOfEachPosition) {
  for (int64_t k : {int64_t{5}, kV}) {
    std::filesystem::remove(path);
    const double T = 2.0;
    TeacherCache::build(path, train, kSeq, k, kV, T, 3, teacher(), {{"teacher", "t"}});
    TeacherCache c = TeacherCache::open(path, {{"teacher", "t"}, {"seq", "8"}, {"k", std::to_string(k)}});
    EXPECT_EQ(c.windows(), 8);
    const std::vector<int64_t> starts = {5 * kSeq, 0, 7 * kSeq};
    std::vector<float> out(starts.size() * kSeq * kV);
    c.fill(starts, kV, out.data());
    for (size_t b = 0; b < starts.size(); ++b)
      for (int64_t t = 0; t < kSeq; ++t) {
        std::vector<float> row(kV);
        for (int64_t v = 0; v < kV; ++v) row[v] = logit(train[starts[b] + t], t, v);
        std::vector<float> sorted = row;
        std::sort(sorted.rbegin(), sorted.rend());
        const float kth = sorted[static_cast<size_t>(k - 1)];
        double z = 0, zt = 0;  // softmax(. / T) normalizers: the filled row's and the teacher's
        for (int64_t v = 0; v < kV; ++v) z += std::exp(out[(b * kSeq + t) * kV + v] / T), zt += std::exp(row[v] / T);
        double tail_mass = 0;
        for (int64_t v = 0; v < kV; ++v) {
          const float got = out[(b * kSeq + t) * kV + v];
          if (row[v] >= kth) {
            EXPECT_EQ(got, row[v]) << "k " << k << " window " << starts[b] << " t " << t << " v " << v;
            EXPECT_NEAR(std::exp(got / T) / z, std::exp(row[v] / T) / zt, 1e-6);  // exact top-k probabilities
          } else {
            tail_mass += std::exp(row[v] / T) / zt;
          }
        }
        if (k < kV) {  // every other token gets an equal share of the teacher's tail mass
          for (int64_t v = 0; v < kV; ++v)
            if (row[v] < kth)
              EXPECT_NEAR(std::exp(out[(b * kSeq + t) * kV + v] / T) / z, tail_mass / static_cast<double>(kV - k), 1e-6);
        }
      }
  }
}

TEST_F(CacheTest, DifferentTeacherSeqOrKIsRefused) {
  TeacherCache::build(path, train, kSeq, 4, kV, 2.0, 8, teacher(), {{"teacher", "a"}});
  auto err = [&](std::map<std::string, std::string> meta) {
    try {
      TeacherCache::open(path, meta);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(err({{"teacher", "a"}, {"seq", "8"}, {"k", "4"}}), "");
  EXPECT_NE(err({{"teacher", "b"}}).find("built for teacher a, not b"), std::string::npos);
  EXPECT_NE(err({{"seq", "16"}}).find("built for seq 8, not 16"), std::string::npos);
  EXPECT_NE(err({{"k", "32"}}).find("built for k 4, not 32"), std::string::npos);
  EXPECT_NE(err({{"temperature", "3"}}).find("built for temperature 2, not 3"), std::string::npos);
}

TEST(AlignedWindows, StartAtMultiplesOfSeq) {
  std::vector<int32_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<int32_t>(i);
  std::vector<int32_t> tokens, targets;
  std::vector<int64_t> starts;
  for (int64_t step = 0; step < 50; ++step) {
    sample_batch(data, 3, step, 0, 0, 4, 32, tokens, targets, &starts, true);
    for (int64_t b = 0; b < 4; ++b) {
      EXPECT_EQ(starts[b] % 32, 0);
      EXPECT_LE(starts[b] + 32, 999);
      EXPECT_EQ(tokens[b * 32], starts[b]);
    }
  }
}

}  // namespace
}  // namespace lmf

// The training workflows as a library user calls them (train/train_job.h,
// compress/distill.h), on a tiny GPT-2-shaped model with a tokenizer and a dataset made
// here: train_model's loss falls and its folder loads; distill_model's first logged loss
// with alpha = 1 equals T^2 KL(teacher || student) at temperature T computed here in
// double from the two models' own inference logits on the batch the loop draws (an
// independent computation of the loss, not the training graph's), its loss falls, and
// with alpha = 0 it is the student's cross-entropy; bad settings are refused naming the
// flag, before anything is written.
#include "compress/distill.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "data/prepare.h"
#include "data/text_source.h"
#include "data/token_dataset.h"
#include "runtime/session.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace lmf {
namespace {

// This test process's world: one rank (no launcher), made once as a program makes it.
dist::Communicator& test_world() {
  static dist::Communicator world;
  return world;
}

namespace fs = std::filesystem;

constexpr int64_t kBatch = 4, kSeq = 16;

// A tokenizer, a dataset and a trained teacher, made once for the suite.
class DistillTest : public ::testing::Test {
 protected:
  static inline std::string dir_, teacher_, student_config_, data_;
  static inline int64_t vocab_ = 0;
  static inline std::vector<double> teacher_losses_;

  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("lmf_distill_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const char* words[] = {"the", "jury", "said", "that", "city", "of", "a", "county", "election", "in",
                           "an", "investigation", "produced", "no", "evidence", "took", "place"};
    std::mt19937 rng(5);
    {
      std::ofstream text(dir_ + "/text.txt");
      for (int d = 0; d < 240; ++d) {
        for (int w = 0; w < 24; ++w) text << (w ? " " : "") << words[rng() % std::size(words)];
        text << "\n\n";
      }
    }
    BpeTrainerOptions bo;
    bo.vocab_size = 300;
    BpeTrainer bt(bo);
    bt.add_path(dir_ + "/text.txt");
    fs::create_directories(dir_ + "/tok");
    std::ofstream(dir_ + "/tok/tokenizer.json") << bt.train().to_json();
    std::unique_ptr<Tokenizer> tok = open_tokenizer(dir_ + "/tok/tokenizer.json");
    vocab_ = tok->vocab_size();
    data_ = dir_ + "/data";
    data::PrepareOptions po;
    po.out_dir = data_;
    po.split = {70, 30, 0};
    std::unique_ptr<data::DocumentSource> src = data::open_text(dir_ + "/text.txt", false);
    data::prepare_dataset(*src, *tok, po);
    auto config = [&](const std::string& path, int layers, int embd) {
      std::ofstream(path) << "{\"architectures\": [\"GPT2LMHeadModel\"], \"model_type\": \"gpt2\", \"n_layer\": "
                          << layers << ", \"n_embd\": " << embd << ", \"n_head\": 2, \"n_positions\": 32, "
                          << "\"vocab_size\": " << vocab_ << ", \"bos_token_id\": 0, \"eos_token_id\": 0}";
    };
    config(dir_ + "/teacher.json", 2, 32);
    student_config_ = dir_ + "/student.json";
    config(student_config_, 1, 16);
    // The teacher: trained here by train_model, so its distribution is far from uniform.
    TrainJob job;
    job.config = dir_ + "/teacher.json";
    job.data = data_;
    job.out = teacher_ = dir_ + "/teacher";
    job.loop = tiny_loop(40);
    job.loop.lr = 1e-2;
    job.threads = 2;
    train_model(job, test_world(), [](const TrainProgress& p) {
      if (p.kind == TrainProgress::Kind::kStep) teacher_losses_.push_back(p.event.loss);
    });
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static TrainConfig tiny_loop(int64_t steps) {
    TrainConfig c;
    c.steps = steps, c.batch = kBatch, c.seq = kSeq, c.lr = 3e-3, c.warmup = 2, c.log_interval = 1;
    c.eval_interval = 0, c.eval_batches = 1;
    return c;
  }

  compress::DistillJob job(const std::string& out, int64_t steps, double alpha) {
    compress::DistillJob d;
    d.teacher = teacher_;
    d.student = student_config_;
    d.loss.temperature = 2.5;
    d.loss.alpha = alpha;
    d.run.data = data_;
    d.run.out = dir_ + "/" + out;
    d.run.loop = tiny_loop(steps);
    d.run.threads = 2;
    return d;
  }

  // The losses distill_model logs, one per step.
  std::vector<double> distill(const compress::DistillJob& d) {
    std::vector<double> losses;
    compress::distill_model(d, test_world(), [&](const TrainProgress& p) {
      if (p.kind == TrainProgress::Kind::kStep) losses.push_back(p.event.loss);
    });
    return losses;
  }

  // Every row's logits (B*T, V) of `m` (an inference plan) on the windows of `tokens`.
  static std::vector<float> logits(const Model& m, const std::vector<int32_t>& tokens) {
    SessionOptions so;
    so.max_batch = kBatch, so.max_context = kSeq, so.max_step_tokens = kBatch * kSeq, so.threads = 1;
    Session s(m, so);
    std::vector<SeqChunk> chunks;
    for (int64_t b = 0; b < kBatch; ++b)
      chunks.push_back({static_cast<int>(b), std::span(tokens).subspan(static_cast<size_t>(b * kSeq), kSeq), 0});
    std::span<const float> out = s.step(chunks, true);
    return {out.begin(), out.end()};
  }

  // The first step's batch of the loop (step 0, micro-batch 0, seed 1).
  static void first_batch(std::vector<int32_t>& tokens, std::vector<int32_t>& targets) {
    const std::vector<int32_t> train = data::TokenDataset::open(data_, "train").read_all();
    sample_batch(train, 1, 0, 0, 0, kBatch, kSeq, tokens, targets);
  }
};

TEST_F(DistillTest, TrainModelLossFallsAndTheFolderLoads) {
  ASSERT_EQ(teacher_losses_.size(), 40u);
  EXPECT_NEAR(teacher_losses_.front(), std::log(static_cast<double>(vocab_)), 0.3);  // ~ uniform at init
  EXPECT_LT(teacher_losses_.back(), teacher_losses_.front() - 1.5);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "trainer_state.safetensors",
                        "training_args.json", "train_log.jsonl"})
    EXPECT_TRUE(fs::exists(teacher_ + "/" + f)) << f;
  EXPECT_EQ(load_model(teacher_).info.layers, 2);
}

double kl_at(const std::vector<float>& t, const std::vector<float>& s, int64_t V, double T) {
  const int64_t rows = static_cast<int64_t>(t.size()) / V;
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* tr = t.data() + r * V;
    const float* sr = s.data() + r * V;
    double mt = -1e300, ms = -1e300;
    for (int64_t v = 0; v < V; ++v) mt = std::max(mt, tr[v] / T), ms = std::max(ms, sr[v] / T);
    double zt = 0, zs = 0;
    for (int64_t v = 0; v < V; ++v) zt += std::exp(tr[v] / T - mt), zs += std::exp(sr[v] / T - ms);
    for (int64_t v = 0; v < V; ++v) {
      const double lp = tr[v] / T - mt - std::log(zt), lq = sr[v] / T - ms - std::log(zs);
      total += std::exp(lp) * (lp - lq);
    }
  }
  return total / static_cast<double>(rows);
}

TEST_F(DistillTest, FirstLossIsTSquaredKlOfTheTwoModels) {
  const compress::DistillJob d = job("kl", 1, 1.0);
  const std::vector<double> losses = distill(d);
  ASSERT_EQ(losses.size(), 1u);
  std::vector<int32_t> tokens, targets;
  first_batch(tokens, targets);
  const Model teacher = load_model(teacher_), student = init_model(student_config_, 1);
  const double T = d.loss.temperature;
  const double want = T * T * kl_at(logits(teacher, tokens), logits(student, tokens), vocab_, T);
  EXPECT_GT(want, 0.05);  // the teacher is far from the new student
  std::printf("loss %.8f want %.8f\n", losses[0], want);
  EXPECT_NEAR(losses[0], want, 1e-5 * want) << "distill loss " << losses[0] << ", T^2 KL computed here " << want;
}

TEST_F(DistillTest, AlphaZeroIsTheStudentsCrossEntropy) {
  const std::vector<double> losses = distill(job("ce", 1, 0.0));
  ASSERT_EQ(losses.size(), 1u);
  std::vector<int32_t> tokens, targets;
  first_batch(tokens, targets);
  const std::vector<float> s = logits(init_model(student_config_, 1), tokens);
  double ce = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    double m = -1e300, z = 0;
    for (int64_t v = 0; v < vocab_; ++v) m = std::max(m, double{s[r * vocab_ + v]});
    for (int64_t v = 0; v < vocab_; ++v) z += std::exp(s[r * vocab_ + v] - m);
    ce += m + std::log(z) - s[r * vocab_ + targets[r]];
  }
  ce /= static_cast<double>(targets.size());
  std::printf("ce %.8f want %.8f\n", losses[0], ce);
  EXPECT_NEAR(losses[0], ce, 1e-5 * ce);
}

TEST_F(DistillTest, LossFallsAndTheStudentLoads) {
  const compress::DistillJob d = job("fall", 30, 0.7);
  const std::vector<double> losses = distill(d);
  ASSERT_EQ(losses.size(), 30u);
  std::printf("fall %.5f -> %.5f; teacher %.4f -> %.4f\n", losses.front(), losses.back(), teacher_losses_.front(), teacher_losses_.back());
  EXPECT_LT(losses.back(), 0.8 * losses.front()) << losses.front() << " -> " << losses.back();
  EXPECT_EQ(load_model(d.run.out).info.layers, 1);
  EXPECT_TRUE(fs::exists(d.run.out + "/tokenizer.json"));
}

TEST_F(DistillTest, BadSettingsAreRefusedBeforeWriting) {
  compress::DistillJob d = job("bad", 2, 1.5);
  try {
    distill(d);
    FAIL() << "alpha 1.5 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--alpha in [0, 1]"), std::string::npos) << e.what();
  }
  d = job("bad", 2, 0.5);
  d.teacher.clear();
  EXPECT_THROW(distill(d), Error);
  d = job("bad", 0, 0.5);
  try {
    distill(d);
    FAIL() << "no steps accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--steps is required"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ + "/bad"));
}

}  // namespace
}  // namespace lmf

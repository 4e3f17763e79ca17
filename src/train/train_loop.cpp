#include "train/train_loop.h"

#include <cmath>

#include "core/clock.h"
#include "core/error.h"
#include "core/random.h"

namespace lmf {

namespace {

uint64_t mix(uint64_t x) { return splitmix64(x); }  // core/random.h

}  // namespace

double learning_rate(const TrainConfig& c, int64_t step) {
  if (step < c.warmup) return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup);
  const int64_t decay = std::max<int64_t>(1, c.steps - c.warmup);
  const double progress = std::min(1.0, static_cast<double>(step - c.warmup) / static_cast<double>(decay));
  return c.min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (c.lr - c.min_lr);
}

void sample_batch(const std::vector<int32_t>& data, uint64_t seed, int64_t step, int64_t micro, int64_t first,
                  int64_t batch, int64_t seq, std::vector<int32_t>& tokens, std::vector<int32_t>& targets,
                  std::vector<int64_t>* starts, bool aligned) {
  const int64_t n = static_cast<int64_t>(data.size());
  LMF_CHECK(n > seq + 1, kInvalidArgument, "training data: {} tokens, too few for sequences of {}", n, seq);
  tokens.resize(static_cast<size_t>(batch * seq));
  targets.resize(tokens.size());
  for (int64_t b = 0; b < batch; ++b) {
    const uint64_t h = mix(mix(mix(mix(seed) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(micro)) ^
                           static_cast<uint64_t>(first + b));
    const auto start = aligned ? static_cast<int64_t>(h % static_cast<uint64_t>((n - 1) / seq)) * seq
                               : static_cast<int64_t>(h % static_cast<uint64_t>(n - seq));
    if (starts) starts->resize(static_cast<size_t>(batch)), (*starts)[static_cast<size_t>(b)] = start;
    for (int64_t t = 0; t < seq; ++t) {
      tokens[static_cast<size_t>(b * seq + t)] = data[static_cast<size_t>(start + t)];
      targets[static_cast<size_t>(b * seq + t)] = data[static_cast<size_t>(start + t + 1)];
    }
  }
}

double validation_loss(Trainer& trainer, const std::vector<int32_t>& data, int64_t batches, const Replicas& r) {
  const int64_t B = trainer.batch(), T = trainer.seq(), global = B * r.count;
  const int64_t windows = (static_cast<int64_t>(data.size()) - 1) / T;
  LMF_CHECK(windows >= global, kInvalidArgument, "validation data: {} tokens, too few for {} sequences of {}",
            data.size(), global, T);
  batches = std::min(batches, windows / global);
  std::vector<int32_t> tokens(static_cast<size_t>(B * T)), targets(tokens.size());
  float sum = 0;
  for (int64_t k = 0; k < batches; ++k) {
    const int64_t first = (k * global + r.rank * B) * T;  // this replica's share of global batch k
    for (int64_t i = 0; i < B * T; ++i) {
      tokens[static_cast<size_t>(i)] = data[static_cast<size_t>(first + i)];
      targets[static_cast<size_t>(i)] = data[static_cast<size_t>(first + i + 1)];
    }
    sum += static_cast<float>(trainer.evaluate(tokens, targets));
  }
  if (r.count > 1) r.allreduce(&sum, 1);
  return static_cast<double>(sum) / static_cast<double>(batches * r.count);
}

void train_loop(Trainer& trainer, const TrainConfig& c, const std::vector<int32_t>& train,
                const std::vector<int32_t>& valid, const std::function<void(const TrainEvent&)>& on_event,
                const std::function<void(int64_t step)>& save, const TeacherFn& teacher, const Replicas& r) {
  LMF_CHECK(c.accum >= 1 && c.steps >= 1, kInvalidArgument, "training: --steps and --accum must be >= 1");
  LMF_CHECK(trainer.batch() * r.count == c.batch, kInvalidArgument,
            "training: {} replicas of {} sequences do not make the global batch of {}", r.count, trainer.batch(),
            c.batch);
  std::vector<int32_t> tokens, targets;
  std::vector<int64_t> starts;
  double t0 = now_seconds(), loss_sum = 0;
  int64_t logged = 0;
  const int64_t last = c.stop_at > 0 ? std::min(c.stop_at, c.steps) : c.steps;
  for (int64_t step = trainer.steps_done(); step < last; ++step) {
    double loss = 0;
    for (int64_t m = 0; m < c.accum; ++m) {
      sample_batch(train, c.seed, step, m, r.rank * trainer.batch(), trainer.batch(), c.seq, tokens, targets, &starts,
                   c.aligned_windows);
      const float* t = teacher ? teacher(tokens, starts) : nullptr;
      loss += trainer.forward_backward(tokens, targets, t) / static_cast<double>(c.accum);
    }
    if (r.count > 1) {  // the mean over replicas, for the log
      float l = static_cast<float>(loss);
      r.allreduce(&l, 1);
      loss = static_cast<double>(l) / r.count;
    }
    const double lr = learning_rate(c, step);
    const double norm = trainer.optimizer_step(lr);
    loss_sum += loss;
    ++logged;
    const int64_t done = step + 1;
    if (c.log_interval > 0 && (done % c.log_interval == 0 || done == c.steps)) {
      const double t = now_seconds();
      TrainEvent e{done, loss_sum / static_cast<double>(logged), lr, norm,
                   static_cast<double>(logged * c.accum * c.batch * c.seq) / (t - t0)};  // all replicas
      on_event(e);
      t0 = t, loss_sum = 0, logged = 0;
    }
    if ((c.eval_interval > 0 && done % c.eval_interval == 0) || done == c.steps) {
      TrainEvent e{done, loss, lr, norm, 0};
      e.valid_loss = validation_loss(trainer, valid, c.eval_batches, r);
      on_event(e);
      t0 = now_seconds();
    }
    if ((c.save_interval > 0 && done % c.save_interval == 0) || done == last) {
      save(done);
      t0 = now_seconds();
    }
  }
}

}  // namespace lmf

// lmforge training: the pre-training loop of `lmforge train` (a Trainer over a prepared
// token dataset): batches, learning-rate schedule, logging, validation, checkpoints and
// resume.
//
// Batches are drawn without state: sequence b of micro-batch m of step s starts at a
// position hashed from (seed, s, m, b), so step s sees the same tokens whether or not the
// run was interrupted, and a resumed run (weights + optimizer state from the last
// checkpoint) reaches the state of an uninterrupted one exactly (same threads).
// Learning rate: linear warm-up from 0 to lr over `warmup` steps, then a cosine decay
// to min_lr at the last step (the schedule of GPT-2 / nanoGPT style pre-training).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace lmf {

struct TrainConfig {
  int64_t steps = 1000, batch = 8, seq = 128, accum = 1;
  double lr = 6e-4, min_lr = 6e-5;
  int64_t warmup = 100;
  AdamWConfig adamw{0.9, 0.95, 1e-8, 0.1, 1.0};
  uint64_t seed = 1;
  int64_t eval_interval = 100;  // steps between validations (0: only at the end)
  int64_t eval_batches = 8;     // batches of the valid split per validation
  int64_t save_interval = 0;    // steps between checkpoints (0: only at the end)
  int64_t log_interval = 10;
  int64_t stop_at = 0;  // > 0: stop after this step (a checkpoint is saved), as if interrupted
  // Sequences start at multiples of seq only (the windows a teacher cache holds), instead
  // of at any token.
  bool aligned_windows = false;
};

double learning_rate(const TrainConfig& c, int64_t step);  // step counts from 0

// Fills tokens/targets (batch * seq) with sequences first .. first + batch - 1 of
// micro-batch `micro` of step `step` from `data`, and starts (batch) with where each
// sequence starts in data (a multiple of seq when `aligned`).
void sample_batch(const std::vector<int32_t>& data, uint64_t seed, int64_t step, int64_t micro, int64_t first,
                  int64_t batch, int64_t seq, std::vector<int32_t>& tokens, std::vector<int32_t>& targets,
                  std::vector<int64_t>* starts = nullptr, bool aligned = false);

// Data parallelism as the caller provides it (the CLI: MPI through dist/): this process
// is replica `rank` of `count`; each global batch of TrainConfig::batch sequences is split
// evenly (replica r takes sequences [r B / count, (r + 1) B / count)); `allreduce` sums a
// buffer over the replicas in place. The result equals one process with the same global
// batch up to float summation order.
struct Replicas {
  int rank = 0, count = 1;
  std::function<void(float*, int64_t)> allreduce;
};

struct TrainEvent {
  int64_t step = 0;
  double loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0;
  double valid_loss = -1;  // >= 0 when this event is a validation
};

// Runs steps [trainer.steps_done(), c.steps): each step accumulates c.accum micro-batches
// of `train` and takes one AdamW step. Validates on `valid` every eval_interval steps
// and at the end; calls save(step) every save_interval steps and at the end; reports
// every log_interval steps and every validation through on_event.
// For distillation, `teacher` gives the teacher's logits (B*T, V) of each micro-batch's
// tokens (B*T), valid until its next call; null for plain pre-training.
using TeacherFn = std::function<const float*(std::span<const int32_t> tokens, std::span<const int64_t> starts)>;
// The trainer holds this replica's share (TrainConfig::batch / count sequences).
// on_event and save are called on every replica (the caller lets rank 0 write).
void train_loop(Trainer& trainer, const TrainConfig& c, const std::vector<int32_t>& train,
                const std::vector<int32_t>& valid, const std::function<void(const TrainEvent&)>& on_event,
                const std::function<void(int64_t step)>& save, const TeacherFn& teacher = nullptr,
                const Replicas& replicas = {});

// Mean cross-entropy of the trainer's model over the first `batches` global batches of
// consecutive windows of `data` (each sequence seq tokens predicting the next ones; this
// replica scores its share of each batch, the mean is over all replicas).
double validation_loss(Trainer& trainer, const std::vector<int32_t>& data, int64_t batches,
                       const Replicas& replicas = {});

}  // namespace lmf

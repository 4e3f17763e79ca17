// lmforge compress: `lmforge distill` as a library call: a student trained on a
// teacher's softened logits. The loss is alpha T^2 KL(teacher || student) at temperature
// T (batchmean; --reverse-kl: KL(student || teacher)) + (1 - alpha) times the hard-label
// cross-entropy (train/autodiff.h's distill loss). The teacher runs in inference mode
// (its own plan, no gradients, logits of every row), or its top-k logits come from a
// teacher cache (train/teacher_cache.h) built on first use over the train split, after
// which the teacher is not run again. The rest of the run (data, loop, checkpoints,
// resume, data parallelism) is train/train_job.h's.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/executor.h"
#include "train/train_job.h"

namespace lmf::compress {

struct DistillJob {
  std::string teacher;  // teacher model folder
  // The student: a config.json (random init from run.loop.seed) or a model folder; or,
  // with init_from_teacher, the teacher's embeddings, head and every k-th layer
  // (student_layers of them; 0: half).
  std::string student;
  bool init_from_teacher = false;
  int64_t student_layers = 0;
  LossSpec loss{LossSpec::kDistill, 2.0, 0.5, false};  // temperature T, alpha, reverse_kl
  // File of the teacher's top-k logits over the train split: built on first use (one
  // process), then read instead of running the teacher; implies run.loop.aligned_windows.
  std::string teacher_cache;
  int64_t top_k = 32;  // logits per position kept in the cache
  KernelOptions kernels;  // the teacher's plan
  // data, out, tokenizer, loop, resume, threads as for train_model (config and init
  // are unused: the student is above).
  TrainJob run;
};

// Trains job's student into job.run.out. Throws lmf::Error naming the flag, file or
// setting at fault.
void distill_model(const DistillJob& job, dist::Communicator& world, const TrainProgressFn& progress = nullptr);

}  // namespace lmf::compress

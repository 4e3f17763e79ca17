// lmforge training: `lmforge train` as a library call (a TrainJob in, a model folder
// out), and the named steps of a training run that compress/distill.h builds
// `lmforge distill` from.
//
// A run, step by step (namespace train_run):
//   restore  on resume, the run's own settings from OUT/training_args.json
//   check    every setting in range (errors name the CLI flag)
//   local_batch  this rank's share of each global batch (data parallel over MPI ranks)
//   the starting model (train_model: config.json or a model folder; OUT's checkpoint
//            on resume)
//   load_data  the train and valid splits of a `data prepare` folder, its tokenizer
//   run      a Trainer (its optimizer state on resume), OUT's files (training_args.json,
//            the tokenizer files, train_log.jsonl, checkpoints) and train_loop.h's loop
// Under mpirun every rank trains its share of each global batch and only rank 0
// writes files and reports progress. The communicator is the caller's (the CLI's world).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "train/train_loop.h"

namespace lmf {

struct TrainJob {
  std::string config;     // config.json of a new model (random init from loop.seed), or
  std::string init;       // a model folder to continue (exactly one of the two)
  std::string data;       // folder from `lmforge data prepare` (train and valid splits)
  std::string out;        // output model folder; checkpoints are written here
  std::string tokenizer;  // copied into out; "": the one `data` was prepared with
  TrainConfig loop{.steps = 0};
  // Continue the run in out from its last checkpoint: its settings come from
  // out/training_args.json, all but loop.steps (when > 0), loop.log_interval,
  // loop.stop_at and tokenizer.
  bool resume = false;
  int threads = 1;
};

// What a run reports to its caller (on rank 0 only), for printing.
struct TrainProgress {
  enum class Kind {
    kTeacherCacheStart,  // distill: the teacher cache `cache` is built from `teacher` (top_k logits)
    kTeacherCache,       // distill: windows `done` of `total` of the teacher cache built
    kStart,              // the loop starts (architecture ... local_batch)
    kStep,               // a training step's log line (event)
    kValidation,         // a validation (event.valid_loss)
    kSaved,              // a checkpoint of step event.step written into job->out
  };
  Kind kind = Kind::kStart;
  const TrainJob* job = nullptr;  // the run's settings (restored on resume)
  TrainEvent event;
  int64_t done = 0, total = 0;
  std::string architecture, teacher, cache;
  int64_t params = 0, train_tokens = 0, valid_tokens = 0, local_batch = 0, top_k = 0;
  int ranks = 1;
};
using TrainProgressFn = std::function<void(const TrainProgress&)>;

// Trains job's model into job.out (`lmforge train`). Throws lmf::Error naming the flag,
// file or setting at fault; nothing is written into job.out before the settings, the
// model and the data have been checked.
void train_model(const TrainJob& job, dist::Communicator& world, const TrainProgressFn& progress = nullptr);

namespace train_run {

// job's loop settings, data and threads from job.out/training_args.json (loop.steps
// too unless job.loop.steps > 0); the file must be a run of the same kind (`distill`).
// `more` (may be null) reads the caller's own fields from the same file; a missing or
// mistyped field is an error naming the file.
void restore(TrainJob& job, bool distill, const std::function<void(const nlohmann::json&)>& more = nullptr);
// Throws naming the flag of the first setting out of range (--steps, --lr, ..., --data).
void check(const TrainJob& job);
// This rank's sequences per global batch of job.loop.batch (which the ranks must divide).
int64_t local_batch(const TrainJob& job, const dist::Communicator& world);

struct TrainData {
  std::vector<int32_t> train, valid;  // the splits' tokens, every id < the model's vocabulary
  std::string tokenizer_path;         // the tokenizer copied into the output
  std::string tokenizer_hash;         // the one the data was prepared with
};
// The data of job.data, checked against job.tokenizer (or the data's own) and `vocab`.
TrainData load_data(const TrainJob& job, int64_t vocab);

// training_args.json of a run: job's settings plus `extra` (a JSON object, e.g. the
// distillation's fields).
nlohmann::json args_json(const TrainJob& job, const nlohmann::json& extra);

// The rest of the run: a Trainer of `model` (built with local_batch()) with `loss`, its
// optimizer state on resume, job.out's files (`args` as training_args.json unless
// resuming), then the loop with `teacher` (null unless distilling).
void run(Model model, const LossSpec& loss, const TrainJob& job, const nlohmann::json& args, const TrainData& data,
         const TeacherFn& teacher, dist::Communicator& world, const TrainProgressFn& progress);

}  // namespace train_run

}  // namespace lmf

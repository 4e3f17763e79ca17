// `lmforge train`: pre-train a GPT-2- or Llama-shaped model on a prepared token dataset
// (train/train_job.h); `lmforge distill`: the same loop with a teacher's softened logits
// (compress/distill.h: KL at temperature T times T^2, mixed with the hard-label
// cross-entropy by alpha). OUT is a Hugging Face folder every other command loads. This
// file parses the flags and prints the library's progress.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "cli/common.h"
#include "compress/distill.h"
#include "dist/communicator.h"
#include "train/train_job.h"

namespace lmf::cli {

namespace {

struct TrainArgs {
  TrainJob job;               // train, and distill's run settings
  compress::DistillJob dist;  // distill only
  bool distill = false, quiet = false;
};

// The library's progress as the log lines of a run (rank 0; nothing with -q).
TrainProgressFn printer(bool quiet) {
  if (quiet) return nullptr;
  return [](const TrainProgress& p) {
    using K = TrainProgress::Kind;
    const TrainConfig& c = p.job->loop;
    const TrainEvent& e = p.event;
    switch (p.kind) {
      case K::kTeacherCacheStart:
        fmt::print("teacher cache: top-{} logits of {} over the train split -> {}\n", p.top_k, p.teacher, p.cache);
        break;
      case K::kTeacherCache:
        if (p.done == p.total || p.done % (64 * p.local_batch) < p.local_batch)
          fmt::print("teacher cache: {} / {} windows\n", p.done, p.total);
        break;
      case K::kStart:
        if (p.ranks > 1) fmt::print("data parallel: {} MPI ranks of {} sequences each\n", p.ranks, p.local_batch);
        fmt::print("training {} ({} parameters) on {} train / {} valid tokens: {} steps of {} x {} x {} tokens\n",
                   p.architecture, p.params, p.train_tokens, p.valid_tokens, c.steps, c.accum, c.batch, c.seq);
        break;
      case K::kValidation:
        fmt::print("step {:>6} | valid loss {:.4f} | ppl {:.2f}\n", e.step, e.valid_loss, std::exp(e.valid_loss));
        break;
      case K::kStep:
        fmt::print("step {:>6} | loss {:.4f} | lr {:.3e} | grad norm {:.3f} | {:.0f} tokens/s\n", e.step, e.loss,
                   e.lr, e.grad_norm, e.tokens_per_s);
        break;
      case K::kSaved:
        fmt::print("step {:>6} | saved {}\n", e.step, p.job->out);
        break;
    }
    std::fflush(stdout);
  };
}

// Under mpirun every rank trains its share of each global batch (-b) and rank 0 writes.
void run_train(const TrainArgs& a, dist::Communicator& world) {
  if (a.distill) {
    compress::DistillJob d = a.dist;
    d.run = a.job;
    d.kernels = kernel_options_from_env();
    compress::distill_model(d, world, printer(a.quiet));
  } else {
    train_model(a.job, world, printer(a.quiet));
  }
}

// Flags train and distill share.
// The callback owns `a`: the options write into it during parse, after register_* returned.
void add_loop_flags(CLI::App* cmd, const std::shared_ptr<TrainArgs>& a, dist::Communicator& world) {
  cmd->add_option("--data", a->job.data, "Folder from `lmforge data prepare` (train and valid splits)");
  cmd->add_option("-o,--output", a->job.out, "Output model folder (checkpoints are written here)")->required();
  cmd->add_option("--tokenizer", a->job.tokenizer, "Tokenizer to copy into OUT (default: the one --data was prepared with)");
  cmd->add_option("--steps", a->job.loop.steps, "Optimizer steps (required unless --resume)");
  cmd->add_option("-b,--batch", a->job.loop.batch, "Sequences per micro-batch (default 8)");
  cmd->add_option("--seq", a->job.loop.seq, "Tokens per sequence (default 128)");
  cmd->add_option("--accum", a->job.loop.accum, "Micro-batches per step, gradients averaged (default 1)");
  cmd->add_option("--lr", a->job.loop.lr, "Peak learning rate (default 6e-4)");
  cmd->add_option("--min-lr", a->job.loop.min_lr, "Learning rate at the end of the cosine decay (default 6e-5)");
  cmd->add_option("--warmup", a->job.loop.warmup, "Linear warm-up steps (default 100)");
  cmd->add_option("--weight-decay", a->job.loop.adamw.weight_decay, "AdamW weight decay (default 0.1)");
  cmd->add_option("--beta1", a->job.loop.adamw.beta1, "AdamW beta1 (default 0.9)");
  cmd->add_option("--beta2", a->job.loop.adamw.beta2, "AdamW beta2 (default 0.95)");
  cmd->add_option("--clip", a->job.loop.adamw.clip_norm, "Clip the global gradient norm to this (default 1; 0: off)");
  cmd->add_option("--seed", a->job.loop.seed, "Seed of the initialization and the batches (default 1)");
  cmd->add_option("--eval-interval", a->job.loop.eval_interval, "Steps between validations (default 100; 0: at the end)");
  cmd->add_option("--eval-batches", a->job.loop.eval_batches, "Batches of the valid split per validation (default 8)");
  cmd->add_option("--save-interval", a->job.loop.save_interval, "Steps between checkpoints (default 0: at the end)");
  cmd->add_option("--log-interval", a->job.loop.log_interval, "Steps between log lines (default 10)");
  cmd->add_flag("--aligned-windows", a->job.loop.aligned_windows,
                "Sequences start at multiples of --seq only (the windows a teacher cache holds)");
  cmd->add_flag("--resume", a->job.resume, "Continue the run in OUT from its last checkpoint");
  cmd->add_option("--stop-at", a->job.loop.stop_at, "Stop after this step with a checkpoint, as if interrupted (then --resume)");
  cmd->add_flag("-q,--quiet", a->quiet, "No log lines (OUT/train_log.jsonl is still written)");
  add_threads_flag(cmd, &a->job.threads);
  cmd->callback([a, &world] { run_train(*a, world); });
}

}  // namespace

void register_train(CLI::App& app, dist::Communicator& world) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Pre-train a model on prepared data (AdamW, warm-up + cosine schedule)");
  cmd->add_option("--config", a->job.config, "config.json of a new model (GPT2LMHeadModel, LlamaForCausalLM, ...)");
  cmd->add_option("--init", a->job.init, "Start from this model folder instead of random weights");
  add_loop_flags(cmd, a, world);

  auto d = std::make_shared<TrainArgs>();
  d->distill = true;
  CLI::App* dc = app.add_subcommand(
      "distill", "Train a student on a teacher's softened logits: alpha T^2 KL(teacher || student) + (1 - alpha) CE");
  dc->add_option("--teacher", d->dist.teacher, "Teacher model folder (runs in inference mode)");
  dc->add_option("--student", d->dist.student, "Student: a config.json (random init) or a model folder");
  dc->add_flag("--init-from-teacher", d->dist.init_from_teacher,
               "Student = the teacher's embeddings, head and every k-th layer (DistilBERT's initialization)");
  dc->add_option("--student-layers", d->dist.student_layers, "Layers of a --init-from-teacher student (default: half)");
  dc->add_option("--temperature", d->dist.loss.temperature, "Softmax temperature T of the soft targets (default 2)");
  dc->add_option("--alpha", d->dist.loss.alpha, "Weight of the soft (KL) term; 1 - alpha weighs the hard labels (default 0.5)");
  dc->add_flag("--reverse-kl", d->dist.loss.reverse_kl, "KL(student || teacher) instead of KL(teacher || student)");
  dc->add_option("--teacher-cache", d->dist.teacher_cache,
                 "File of the teacher's top-k logits over the train split: built on first use, then the teacher "
                 "is not run again (implies --aligned-windows)");
  dc->add_option("--top-k", d->dist.top_k, "Logits per position kept in --teacher-cache (default 32)");
  add_loop_flags(dc, d, world);
}

}  // namespace lmf::cli

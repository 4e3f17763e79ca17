// `lmforge train`: pre-train a GPT-2- or Llama-shaped model on a prepared token dataset
// (train/train_loop.h); `lmforge distill`: the same loop with a teacher's softened logits
// (KL at temperature T times T^2, mixed with the hard-label cross-entropy by alpha). OUT
// is a Hugging Face folder every other command loads.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "data/token_dataset.h"
#include "dist/communicator.h"
#include "formats/tokenizer_files.h"
#include "tokenizer/tokenizer.h"
#include "runtime/session.h"
#include "train/teacher_cache.h"
#include "train/train_loop.h"

namespace lmf::cli {

namespace {

namespace fs = std::filesystem;

struct TrainArgs {
  std::string config, init, data, out, tokenizer;
  TrainConfig c;
  bool resume = false, quiet = false;
  int threads = 1;
  // distill only
  bool distill = false, from_teacher = false;
  std::string teacher, teacher_cache;
  int64_t student_layers = 0, top_k = 32;
  LossSpec loss;
};

nlohmann::json args_json(const TrainArgs& a) {
  const TrainConfig& c = a.c;
  return {{"config", a.config}, {"init", a.init}, {"data", a.data}, {"steps", c.steps}, {"batch", c.batch},
          {"seq", c.seq}, {"accum", c.accum}, {"lr", c.lr}, {"min_lr", c.min_lr}, {"warmup", c.warmup},
          {"beta1", c.adamw.beta1}, {"beta2", c.adamw.beta2}, {"eps", c.adamw.eps},
          {"weight_decay", c.adamw.weight_decay}, {"clip", c.adamw.clip_norm}, {"seed", c.seed},
          {"eval_interval", c.eval_interval}, {"eval_batches", c.eval_batches}, {"save_interval", c.save_interval},
          {"threads", a.threads}, {"distill", a.distill}, {"teacher", a.teacher},
          {"temperature", a.loss.temperature}, {"alpha", a.loss.alpha}, {"reverse_kl", a.loss.reverse_kl},
          {"aligned_windows", c.aligned_windows}, {"teacher_cache", a.teacher_cache}, {"top_k", a.top_k}};
}

// --resume: the run's own settings from OUT/training_args.json; only --steps (to train
// further) and the output/log flags come from this command line.
void restore_args(TrainArgs& a) {
  const std::string path = a.out + "/training_args.json";
  LMF_CHECK(fs::exists(path), kBadFile, "--resume: {} is missing (not a folder written by lmforge train)", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
    TrainConfig& c = a.c;
    const int64_t steps = c.steps;
    c.batch = j.at("batch"), c.seq = j.at("seq"), c.accum = j.at("accum"), c.lr = j.at("lr");
    c.min_lr = j.at("min_lr"), c.warmup = j.at("warmup"), c.adamw.beta1 = j.at("beta1"), c.adamw.beta2 = j.at("beta2");
    c.adamw.eps = j.at("eps"), c.adamw.weight_decay = j.at("weight_decay"), c.adamw.clip_norm = j.at("clip");
    c.seed = j.at("seed"), c.eval_interval = j.at("eval_interval"), c.eval_batches = j.at("eval_batches");
    c.save_interval = j.at("save_interval"), a.data = j.at("data"), a.threads = j.at("threads");
    LMF_CHECK(j.at("distill").get<bool>() == a.distill, kInvalidArgument, "--resume: {} is a run of lmforge {}", a.out,
              a.distill ? "train" : "distill");
    a.teacher = j.at("teacher"), a.loss.temperature = j.at("temperature"), a.loss.alpha = j.at("alpha");
    a.loss.reverse_kl = j.at("reverse_kl");
    c.aligned_windows = j.value("aligned_windows", false), a.teacher_cache = j.value("teacher_cache", std::string());
    a.top_k = j.value("top_k", int64_t{32});
    c.steps = steps > 0 ? steps : j.at("steps").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kBadFile, "{}: {}", path, e.what());
  }
}

void check_flags(const TrainArgs& a) {
  const TrainConfig& c = a.c;
  LMF_CHECK(c.steps >= 1, kInvalidArgument, "--steps must be >= 1, got {}", c.steps);
  LMF_CHECK(c.batch >= 1 && c.seq >= 2 && c.accum >= 1, kInvalidArgument,
            "--batch, --accum must be >= 1 and --seq >= 2 (got {}, {}, {})", c.batch, c.accum, c.seq);
  LMF_CHECK(c.lr > 0 && c.min_lr >= 0 && c.min_lr <= c.lr, kInvalidArgument,
            "--lr must be > 0 and 0 <= --min-lr <= --lr (got {}, {})", c.lr, c.min_lr);
  LMF_CHECK(c.warmup >= 0 && c.adamw.weight_decay >= 0 && c.adamw.clip_norm >= 0, kInvalidArgument,
            "--warmup, --weight-decay and --clip must be >= 0");
  LMF_CHECK(c.adamw.beta1 >= 0 && c.adamw.beta1 < 1 && c.adamw.beta2 >= 0 && c.adamw.beta2 < 1, kInvalidArgument,
            "--beta1 and --beta2 must be in [0, 1)");
}

std::vector<int32_t> read_split(const std::string& dir, const char* split, int64_t vocab) {
  data::TokenDataset ds = data::TokenDataset::open(dir, split);
  std::vector<int32_t> ids = ds.read_all();
  for (int32_t id : ids)
    LMF_CHECK(id >= 0 && id < vocab, kInvalidArgument, "--data {}: token id {} in the {} split is outside the model's vocabulary of {}",
              dir, id, split, vocab);
  return ids;
}

// The model to train: OUT's checkpoint when resuming; for distill, the student (a
// config.json, a model folder, or the teacher's every k-th layer); else --config/--init.
Model starting_model(const TrainArgs& a, const BuildOptions& build) {
  if (a.resume) return load_model(a.out, build);
  if (a.distill) {
    if (a.from_teacher) return init_student_from_teacher(a.teacher, a.student_layers, build);
    LMF_CHECK(!a.config.empty(), kInvalidArgument, "--student CONFIG.json|MODEL (or --init-from-teacher) is required");
    return fs::is_directory(a.config) ? load_model(a.config, build) : init_model(a.config, a.c.seed, build);
  }
  LMF_CHECK(a.config.empty() != a.init.empty(), kInvalidArgument,
            "give exactly one of --config CONFIG.json (a new model) and --init MODEL (continue a model)");
  return a.init.empty() ? init_model(a.config, a.c.seed, build) : load_model(a.init, build);
}

// A teacher's files for its cache: names and sizes ("" when the folder is gone: a cache
// is then used on the strength of the teacher's path alone).
std::string fingerprint(const std::string& dir) {
  std::string out;
  if (!fs::is_directory(dir)) return out;
  std::vector<std::string> parts;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors" || e.path().filename() == "config.json")
      parts.push_back(fmt::format("{}:{}", e.path().filename().string(), e.file_size()));
  std::sort(parts.begin(), parts.end());
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

void run_train(TrainArgs a, dist::Communicator& world) {
  if (a.resume) restore_args(a);
  check_flags(a);
  LMF_CHECK(!a.data.empty(), kInvalidArgument, "--data is required (a folder from `lmforge data prepare`)");
  if (a.distill) {
    LMF_CHECK(!a.teacher.empty(), kInvalidArgument, "--teacher MODEL is required");
    LMF_CHECK(a.loss.temperature > 0 && a.loss.alpha >= 0 && a.loss.alpha <= 1, kInvalidArgument,
              "--temperature must be > 0 and --alpha in [0, 1] (got {}, {})", a.loss.temperature, a.loss.alpha);
    a.loss.kind = LossSpec::kDistill;
  }
  // Under mpirun every rank trains its share of each global batch (-b) and rank 0 writes.
  LMF_CHECK(a.c.batch % world.size() == 0, kInvalidArgument, "-b {} is not a multiple of the {} MPI ranks", a.c.batch,
            world.size());
  const Replicas replicas{world.rank(), world.size(), [&world](float* x, int64_t n) { world.allreduce_sum(x, n); }};
  const bool main_rank = world.rank() == 0;
  const int64_t local_batch = a.c.batch / world.size();
  const BuildOptions build{local_batch, a.c.seq};
  Model m = starting_model(a, build);
  data::TokenDataset probe = data::TokenDataset::open(a.data, "train");
  std::string tok_path = a.tokenizer;
  if (tok_path.empty()) tok_path = probe.tokenizer_path();
  std::unique_ptr<Tokenizer> tok = open_tokenizer(tok_path);
  LMF_CHECK(tok->hash() == probe.tokenizer_hash(), kInvalidArgument,
            "--data {} was prepared with tokenizer {}, but {} is {}", a.data, probe.tokenizer_hash(), tok_path,
            tok->hash());
  const std::vector<int32_t> train = read_split(a.data, "train", m.info.vocab);
  const std::vector<int32_t> valid = read_split(a.data, "valid", m.info.vocab);

  // The teacher runs in inference mode: its own plan, no gradients, logits of every row;
  // or its top-k logits come from --teacher-cache (built here on first use).
  const int64_t V = m.info.vocab;
  std::unique_ptr<Model> teacher;
  std::unique_ptr<Session> tsession;
  std::vector<SeqChunk> chunks;
  auto open_teacher = [&] {
    teacher = std::make_unique<Model>(load_model(a.teacher));
    LMF_CHECK(teacher->info.vocab == V, kInvalidArgument, "--teacher {} has a vocabulary of {}, the student {}",
              a.teacher, teacher->info.vocab, V);
    LMF_CHECK(a.c.seq <= teacher->info.context, kInvalidArgument, "--seq {} exceeds the teacher's context of {}", a.c.seq,
              teacher->info.context);
    SessionOptions so;
    so.max_batch = local_batch;
    so.max_context = a.c.seq;
    so.max_step_tokens = local_batch * a.c.seq;
    so.threads = a.threads;
    so.kernels = kernel_options_from_env();
    tsession = std::make_unique<Session>(*teacher, so);
  };
  TeacherCache::LogitsFn live = [&](std::span<const int32_t> tokens) {  // logits of every row of these windows
    const auto n = static_cast<int64_t>(tokens.size()) / a.c.seq;
    tsession->reset_all();
    chunks.resize(static_cast<size_t>(n));
    for (int64_t b = 0; b < n; ++b)
      chunks[static_cast<size_t>(b)] = {static_cast<int>(b),
                                        tokens.subspan(static_cast<size_t>(b * a.c.seq), static_cast<size_t>(a.c.seq)), 0};
    return tsession->step(chunks, true).data();
  };
  TeacherFn teacher_fn = nullptr;
  std::optional<TeacherCache> cache;
  std::vector<float> cached_logits;
  if (a.distill && a.teacher_cache.empty()) {
    open_teacher();
    teacher_fn = [&](std::span<const int32_t> tokens, std::span<const int64_t>) { return live(tokens); };
  } else if (a.distill) {
    LMF_CHECK(!a.loss.reverse_kl, kInvalidArgument,
              "--teacher-cache keeps the teacher's top-k only: --reverse-kl needs its whole distribution");
    LMF_CHECK(a.c.aligned_windows, kInternal, "teacher cache without aligned windows");
    std::map<std::string, std::string> meta = {
        {"teacher", fs::weakly_canonical(a.teacher).string()}, {"data", fmt::format("{} ({} train tokens, tokenizer {})",
                                                                 fs::weakly_canonical(a.data).string(), train.size(),
                                                                 probe.tokenizer_hash())},
        {"seq", std::to_string(a.c.seq)}, {"k", std::to_string(a.top_k)}, {"vocab", std::to_string(V)},
        {"temperature", fmt::format("{}", a.loss.temperature)}};
    const std::string files = fingerprint(a.teacher);
    if (!files.empty()) meta["teacher_files"] = files;
    if (!fs::exists(a.teacher_cache)) {
      LMF_CHECK(!files.empty(), kInvalidArgument, "--teacher {}: not a folder (needed to build --teacher-cache {})",
                a.teacher, a.teacher_cache);
      LMF_CHECK(world.size() == 1, kInvalidArgument,
                "--teacher-cache {} does not exist: build it with one process first (the same command without mpirun)",
                a.teacher_cache);
      open_teacher();
      if (!a.quiet) fmt::print("teacher cache: top-{} logits of {} over the train split -> {}\n", a.top_k, a.teacher,
                               a.teacher_cache);
      TeacherCache::build(a.teacher_cache, train, a.c.seq, a.top_k, V, a.loss.temperature, local_batch, live, meta,
                          [&](int64_t done, int64_t total) {
                            if (!a.quiet && (done == total || done % (64 * local_batch) < local_batch))
                              fmt::print("teacher cache: {} / {} windows\n", done, total);
                          });
      tsession.reset();
      teacher.reset();
    }
    cache = TeacherCache::open(a.teacher_cache, meta);
    cached_logits.resize(static_cast<size_t>(local_batch * a.c.seq * V));
    teacher_fn = [&](std::span<const int32_t>, std::span<const int64_t> starts) {
      cache->fill(starts, V, cached_logits.data());
      return static_cast<const float*>(cached_logits.data());
    };
  }

  Trainer tr(std::move(m), a.loss, a.c.adamw, a.threads);
  tr.set_replicas(world.size(), replicas.allreduce);
  const std::string state = a.out + "/trainer_state.safetensors";
  if (a.resume) tr.load_state(state);
  std::ofstream log;
  if (main_rank) {
    fs::create_directories(a.out);
    if (!a.resume) write_file_atomic(a.out + "/training_args.json", args_json(a).dump(2) + "\n");
    copy_tokenizer_files(tok_path, a.out);
    log.open(a.out + "/train_log.jsonl", std::ios::app);
  }
  if (!a.quiet && main_rank && world.size() > 1)
    fmt::print("data parallel: {} MPI ranks of {} sequences each\n", world.size(), local_batch);
  if (!a.quiet && main_rank)
    fmt::print("training {} ({} parameters) on {} train / {} valid tokens: {} steps of {} x {} x {} tokens\n",
               tr.model().info.architecture, tr.model().info.params, train.size(), valid.size(), a.c.steps,
               a.c.accum, a.c.batch, a.c.seq);
  train_loop(
      tr, a.c, train, valid,
      [&](const TrainEvent& e) {
        if (!main_rank) return;
        nlohmann::json j = {{"step", e.step}};
        if (e.valid_loss >= 0) {
          j["valid_loss"] = e.valid_loss, j["valid_ppl"] = std::exp(e.valid_loss);
          if (!a.quiet)
            fmt::print("step {:>6} | valid loss {:.4f} | ppl {:.2f}\n", e.step, e.valid_loss, std::exp(e.valid_loss));
        } else {
          j["loss"] = e.loss, j["lr"] = e.lr, j["grad_norm"] = e.grad_norm, j["tokens_per_s"] = e.tokens_per_s;
          if (!a.quiet)
            fmt::print("step {:>6} | loss {:.4f} | lr {:.3e} | grad norm {:.3f} | {:.0f} tokens/s\n", e.step, e.loss,
                       e.lr, e.grad_norm, e.tokens_per_s);
        }
        log << j.dump() << "\n" << std::flush;
        std::fflush(stdout);
      },
      [&](int64_t step) {
        if (!main_rank) return;
        save_model(tr.model(), tr.graph().graph, a.out);
        tr.save_state(state);
        if (!a.quiet) fmt::print("step {:>6} | saved {}\n", step, a.out);
      },
      teacher_fn, replicas);
}

// Flags train and distill share.
// The callback owns `a`: the options write into it during parse, after register_* returned.
void add_loop_flags(CLI::App* cmd, const std::shared_ptr<TrainArgs>& a, dist::Communicator& world) {
  cmd->add_option("--data", a->data, "Folder from `lmforge data prepare` (train and valid splits)");
  cmd->add_option("-o,--output", a->out, "Output model folder (checkpoints are written here)")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer to copy into OUT (default: the one --data was prepared with)");
  cmd->add_option("--steps", a->c.steps, "Optimizer steps (required unless --resume)");
  cmd->add_option("-b,--batch", a->c.batch, "Sequences per micro-batch (default 8)");
  cmd->add_option("--seq", a->c.seq, "Tokens per sequence (default 128)");
  cmd->add_option("--accum", a->c.accum, "Micro-batches per step, gradients averaged (default 1)");
  cmd->add_option("--lr", a->c.lr, "Peak learning rate (default 6e-4)");
  cmd->add_option("--min-lr", a->c.min_lr, "Learning rate at the end of the cosine decay (default 6e-5)");
  cmd->add_option("--warmup", a->c.warmup, "Linear warm-up steps (default 100)");
  cmd->add_option("--weight-decay", a->c.adamw.weight_decay, "AdamW weight decay (default 0.1)");
  cmd->add_option("--beta1", a->c.adamw.beta1, "AdamW beta1 (default 0.9)");
  cmd->add_option("--beta2", a->c.adamw.beta2, "AdamW beta2 (default 0.95)");
  cmd->add_option("--clip", a->c.adamw.clip_norm, "Clip the global gradient norm to this (default 1; 0: off)");
  cmd->add_option("--seed", a->c.seed, "Seed of the initialization and the batches (default 1)");
  cmd->add_option("--eval-interval", a->c.eval_interval, "Steps between validations (default 100; 0: at the end)");
  cmd->add_option("--eval-batches", a->c.eval_batches, "Batches of the valid split per validation (default 8)");
  cmd->add_option("--save-interval", a->c.save_interval, "Steps between checkpoints (default 0: at the end)");
  cmd->add_option("--log-interval", a->c.log_interval, "Steps between log lines (default 10)");
  cmd->add_flag("--aligned-windows", a->c.aligned_windows,
                "Sequences start at multiples of --seq only (the windows a teacher cache holds)");
  cmd->add_flag("--resume", a->resume, "Continue the run in OUT from its last checkpoint");
  cmd->add_option("--stop-at", a->c.stop_at, "Stop after this step with a checkpoint, as if interrupted (then --resume)");
  cmd->add_flag("-q,--quiet", a->quiet, "No log lines (OUT/train_log.jsonl is still written)");
  add_threads_flag(cmd, &a->threads);
  cmd->callback([a, &world] {
    TrainArgs args = *a;
    if (!args.resume) LMF_CHECK(args.c.steps >= 1, kInvalidArgument, "--steps is required (>= 1)");
    if (!args.teacher_cache.empty()) args.c.aligned_windows = true;
    run_train(args, world);
  });
}

}  // namespace

void register_train(CLI::App& app, dist::Communicator& world) {
  auto a = std::make_shared<TrainArgs>();
  a->threads = default_threads();
  a->c.steps = 0;
  CLI::App* cmd = app.add_subcommand("train", "Pre-train a model on prepared data (AdamW, warm-up + cosine schedule)");
  cmd->add_option("--config", a->config, "config.json of a new model (GPT2LMHeadModel, LlamaForCausalLM, ...)");
  cmd->add_option("--init", a->init, "Start from this model folder instead of random weights");
  add_loop_flags(cmd, a, world);

  auto d = std::make_shared<TrainArgs>();
  d->threads = default_threads();
  d->c.steps = 0;
  d->distill = true;
  d->loss.temperature = 2.0;
  CLI::App* dc = app.add_subcommand(
      "distill", "Train a student on a teacher's softened logits: alpha T^2 KL(teacher || student) + (1 - alpha) CE");
  dc->add_option("--teacher", d->teacher, "Teacher model folder (runs in inference mode)");
  dc->add_option("--student", d->config, "Student: a config.json (random init) or a model folder");
  dc->add_flag("--init-from-teacher", d->from_teacher,
               "Student = the teacher's embeddings, head and every k-th layer (DistilBERT's initialization)");
  dc->add_option("--student-layers", d->student_layers, "Layers of a --init-from-teacher student (default: half)");
  dc->add_option("--temperature", d->loss.temperature, "Softmax temperature T of the soft targets (default 2)");
  dc->add_option("--alpha", d->loss.alpha, "Weight of the soft (KL) term; 1 - alpha weighs the hard labels (default 0.5)");
  dc->add_flag("--reverse-kl", d->loss.reverse_kl, "KL(student || teacher) instead of KL(teacher || student)");
  dc->add_option("--teacher-cache", d->teacher_cache,
                 "File of the teacher's top-k logits over the train split: built on first use, then the teacher "
                 "is not run again (implies --aligned-windows)");
  dc->add_option("--top-k", d->top_k, "Logits per position kept in --teacher-cache (default 32)");
  add_loop_flags(dc, d, world);
}

}  // namespace lmf::cli

#include "train/train_job.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/checked.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "data/token_dataset.h"
#include "formats/tokenizer_files.h"
#include "tokenizer/tokenizer.h"

namespace lmf {

namespace {

namespace fs = std::filesystem;

std::vector<int32_t> read_split(const std::string& dir, const char* split, int64_t vocab) {
  data::TokenDataset ds = data::TokenDataset::open(dir, split);
  std::vector<int32_t> ids = ds.read_all();
  check_token_ids(ids, vocab, fmt::format("--data {} ({} split)", dir, split));
  return ids;
}

// The model to train when not resuming: a new one from --config or the --init folder.
Model starting_model(const TrainJob& job, const BuildOptions& build) {
  LMF_CHECK(job.config.empty() != job.init.empty(), kInvalidArgument,
            "give exactly one of --config CONFIG.json (a new model) and --init MODEL (continue a model)");
  return job.init.empty() ? init_model(job.config, job.loop.seed, build) : load_model(job.init, build);
}

}  // namespace

namespace train_run {

void restore(TrainJob& job, bool distill, const std::function<void(const nlohmann::json&)>& more) {
  const std::string path = job.out + "/training_args.json";
  LMF_CHECK(fs::exists(path), kBadFile, "--resume: {} is missing (not a folder written by lmforge train)", path);
  try {
    const nlohmann::json j = nlohmann::json::parse(read_text_file(path));
    TrainConfig& c = job.loop;
    const int64_t steps = c.steps;
    c.batch = j.at("batch"), c.seq = j.at("seq"), c.accum = j.at("accum"), c.lr = j.at("lr");
    c.min_lr = j.at("min_lr"), c.warmup = j.at("warmup"), c.adamw.beta1 = j.at("beta1"), c.adamw.beta2 = j.at("beta2");
    c.adamw.eps = j.at("eps"), c.adamw.weight_decay = j.at("weight_decay"), c.adamw.clip_norm = j.at("clip");
    c.seed = j.at("seed"), c.eval_interval = j.at("eval_interval"), c.eval_batches = j.at("eval_batches");
    c.save_interval = j.at("save_interval"), job.data = j.at("data"), job.threads = j.at("threads");
    LMF_CHECK(j.at("distill").get<bool>() == distill, kInvalidArgument, "--resume: {} is a run of lmforge {}", job.out,
              distill ? "train" : "distill");
    if (more) more(j);
    c.aligned_windows = j.value("aligned_windows", false);
    c.steps = steps > 0 ? steps : j.at("steps").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kBadFile, "{}: {}", path, e.what());
  }
}

void check(const TrainJob& job) {
  const TrainConfig& c = job.loop;
  LMF_CHECK(c.steps >= 1, kInvalidArgument, "--steps must be >= 1, got {}", c.steps);
  LMF_CHECK(c.batch >= 1 && c.seq >= 2 && c.accum >= 1, kInvalidArgument,
            "--batch, --accum must be >= 1 and --seq >= 2 (got {}, {}, {})", c.batch, c.accum, c.seq);
  LMF_CHECK(c.lr > 0 && c.min_lr >= 0 && c.min_lr <= c.lr, kInvalidArgument,
            "--lr must be > 0 and 0 <= --min-lr <= --lr (got {}, {})", c.lr, c.min_lr);
  LMF_CHECK(c.warmup >= 0 && c.adamw.weight_decay >= 0 && c.adamw.clip_norm >= 0, kInvalidArgument,
            "--warmup, --weight-decay and --clip must be >= 0");
  LMF_CHECK(c.adamw.beta1 >= 0 && c.adamw.beta1 < 1 && c.adamw.beta2 >= 0 && c.adamw.beta2 < 1, kInvalidArgument,
            "--beta1 and --beta2 must be in [0, 1)");
  LMF_CHECK(!job.data.empty(), kInvalidArgument, "--data is required (a folder from `lmforge data prepare`)");
}

int64_t local_batch(const TrainJob& job, const dist::Communicator& world) {
  LMF_CHECK(job.loop.batch % world.size() == 0, kInvalidArgument, "-b {} is not a multiple of the {} MPI ranks",
            job.loop.batch, world.size());
  return job.loop.batch / world.size();
}

TrainData load_data(const TrainJob& job, int64_t vocab) {
  TrainData d;
  data::TokenDataset probe = data::TokenDataset::open(job.data, "train");
  d.tokenizer_path = job.tokenizer.empty() ? probe.tokenizer_path() : job.tokenizer;
  d.tokenizer_hash = probe.tokenizer_hash();
  std::unique_ptr<Tokenizer> tok = open_tokenizer(d.tokenizer_path);
  LMF_CHECK(tok->hash() == d.tokenizer_hash, kInvalidArgument, "--data {} was prepared with tokenizer {}, but {} is {}",
            job.data, d.tokenizer_hash, d.tokenizer_path, tok->hash());
  d.train = read_split(job.data, "train", vocab);
  d.valid = read_split(job.data, "valid", vocab);
  return d;
}

nlohmann::json args_json(const TrainJob& job, const nlohmann::json& extra) {
  const TrainConfig& c = job.loop;
  nlohmann::json j = {{"config", job.config}, {"init", job.init}, {"data", job.data}, {"steps", c.steps},
                      {"batch", c.batch}, {"seq", c.seq}, {"accum", c.accum}, {"lr", c.lr}, {"min_lr", c.min_lr},
                      {"warmup", c.warmup}, {"beta1", c.adamw.beta1}, {"beta2", c.adamw.beta2}, {"eps", c.adamw.eps},
                      {"weight_decay", c.adamw.weight_decay}, {"clip", c.adamw.clip_norm}, {"seed", c.seed},
                      {"eval_interval", c.eval_interval}, {"eval_batches", c.eval_batches},
                      {"save_interval", c.save_interval}, {"threads", job.threads},
                      {"aligned_windows", c.aligned_windows}};
  j.update(extra);
  return j;
}

void run(Model model, const LossSpec& loss, const TrainJob& job, const nlohmann::json& args, const TrainData& data,
         const TeacherFn& teacher, dist::Communicator& world, const TrainProgressFn& progress) {
  const bool main_rank = world.rank() == 0;
  auto report = [&](TrainProgress p) {
    p.job = &job;
    if (main_rank && progress) progress(p);
  };
  const Replicas replicas{world.rank(), world.size(), [&world](float* x, int64_t n) { world.allreduce_sum(x, n); }};
  Trainer tr(std::move(model), loss, job.loop.adamw, job.threads);
  tr.set_replicas(world.size(), replicas.allreduce);
  const std::string state = job.out + "/trainer_state.safetensors";
  if (job.resume) tr.load_state(state);
  std::ofstream log;
  if (main_rank) {
    fs::create_directories(job.out);
    if (!job.resume) write_file_atomic(job.out + "/training_args.json", args.dump(2) + "\n");
    copy_tokenizer_files(data.tokenizer_path, job.out);
    log.open(job.out + "/train_log.jsonl", std::ios::app);
  }
  TrainProgress start;
  start.kind = TrainProgress::Kind::kStart;
  start.architecture = tr.model().info.architecture;
  start.params = tr.model().info.params;
  start.train_tokens = static_cast<int64_t>(data.train.size());
  start.valid_tokens = static_cast<int64_t>(data.valid.size());
  start.ranks = world.size();
  start.local_batch = tr.batch();
  report(start);
  auto on_event = [&](const TrainEvent& e) {
    if (!main_rank) return;
    nlohmann::json j = {{"step", e.step}};
    if (e.valid_loss >= 0)
      j["valid_loss"] = e.valid_loss, j["valid_ppl"] = std::exp(e.valid_loss);
    else
      j["loss"] = e.loss, j["lr"] = e.lr, j["grad_norm"] = e.grad_norm, j["tokens_per_s"] = e.tokens_per_s;
    log << j.dump() << "\n" << std::flush;
    TrainProgress p;
    p.kind = e.valid_loss >= 0 ? TrainProgress::Kind::kValidation : TrainProgress::Kind::kStep;
    p.event = e;
    report(p);
  };
  auto save = [&](int64_t step) {
    if (!main_rank) return;
    save_model(tr.model(), tr.graph().graph, job.out);
    tr.save_state(state);
    TrainProgress p;
    p.kind = TrainProgress::Kind::kSaved;
    p.event.step = step;
    report(p);
  };
  train_loop(tr, job.loop, data.train, data.valid, on_event, save, teacher, replicas);
}

}  // namespace train_run

void train_model(const TrainJob& job_in, dist::Communicator& world, const TrainProgressFn& progress) {
  TrainJob job = job_in;
  if (!job.resume) LMF_CHECK(job.loop.steps >= 1, kInvalidArgument, "--steps is required (>= 1)");
  if (job.resume) train_run::restore(job, false);
  train_run::check(job);
  const int64_t local_batch = train_run::local_batch(job, world);
  const BuildOptions build{local_batch, job.loop.seq};
  Model m = job.resume ? load_model(job.out, build) : starting_model(job, build);
  const train_run::TrainData data = train_run::load_data(job, m.info.vocab);
  // A train run's training_args.json keeps the distillation fields at their off values.
  const LossSpec loss;
  const nlohmann::json extra = {{"distill", false},         {"teacher", ""},
                                {"temperature", loss.temperature}, {"alpha", loss.alpha},
                                {"reverse_kl", loss.reverse_kl}, {"teacher_cache", ""},
                                {"top_k", int64_t{32}}};
  train_run::run(std::move(m), loss, job, train_run::args_json(job, extra), data, nullptr, world, progress);
}

}  // namespace lmf

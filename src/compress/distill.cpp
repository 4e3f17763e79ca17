#include "compress/distill.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "core/error.h"
#include "runtime/session.h"
#include "train/teacher_cache.h"

namespace lmf::compress {

namespace {

namespace fs = std::filesystem;

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

// The student when not resuming: the teacher's every k-th layer, a model folder, or a
// new model from a config.json.
Model student_model(const DistillJob& job, const BuildOptions& build) {
  if (job.init_from_teacher) return init_student_from_teacher(job.teacher, job.student_layers, build);
  LMF_CHECK(!job.student.empty(), kInvalidArgument, "--student CONFIG.json|MODEL (or --init-from-teacher) is required");
  return fs::is_directory(job.student) ? load_model(job.student, build) : init_model(job.student, job.run.loop.seed, build);
}

// The teacher's logits for the loop: its own session (inference plan) over each
// micro-batch's windows, or its cached top-k logits.
class TeacherSource {
 public:
  TeacherSource(const DistillJob& job, int64_t local_batch, int64_t vocab)
      : job_(job), local_batch_(local_batch), V_(vocab) {}

  // Opens (and on first use builds) the teacher or its cache; returns the loop's TeacherFn,
  // valid while this object lives.
  TeacherFn prepare(const train_run::TrainData& data, const dist::Communicator& world, const TrainProgressFn& report) {
    if (job_.teacher_cache.empty()) {
      open_teacher();
      return [this](std::span<const int32_t> tokens, std::span<const int64_t>) { return live(tokens); };
    }
    open_cache(data, world, report);
    cached_logits_.resize(static_cast<size_t>(local_batch_ * job_.run.loop.seq * V_));
    return [this](std::span<const int32_t>, std::span<const int64_t> starts) {
      cache_->fill(starts, V_, cached_logits_.data());
      return static_cast<const float*>(cached_logits_.data());
    };
  }

 private:
  const DistillJob& job_;
  int64_t local_batch_, V_;
  std::unique_ptr<Model> teacher_;
  std::unique_ptr<Session> session_;
  std::vector<SeqChunk> chunks_;
  std::optional<TeacherCache> cache_;
  std::vector<float> cached_logits_;

  void open_teacher() {
    const int64_t seq = job_.run.loop.seq;
    teacher_ = std::make_unique<Model>(load_model(job_.teacher));
    LMF_CHECK(teacher_->info.vocab == V_, kInvalidArgument, "--teacher {} has a vocabulary of {}, the student {}",
              job_.teacher, teacher_->info.vocab, V_);
    LMF_CHECK(seq <= teacher_->info.context, kInvalidArgument, "--seq {} exceeds the teacher's context of {}", seq,
              teacher_->info.context);
    SessionOptions so;
    so.max_batch = local_batch_;
    so.max_context = seq;
    so.max_step_tokens = local_batch_ * seq;
    so.threads = job_.run.threads;
    so.kernels = job_.kernels;
    session_ = std::make_unique<Session>(*teacher_, so);
  }

  // The teacher's logits (rows, V) of every row of these windows of seq tokens.
  const float* live(std::span<const int32_t> tokens) {
    const int64_t seq = job_.run.loop.seq;
    const auto n = static_cast<int64_t>(tokens.size()) / seq;
    session_->reset_all();
    chunks_.resize(static_cast<size_t>(n));
    for (int64_t b = 0; b < n; ++b)
      chunks_[static_cast<size_t>(b)] = {static_cast<int>(b),
                                         tokens.subspan(static_cast<size_t>(b * seq), static_cast<size_t>(seq)), 0};
    return session_->step(chunks_, true).data();
  }

  void open_cache(const train_run::TrainData& data, const dist::Communicator& world, const TrainProgressFn& report) {
    const DistillJob& j = job_;
    const int64_t seq = j.run.loop.seq;
    LMF_CHECK(!j.loss.reverse_kl, kInvalidArgument,
              "--teacher-cache keeps the teacher's top-k only: --reverse-kl needs its whole distribution");
    LMF_CHECK(j.run.loop.aligned_windows, kInternal, "teacher cache without aligned windows");
    std::map<std::string, std::string> meta = {
        {"teacher", fs::weakly_canonical(j.teacher).string()},
        {"data", fmt::format("{} ({} train tokens, tokenizer {})", fs::weakly_canonical(j.run.data).string(),
                             data.train.size(), data.tokenizer_hash)},
        {"seq", std::to_string(seq)}, {"k", std::to_string(j.top_k)}, {"vocab", std::to_string(V_)},
        {"temperature", fmt::format("{}", j.loss.temperature)}};
    const std::string files = fingerprint(j.teacher);
    if (!files.empty()) meta["teacher_files"] = files;
    if (!fs::exists(j.teacher_cache)) {
      LMF_CHECK(!files.empty(), kInvalidArgument, "--teacher {}: not a folder (needed to build --teacher-cache {})",
                j.teacher, j.teacher_cache);
      LMF_CHECK(world.size() == 1, kInvalidArgument,
                "--teacher-cache {} does not exist: build it with one process first (the same command without mpirun)",
                j.teacher_cache);
      open_teacher();
      TrainProgress p;
      p.kind = TrainProgress::Kind::kTeacherCacheStart;
      p.job = &j.run;
      p.teacher = j.teacher, p.cache = j.teacher_cache, p.top_k = j.top_k, p.local_batch = local_batch_;
      report(p);
      p.kind = TrainProgress::Kind::kTeacherCache;
      TeacherCache::build(j.teacher_cache, data.train, seq, j.top_k, V_, j.loss.temperature, local_batch_,
                          [this](std::span<const int32_t> tokens) { return live(tokens); }, meta,
                          [&](int64_t done, int64_t total) {
                            p.done = done, p.total = total;
                            report(p);
                          });
      session_.reset();
      teacher_.reset();
    }
    cache_ = TeacherCache::open(j.teacher_cache, meta);
  }
};

}  // namespace

void distill_model(const DistillJob& job_in, dist::Communicator& world, const TrainProgressFn& progress) {
  DistillJob job = job_in;
  TrainJob& run = job.run;
  if (!run.resume) LMF_CHECK(run.loop.steps >= 1, kInvalidArgument, "--steps is required (>= 1)");
  if (!job.teacher_cache.empty()) run.loop.aligned_windows = true;
  if (run.resume)
    train_run::restore(run, true, [&job](const nlohmann::json& j) {
      job.teacher = j.at("teacher"), job.loss.temperature = j.at("temperature"), job.loss.alpha = j.at("alpha");
      job.loss.reverse_kl = j.at("reverse_kl");
      job.teacher_cache = j.value("teacher_cache", std::string());
      job.top_k = j.value("top_k", int64_t{32});
    });
  train_run::check(run);
  LMF_CHECK(!job.teacher.empty(), kInvalidArgument, "--teacher MODEL is required");
  LMF_CHECK(job.loss.temperature > 0 && job.loss.alpha >= 0 && job.loss.alpha <= 1, kInvalidArgument,
            "--temperature must be > 0 and --alpha in [0, 1] (got {}, {})", job.loss.temperature, job.loss.alpha);
  job.loss.kind = LossSpec::kDistill;
  const int64_t local_batch = train_run::local_batch(run, world);
  const BuildOptions build{local_batch, run.loop.seq};
  Model m = run.resume ? load_model(run.out, build) : student_model(job, build);
  const train_run::TrainData data = train_run::load_data(run, m.info.vocab);
  const int64_t V = m.info.vocab;
  auto report = [&](const TrainProgress& p) {
    if (world.rank() == 0 && progress) progress(p);
  };
  TeacherSource teacher(job, local_batch, V);
  const TeacherFn teacher_fn = teacher.prepare(data, world, report);
  TrainJob as_run = run;  // training_args.json: the student in "config"
  as_run.config = job.student, as_run.init.clear();
  const nlohmann::json extra = {{"distill", true},
                                {"teacher", job.teacher},
                                {"temperature", job.loss.temperature},
                                {"alpha", job.loss.alpha},
                                {"reverse_kl", job.loss.reverse_kl},
                                {"teacher_cache", job.teacher_cache},
                                {"top_k", job.top_k}};
  train_run::run(std::move(m), job.loss, run, train_run::args_json(as_run, extra), data, teacher_fn, world, progress);
}

}  // namespace lmf::compress

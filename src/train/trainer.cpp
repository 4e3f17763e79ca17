#include "train/trainer.h"

#include <cmath>
#include <cstring>
#include <map>

#include "backend/cpu/kernels_grad.h"
#include "core/checked.h"
#include "core/error.h"
#include "formats/safetensors.h"

namespace lmf {

Trainer::Trainer(Model model, const LossSpec& loss, const AdamWConfig& opt, int threads)
    : model_(std::move(model)), opt_(opt), threads_(threads) {
  LMF_CHECK(model_.build.training(), kInvalidArgument, "{}: the model was not built for training", model_.dir);
  batch_ = model_.build.train_batch;
  distill_ = loss.kind == LossSpec::kDistill;
  seq_ = model_.build.train_seq;
  eval_tg_ = add_loss_and_backward(model_.graph, LossSpec{}, false);  // a copy sharing the weight tensors
  tg_ = add_loss_and_backward(std::move(model_.graph), loss);
  PlanOptions po;
  po.max_tokens = po.max_rows = rows();
  po.cache_len = seq_;
  po.threads = threads;
  po.prepack = false;
  exec_ = std::make_unique<Executor>(tg_.graph, po);
  eval_exec_ = std::make_unique<Executor>(eval_tg_.graph, po);
  for (Executor* e : {exec_.get(), eval_exec_.get()}) {
    int32_t* pos = e->input_i32("positions");
    for (int64_t r = 0; r < rows(); ++r) pos[r] = static_cast<int32_t>(r % seq_);
  }
  for (const auto& p : tg_.params) {
    const auto n = static_cast<size_t>(tg_.graph.value(p.weight).data.numel());
    acc_.emplace_back(n, 0.0f);
    m_.emplace_back(n, 0.0f);
    v_.emplace_back(n, 0.0f);
  }
}

const std::string& Trainer::param_name(size_t i) const { return tg_.graph.value(tg_.params.at(i).weight).name; }

const Tensor& Trainer::weight(size_t i) const { return tg_.graph.value(tg_.params.at(i).weight).data; }

void Trainer::check_batch(std::span<const int32_t> tokens, std::span<const int32_t> targets) const {
  const auto R = static_cast<size_t>(rows());
  LMF_CHECK(tokens.size() == R && targets.size() == R, kInvalidArgument,
            "training batch: {} tokens and {} targets, expected {} ({} sequences of {})", tokens.size(),
            targets.size(), R, batch_, seq_);
  const int64_t V = model_.info.vocab;
  for (size_t i = 0; i < R; ++i)
    LMF_CHECK(tokens[i] >= 0 && tokens[i] < V && targets[i] < V, kInvalidArgument,
              "training batch: token {} or target {} at row {} is outside the vocabulary of {}", tokens[i], targets[i],
              i, V);
}

namespace {

// Writes the batch into a plan's inputs, runs it and returns its loss.
double run_plan(Executor& e, const TrainGraph& tg, std::span<const int32_t> tokens, std::span<const int32_t> targets,
                const float* teacher_logits, int64_t vocab) {
  std::memcpy(e.input_i32("tokens"), tokens.data(), tokens.size() * 4);
  std::memcpy(e.input_i32("targets"), targets.data(), targets.size() * 4);
  if (teacher_logits)
    std::memcpy(e.input_f32("teacher_logits"), teacher_logits, tokens.size() * static_cast<size_t>(vocab) * 4);
  const auto rows = static_cast<int64_t>(tokens.size());
  e.run(rows, rows);
  return static_cast<double>(static_cast<const float*>(e.data(tg.loss))[0]);
}

}  // namespace

double Trainer::evaluate(std::span<const int32_t> tokens, std::span<const int32_t> targets) {
  check_batch(tokens, targets);
  return run_plan(*eval_exec_, eval_tg_, tokens, targets, nullptr, model_.info.vocab);
}

double Trainer::forward_backward(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                                 const float* teacher_logits) {
  check_batch(tokens, targets);
  LMF_CHECK(distill_ == (teacher_logits != nullptr), kInvalidArgument, "{}",
            distill_ ? "distillation step without teacher logits" : "teacher logits given to a step without distillation");
  const double loss = run_plan(*exec_, tg_, tokens, targets, teacher_logits, model_.info.vocab);
  for (size_t i = 0; i < tg_.params.size(); ++i) {
    const float* g = static_cast<const float*>(exec_->data(tg_.params[i].grad));
    float* a = acc_[i].data();
    const size_t n = acc_[i].size();
    if (micro_ == 0) {
      std::memcpy(a, g, n * 4);
    } else {
      for (size_t k = 0; k < n; ++k) a[k] += g[k];
    }
  }
  ++micro_;
  return loss;
}

void Trainer::set_replicas(int count, std::function<void(float*, int64_t)> allreduce) {
  LMF_CHECK(count >= 1 && (count == 1 || allreduce), kInvalidArgument, "replicas: {} without an allreduce", count);
  replicas_ = count;
  allreduce_ = std::move(allreduce);
}

double Trainer::optimizer_step(double lr) {
  LMF_CHECK(micro_ > 0, kInvalidArgument, "optimizer step without a forward_backward");
  if (replicas_ > 1)
    for (auto& a : acc_) allreduce_(a.data(), static_cast<int64_t>(a.size()));
  const int parts = micro_ * replicas_;  // micro-batches summed into the accumulators
  double sq = 0;
  for (const auto& a : acc_) sq += cpu::sum_squares(a.data(), static_cast<int64_t>(a.size()));
  const double norm = std::sqrt(sq) / parts;
  double scale = 1.0 / parts;
  if (opt_.clip_norm > 0 && norm > opt_.clip_norm) scale *= opt_.clip_norm / (norm + 1e-6);
  ++step_;
  for (size_t i = 0; i < tg_.params.size(); ++i) {
    Tensor w = tg_.graph.value(tg_.params[i].weight).data;
    cpu::adamw_update(w.mutable_data_as<float>(), acc_[i].data(), m_[i].data(), v_[i].data(), w.numel(),
                      static_cast<float>(lr), static_cast<float>(opt_.beta1), static_cast<float>(opt_.beta2),
                      static_cast<float>(opt_.eps), static_cast<float>(opt_.weight_decay), step_,
                      static_cast<float>(scale));
  }
  micro_ = 0;
  return norm;
}

}  // namespace lmf

namespace lmf {

void Trainer::save_state(const std::string& path) const {
  std::map<std::string, Tensor> t;
  for (size_t i = 0; i < tg_.params.size(); ++i) {
    const Shape shape = weight(i).shape();
    for (auto [prefix, src] : {std::pair{"m.", &m_[i]}, std::pair{"v.", &v_[i]}}) {
      Tensor x = Tensor::empty(DType::kF32, shape);
      std::memcpy(x.mutable_data(), src->data(), src->size() * 4);
      t[prefix + param_name(i)] = std::move(x);
    }
  }
  write_safetensors(path, t, {{"step", std::to_string(step_)}});
}

void Trainer::load_state(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  auto it = f.metadata().find("step");
  LMF_CHECK(it != f.metadata().end(), kBadFile, "{}: no 'step' in the metadata", path);
  for (size_t i = 0; i < tg_.params.size(); ++i) {
    for (auto [prefix, dst] : {std::pair{"m.", &m_[i]}, std::pair{"v.", &v_[i]}}) {
      const std::string name = prefix + param_name(i);
      LMF_CHECK(f.has(name), kBadFile, "{}: missing tensor '{}'", path, name);
      Tensor x = f.tensor(name);
      LMF_CHECK(x.dtype() == DType::kF32 && x.numel() == static_cast<int64_t>(dst->size()), kBadFile,
                "{}: tensor '{}' does not fit the model", path, name);
      std::memcpy(dst->data(), x.data(), dst->size() * 4);
    }
  }
  step_ = parse_int64(it->second, path + ": metadata 'step'");
  micro_ = 0;
}

}  // namespace lmf

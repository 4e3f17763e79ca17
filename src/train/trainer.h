// lmforge training: a Trainer runs training steps of one model on the CPU.
//
// It owns the training graph (autodiff.h) of a model built for training (its weights
// are owned float32 copies), the plan that runs it (forward, loss and backward in one
// pass over one memory arena, nothing allocated per step), the AdamW moments, and the
// gradient accumulators. A step is: forward_backward() on one or more micro-batches
// (their gradients are summed), then optimizer_step(), which scales the summed
// gradient (1 / micro-batches, then global-norm clipping) and applies AdamW exactly as
// torch.optim.AdamW does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/model.h"
#include "runtime/executor.h"
#include "train/autodiff.h"

namespace lmf {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  double clip_norm = 0.0;  // > 0: clip the global gradient norm to this
};

class Trainer {
 public:
  // `model` must be built with BuildOptions::train_batch > 0.
  Trainer(Model model, const LossSpec& loss, const AdamWConfig& opt, int threads);

  int64_t batch() const { return batch_; }
  int64_t seq() const { return seq_; }
  int64_t rows() const { return batch_ * seq_; }

  // Forward, loss and backward on B sequences: tokens and targets (B*T, rows in
  // sequence order; a negative target is not scored); teacher_logits (B*T, V) for a
  // distillation loss. Adds the gradients to the accumulators; returns the loss.
  double forward_backward(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                          const float* teacher_logits = nullptr);
  // The mean cross-entropy on a batch (whatever the training loss), from a forward-only
  // plan that shares the weights: validation.
  double evaluate(std::span<const int32_t> tokens, std::span<const int32_t> targets);
  // Data parallelism: this trainer is one of `count` replicas, each with its share of
  // every global batch; `allreduce` sums a buffer over the replicas in place (e.g. MPI).
  // optimizer_step() then averages the accumulated gradients over all replicas' micro-
  // batches before clipping and AdamW, so every replica applies the same update.
  void set_replicas(int count, std::function<void(float*, int64_t)> allreduce);
  // Applies AdamW with learning rate lr to the accumulated gradients (averaged over the
  // micro-batches since the last step), then clears them. Returns the gradient norm
  // before clipping.
  double optimizer_step(double lr);
  int64_t steps_done() const { return step_; }

  const Model& model() const { return model_; }
  const TrainGraph& graph() const { return tg_; }
  // The accumulated gradient of parameter i (TrainGraph::params order), as a tensor.
  const std::vector<float>& grad(size_t i) const { return acc_[i]; }
  const std::string& param_name(size_t i) const;
  // The current weight of parameter i (updated in place by optimizer_step()).
  const Tensor& weight(size_t i) const;
  size_t param_count() const { return tg_.params.size(); }

  // The optimizer state (AdamW moments and the step count) to and from a safetensors
  // file, for resuming; load checks every parameter's name and size.
  void save_state(const std::string& path) const;
  void load_state(const std::string& path);

 private:
  Model model_;
  TrainGraph tg_;
  AdamWConfig opt_;
  int threads_ = 1;
  int64_t batch_ = 0, seq_ = 0;
  std::unique_ptr<Executor> exec_;
  TrainGraph eval_tg_;                   // forward + cross-entropy, same weight tensors
  std::unique_ptr<Executor> eval_exec_;
  void check_batch(std::span<const int32_t> tokens, std::span<const int32_t> targets) const;
  std::vector<std::vector<float>> acc_, m_, v_;  // per parameter
  bool distill_ = false;  // the loss needs teacher logits
  int replicas_ = 1;
  std::function<void(float*, int64_t)> allreduce_;
  int micro_ = 0;      // micro-batches accumulated since the last step
  int64_t step_ = 0;   // optimizer steps done
};

}  // namespace lmf

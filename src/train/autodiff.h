// lmforge training: reverse-mode differentiation over the graph IR.
//
// add_loss_and_backward() takes a forward graph built for training (models/model.h,
// BuildOptions::train_batch > 0) whose first output is the logits (R, V), appends the
// loss (cross-entropy against a `targets` input, or distillation against a
// `teacher_logits` input) and, walking the forward nodes backwards, the gradient nodes of
// every op (ir/op_gradients.h), summing the gradients of values used more than once
// (a tied embedding and head, the residual stream). The result is one graph a plan runs
// as a whole training step: forward, loss, backward. Outputs: the loss (1), then
// `grad.NAME` for every weight NAME, in the order of TrainGraph::params.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace lmf {

struct LossSpec {
  enum Kind { kCrossEntropy, kDistill } kind = kCrossEntropy;
  double temperature = 1.0, alpha = 0.5;  // distillation only
  bool reverse_kl = false;
};

struct TrainGraph {
  Graph graph;
  int loss = -1;  // value id of the loss (1)
  struct Param {
    int weight = -1;  // value id of the weight
    int grad = -1;    // value id of its gradient (same shape)
  };
  std::vector<Param> params;  // every weight, in graph order
};

// Consumes `forward`. Throws lmf::Error(kUnsupported) for an op without a gradient rule.
// With backward = false only the loss is appended (an evaluation graph: outputs the loss
// alone, params empty).
TrainGraph add_loss_and_backward(Graph forward, const LossSpec& loss = {}, bool backward = true);

}  // namespace lmf

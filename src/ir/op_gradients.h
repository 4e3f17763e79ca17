// lmforge IR: the gradient of each differentiable op, as graph ops.
//
// A rule receives the forward node (a copy: the graph grows while it runs) and the
// gradient value of each of its outputs (-1 where no gradient reaches that output),
// adds the nodes that compute the gradients of its inputs, and returns one value id per
// input (-1: no gradient, e.g. token ids or positions). The autodiff pass
// (train/autodiff.h) walks a graph backwards and sums the gradients of values used
// more than once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace lmf {

using GradRule = std::function<std::vector<int>(Graph& g, const Node& n, const std::vector<int>& dout)>;

// The rule for `op`, or null when the op has none (the KV-cache attention, gather_rows).
const GradRule* op_gradient(const std::string& op);

}  // namespace lmf

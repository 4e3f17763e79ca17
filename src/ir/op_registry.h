// lmforge IR: the op registry. Each op has a schema: how many inputs it takes and
// how its output dtype and shape follow from its inputs and attributes.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace lmf {

struct OpSchema {
  std::string name;
  int min_inputs = 0;
  int max_inputs = 0;
  std::string doc;
  // Output dtype and shape; throws lmf::Error(kInternal) when inputs do not fit.
  std::function<std::pair<DType, SymShape>(const Graph&, const Node&)> infer;
  // For ops with several outputs (e.g. a gradient op giving dx, dg and db): all of
  // them, in order; `infer` is then unset.
  std::function<std::vector<std::pair<DType, SymShape>>(const Graph&, const Node&)> infer_n = nullptr;

  // Dtype and shape of every output.
  std::vector<std::pair<DType, SymShape>> outputs(const Graph& g, const Node& n) const;
};

const OpSchema& op_schema(const std::string& op);  // throws for an unknown op
bool op_known(const std::string& op);

}  // namespace lmf

// lmforge passes: weight quantization of a float graph (round to nearest).
//
// Every `linear` node whose weight is a checkpoint tensor "<module>.weight" becomes a
// `linear_q` node reading <module>.qweight / .scales / .qzeros (core/quant.h's GPTQ
// layout); a token embedding whose table is the (tied) head's weight becomes
// `embedding_q` on the same tensors. The head (the linear producing a graph output) gets
// its own spec, or stays float; modules matching a --skip pattern stay float.
// Preserves: the graph's inputs and outputs; each quantized weight reads back within its
// scale/2 of the original (core/quant.h), so outputs change by that rounding only.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/quant.h"
#include "ir/graph.h"

namespace lmf::passes {

// Receives a warning (one line, no "warning:" prefix) about one module.
using WarnFn = std::function<void(const std::string&)>;

struct QuantizeOptions {
  quant::Spec spec;                       // the linear layers'
  std::optional<quant::Spec> head_spec;   // the head's (and a tied embedding's); none: float
  std::vector<std::string> skip;          // regular expressions (searched) on module names
  // int8-dynamic for the layers / the head: PyTorch's per-channel int8 weights
  // (quant::quantize_per_channel_int8, the spec ignored) and activations quantized at run
  // time (linear_q attr act = "int8").
  bool int8_dynamic = false, head_int8_dynamic = false;
  // The other quantized linear layers (and head) round their activations to int8 per
  // block of 32 inputs at run time (linear_q attr act = "int8_block32"; K and the group
  // must be multiples of 32).
  bool act_int8_blocks = false;
  // Quantizes W (K, N) of `module` (default: round to nearest). GPTQ plugs in here.
  std::function<quant::Packed(const std::string& module, const float* w_kn, int64_t K, int64_t N,
                              const quant::Spec& spec)>
      quantizer;
  // Where a module's group size does not fit its K (does not divide it, or is above it),
  // the module gets the largest group that does (quant::fit_group; the report records it)
  // and `warn` hears of it; a module no group fits (K·bits not a multiple of 32) is kept
  // float, with a warning.
  WarnFn warn;
};

// Rewrites g (a float graph as load_model builds it, before any plan). Returns, per
// module, {"bits", "group_size", "sym"} (+ "act": "int8" or "int8_block32") or "float" for the skipped ones. Throws
// kInvalidArgument (naming the module) when a spec does not fit a weight, and when g is
// already quantized.
nlohmann::json quantize_weights(Graph& g, const QuantizeOptions& o);

// The linear modules of g with their K and N, in node order (the head last).
struct LinearModule {
  std::string module;
  int node = -1;
  int64_t K = 0, N = 0;
  bool head = false;
};
std::vector<LinearModule> linear_modules(const Graph& g);

// The float32 weight of linear node `node` as W (K, N): the tensor itself, or a
// transposed copy when the node reads it (N, K) (layout "nk").
Tensor linear_weight_kn(const Graph& g, const Node& node);

}  // namespace lmf::passes

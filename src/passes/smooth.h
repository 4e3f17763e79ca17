// lmforge passes: SmoothQuant's smoothing (Xiao et al., "SmoothQuant: Accurate and
// Efficient Post-Training Quantization for Large Language Models", 2023).
//
// An input channel j of a linear layer that carries large activations is hard to quantize
// per token; its weights are usually small. Smoothing divides the channel by
//   s_j = max|X_j|^α / max|W_j|^(1-α)
// and multiplies the weights that read it by s_j, which leaves the product unchanged. The
// division is folded into the norm that produces X (its weight and bias), so it costs
// nothing at run time: done for every layer_norm / rms_norm whose output is read only by
// linear layers with their own weights (GPT-2's ln_1 -> c_attn, ln_2 -> c_fc; Llama's
// input_layernorm -> q, k, v and post_attention_layernorm -> gate, up); a norm feeding a
// head tied to the embedding is left alone. max|W_j| is over all those layers' weights.
// Preserves: the graph's outputs up to float rounding.
#pragma once

#include <map>
#include <vector>

#include "ir/graph.h"

namespace lmf::passes {

// absmax: per linear input value (id), max over calibration tokens of |x_j| (K floats).
// Returns the number of norms smoothed. Modified weights become owned copies.
int smooth_norm_inputs(Graph& g, const std::map<int, std::vector<float>>& absmax, double alpha);

}  // namespace lmf::passes

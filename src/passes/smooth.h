// lmforge passes: per-input-channel scales folded into the norm in front of linear layers,
// and SmoothQuant's smoothing (Xiao et al., "SmoothQuant: Accurate and Efficient
// Post-Training Quantization for Large Language Models", 2023), which chooses them.
//
// Dividing input channel j of some linear layers by s_j and multiplying the weights that
// read it by s_j leaves their products unchanged. When the input is a norm's output, the
// division is folded into the norm (its weight and bias), so it costs nothing at run time:
// done for every layer_norm / rms_norm whose output is read only by linear layers with
// their own weights (GPT-2's ln_1 -> c_attn, ln_2 -> c_fc; Llama's input_layernorm -> q,
// k, v and post_attention_layernorm -> gate, up); a norm feeding a head tied to the
// embedding is left alone (its weight has two readers).
// SmoothQuant: an input channel that carries large activations is hard to quantize per
// token, and its weights are usually small: s_j = max|X_j|^α / max|W_j|^(1-α), with
// max|W_j| over all the linears reading the norm. AWQ (compress/awq.h) chooses other s.
// Preserves: the graph's outputs up to float rounding.
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "ir/graph.h"

namespace lmf::passes {

// A norm whose output x only linear layers with weights of their own read.
struct NormLinears {
  size_t norm = 0;              // node index
  int x = -1;                   // its output value
  std::vector<size_t> linears;  // the nodes reading x
  bool feeds_output = false;    // one of them gives a graph output (the head)
};
std::vector<NormLinears> scalable_norms(const Graph& g);

// Norm weight (and bias) / s, the rows of each linear's weight that read channel j * s_j.
// Modified weights become owned float32 copies.
void fold_input_scales(Graph& g, const NormLinears& nl, const std::vector<float>& s);

// absmax: per linear input value (id), max over calibration tokens of |x_j| (K floats).
// Returns the number of norms smoothed.
int smooth_norm_inputs(Graph& g, const std::map<int, std::vector<float>>& absmax, double alpha);

}  // namespace lmf::passes

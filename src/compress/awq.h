// lmforge compress: AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization for
// LLM Compression and Acceleration", MLSys 2024).
//
// The few input channels that carry large activations matter most to a linear layer's
// output; scaling them up before round-to-nearest quantization (and the input down by the
// same factor) protects their weights. For the linears W_i (K, N_i) that read one input x
// (the output of a norm, so the 1/s folds into it: passes/smooth.h), the paper's search
// (its Eq. 4-5): s = m^α / sqrt(max(m^α) · min(m^α)), m_j = mean over calibration tokens
// of |x_j|, for α in {0, 1/grid, ..., (grid-1)/grid}, keeping the α whose quantized
// layers reproduce the float outputs best:
//   err(s) = Σ_i Σ_tokens ||x (diag(1/s) Q(diag(s) W_i) - W_i)||²  ∝  Σ_i tr(E_iᵀ H E_i)
// with H = (2/T) Σ x xᵀ, the Hessian GPTQ uses (compress/gptq.h), and Q the stored
// group-wise quantization (core/quant.h: float16 scales included). α = 0 is plain
// round-to-nearest, so the search never does worse than it on the calibration data.
// Then AWQ's weight clipping: per (group, column), the range is shrunk to r · max|w|,
// r in {1, 1 - 1/20, ..., 0.55}, keeping the r with the smallest output error e_gᵀ H_gg e_g
// for that group's inputs. (The reference implementation measures its errors on the
// output of a whole attention or MLP block, on a sample of tokens, and skips clipping for
// q and k; here every error is the layer's own output over all calibration tokens, as in
// the paper's formulation, and every layer is clipped.)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/quant.h"
#include "ir/graph.h"

namespace lmf::compress {

struct AwqScales {
  std::vector<float> s;  // (K) multiply W's rows, divide the input's channels
  double alpha = 0;
  double err = 0, err_rtn = 0;  // Σ_i tr(E_iᵀ H E_i) at the chosen α, and at α = 0
};

// w_kn[i]: (K, n[i]) row-major weights reading the same input; H (K, K); xmean (K).
AwqScales awq_search_scales(const std::vector<const float*>& w_kn, const std::vector<int64_t>& n, int64_t K,
                            const std::vector<double>& H, const std::vector<float>& xmean, const quant::Spec& spec,
                            int grid = 20);

// W (K, N) clamped in place, per (group, column), to the shrunk range whose quantization
// has the smallest output error for that group's inputs (H's diagonal block).
void awq_clip(float* w_kn, int64_t K, int64_t N, const std::vector<double>& H, const quant::Spec& spec,
                int steps = 20);

// Σ_n e_nᵀ H e_n for E = Q(W) - W (K, N): the output error of quantizing W under H.
double quantization_error(const float* w_kn, int64_t K, int64_t N, const std::vector<double>& H,
                          const quant::Spec& spec);

// AWQ's scales for every norm in front of linear layers but the head's
// (passes::scalable_norms), searched with the Hessians and mean |x| of their inputs
// (collect_hessians) and folded into g (passes::fold_input_scales); each such input's
// Hessian becomes that of the scaled input, diag(1/s) H diag(1/s). spec.group <= 0: per
// channel. One entry per norm scaled, in graph order.
struct AwqNorm {
  std::string norm;    // the norm's weight
  size_t linears = 0;  // layers reading it
  AwqScales scales;
};
std::vector<AwqNorm> awq_scale_norms(Graph& g, std::map<int, std::vector<double>>& hessians,
                                     const std::map<int, std::vector<float>>& xmean, quant::Spec spec);

}  // namespace lmf::compress

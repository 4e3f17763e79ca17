// lmforge compress: GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization
// for Generative Pre-trained Transformers", 2022): each linear weight is quantized one
// input row at a time, and the rounding error of each row is pushed onto the rows not yet
// quantized through the inverse Hessian of the layer's reconstruction loss,
// H = 2/n · Σ x xᵀ over n calibration tokens x (the layer's inputs).
//
// As in the reference implementation: dead inputs (H_kk = 0) are zeroed; H is dampened
// by `damp` times its mean diagonal; the upper Cholesky factor of H⁻¹ drives the updates,
// in blocks of 128 rows with a lazy update of the rest; group parameters are chosen from
// the current (already updated) weights when a group starts. With act_order, rows are
// taken in order of decreasing H_kk and the group parameters are chosen up front from the
// original weights ("static groups"), so the stored group of row k stays k / G (no g_idx
// permutation) and the checkpoint loads like any other.
// The Hessians come from one pass of the float model over the calibration tokens (every
// layer sees the float model's activations, not those of already quantized layers).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "core/quant.h"
#include "models/model.h"

namespace lmf::compress {

struct GptqOptions {
  double damp = 0.01;
  bool act_order = false;
  int64_t block = 128;
};

// H (K, K) float64 of every distinct linear input of m's graph, keyed by that input's
// value id, from the float model run on `samples` (each one sequence) with `threads`.
// With absmean, also the mean over tokens of |x_j| (K) of each (AWQ's statistic).
std::map<int, std::vector<double>> collect_hessians(const Model& m, const std::vector<std::vector<int32_t>>& samples,
                                                    int threads,
                                                    std::map<int, std::vector<float>>* absmean = nullptr);

// In place: H (K, K) dampened by `damp` times its mean diagonal, then replaced by the upper
// Cholesky factor U of its inverse (H⁻¹ = Uᵀ U), column-major: U(i, j) (i <= j) is
// H[j * K + i]. The pruning (SparseGPT) shares it. Errors start with `what`.
void inverse_hessian_factor(std::vector<double>& H, int64_t K, double damp, const char* what);

// GPTQ of W (K, N) (row-major) given H (K, K) (taken by value: it is dampened and
// factorized in place). Throws kInvalidArgument if H is not positive definite after
// dampening.
quant::Packed gptq_quantize(const float* w_kn, int64_t K, int64_t N, std::vector<double> H, const quant::Spec& spec,
                            const GptqOptions& o);

}  // namespace lmf::compress

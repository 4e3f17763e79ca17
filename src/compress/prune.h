// lmforge compress: `lmforge prune` as a library call: unstructured and N:M pruning of the
// linear weights of a float model (docs/pruning.md).
//
// Methods (PruneOptions::method):
//  - magnitude: L1 unstructured, as torch.nn.utils.prune.l1_unstructured + prune.remove per
//    layer (scope "layer") or prune.global_unstructured with L1Unstructured over every
//    selected weight at once (scope "global"): the round(S · n) weights of least |w| are
//    zeroed (Python's round: half to even); n counts the weight's elements (global: of all).
//  - wanda (Sun et al. 2023): score |W_ij| · ||X_j||₂ (X: the layer's inputs over the
//    calibration tokens), per output row i the floor(S · K) lowest scores are zeroed (as
//    the Wanda code's int(K · sparsity)).
//  - N:M (nm_n, nm_m; `--method 2:4` or `--nm 2:4` with magnitude or wanda scores): in
//    every group of M consecutive inputs of an output row the N largest scores are kept.
//  - sparsegpt (Frantar and Alistarh 2023, "SparseGPT: Massive Language Models Can Be
//    Accurately Pruned in One-Shot"): inputs are pruned in order, in blocks of 128; in
//    each block the int(S · 128 · N) weights of least w² / [H⁻¹]_kk² are chosen (N:M:
//    per group of M inputs of each row, the N largest kept), and the error of each pruned
//    input row is pushed onto the inputs after it through the upper Cholesky factor of
//    H⁻¹ (H = 2/n Σ x xᵀ, dampened as GPTQ's; compress/gptq.h), so kept weights change.
//    Hessians come from one pass of the float model (as lmforge's GPTQ), not layer by
//    layer through the already pruned ones as the paper's code does.
// Ties are broken by position: of equal scores the one earlier in the weight (the
// checkpoint tensor's element order for magnitude; the input index within a row for wanda
// and N:M; the selected weights in graph order for global) is pruned first.
// Sparse storage, sparse kernels, structured pruning and recovery are not done:
// the output is a dense folder with zeros in place (dense = true is required).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/model.h"

namespace lmf::compress {

struct PruneOptions {
  std::string model, out;
  std::string method = "magnitude";  // magnitude, wanda, sparsegpt, or N:M ("2:4": magnitude scores)
  std::string nm;                    // "N:M" with method magnitude or wanda (--nm)
  double sparsity = -1;              // [0, 1); required unless N:M (which fixes 1 - N/M)
  std::string scope = "layer";       // layer or global (magnitude only)
  // Regular expressions (searched) on linear module names; empty: every linear module but
  // the head (the projections inside the transformer blocks).
  std::vector<std::string> include;
  std::string calib;  // wanda, sparsegpt: a `data prepare` folder (its train split)
  double damp = 0.01;  // sparsegpt: dampening, a fraction of the mean Hessian diagonal
  int64_t calib_samples = 128, calib_seq = 0;  // 0: min(512, the model's context)
  bool dense = false;  // write zeros in place (the only output format so far)
  int threads = 1;
  bool verbose = false;  // progress on stderr
};

struct PruneLayer {
  std::string module;
  int64_t params = 0, nonzeros = 0;
};

struct PruneReport {
  std::string method;    // magnitude, wanda or sparsegpt
  std::string scope;     // layer, global or N:M (e.g. "2:4")
  double sparsity = 0;   // the target
  std::vector<PruneLayer> layers;  // the pruned linear modules, in graph order
  int64_t layer_params = 0, layer_nonzeros = 0;  // sums over layers
  int64_t params = 0, nonzeros = 0;  // every weight of the model (a tied weight once)
  uint64_t bytes = 0;                // model.safetensors as written (0 before saving)
  std::string dtype;                 // of the written tensors
  nlohmann::json json() const;
};

// The methods and their flags, parsed and checked without a model: one error line naming
// the flag (--sparsity, --method, --nm, --scope, --calib, --dense).
struct PruneMethod {
  bool wanda = false, sparsegpt = false;
  int64_t n = 0, m = 0;  // N:M; 0: unstructured
  double sparsity = 0;
};
PruneMethod check_prune_options(const PruneOptions& o);

// ||X_j||₂ over every calibration token of each distinct linear input of m's graph (keyed
// by the input's value id), accumulated in float64, from the float model run on samples.
std::map<int, std::vector<float>> input_norms(const Model& m, const std::vector<std::vector<int32_t>>& samples,
                                              int threads);

// SparseGPT of W (K, N) row-major (row k: input k) in place, given H (K, K) (by value: it
// is dampened and factorized), computed in float64. sparsity: unstructured (n = m = 0), or
// N:M (n, m; the block is rounded down to a multiple of m). Dead inputs (H_kk = 0) are
// zeroed as in GPTQ. Throws kInvalidArgument if H is not positive definite after damping.
struct SparseGptOptions {
  double sparsity = 0;
  int64_t n = 0, m = 0;
  double damp = 0.01;
  int64_t block = 128;
};
void sparsegpt_prune(float* w_kn, int64_t K, int64_t N, std::vector<double> H, const SparseGptOptions& o);

// Prunes m.graph's selected linear weights in place (each becomes an owned float32 copy).
// norms: input_norms of m (wanda only); hessians: collect_hessians of m (sparsegpt only). Errors name --include (no module matches) and --nm
// / --method (M does not divide a module's inputs).
PruneReport prune_graph(Model& m, const PruneOptions& o, const std::map<int, std::vector<float>>& norms = {},
                        const std::map<int, std::vector<double>>& hessians = {});

// Loads o.model, prunes it and writes o.out (which must not exist or be an empty folder;
// written to a temporary sibling and renamed): config.json as it was, model.safetensors in
// the checkpoint's dtype, the tokenizer files and generation_config.json.
PruneReport prune_model(const PruneOptions& o);

}  // namespace lmf::compress

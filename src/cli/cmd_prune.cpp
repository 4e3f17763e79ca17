// `lmforge prune MODEL -o OUT --method magnitude|wanda|N:M --sparsity S --dense`: pruning of
// the linear weights (compress/prune.h, docs/pruning.md).
#include <fmt/format.h>

#include "cli/common.h"
#include "compress/prune.h"
#include "core/clock.h"

namespace lmf::cli {

namespace {

struct PruneArgs {
  compress::PruneOptions o;
  bool quiet = false, json = false;
};

double sparsity_of(int64_t params, int64_t nonzeros) {
  return params ? 100.0 * (1.0 - static_cast<double>(nonzeros) / static_cast<double>(params)) : 0.0;
}

void run_prune(PruneArgs& a) {
  a.o.verbose = !a.quiet && !a.json;
  const double t0 = now_seconds();
  const compress::PruneReport r = compress::prune_model(a.o);
  if (a.json) {
    fmt::print("{}\n", r.json().dump(2));
    return;
  }
  if (a.quiet) return;
  fmt::print("{}: {} {} at {:.2f}% target sparsity, {} linear modules, {}; {:.1f} s\n", a.o.out, r.method, r.scope,
             100.0 * r.sparsity, r.layers.size(), r.dtype, now_seconds() - t0);
  size_t width = 6;
  for (const auto& l : r.layers) width = std::max(width, l.module.size());
  fmt::print("  {:<{}}  {:>12}  {:>12}  {:>8}\n", "module", width, "params", "non-zeros", "sparsity");
  for (const auto& l : r.layers)
    fmt::print("  {:<{}}  {:>12}  {:>12}  {:>7.2f}%\n", l.module, width, l.params, l.nonzeros,
               sparsity_of(l.params, l.nonzeros));
  fmt::print("pruned modules: {} params, {} non-zeros ({:.2f}% sparse)\n", r.layer_params, r.layer_nonzeros,
             sparsity_of(r.layer_params, r.layer_nonzeros));
  fmt::print("model: {} params, {} non-zeros ({:.2f}% zeros); model.safetensors {} bytes ({:.2f} MiB, dense: zeros stored)\n",
             r.params, r.nonzeros, sparsity_of(r.params, r.nonzeros), r.bytes,
             static_cast<double>(r.bytes) / (1 << 20));
}

}  // namespace

void register_prune(CLI::App& app) {
  auto a = std::make_shared<PruneArgs>();
  CLI::App* cmd = app.add_subcommand("prune", "Prune a model's linear weights: magnitude (L1), Wanda, SparseGPT or N:M such as 2:4 (docs/pruning.md)");
  cmd->add_option("model", a->o.model, "Hugging Face model folder (float)")->required();
  cmd->add_option("-o,--out", a->o.out, "Output folder (must not exist, or be empty)")->required();
  cmd->add_option("--method", a->o.method,
                  "magnitude: least |w| (torch.nn.utils.prune.l1_unstructured / global_unstructured); "
                  "wanda: least |w| x input norm per output row, with --calib data; "
                  "sparsegpt: SparseGPT's one-shot pruning with second-order updates of the kept weights, with --calib data; "
                  "N:M such as 2:4: keep the N largest |w| of every M consecutive inputs (default magnitude)");
  cmd->add_option("--sparsity", a->o.sparsity, "Fraction of each pruned weight set to zero, in [0, 1) "
                  "(magnitude: round(S n) weights; wanda: floor(S K) per row; sparsegpt: floor(S 128 N) per block of 128 inputs); not with N:M");
  cmd->add_option("--scope", a->o.scope, "magnitude: layer (each weight on its own, default) or global (one threshold over all pruned weights)");
  cmd->add_option("--nm", a->o.nm, "N:M with --method magnitude, wanda or sparsegpt, such as 2:4");
  cmd->add_option("--include", a->o.include,
                  "Prune the linear modules whose name matches this regular expression (repeatable; default: every "
                  "linear module but the head, e.g. --include lm_head adds nothing else)");
  cmd->add_option("--calib", a->o.calib, "wanda, sparsegpt: calibration data, a `data prepare` folder (its train split)");
  cmd->add_option("--calib-samples", a->o.calib_samples, "wanda, sparsegpt: calibration sequences (default 128)");
  cmd->add_option("--calib-seq", a->o.calib_seq, "wanda, sparsegpt: tokens per sequence (default min(512, context))");
  cmd->add_option("--damp", a->o.damp, "sparsegpt: dampening, a fraction of the mean Hessian diagonal (default 0.01)");
  cmd->add_flag("--dense", a->o.dense, "Write an ordinary dense Hugging Face folder with zeros in place, in the "
                "checkpoint's dtype (required: the sparse format is not implemented yet)");
  cmd->add_flag("--json", a->json, "Print the report as JSON");
  add_threads_flag(cmd, &a->o.threads);
  cmd->add_flag("-q,--quiet", a->quiet, "Print nothing on success");
  cmd->callback([a] { run_prune(*a); });
}

}  // namespace lmf::cli

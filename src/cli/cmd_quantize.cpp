// `lmforge quantize MODEL -o OUT --method w4|w8`: weight quantization (compress/quantize.h).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "compress/quantize.h"
#include "core/clock.h"

namespace lmf::cli {

namespace {

struct QuantizeArgs {
  compress::QuantizeJob job;
  bool asym = false, quiet = false, no_clip = false;
};

void run_quantize(QuantizeArgs& a) {
  a.job.sym = !a.asym;
  a.job.awq_clip = !a.no_clip;
  a.job.verbose = !a.quiet;
  a.job.warn = [](const std::string& w) { std::fprintf(stderr, "lmforge: warning: %s\n", w.c_str()); };
  const double t0 = now_seconds();
  nlohmann::json q = compress::quantize_model(a.job);
  if (a.quiet) return;
  int quantized = 0, kept = 0;
  for (const auto& [name, v] : q["lmforge"]["modules"].items()) (v.is_string() ? kept : quantized) += 1;
  uintmax_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(a.job.out))
    if (e.path().extension() == ".safetensors") bytes += e.file_size();
  const std::string how = a.job.method == "int8-dynamic" || a.job.method == "smoothquant"
                              ? std::string("per channel, symmetric")
                              : fmt::format("group {}, {}", a.job.group, a.job.sym ? "symmetric" : "asymmetric");
  fmt::print("{}: {} linear modules quantized ({}, {}), {} kept float; model.safetensors {:.2f} MiB; {:.1f} s\n",
             a.job.out, quantized, a.job.method, how, kept,
             static_cast<double>(bytes) / (1 << 20), now_seconds() - t0);
}

}  // namespace

void register_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model: int8-dynamic, SmoothQuant, round to nearest, GPTQ or AWQ (docs/quantization.md)");
  cmd->add_option("model", a->job.model, "Hugging Face model folder (float)")->required();
  cmd->add_option("-o,--out", a->job.out, "Output folder (must not exist, or be empty)")->required();
  cmd->add_option("--method", a->job.method,
                  "int8-dynamic: int8 weights per channel and activations per token (PyTorch's quantize_dynamic); "
                  "smoothquant: SmoothQuant smoothing (with --calib data), then int8-dynamic; "
                  "w8, w4 or w3: weight-only, group-wise, round to nearest; gptq: GPTQ with --calib data; "
                  "awq: AWQ's activation-aware scales and clipping with --calib data, then round to nearest (default w4)");
  cmd->add_option("--group-size", a->job.group, "Rows of K per scale: 32, 64, 128 ... (default 128; -1: per channel). A module whose inputs it does not divide gets the largest group that does, with a warning");
  cmd->add_flag("--asym", a->asym, "Asymmetric (a zero point per group) instead of symmetric");
  cmd->add_option("--head", a->job.head, "The head's (and a tied embedding's) format: w8, w4, int8-dynamic or float (default: int8-dynamic "
                  "for --method int8-dynamic and smoothquant, else w8)");
  cmd->add_option("--kv-cache", a->job.kv_cache,
                  "The attention cache at run time: f32 (default) or int8 (a scale per position and head)");
  cmd->add_option("--act", a->job.act,
                  "w8, w4, w3, gptq, awq: float (default) or int8: activations rounded to int8 per 32 inputs at run "
                  "time (llama.cpp's Q8_0 blocks), for integer dot products in decode");
  cmd->add_option("--skip", a->job.skip, "Keep modules whose name matches this regular expression float (repeatable)");
  cmd->add_option("--bits", a->job.bits, "gptq, awq: 3, 4 or 8 bits (default 4)");
  cmd->add_option("--calib", a->job.calib, "gptq, awq, smoothquant: calibration data, a `data prepare` folder (its train split)");
  cmd->add_option("--calib-samples", a->job.calib_samples, "gptq, awq, smoothquant: calibration sequences (default 128)");
  cmd->add_option("--calib-seq", a->job.calib_seq, "gptq, awq, smoothquant: tokens per sequence (default min(512, context))");
  cmd->add_option("--damp", a->job.damp, "gptq: dampening, a fraction of the mean Hessian diagonal (default 0.01)");
  cmd->add_option("--alpha", a->job.alpha, "smoothquant: migration strength in [0, 1] (default 0.5)");
  cmd->add_flag("--act-order", a->job.act_order, "gptq: quantize rows by decreasing Hessian diagonal (static groups)");
  cmd->add_flag("--no-clip", a->no_clip, "awq: scales only, without AWQ's weight clipping search");
  add_threads_flag(cmd, &a->job.threads);
  cmd->add_flag("-q,--quiet", a->quiet, "Print nothing on success");
  cmd->callback([a] { run_quantize(*a); });
}

}  // namespace lmf::cli

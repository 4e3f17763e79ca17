#include "compress/quantize.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "compress/awq.h"
#include "compress/calibrate.h"
#include "compress/gptq.h"
#include "compress/output_folder.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "models/model.h"
#include "passes/quantize.h"
#include "passes/smooth.h"

namespace lmf::compress {

namespace fs = std::filesystem;

const std::vector<std::string>& quantize_methods() {
  static const std::vector<std::string> m = {"int8-dynamic", "smoothquant", "w8", "w4", "w3", "gptq", "awq"};
  return m;
}

namespace {

quant::Spec spec_for(const std::string& method, int64_t group, bool sym, const std::string& flag, int gptq_bits) {
  quant::Spec s;
  if (method == "w8" || method == "int8-dynamic" || (method == "smoothquant" && flag == "--method")) {
    s.bits = 8;
  } else if (method == "w4") {
    s.bits = 4;
  } else if (method == "w3") {
    s.bits = 3;
  } else if ((method == "gptq" || method == "awq") && flag == "--method") {
    LMF_CHECK(gptq_bits == 3 || gptq_bits == 4 || gptq_bits == 8, kInvalidArgument, "--bits {}: {} supports 3, 4 or 8",
              gptq_bits, method);
    s.bits = gptq_bits;
  } else {
    std::string list;
    for (const auto& m : quantize_methods()) list += (list.empty() ? "" : ", ") + m;
    fail(ErrorCode::kInvalidArgument, "{} '{}': unknown quantization method (supported: {})", flag, method, list);
  }
  LMF_CHECK(group == -1 || group > 0, kInvalidArgument, "--group-size {}: must be positive, or -1 for per channel",
            group);
  s.group = group;  // -1 -> 0: the pass takes K (per channel)
  if (s.group < 0) s.group = 0;
  s.sym = sym;
  return s;
}

// awq_scale_norms, reported (on stderr when verbose) and summed for config.json.
nlohmann::json awq_scale(Graph& g, std::map<int, std::vector<double>>& hessians,
                         const std::map<int, std::vector<float>>& xmean, const quant::Spec& spec, bool verbose) {
  double err = 0, err_rtn = 0;
  const std::vector<AwqNorm> norms = awq_scale_norms(g, hessians, xmean, spec);
  for (const AwqNorm& an : norms) {
    if (verbose)
      fmt::print(stderr, "awq: {} -> {} linear(s): alpha {:.2f}, output error {:.4g} (round to nearest {:.4g})\n",
                 an.norm, an.linears, an.scales.alpha, an.scales.err, an.scales.err_rtn);
    err += an.scales.err, err_rtn += an.scales.err_rtn;
  }
  return {{"norms_scaled", norms.size()}, {"output_error", err}, {"output_error_rtn", err_rtn}};
}

// The pass options for job (specs of the layers and the head, activations), checked.
passes::QuantizeOptions pass_options(const QuantizeJob& job, std::string& head) {
  passes::QuantizeOptions o;
  o.spec = spec_for(job.method, job.group, job.sym, "--method", job.bits);
  const bool i8 = job.method == "int8-dynamic" || job.method == "smoothquant";
  head = job.head != "auto" ? job.head : (i8 ? "int8-dynamic" : "w8");
  if (head != "float") o.head_spec = spec_for(head, job.group, job.sym, "--head", 0);
  o.int8_dynamic = i8;
  o.head_int8_dynamic = head == "int8-dynamic";
  o.skip = job.skip;
  LMF_CHECK(job.kv_cache == "f32" || job.kv_cache == "int8", kInvalidArgument, "--kv-cache '{}': f32 or int8",
            job.kv_cache);
  LMF_CHECK(job.act == "float" || job.act == "int8", kInvalidArgument, "--act '{}': float or int8", job.act);
  LMF_CHECK(job.act == "float" || !i8, kInvalidArgument,
            "--act int8: --method {} already quantizes activations (per token); --act is for w8, w4, w3, gptq and awq",
            job.method);
  o.act_int8_blocks = job.act == "int8";
  o.warn = job.warn;
  return o;
}

// What the calibrated methods compute before the weights are quantized.
struct Calibration {
  std::map<int, std::vector<double>> hessians;  // input value -> its Hessian (gptq, awq)
  std::map<std::string, int> input_of;          // module -> its input value
  nlohmann::json awq_report;
  int smoothed = 0;  // smoothquant: norms smoothed
};

// smoothquant folds its smoothing into m's norms; gptq and awq collect Hessians (awq also
// scales the norms) and plug their quantizer into o.
void calibrate_method(Model& m, const QuantizeJob& job, passes::QuantizeOptions& o, Calibration& c) {
  if (job.method != "smoothquant" && job.method != "gptq" && job.method != "awq") return;
  const auto samples = calibration_samples(m, job.calib, job.calib_samples, job.calib_seq);
  if (job.method == "smoothquant") {  // smoothing folded into the norms, then int8-dynamic
    c.smoothed = passes::smooth_norm_inputs(m.graph, collect_absmax(m, samples, job.threads), job.alpha);
    if (job.verbose) fmt::print(stderr, "smoothquant: {} norms smoothed (alpha {})\n", c.smoothed, job.alpha);
    return;
  }
  if (job.verbose) fmt::print(stderr, "{}: Hessians from {} x {} calibration tokens\n", job.method, samples.size(),
                 samples[0].size());
  std::map<int, std::vector<float>> xmean;
  c.hessians = collect_hessians(m, samples, job.threads, job.method == "awq" ? &xmean : nullptr);
  for (const auto& lm : passes::linear_modules(m.graph))
    c.input_of[lm.module] = m.graph.nodes()[static_cast<size_t>(lm.node)].inputs[0];
  const auto hessian = [&c](const std::string& module) -> const std::vector<double>& {
    return c.hessians.at(c.input_of.at(module));
  };
  if (job.method == "awq") {
    c.awq_report = awq_scale(m.graph, c.hessians, xmean, o.spec, job.verbose);
    o.quantizer = [&job, hessian](const std::string& module, const float* w, int64_t K, int64_t N,
                                  const quant::Spec& spec) {
      if (!job.awq_clip || spec.bits >= 8) return quant::quantize_rtn(w, K, N, spec);
      std::vector<float> clipped(w, w + K * N);
      awq_clip(clipped.data(), K, N, hessian(module), spec);
      return quant::quantize_rtn(clipped.data(), K, N, spec);
    };
  } else {
    GptqOptions go;
    go.damp = job.damp;
    go.act_order = job.act_order;
    o.quantizer = [&job, hessian, go](const std::string& module, const float* w, int64_t K, int64_t N,
                                      const quant::Spec& spec) {
      if (job.verbose) fmt::print(stderr, "gptq: {} ({} x {}, {} bits)\n", module, K, N, spec.bits);
      return gptq_quantize(w, K, N, hessian(module), spec, go);
    };
  }
}

// config.json's quantization_config (GPTQ's fields, lmforge's own under "lmforge").
nlohmann::json quantization_config(const QuantizeJob& job, const passes::QuantizeOptions& o, const std::string& head,
                                   const nlohmann::json& modules, const Calibration& c) {
  const bool i8 = o.int8_dynamic;
  nlohmann::json q = {{"quant_method", "gptq"},
                      {"bits", o.spec.bits},
                      {"group_size", i8 ? -1 : job.group},
                      {"sym", job.sym},
                      {"desc_act", job.method == "gptq" && job.act_order},
                      {"static_groups", job.method == "gptq" && job.act_order},
                      {"damp_percent", job.method == "gptq" ? job.damp : 0.0},
                      {"checkpoint_format", "gptq_v2"},
                      {"lmforge", {{"method", job.method}, {"head", head}, {"modules", modules}}}};
  q["lmforge"]["kv_cache"] = job.kv_cache;
  if (!i8) q["lmforge"]["act"] = job.act;  // the modules record it too (act int8_block32)
  if (job.method == "awq") q["lmforge"]["awq"] = c.awq_report;
  if (job.method == "smoothquant") q["lmforge"]["smoothquant"] = {{"alpha", job.alpha}, {"norms_smoothed", c.smoothed}};
  return q;
}

// GPTQ's g_idx (the group of each input row) for loaders that expect it: k / G here.
std::map<std::string, Tensor> gptq_g_idx(const Graph& g, const nlohmann::json& modules) {
  std::map<std::string, Tensor> g_idx;
  for (const auto& [module, spec] : modules.items()) {
    if (!spec.is_object()) continue;
    const Value& q = g.value(g.find(module + ".qweight"));
    const int64_t K = q.data.dim(0) * 32 / spec["bits"].get<int>(), G = spec["group_size"].get<int64_t>();
    Tensor t = Tensor::empty(DType::kI32, {K});
    for (int64_t k = 0; k < K; ++k) t.mutable_data_as<int32_t>()[k] = static_cast<int32_t>(k / G);
    g_idx[module + ".g_idx"] = t;
  }
  return g_idx;
}

}  // namespace

nlohmann::json quantize_model(const QuantizeJob& job) {
  std::string head;
  passes::QuantizeOptions o = pass_options(job, head);
  const fs::path out = output_folder(job.out);
  Model m = load_model(job.model);
  Calibration c;
  calibrate_method(m, job, o, c);
  const nlohmann::json modules = passes::quantize_weights(m.graph, o);
  c.hessians.clear();
  const nlohmann::json q = quantization_config(job, o, head, modules, c);
  m.config["quantization_config"] = q;
  write_output_folder(out, job.model, [&](const fs::path& tmp) { save_model(m, m.graph, tmp.string(), gptq_g_idx(m.graph, modules)); });
  return q;
}

}  // namespace lmf::compress

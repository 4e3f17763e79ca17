#include "compress/quantize.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "compress/awq.h"
#include "compress/calibrate.h"
#include "compress/gptq.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/tokenizer_files.h"
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

}  // namespace

nlohmann::json quantize_model(const QuantizeJob& job) {
  passes::QuantizeOptions o;
  o.spec = spec_for(job.method, job.group, job.sym, "--method", job.bits);
  const bool i8 = job.method == "int8-dynamic" || job.method == "smoothquant";
  const std::string head = job.head != "auto" ? job.head : (i8 ? "int8-dynamic" : "w8");
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
  LMF_CHECK(!job.out.empty(), kInvalidArgument, "-o: an output folder is required");
  std::error_code ec;
  LMF_CHECK(!fs::is_symlink(fs::symlink_status(job.out, ec)) || fs::exists(job.out, ec), kInvalidArgument,
            "-o {}: a symbolic link to {}, which does not exist", job.out, fs::read_symlink(job.out, ec).string());
  LMF_CHECK(!fs::exists(job.out, ec) || (fs::is_directory(job.out, ec) && fs::is_empty(job.out, ec)),
            kInvalidArgument, "-o {}: exists and is not an empty folder", job.out);
  // The output folder's absolute path, without a trailing separator ("out/" names "out");
  // missing parent folders are created, as save_pretrained does.
  fs::path out = fs::absolute(job.out).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  Model m = load_model(job.model);
  // The calibration windows of gptq and smoothquant.
  const int64_t seq = job.calib_seq > 0 ? job.calib_seq : std::min<int64_t>(512, m.info.context);
  auto calibration = [&] {
    LMF_CHECK(seq <= m.info.context, kInvalidArgument, "--calib-seq {} exceeds the model's context of {}", seq,
              m.info.context);
    return calibration_samples(job.calib, job.calib_samples, seq, m.info.vocab);
  };
  int smoothed = 0;
  if (job.method == "smoothquant") {  // smoothing folded into the norms, then int8-dynamic
    const auto samples = calibration();
    smoothed = passes::smooth_norm_inputs(m.graph, collect_absmax(m, samples, job.threads), job.alpha);
    if (job.verbose) fmt::print(stderr, "smoothquant: {} norms smoothed (alpha {})\n", smoothed, job.alpha);
  }
  std::map<int, std::vector<double>> hessians;
  std::map<std::string, int> input_of;  // module -> its input value (whose Hessian it uses)
  nlohmann::json awq_report;
  if (job.method == "gptq" || job.method == "awq") {
    const auto samples = calibration();
    if (job.verbose)
      fmt::print(stderr, "{}: Hessians from {} x {} calibration tokens\n", job.method, samples.size(), seq);
    std::map<int, std::vector<float>> xmean;
    hessians = collect_hessians(m, samples, job.threads, job.method == "awq" ? &xmean : nullptr);
    for (const auto& lm : passes::linear_modules(m.graph))
      input_of[lm.module] = m.graph.nodes()[static_cast<size_t>(lm.node)].inputs[0];
    if (job.method == "awq") awq_report = awq_scale(m.graph, hessians, xmean, o.spec, job.verbose);
  }
  if (job.method == "awq") {
    o.quantizer = [&](const std::string& module, const float* w, int64_t K, int64_t N, const quant::Spec& spec) {
      if (!job.awq_clip || spec.bits >= 8) return quant::quantize_rtn(w, K, N, spec);
      std::vector<float> c(w, w + K * N);
      awq_clip(c.data(), K, N, hessians.at(input_of.at(module)), spec);
      return quant::quantize_rtn(c.data(), K, N, spec);
    };
  }
  if (job.method == "gptq") {
    GptqOptions go;
    go.damp = job.damp;
    go.act_order = job.act_order;
    o.quantizer = [&](const std::string& module, const float* w, int64_t K, int64_t N, const quant::Spec& spec) {
      if (job.verbose) fmt::print(stderr, "gptq: {} ({} x {}, {} bits)\n", module, K, N, spec.bits);
      return gptq_quantize(w, K, N, hessians.at(input_of.at(module)), spec, go);
    };
  }
  const nlohmann::json modules = passes::quantize_weights(m.graph, o);
  hessians.clear();

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
  if (job.method == "awq") q["lmforge"]["awq"] = awq_report;
  if (job.method == "smoothquant") q["lmforge"]["smoothquant"] = {{"alpha", job.alpha}, {"norms_smoothed", smoothed}};
  m.config["quantization_config"] = q;
  const fs::path tmp = out.parent_path() / (out.filename().string() + ".partial");
  fs::remove_all(tmp, ec);
  try {
    // GPTQ's g_idx (the group of each input row) for loaders that expect it: k / G here.
    std::map<std::string, Tensor> g_idx;
    for (const auto& [module, spec] : modules.items()) {
      if (!spec.is_object()) continue;
      const Value& q = m.graph.value(m.graph.find(module + ".qweight"));
      const int64_t K = q.data.dim(0) * 32 / spec["bits"].get<int>(), G = spec["group_size"].get<int64_t>();
      Tensor t = Tensor::empty(DType::kI32, {K});
      for (int64_t k = 0; k < K; ++k) t.mutable_data_as<int32_t>()[k] = static_cast<int32_t>(k / G);
      g_idx[module + ".g_idx"] = t;
    }
    save_model(m, m.graph, tmp.string(), g_idx);
    copy_tokenizer_files(job.model, tmp.string());
    if (const fs::path gen = fs::path(job.model) / "generation_config.json"; fs::exists(gen))
      write_file_atomic((tmp / gen.filename()).string(), read_text_file(gen.string()));
    if (fs::exists(out)) fs::remove(out);
    fs::rename(tmp, out);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return q;
}

}  // namespace lmf::compress

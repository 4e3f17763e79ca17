#include "compress/quantize.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "models/model.h"
#include "passes/quantize.h"

namespace lmf::compress {

namespace fs = std::filesystem;

const std::vector<std::string>& quantize_methods() {
  static const std::vector<std::string> m = {"w8", "w4"};
  return m;
}

namespace {

quant::Spec spec_for(const std::string& method, int64_t group, bool sym, const std::string& flag) {
  quant::Spec s;
  if (method == "w8") {
    s.bits = 8;
  } else if (method == "w4") {
    s.bits = 4;
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

}  // namespace

nlohmann::json quantize_model(const QuantizeJob& job) {
  passes::QuantizeOptions o;
  o.spec = spec_for(job.method, job.group, job.sym, "--method");
  if (job.head != "float") o.head_spec = spec_for(job.head, job.group, job.sym, "--head");
  o.skip = job.skip;
  LMF_CHECK(!job.out.empty(), kInvalidArgument, "-o: an output folder is required");
  std::error_code ec;
  LMF_CHECK(!fs::exists(job.out, ec) || (fs::is_directory(job.out, ec) && fs::is_empty(job.out, ec)),
            kInvalidArgument, "-o {}: exists and is not an empty folder", job.out);
  Model m = load_model(job.model);
  const nlohmann::json modules = passes::quantize_weights(m.graph, o);

  nlohmann::json q = {{"quant_method", "gptq"},
                      {"bits", o.spec.bits},
                      {"group_size", job.group},
                      {"sym", job.sym},
                      {"desc_act", false},
                      {"checkpoint_format", "gptq_v2"},
                      {"lmforge", {{"method", job.method}, {"head", job.head}, {"modules", modules}}}};
  m.config["quantization_config"] = q;
  const fs::path out = fs::absolute(job.out).lexically_normal();
  const fs::path tmp = out.parent_path() / (out.filename().string() + ".partial");
  fs::remove_all(tmp, ec);
  try {
    save_model(m, m.graph, tmp.string());
    for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                             "generation_config.json"}) {
      const fs::path src = fs::path(job.model) / name;
      if (fs::exists(src)) write_file_atomic((tmp / name).string(), read_text_file(src.string()));
    }
    if (fs::exists(out)) fs::remove(out);
    fs::rename(tmp, out);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return q;
}

}  // namespace lmf::compress

#include "models/model.h"

#include "core/error.h"

namespace lmf {

namespace detail {

int weight(HfFolder& f, Graph& g, const std::string& name, const Shape& shape) {
  int existing = g.find(name);
  if (existing >= 0) return existing;
  Tensor t = f.take(name, shape);
  return g.add_weight(name, t.to_f32());
}

StepInputs add_step_inputs(Graph& g) {
  StepInputs s;
  s.tokens = g.add_input("tokens", DType::kI32, {"N"});
  s.positions = g.add_input("positions", DType::kI32, {"N"});
  s.slots = g.add_input("slots", DType::kI32, {"N"});
  s.logit_rows = g.add_input("logit_rows", DType::kI32, {"M"});
  return s;
}

void read_common_ids(const HfFolder& f, ModelInfo& info) {
  const auto& c = f.config();
  if (c.contains("bos_token_id") && c["bos_token_id"].is_number_integer())
    info.bos_id = c["bos_token_id"].get<int64_t>();
  if (c.contains("eos_token_id") && c["eos_token_id"].is_number_integer())
    info.eos_id = c["eos_token_id"].get<int64_t>();
}

}  // namespace detail

Model load_model(const std::string& dir) {
  HfFolder f = HfFolder::open(dir);
  const auto& c = f.config();
  LMF_CHECK(c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty() &&
                c["architectures"][0].is_string(),
            kBadFile, "{}: missing field 'architectures'", f.config_path());
  std::string arch = c["architectures"][0].get<std::string>();
  Model m;
  if (arch == "GPT2LMHeadModel") {
    m = detail::build_gpt2(f);
  } else if (arch == "LlamaForCausalLM") {
    m = detail::build_llama(f, false);
  } else if (arch == "Qwen2ForCausalLM") {
    m = detail::build_llama(f, true);
  } else {
    fail(ErrorCode::kUnsupported,
         "{}: architecture '{}' is not supported (supported: GPT2LMHeadModel, LlamaForCausalLM, "
         "Qwen2ForCausalLM)",
         f.config_path(), arch);
  }
  std::vector<std::string> unused = f.unused();
  if (!unused.empty()) {
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) list += (i ? ", " : "") + unused[i];
    if (unused.size() > 5) list += fmt::format(" and {} more", unused.size() - 5);
    fail(ErrorCode::kBadFile, "{}: unexpected tensors for {}: {}", dir, arch, list);
  }
  m.dir = dir;
  m.info.architecture = arch;
  m.info.dtype = f.main_dtype();
  m.info.weight_bytes = f.weight_bytes();
  m.info.params = m.graph.parameter_count();
  detail::read_common_ids(f, m.info);
  m.graph.verify();
  return m;
}

}  // namespace lmf

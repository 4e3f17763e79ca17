#include "models/model.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"

namespace lmf {

namespace detail {

int weight(HfFolder& f, Graph& g, const std::string& name, const Shape& shape) {
  int existing = g.find(name);
  if (existing >= 0) return existing;
  Tensor t = f.take(name, shape);
  return g.add_weight(name, t.to_f32());
}

StepInputs add_step_inputs(Graph& g, const BuildOptions& o) {
  StepInputs s;
  if (o.training()) {
    const int64_t rows = o.train_batch * o.train_seq;
    s.tokens = g.add_input("tokens", DType::kI32, {rows});
    s.positions = g.add_input("positions", DType::kI32, {rows});
    s.slots = s.logit_rows = -1;
    return s;
  }
  s.tokens = g.add_input("tokens", DType::kI32, {"N"});
  s.positions = g.add_input("positions", DType::kI32, {"N"});
  s.slots = g.add_input("slots", DType::kI32, {"N"});
  s.logit_rows = g.add_input("logit_rows", DType::kI32, {"M"});
  return s;
}

int add_attention(Graph& g, const BuildOptions& o, const ModelInfo& info, int64_t l, int q, int k, int v,
                  const StepInputs& in) {
  std::map<std::string, Attr> attrs = {{"heads", info.heads},
                                       {"kv_heads", info.kv_heads},
                                       {"head_dim", info.head_dim},
                                       {"scale", 1.0 / std::sqrt(static_cast<double>(info.head_dim))}};
  if (o.training()) {
    attrs["batch"] = o.train_batch;
    attrs["seq"] = o.train_seq;
    return g.add_n("attention_causal", {q, k, v}, attrs)[0];
  }
  const SymShape cache = {"SLOTS", info.kv_heads, "S", info.head_dim};
  int kc = g.add_state(fmt::format("cache.{}.k", l), DType::kF32, cache);
  int vc = g.add_state(fmt::format("cache.{}.v", l), DType::kF32, cache);
  return g.add("attention", {q, k, v, kc, vc, in.slots, in.positions}, attrs);
}

int logit_rows(Graph& g, const BuildOptions& o, int x, const StepInputs& in) {
  return o.training() ? x : g.add("gather_rows", {x, in.logit_rows});
}

void read_common_ids(const HfFolder& f, ModelInfo& info) {
  const auto& c = f.config();
  if (c.contains("bos_token_id") && c["bos_token_id"].is_number_integer())
    info.bos_id = c["bos_token_id"].get<int64_t>();
  if (c.contains("eos_token_id") && c["eos_token_id"].is_number_integer())
    info.eos_id = c["eos_token_id"].get<int64_t>();
}

}  // namespace detail

Model load_model(const std::string& dir, const BuildOptions& opts) {
  HfFolder f = HfFolder::open(dir);
  Model m = detail::build_model(f, opts);
  m.dir = dir;
  return m;
}

namespace detail {

Model build_model(HfFolder& f, const BuildOptions& opts) {
  LMF_CHECK(opts.train_batch >= 0 && (opts.train_batch == 0 || opts.train_seq > 0), kInvalidArgument,
            "training graph: batch {} and sequence length {} must be positive", opts.train_batch, opts.train_seq);
  const std::string& dir = f.dir();
  const auto& c = f.config();
  LMF_CHECK(c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty() &&
                c["architectures"][0].is_string(),
            kBadFile, "{}: missing field 'architectures'", f.config_path());
  std::string arch = c["architectures"][0].get<std::string>();
  Model m;
  if (arch == "GPT2LMHeadModel") {
    m = detail::build_gpt2(f, opts);
  } else if (arch == "LlamaForCausalLM") {
    m = detail::build_llama(f, false, opts);
  } else if (arch == "Qwen2ForCausalLM") {
    m = detail::build_llama(f, true, opts);
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
  m.build = opts;
  m.config = c;
  m.info.architecture = arch;
  m.info.dtype = f.main_dtype();
  m.info.weight_bytes = f.weight_bytes();
  m.info.params = m.graph.parameter_count();
  detail::read_common_ids(f, m.info);
  if (opts.training()) {
    LMF_CHECK(opts.train_seq <= m.info.context, kInvalidArgument, "training sequence length {} exceeds {}'s context of {}",
              opts.train_seq, dir, m.info.context);
    for (Value& v : m.graph.values()) {  // owned, writable float32 copies
      if (v.kind != ValueKind::kWeight) continue;
      Tensor src = v.data.to_f32();
      Tensor t = Tensor::empty(DType::kF32, src.shape());
      std::memcpy(t.data(), src.data(), src.nbytes());
      v.data = std::move(t);
    }
  }
  m.graph.verify();
  return m;
}

}  // namespace detail

}  // namespace lmf

// `lmforge info MODEL` and `lmforge graph MODEL`.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "formats/gguf.h"
#include "formats/hf_folder.h"
#include "runtime/session.h"

namespace lmf::cli {

namespace {

struct InfoArgs {
  std::string model;
  bool tensors = false, json = false;
  int64_t ctx = 0;
};

// A metadata value for display: long arrays (a vocabulary) summarized.
nlohmann::json gguf_display(const GgufValue& v) {
  if (v.type == GgufType::kArray && v.value.size() > 8)
    return fmt::format("[{} x {}]", v.value.size(), gguf_type_name(v.elem_type));
  return v.value;
}

// `info FILE.gguf`: the file's metadata and tensors (loading GGUF models is to come).
void run_gguf_info(const InfoArgs& a) {
  const GgufFile f = GgufFile::open(a.model);
  std::map<std::string, std::pair<int64_t, uint64_t>> by_type;  // type -> tensors, bytes
  uint64_t bytes = 0;
  int64_t params = 0;
  for (const GgufTensor& t : f.tensors()) {
    auto& [n, b] = by_type[ggml_type_traits(static_cast<uint32_t>(t.type))->name];
    ++n, b += t.nbytes, bytes += t.nbytes, params += t.numel();
  }
  if (a.json) {
    nlohmann::json j = {{"path", a.model}, {"format", "gguf"}, {"version", f.version()},
                        {"alignment", f.alignment()}, {"params", params}, {"tensor_bytes", bytes}};
    for (const auto& [k, v] : f.metadata()) j["metadata"][k] = gguf_display(v);
    for (const auto& [type, nb] : by_type) j["types"][type] = {{"tensors", nb.first}, {"bytes", nb.second}};
    if (a.tensors)
      for (const GgufTensor& t : f.tensors())
        j["tensors"].push_back({{"name", t.name}, {"type", ggml_type_traits(static_cast<uint32_t>(t.type))->name},
                                {"dims", t.dims}, {"offset", t.offset}, {"bytes", t.nbytes}});
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  fmt::print("file:         {} (GGUF v{}, alignment {})\n", a.model, f.version(), f.alignment());
  fmt::print("tensors:      {} ({} parameters, {})\n", f.tensors().size(), human_count(static_cast<double>(params)),
             human_bytes(static_cast<double>(bytes)));
  for (const auto& [type, nb] : by_type)
    fmt::print("  {:<10}  {} tensors, {}\n", type, nb.first, human_bytes(static_cast<double>(nb.second)));
  fmt::print("metadata:     {} keys\n", f.metadata().size());
  for (const auto& [k, v] : f.metadata())
    fmt::print("  {} = {}\n", k, gguf_display(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (a.tensors)
    for (const GgufTensor& t : f.tensors())
      fmt::print("  {:<40} {:<6} {}\n", t.name, ggml_type_traits(static_cast<uint32_t>(t.type))->name,
                 nlohmann::json(t.dims).dump());
}

void run_info(const InfoArgs& a) {
  if (a.model.size() > 5 && a.model.compare(a.model.size() - 5, 5, ".gguf") == 0) return run_gguf_info(a);
  Model m = load_model(a.model);
  const ModelInfo& i = m.info;
  std::unique_ptr<Tokenizer> tok = load_tokenizer(m);
  HfFolder f = HfFolder::open(a.model);
  const int64_t kv_token = kv_bytes_per_position(m.graph);
  const int64_t ctx = a.ctx > 0 ? std::min(a.ctx, i.context) : i.context;
  if (a.json) {
    nlohmann::json j = {{"model", a.model},           {"architecture", i.architecture},
                        {"parameters", i.params},     {"dtype", dtype_name(i.dtype)},
                        {"weight_bytes", i.weight_bytes}, {"context", i.context},
                        {"vocab", i.vocab},           {"layers", i.layers},
                        {"hidden", i.hidden},         {"heads", i.heads},
                        {"kv_heads", i.kv_heads},     {"head_dim", i.head_dim},
                        {"mlp", i.inner},             {"tied_head", i.tied_head},
                        {"tokenizer", tok ? tok->path() : ""}, {"quantization", i.quantization}, {"kv_cache", i.kv_cache},
                        {"kv_bytes_per_token", kv_token}, {"kv_positions", ctx}, {"kv_bytes", kv_token * ctx},
                        {"rope_scaling", i.rope_scaling}, {"sliding_window", i.sliding_window}};
    if (a.tensors) {
      j["tensors"] = nlohmann::json::array();
      for (const auto& name : f.names()) {
        Tensor t = f.take(name);
        j["tensors"].push_back({{"name", name}, {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}});
      }
    }
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("model:        {}\n", a.model);
  fmt::print("architecture: {}\n", i.architecture);
  fmt::print("parameters:   {} ({})\n", i.params, human_count(static_cast<double>(i.params)));
  fmt::print("dtype:        {}\n", dtype_name(i.dtype));
  if (!i.quantization.empty()) fmt::print("quantized:    {} linear layers\n", i.quantization);
  fmt::print("size:         {} ({} bytes of tensors)\n", human_bytes(static_cast<double>(i.weight_bytes)), i.weight_bytes);
  fmt::print("context:      {}\n", i.context);
  fmt::print("kv cache:     {} per token ({}); {} for {} positions{}\n", human_bytes(static_cast<double>(kv_token)),
             i.kv_cache, human_bytes(static_cast<double>(kv_token * ctx)), ctx,
             a.ctx > 0 ? "" : " (the full context; a run holds prompt + -n, or -c/--ctx)");
  fmt::print("vocabulary:   {}\n", i.vocab);
  fmt::print("layers:       {}\n", i.layers);
  fmt::print("hidden:       {}\n", i.hidden);
  fmt::print("heads:        {} (kv heads {}, head dim {})\n", i.heads, i.kv_heads, i.head_dim);
  if (!i.rope_scaling.empty()) fmt::print("rope scaling: {}\n", i.rope_scaling);
  if (i.sliding_window > 0) fmt::print("attention:    sliding window of {} positions\n", i.sliding_window);
  fmt::print("mlp:          {}\n", i.inner);
  fmt::print("head:         {}\n", i.tied_head ? "tied to the token embedding" : "separate");
  fmt::print("tokenizer:    {}\n", tok ? tok->path() + fmt::format(" ({} tokens)", tok->vocab_size()) : "none");
  if (a.tensors) {
    fmt::print("tensors:\n");
    for (const auto& name : f.names()) {
      Tensor t = f.take(name);
      fmt::print("  {:<48} {:<5} {}\n", name, dtype_name(t.dtype()), shape_str(t.shape()));
    }
  }
}

}  // namespace

void register_info(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model: architecture, parameters, dtype, size, context, vocabulary");
  cmd->add_option("model", a->model, "Hugging Face model folder")->required();
  cmd->add_flag("--tensors", a->tensors, "List every tensor with dtype and shape");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->add_option("-c,--ctx", a->ctx, "Positions per sequence for the KV-cache size (default: the model's context)")
      ->check(CLI::PositiveNumber);
  cmd->callback([a] { run_info(*a); });
}

void register_graph(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto plan = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("graph", "Print the model's graph: inputs, weights, ops with shapes and dtypes");
  cmd->add_option("model", *model, "Hugging Face model folder")->required();
  cmd->add_flag("--plan", *plan,
                "The graph the CPU engine runs instead: after its pre-pack (weights re-laid for the matmul "
                "kernels, fused ops, shared rope tables)");
  cmd->callback([model, plan] {
    Model m = load_model(*model);
    if (*plan) {
      lower_for_cpu(m.graph, kernel_options_from_env());
    }
    fmt::print("{}", m.graph.to_string());
  });
}

}  // namespace lmf::cli

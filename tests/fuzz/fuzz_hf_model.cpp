// Fuzz targets: a Hugging Face model folder (formats/hf_folder.cpp: config.json,
// model.safetensors or an index of shards; models/: config fields, GPTQ
// quantization_config) and a config.json alone for init_model (models/init_save.cpp).
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "fuzz/fuzz_support.h"
#include "models/model.h"
#include "passes/quantize.h"

namespace lmf::fuzz {

namespace {

using nlohmann::json;

const json kGpt2 = {{"architectures", {"GPT2LMHeadModel"}}, {"n_layer", 1}, {"n_embd", 8}, {"n_head", 2},
                    {"vocab_size", 16}, {"n_positions", 8}, {"bos_token_id", 0}, {"eos_token_id", 1}};
const json kLlama = {{"architectures", {"LlamaForCausalLM"}}, {"num_hidden_layers", 1}, {"hidden_size", 8},
                     {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"intermediate_size", 16},
                     {"vocab_size", 16}, {"max_position_embeddings", 8}, {"rms_norm_eps", 1e-5},
                     {"rope_theta", 10000.0}, {"tie_word_embeddings", true}};
const json kQwen2 = {{"architectures", {"Qwen2ForCausalLM"}}, {"num_hidden_layers", 1}, {"hidden_size", 8},
                     {"num_attention_heads", 2}, {"intermediate_size", 8}, {"vocab_size", 8},
                     {"max_position_embeddings", 4}, {"tie_word_embeddings", false}};

// The folder `config` makes with init_model + save_model (quantized to 4 bits in groups of
// 8 when `gptq`), as a multi-file input; `sharded`: the weights under an index.
std::string model_seed(const json& config, bool gptq, bool sharded) {
  const std::string dir = case_dir("seed");
  write_bytes(dir + "/config.json", config.dump());
  Model m = init_model(dir + "/config.json", 7);
  if (gptq) {
    passes::QuantizeOptions o;
    o.spec = {4, 8, false};
    const json modules = passes::quantize_weights(m.graph, o);
    m.config["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 8},
                                       {"checkpoint_format", sharded ? "gptq" : "gptq_v2"},
                                       {"lmforge", {{"modules", modules}, {"kv_cache", "int8"}}}};
  }
  const std::string out = dir + "/out";
  save_model(m, m.graph, out);
  std::vector<std::pair<std::string, std::string>> files = {{"config.json", read_bytes(out + "/config.json")}};
  if (!sharded) {
    files.emplace_back("model.safetensors", read_bytes(out + "/model.safetensors"));
  } else {
    json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
    for (const std::string& n : HfFolder::open(out).names()) index["weight_map"][n] = "model-00001-of-00001.safetensors";
    files.emplace_back("model.safetensors.index.json", index.dump());
    files.emplace_back("model-00001-of-00001.safetensors", read_bytes(out + "/model.safetensors"));
  }
  return join_files(files);
}

}  // namespace

void run_hf_model(std::string_view input) {
  const std::string dir = case_dir("hf_model");
  write_parts(dir, split_files(input));
  const Model m = load_model(dir);
  LMF_FUZZ_ASSERT(m.info.layers > 0 && m.info.vocab > 0 && m.info.hidden > 0, "a model without layers or vocabulary");
  if (m.info.quantization.empty() && m.info.context >= 2) {
    BuildOptions train;  // the training graph copies every weight
    train.train_batch = 1;
    train.train_seq = 2;
    load_model(dir, train);
  }
}

std::vector<std::string> seeds_hf_model() {
  return {model_seed(kGpt2, false, false), model_seed(kLlama, false, false), model_seed(kQwen2, false, true),
          model_seed(kLlama, true, false), model_seed(kGpt2, true, true)};
}

void run_init_config(std::string_view input) {
  // init_model allocates the weights config.json asks for: a user's request, whatever its
  // size. Cases with an integer above 4096 (a size) are only parsed.
  const json j = json::parse(input, nullptr, false);
  bool small = true;
  if (j.is_object())
    for (const auto& [k, v] : j.items())
      if (v.is_number_integer() && v.get<int64_t>() > 4096) small = false;
  const std::string dir = case_dir("init_config");
  write_bytes(dir + "/config.json", input);
  if (!small) {
    HfFolder::open(dir);  // parses config.json (then misses the weights)
    return;
  }
  const Model m = init_model(dir + "/config.json", 1);
  LMF_FUZZ_ASSERT(m.info.layers > 0, "a model without layers");
}

std::vector<std::string> seeds_init_config() {
  json gpt2 = kGpt2;
  gpt2["initializer_range"] = 0.05;
  gpt2["n_inner"] = 12;
  json llama = kLlama;
  llama["head_dim"] = 4;
  llama["hidden_act"] = "silu";
  return {kGpt2.dump(), gpt2.dump(), llama.dump(), kQwen2.dump()};
}

}  // namespace lmf::fuzz

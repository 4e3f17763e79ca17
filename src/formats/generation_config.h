// lmforge formats: a Hugging Face model folder's generation_config.json, the defaults
// transformers' model.generate() takes: the end-of-sequence ids a reply stops at and the
// default decoding (greedy unless do_sample).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lmf {

struct GenerationConfig {
  // eos_token_id: one id or a list (Llama 3 instruct: <|end_of_text|>, <|eom_id|>,
  // <|eot_id|>); from config.json when generation_config.json has none, as transformers'
  // GenerationConfig.from_model_config does.
  std::vector<int32_t> eos;
  std::optional<int32_t> bos;
  bool do_sample = false;
  // The sampling fields as the file gives them (absent: transformers' defaults apply,
  // temperature 1, top_k 50, top_p 1, when do_sample).
  std::optional<double> temperature, top_p;
  std::optional<int64_t> top_k, max_new_tokens;
  std::string path;  // the file read, or "" when the folder has none
};

// Reads DIR/generation_config.json when present (a malformed file or field is an
// lmf::Error naming the file and the field), with `model_config` (config.json) for the
// ids it lacks. An id outside [0, vocab) is an error naming its field.
GenerationConfig read_generation_config(const std::string& dir, const nlohmann::json& model_config, int64_t vocab);

}  // namespace lmf

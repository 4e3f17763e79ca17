#include "formats/generation_config.h"

#include <filesystem>

#include "core/checked.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf {

namespace {

// `key` of j as token ids: absent or null -> none; an integer, or a list of integers.
std::vector<int32_t> token_ids(const nlohmann::json& j, const char* key, const std::string& file, int64_t vocab) {
  std::vector<int32_t> ids;
  if (!j.contains(key) || j[key].is_null()) return ids;
  const nlohmann::json& v = j[key];
  auto add = [&](const nlohmann::json& x) {
    LMF_CHECK(x.is_number_integer(), kBadFile, "{}: field '{}' must be a token id or a list of them, got {}", file, key,
              v.dump());
    const int64_t id = x.get<int64_t>();
    LMF_CHECK(id >= 0 && id < vocab, kBadFile, "{}: field '{}': token id {} is outside the vocabulary of {}", file, key,
              id, vocab);
    ids.push_back(static_cast<int32_t>(id));
  };
  if (v.is_array())
    for (const auto& x : v) add(x);
  else
    add(v);
  return ids;
}

template <class T>
std::optional<T> number(const nlohmann::json& j, const char* key, const std::string& file, bool integer) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  const nlohmann::json& v = j[key];
  LMF_CHECK(integer ? v.is_number_integer() : v.is_number(), kBadFile, "{}: field '{}' must be {}, got {}", file, key,
            integer ? "an integer" : "a number", v.dump());
  return v.get<T>();
}

}  // namespace

GenerationConfig read_generation_config(const std::string& dir, const nlohmann::json& model_config, int64_t vocab) {
  GenerationConfig g;
  const std::string path = dir + "/generation_config.json";
  std::error_code ec;
  nlohmann::json j = nlohmann::json::object();
  if (std::filesystem::is_regular_file(path, ec)) {
    g.path = path;
    const std::string text = read_text_file(path);
    check_json_depth(text, path);
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail(ErrorCode::kBadFile, "{}: not valid JSON: {}", path, e.what());
    }
    LMF_CHECK(j.is_object(), kBadFile, "{}: not a JSON object", path);
  }
  const std::string cfg = dir + "/config.json";
  g.eos = token_ids(j, "eos_token_id", path, vocab);
  if (g.eos.empty() && model_config.is_object()) g.eos = token_ids(model_config, "eos_token_id", cfg, vocab);
  std::vector<int32_t> bos = token_ids(j, "bos_token_id", path, vocab);
  if (bos.empty() && model_config.is_object()) bos = token_ids(model_config, "bos_token_id", cfg, vocab);
  if (!bos.empty()) g.bos = bos[0];
  if (j.contains("do_sample") && !j["do_sample"].is_null()) {
    LMF_CHECK(j["do_sample"].is_boolean(), kBadFile, "{}: field 'do_sample' must be true or false, got {}", path,
              j["do_sample"].dump());
    g.do_sample = j["do_sample"].get<bool>();
  }
  g.temperature = number<double>(j, "temperature", path, false);
  g.top_p = number<double>(j, "top_p", path, false);
  g.top_k = number<int64_t>(j, "top_k", path, true);
  g.max_new_tokens = number<int64_t>(j, "max_new_tokens", path, true);
  LMF_CHECK(!g.temperature || *g.temperature >= 0, kBadFile, "{}: field 'temperature' must be >= 0, got {}", path,
            *g.temperature);
  LMF_CHECK(!g.top_p || (*g.top_p > 0 && *g.top_p <= 1), kBadFile, "{}: field 'top_p' must be in (0, 1], got {}", path,
            *g.top_p);
  LMF_CHECK(!g.top_k || *g.top_k >= 0, kBadFile, "{}: field 'top_k' must be >= 0, got {}", path, *g.top_k);
  LMF_CHECK(!g.max_new_tokens || *g.max_new_tokens >= 0, kBadFile, "{}: field 'max_new_tokens' must be >= 0, got {}",
            path, *g.max_new_tokens);
  return g;
}

}  // namespace lmf

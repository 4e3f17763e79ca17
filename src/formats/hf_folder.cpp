#include "formats/hf_folder.h"

#include <filesystem>

#include "core/checked.h"
#include "core/error.h"

namespace lmf {

namespace fs = std::filesystem;

HfFolder HfFolder::open(const std::string& dir) {
  HfFolder f;
  f.dir_ = dir;
  f.config_path_ = dir + "/config.json";
  LMF_CHECK(fs::is_directory(dir), kBadFile, "{}: not a model folder (expected config.json and model.safetensors)", dir);
  const std::string cfg_path = dir + "/config.json";
  LMF_CHECK(fs::exists(cfg_path), kBadFile, "{}: missing", cfg_path);
  try {
    const std::string text = read_text_file(cfg_path);
    check_json_depth(text, cfg_path);
    f.config_ = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kBadFile, "{}: not valid JSON: {}", cfg_path, e.what());
  }
  LMF_CHECK(f.config_.is_object(), kBadFile, "{}: not a JSON object", cfg_path);

  std::vector<std::string> shard_names;
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (fs::exists(dir + "/model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else if (fs::exists(index_path)) {
    nlohmann::json index;
    try {
      const std::string text = read_text_file(index_path);
      check_json_depth(text, index_path);
      index = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail(ErrorCode::kBadFile, "{}: not valid JSON: {}", index_path, e.what());
    }
    LMF_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
              kBadFile, "{}: missing weight_map", index_path);
    std::set<std::string> seen;
    for (const auto& [name, file] : index["weight_map"].items()) {
      LMF_CHECK(file.is_string(), kBadFile, "{}: weight_map['{}'] is not a file name", index_path, name);
      std::string s = file.get<std::string>();
      LMF_CHECK(s.find('/') == std::string::npos, kBadFile, "{}: weight_map['{}'] names a path outside the folder", index_path, name);
      if (seen.insert(s).second) shard_names.push_back(s);
    }
  } else {
    fail(ErrorCode::kBadFile, "{}: no model.safetensors or model.safetensors.index.json", dir);
  }
  for (const auto& name : shard_names) {
    f.files_.push_back(SafetensorsFile::open(dir + "/" + name));
    for (const auto& [tname, e] : f.files_.back().entries()) {
      LMF_CHECK(!f.where_.count(tname), kBadFile, "{}/{}: tensor '{}' also appears in {}", dir, name,
                tname, f.files_[f.where_[tname]].path());
      f.where_[tname] = f.files_.size() - 1;
    }
  }
  return f;
}

HfFolder HfFolder::synthetic(nlohmann::json config, const std::string& config_file, TensorMaker make,
                             std::function<bool(const std::string&)> has) {
  HfFolder f;
  f.dir_ = fs::path(config_file).parent_path().string();
  f.config_path_ = config_file;
  LMF_CHECK(config.is_object(), kBadFile, "{}: not a JSON object", config_file);
  f.config_ = std::move(config);
  f.make_ = std::move(make);
  f.has_ = std::move(has);
  return f;
}

Tensor HfFolder::take(const std::string& name) {
  LMF_CHECK(!make_, kInternal, "{}: a synthetic folder makes tensors only with a shape ('{}')", config_path_, name);
  auto it = where_.find(name);
  LMF_CHECK(it != where_.end(), kBadFile, "{}: missing tensor '{}'", dir_, name);
  used_.insert(name);
  return files_[it->second].tensor(name);
}

Tensor HfFolder::take(const std::string& name, const Shape& expected) {
  if (make_) {
    used_.insert(name);
    Tensor t = make_(name, expected);
    made_[name] = t.nbytes();
    return t;
  }
  Tensor t = take(name);
  LMF_CHECK(t.shape() == expected, kBadFile, "{}: tensor '{}' has shape {} but config.json implies {}",
            dir_, name, shape_str(t.shape()), shape_str(expected));
  return t;
}

std::vector<std::string> HfFolder::unused() const {
  std::vector<std::string> out;
  for (const auto& [name, idx] : where_)
    if (!used_.count(name)) out.push_back(name);
  return out;
}

std::vector<std::string> HfFolder::names() const {
  std::vector<std::string> out;
  for (const auto& [name, idx] : where_) out.push_back(name);
  return out;
}

DType HfFolder::main_dtype() const {
  std::map<DType, size_t> bytes;
  for (const auto& f : files_)
    for (const auto& [n, e] : f.entries()) bytes[e.dtype] += e.end - e.begin;
  DType best = DType::kF32;
  size_t most = 0;
  for (auto [t, b] : bytes)  // float types only: a quantized model's packed integers are not its dtype
    if (b > most && (t == DType::kF32 || t == DType::kF16 || t == DType::kBF16)) most = b, best = t;
  return best;
}

size_t HfFolder::weight_bytes() const {
  size_t total = 0;
  for (const auto& [n, b] : made_) total += b;
  for (const auto& f : files_)
    for (const auto& [n, e] : f.entries()) total += e.end - e.begin;
  return total;
}

int64_t HfFolder::cfg_int(const std::string& key) const {
  LMF_CHECK(config_.contains(key), kBadFile, "{}: missing field '{}'", config_path(), key);
  const auto& v = config_[key];
  LMF_CHECK(v.is_number_integer(), kBadFile, "{}: field '{}' must be an integer", config_path(), key);
  return v.get<int64_t>();
}

int64_t HfFolder::cfg_int(const std::string& key, int64_t fallback) const {
  if (!config_.contains(key) || config_[key].is_null()) return fallback;
  return cfg_int(key);
}

int64_t HfFolder::cfg_positive_int(const std::string& key) const {
  const int64_t v = cfg_int(key);
  LMF_CHECK(v > 0, kBadFile, "{}: field '{}' must be positive", config_path(), key);
  return v;
}

double HfFolder::cfg_float(const std::string& key, double fallback) const {
  if (!config_.contains(key) || config_[key].is_null()) return fallback;
  LMF_CHECK(config_[key].is_number(), kBadFile, "{}: field '{}' must be a number", config_path(), key);
  return config_[key].get<double>();
}

std::string HfFolder::cfg_str(const std::string& key, const std::string& fallback) const {
  if (!config_.contains(key) || config_[key].is_null()) return fallback;
  LMF_CHECK(config_[key].is_string(), kBadFile, "{}: field '{}' must be a string", config_path(), key);
  return config_[key].get<std::string>();
}

bool HfFolder::cfg_bool(const std::string& key, bool fallback) const {
  if (!config_.contains(key) || config_[key].is_null()) return fallback;
  LMF_CHECK(config_[key].is_boolean(), kBadFile, "{}: field '{}' must be true or false", config_path(), key);
  return config_[key].get<bool>();
}

}  // namespace lmf

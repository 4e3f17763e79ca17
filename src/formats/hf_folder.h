// lmforge formats: a Hugging Face model folder.
//
// config.json plus weights in model.safetensors, or sharded safetensors listed by
// model.safetensors.index.json. Tensors are looked up by name across shards; the
// folder remembers which names were taken, so a model builder can report tensors
// it did not expect.
#pragma once

#include <functional>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "formats/safetensors.h"

namespace lmf {

class HfFolder {
 public:
  // Opens DIR (config.json + weights). Throws lmf::Error naming the file on any problem.
  static HfFolder open(const std::string& dir);
  // A folder that exists only in memory: `config` stands for config.json (messages name
  // `config_file`), there are no weight files, and take(name, shape) makes each tensor
  // with `make` (e.g. a random initialization, or another folder's tensor). has(name)
  // asks `has` (false for every name when null).
  using TensorMaker = std::function<Tensor(const std::string& name, const Shape& shape)>;
  static HfFolder synthetic(nlohmann::json config, const std::string& config_file, TensorMaker make,
                            std::function<bool(const std::string&)> has = nullptr);

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  const std::string& config_path() const { return config_path_; }

  bool has(const std::string& name) const {
    if (make_) return has_ && has_(name);
    return where_.count(name) != 0;
  }
  // The tensor `name` (borrowed from the mapped file); marks it as used.
  Tensor take(const std::string& name);
  // take() and check the shape; errors name the tensor and both shapes.
  Tensor take(const std::string& name, const Shape& expected);
  // Marks a tensor as used without loading it (e.g. buffers that are ignored).
  void ignore(const std::string& name) { used_.insert(name); }
  // Names never taken or ignored.
  std::vector<std::string> unused() const;
  std::vector<std::string> names() const;
  // Dtype of the float weights ("f32", "bf16", ...) as the majority of their bytes have it.
  DType main_dtype() const;
  size_t weight_bytes() const;

  // Config accessors: errors name config.json and the field.
  int64_t cfg_int(const std::string& key) const;
  int64_t cfg_int(const std::string& key, int64_t fallback) const;
  // A required integer that must be > 0 (a dimension or count).
  int64_t cfg_positive_int(const std::string& key) const;
  double cfg_float(const std::string& key, double fallback) const;
  std::string cfg_str(const std::string& key, const std::string& fallback) const;
  bool cfg_bool(const std::string& key, bool fallback) const;

 private:
  std::string dir_, config_path_;
  nlohmann::json config_;
  TensorMaker make_;                     // synthetic folders only
  std::function<bool(const std::string&)> has_;
  std::map<std::string, size_t> made_;   // synthetic: name -> bytes made
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index in files_
  std::set<std::string> used_;
};

}  // namespace lmf

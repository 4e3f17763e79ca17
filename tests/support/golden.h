// Test support: the golden models written by tests/golden.sh and their expected outputs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "formats/safetensors.h"
#include "ir/graph.h"

namespace lmf::test {

inline std::string golden_dir(const std::string& name) { return std::string(LMF_TEST_DATA) + "/golden/" + name; }

struct Expected {
  std::vector<std::vector<int32_t>> prompts, greedy;
  std::vector<Tensor> logits, step_logits, logits_native;  // float32
  std::vector<std::vector<float>> margins;
};

inline std::vector<int32_t> ids_of(const Tensor& t) {
  std::vector<int32_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<int32_t>(t.data_as<int64_t>()[i]));
  return out;
}

inline Expected load_expected(const std::string& model_dir) {
  SafetensorsFile f = SafetensorsFile::open(model_dir + "/expected.safetensors");
  Expected e;
  for (int i = 0; f.has("seq" + std::to_string(i) + ".ids"); ++i) {
    const std::string p = "seq" + std::to_string(i) + ".";
    e.prompts.push_back(ids_of(f.tensor(p + "ids")));
    e.greedy.push_back(ids_of(f.tensor(p + "greedy")));
    e.logits.push_back(f.tensor(p + "logits"));
    e.step_logits.push_back(f.tensor(p + "step_logits"));
    e.logits_native.push_back(f.has(p + "logits_native") ? f.tensor(p + "logits_native") : Tensor());
    Tensor m = f.tensor(p + "greedy_margin");
    e.margins.emplace_back(m.data_as<float>(), m.data_as<float>() + m.numel());
  }
  return e;
}

// Largest |got - want| over the largest |want|: the error relative to the logits' scale.
inline double rel_error(const float* got, const float* want, int64_t n) {
  double err = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    err = std::max(err, std::fabs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
  }
  return err / std::max(scale, 1e-30);
}

// Copies of a graph's float32 weights, by name: taken before a pass that folds scales
// into weights, to check afterwards that it moved them (weights_moved).
inline std::map<std::string, std::vector<float>> weights_of(const Graph& g) {
  std::map<std::string, std::vector<float>> out;
  for (const Value& v : g.values())
    if (v.kind == ValueKind::kWeight && v.data.dtype() == DType::kF32 && v.data.numel() > 0)
      out[v.name].assign(v.data.data_as<float>(), v.data.data_as<float>() + v.data.numel());
  return out;
}

// The weights of `before` whose largest change in g exceeds `margin` of their largest |value|.
inline std::vector<std::string> weights_moved(const Graph& g, const std::map<std::string, std::vector<float>>& before,
                                              double margin) {
  std::vector<std::string> moved;
  for (const Value& v : g.values()) {
    auto it = before.find(v.name);
    if (v.kind != ValueKind::kWeight || it == before.end() || v.data.dtype() != DType::kF32) continue;
    if (v.data.numel() != static_cast<int64_t>(it->second.size())) {
      moved.push_back(v.name);
      continue;
    }
    if (rel_error(v.data.data_as<float>(), it->second.data(), v.data.numel()) > margin) moved.push_back(v.name);
  }
  return moved;
}

}  // namespace lmf::test

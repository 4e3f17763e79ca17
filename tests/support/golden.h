// Test support: the golden models written by tests/golden.sh and their expected outputs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "formats/safetensors.h"

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

}  // namespace lmf::test

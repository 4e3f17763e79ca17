#include "passes/smooth.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace lmf::passes {

namespace {

// The weight of value id as an owned float32 tensor (a mapped checkpoint tensor is
// read-only), so that it can be changed in place.
float* writable(Graph& g, int id) {
  Value& v = g.values()[static_cast<size_t>(id)];
  LMF_CHECK(v.dtype == DType::kF32 && v.data.dtype() == DType::kF32, kInternal, "smooth: {} is not float32", v.name);
  Tensor t = Tensor::empty(DType::kF32, v.data.shape());
  std::memcpy(t.mutable_data(), v.data.data(), v.data.nbytes());
  v.data = std::move(t);
  return v.data.mutable_data_as<float>();
}

}  // namespace

std::vector<NormLinears> scalable_norms(const Graph& g) {
  // Readers of each value, and how many nodes read each weight.
  std::map<int, std::vector<size_t>> readers;
  std::map<int, int> weight_uses;
  for (size_t i = 0; i < g.nodes().size(); ++i)
    for (int in : g.nodes()[i].inputs) {
      readers[in].push_back(i);
      if (g.value(in).kind == ValueKind::kWeight) ++weight_uses[in];
    }
  const auto& outputs = g.outputs();
  std::vector<NormLinears> out;
  for (size_t ni = 0; ni < g.nodes().size(); ++ni) {
    const Node& norm = g.nodes()[ni];
    if (norm.op != "layer_norm" && norm.op != "rms_norm") continue;
    NormLinears nl{ni, norm.outputs[0], readers[norm.outputs[0]], false};
    bool ok = !nl.linears.empty();
    for (size_t r : nl.linears) {
      const Node& n = g.nodes()[r];
      ok = ok && n.op == "linear" && n.inputs[0] == nl.x && weight_uses[n.inputs[1]] == 1;
      nl.feeds_output = nl.feeds_output || std::find(outputs.begin(), outputs.end(), n.outputs[0]) != outputs.end();
    }
    for (size_t i = 1; ok && i < norm.inputs.size(); ++i) ok = weight_uses[norm.inputs[i]] == 1;
    if (ok) out.push_back(std::move(nl));
  }
  return out;
}

void fold_input_scales(Graph& g, const NormLinears& nl, const std::vector<float>& s) {
  const auto K = static_cast<int64_t>(s.size());
  const Node& norm = g.nodes()[nl.norm];
  for (size_t i = 1; i < norm.inputs.size(); ++i) {  // weight (and bias) of the norm: / s
    float* p = writable(g, norm.inputs[i]);
    for (int64_t j = 0; j < K; ++j) p[j] /= s[j];
  }
  for (size_t r : nl.linears) {  // the rows of each weight that read channel j: * s
    const Node& n = g.nodes()[r];
    const bool nk = n.attr_str("layout") == "nk";
    const Tensor& w = g.value(n.inputs[1]).data;
    const int64_t N = nk ? w.dim(0) : w.dim(1);
    float* p = writable(g, n.inputs[1]);
    for (int64_t j = 0; j < K; ++j)
      for (int64_t c = 0; c < N; ++c) (nk ? p[c * K + j] : p[j * N + c]) *= s[j];
  }
}

int smooth_norm_inputs(Graph& g, const std::map<int, std::vector<float>>& absmax, double alpha) {
  LMF_CHECK(alpha >= 0 && alpha <= 1, kInvalidArgument, "--alpha {}: must be in [0, 1]", alpha);
  int smoothed = 0;
  for (const NormLinears& nl : scalable_norms(g)) {
    auto it = absmax.find(nl.x);
    if (it == absmax.end()) continue;
    const std::vector<float>& xmax = it->second;
    const int64_t K = static_cast<int64_t>(xmax.size());
    std::vector<float> wmax(static_cast<size_t>(K), 0.0f);
    for (size_t r : nl.linears) {
      const Node& n = g.nodes()[r];
      const Tensor& w = g.value(n.inputs[1]).data;
      const bool nk = n.attr_str("layout") == "nk";
      const int64_t N = nk ? w.dim(0) : w.dim(1);
      const float* p = w.data_as<float>();
      for (int64_t j = 0; j < K; ++j)
        for (int64_t c = 0; c < N; ++c) wmax[j] = std::max(wmax[j], std::fabs(nk ? p[c * K + j] : p[j * N + c]));
    }
    std::vector<float> s(static_cast<size_t>(K));
    for (int64_t j = 0; j < K; ++j) {
      const double v = std::pow(std::max<double>(xmax[j], 1e-5), alpha) / std::pow(std::max<double>(wmax[j], 1e-5), 1 - alpha);
      s[j] = static_cast<float>(std::clamp(v, 1e-5, 1e5));
    }
    fold_input_scales(g, nl, s);
    ++smoothed;
  }
  return smoothed;
}

}  // namespace lmf::passes

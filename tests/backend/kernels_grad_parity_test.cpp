// Parity of distill_loss and adamw_update (kernels_grad.h) with PyTorch 1.13:
// tests/reference/ref_distill.py (run with LMF_PYTHON) writes random inputs and torch's
// results to LMF_TEST_DATA/kernels_grad/, which this test reads.
//
// distill_loss: T in {1, 2, 3, 5}, alpha in {0, 0.3, 0.5, 1}, forward and reverse KL, four
// shapes (5x37, 3x1001, 1x7, 4x65 with logits ~25), one target -100 in each: loss
// relative to max(1, |loss|, alpha T^2) (the soft term's coefficient multiplies its
// float rounding), gradient relative to the largest |gradient| of the case,
// against torch's float64 autograd of the float32 inputs. Runs on the best target only
// (the per-target arithmetic is the one CrossEntropyMatchesReference covers).
// adamw_update: 3 steps against torch.optim.AdamW(foreach=False) in float32:
// bit-identical w, m and v, on every compiled target.
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cpu_test.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/kernels_grad.h"

namespace lmf::cpu {
namespace {

using test::randn;
using test::target_name;
using test::targets_to_test;
using test::uniform;
using test::with_threads;

using nlohmann::json;

// Runs ref_distill.py `cmd` once per test binary run and parses its output.
json reference(const std::string& cmd) {
  const std::filesystem::path dir = std::filesystem::path(LMF_TEST_DATA) / "kernels_grad";
  std::filesystem::create_directories(dir);
  const std::string out = (dir / (cmd + ".json")).string();
  const std::string line = std::string(LMF_PYTHON) + " '" + LMF_SOURCE_DIR + "/tests/reference/ref_distill.py' " +
                           cmd + " --seed 7 --out '" + out + "'";
  if (std::system(line.c_str()) != 0) {
    ADD_FAILURE() << "failed: " << line;
    return json();
  }
  std::ifstream f(out);
  return json::parse(f);
}

template <class T>
std::vector<T> vec(const json& j) {
  return j.get<std::vector<T>>();
}

// Measured: loss 1.7e-7, gradient 2.8e-7 (AVX3). Tolerance 1e-6 for both.
TEST(KernelsGradParity, DistillLossMatchesTorch) {
  const json ref = reference("distill");
  ASSERT_TRUE(ref.contains("cases"));
  double max_loss = 0, max_grad = 0;
  std::string where_loss, where_grad;
  int checked = 0;
  for (const json& c : ref["cases"]) {
    const json& in = ref["inputs"][c["input"].get<int>()];
    const int64_t R = in["rows"], V = in["vocab"];
    const auto s = vec<float>(in["s"]), t = vec<float>(in["t"]);
    const auto targets = vec<int32_t>(in["targets"]);
    const float T = c["temperature"].get<float>(), alpha = c["alpha"].get<float>();
    const bool reverse = c["reverse"];
    const auto grad = vec<double>(c["grad"]);
    const double loss_ref = c["loss"];
    const std::string at = std::to_string(R) + "x" + std::to_string(V) + " T=" + std::to_string(T) +
                           " alpha=" + std::to_string(alpha) + (reverse ? " reverse" : " forward");
    std::vector<float> ds(R * V, 9.0f);
    const double loss = distill_loss(s.data(), t.data(), targets.data(), ds.data(), R, V, T, alpha, reverse, 1.0f);
    const double lscale = std::max({1.0, std::fabs(loss_ref), static_cast<double>(alpha) * T * T});
    const double el = std::fabs(loss - loss_ref) / lscale;
    if (!(el <= max_loss)) max_loss = el, where_loss = at;
    double gscale = 1e-30;
    for (double g : grad) gscale = std::max(gscale, std::fabs(g));
    for (int64_t i = 0; i < R * V; ++i) {
      const double eg = std::fabs(ds[i] - grad[i]) / gscale;
      if (!(eg <= max_grad)) max_grad = eg, where_grad = at + " i=" + std::to_string(i);
    }
    // scale multiplies the gradient only; ds may alias s.
    auto inplace = s;
    const double loss2 = distill_loss(inplace.data(), t.data(), targets.data(), inplace.data(), R, V, T, alpha,
                                      reverse, 2.0f);
    ASSERT_EQ(loss, loss2) << at;
    for (int64_t i = 0; i < R * V; ++i) ASSERT_NEAR(inplace[i], 2.0f * ds[i], 1e-6f * gscale) << at;
    ++checked;
  }
  EXPECT_EQ(checked, 4 * 4 * 4 * 2);
  std::printf("[ error ] distill_loss loss max %.3g at %s (tolerance 1e-6)\n", max_loss, where_loss.c_str());
  std::printf("[ error ] distill_loss grad max %.3g at %s (tolerance 1e-6)\n", max_grad, where_grad.c_str());
  EXPECT_LE(max_loss, 1e-6);
  EXPECT_LE(max_grad, 1e-6);
}


TEST(KernelsGradParity, AdamWMatchesTorchBitForBit) {
  const json ref = reference("adamw");
  ASSERT_TRUE(ref.contains("steps"));
  const int64_t n = ref["n"];
  const json& hp = ref["hp"];
  for (int64_t target : targets_to_test()) {
    hwy::SetSupportedTargetsForTest(target);
    auto w = vec<float>(ref["w0"]);
    std::vector<float> m(n, 0.0f), v(n, 0.0f);
    int64_t step = 0;
    for (const json& st : ref["steps"]) {
      ++step;
      const auto g = vec<float>(st["grad"]);
      adamw_update(w.data(), g.data(), m.data(), v.data(), n, hp["lr"], hp["beta1"], hp["beta2"], hp["eps"],
                   hp["weight_decay"], step, hp["grad_scale"]);
      const auto rw = vec<float>(st["w"]), rm = vec<float>(st["m"]), rv = vec<float>(st["v"]);
      int64_t bad = 0;
      for (int64_t i = 0; i < n; ++i) bad += (w[i] != rw[i]) + (m[i] != rm[i]) + (v[i] != rv[i]);
      EXPECT_EQ(bad, 0) << hwy::TargetName(target) << " step " << step;
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace
}  // namespace lmf::cpu

// Test support for the CPU backend's kernel tests: random inputs, running a test once
// per Highway target this CPU supports (and the kernels were compiled for), naming the
// targets run and those a CI machine must run (LMF_TEST_SIMD), and running code with a
// given OpenMP thread count.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"

namespace lmf::test {

inline std::vector<float> randn(size_t n, uint32_t seed, float mean = 0.0f, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Runs f with omp_get_max_threads() == threads, restoring the previous count.
template <class F>
void with_threads(int threads, F&& f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  f();
  omp_set_num_threads(saved);
}

// The Highway target the kernels run on now.
inline std::string target_name() {
  const int64_t t = hwy::SupportedTargets() & cpu::kernel_simd_targets();
  return hwy::TargetName(t & -t);
}

// Every target compiled into the kernels that this CPU supports, best first.
inline std::vector<int64_t> targets_to_test() {
  std::vector<int64_t> out;
  const int64_t all = hwy::SupportedTargets() & cpu::kernel_simd_targets();
  for (int64_t t = all; t != 0; t &= t - 1) out.push_back(t & -t);
  return out;
}

// Names of targets (a mask), best first, separated by spaces.
inline std::string target_names(int64_t mask) {
  std::string out;
  for (int64_t t = mask; t != 0; t &= t - 1) out += std::string(out.empty() ? "" : " ") + hwy::TargetName(t & -t);
  return out;
}

// The SIMD paths this machine must run, from the environment variable LMF_TEST_SIMD
// (names separated by spaces or commas: Highway targets such as "AVX3 AVX2 SSE4 SCALAR",
// and the qmatmul paths VNNI, BF16, PAIR), so that a CI job on a given machine fails when
// a path it expects silently does not run. Empty when unset.
inline std::vector<std::string> required_simd() {
  std::vector<std::string> out;
  const char* env = std::getenv("LMF_TEST_SIMD");
  std::stringstream ss(env ? env : "");
  for (std::string w; std::getline(ss, w, ' ');) {
    std::stringstream parts(w);
    for (std::string p; std::getline(parts, p, ',');)
      if (!p.empty()) out.push_back(p);
  }
  return out;
}

// A test fixture whose parameter is a target: dispatch is limited to it for the test.
class PerTarget : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    hwy::SetSupportedTargetsForTest(GetParam());
    ASSERT_EQ(target_name(), hwy::TargetName(GetParam())) << "dispatch was not limited to the target";
  }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

inline std::string target_param_name(const ::testing::TestParamInfo<int64_t>& info) {
  return hwy::TargetName(info.param);
}

}  // namespace lmf::test

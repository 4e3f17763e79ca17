// Tests for GPTQ (compress/gptq.h): on correlated inputs, GPTQ's reconstruction error
// ||X (W - Ŵ)||² on held-out inputs from the same distribution is well below round to
// nearest's at the same bits and group size (with and without act-order); with
// uncorrelated inputs (H = c·I) there is nothing to compensate and GPTQ is exactly round
// to nearest; a dead input's weights quantize to zero.
#include "compress/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace lmf::compress {
namespace {

struct Problem {
  int64_t K = 128, N = 48, n = 4096;
  std::vector<float> W, Xcal, Xtest;
  std::vector<double> H;
};

std::vector<float> correlated(int64_t n, int64_t K, const std::vector<float>& mix, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> z(static_cast<size_t>(n * K)), x(z.size(), 0.0f);
  for (float& v : z) v = d(rng);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) x[r * K + j] += z[r * K + i] * mix[i * K + j];
  return x;
}

Problem make_problem() {
  Problem p;
  std::mt19937 rng(42);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> mix(static_cast<size_t>(p.K * p.K));
  for (int64_t i = 0; i < p.K; ++i)
    for (int64_t j = 0; j < p.K; ++j) mix[i * p.K + j] = (i == j ? 1.0f : 0.0f) + d(rng) / std::sqrt(4.0f) * (std::abs(i - j) < 16);
  p.W.resize(static_cast<size_t>(p.K * p.N));
  for (float& w : p.W) w = 0.05f * d(rng);
  p.Xcal = correlated(p.n, p.K, mix, 1);
  p.Xtest = correlated(p.n, p.K, mix, 2);
  p.H.assign(static_cast<size_t>(p.K * p.K), 0.0);
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t i = 0; i < p.K; ++i)
      for (int64_t j = 0; j < p.K; ++j) p.H[i * p.K + j] += 2.0 * p.Xcal[r * p.K + i] * p.Xcal[r * p.K + j] / p.n;
  return p;
}

double output_error(const Problem& p, const quant::Packed& q, int bits) {
  Tensor d = quant::dequantize(q, p.K, bits);
  double e = 0;
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t c = 0; c < p.N; ++c) {
      double y = 0;
      for (int64_t k = 0; k < p.K; ++k) y += p.Xtest[r * p.K + k] * (p.W[k * p.N + c] - d.data_as<float>()[k * p.N + c]);
      e += y * y;
    }
  return e;
}

TEST(Gptq, BeatsRoundToNearestOnHeldOutInputs) {
  const Problem p = make_problem();
  for (int bits : {3, 4, 8}) {
    const quant::Spec spec{bits, 32, bits != 8};
    const double rtn = output_error(p, quant::quantize_rtn(p.W.data(), p.K, p.N, spec), bits);
    for (bool act_order : {false, true}) {
      GptqOptions o;
      o.act_order = act_order;
      o.block = 48;  // not a multiple of the group: blocks and groups cut differently
      const double g = output_error(p, gptq_quantize(p.W.data(), p.K, p.N, p.H, spec, o), bits);
      std::printf("    %d bits, act_order %d: GPTQ / RTN output error = %.3f\n", bits, act_order, g / rtn);
      EXPECT_LT(g, 0.8 * rtn) << bits << " bits, act_order " << act_order;
    }
  }
}

TEST(Gptq, UncorrelatedInputsGiveRoundToNearest) {
  const int64_t K = 64, N = 10;
  std::vector<float> W(static_cast<size_t>(K * N));
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0, 1);
  for (float& w : W) w = d(rng);
  std::vector<double> H(static_cast<size_t>(K * K), 0.0);
  for (int64_t k = 0; k < K; ++k) H[k * K + k] = 3.0;
  const quant::Spec spec{4, 32, false};
  quant::Packed a = quant::quantize_rtn(W.data(), K, N, spec), b = gptq_quantize(W.data(), K, N, H, spec, {});
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) ASSERT_EQ(quant::get_q(a, 4, k, n), quant::get_q(b, 4, k, n)) << k << "," << n;
}

TEST(Gptq, DeadInputsQuantizeToZero) {
  Problem p = make_problem();
  const int64_t dead = 5;
  for (int64_t j = 0; j < p.K; ++j) p.H[dead * p.K + j] = p.H[j * p.K + dead] = 0;
  const quant::Spec spec{4, 32, true};
  quant::Packed q = gptq_quantize(p.W.data(), p.K, p.N, p.H, spec, {});
  Tensor d = quant::dequantize(q, p.K, 4);
  for (int64_t n = 0; n < p.N; ++n) EXPECT_EQ(d.data_as<float>()[dead * p.N + n], 0.0f);
}

}  // namespace
}  // namespace lmf::compress

// Tests for core/quant.h: GPTQ-layout packing round-trips exactly, round-to-nearest
// quantization stays within its bound (|w - (q - z)s| <= s/2), parameters follow GPTQ's
// definitions, and bad specs are refused with the reason.
#include "core/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>

#include "core/error.h"

namespace lmf::quant {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(QuantPack, EveryValueRoundTrips) {
  for (int bits : {3, 4, 8}) {
    const int64_t K = 64, N = 13, maxq = (1 << bits) - 1;
    Spec spec{bits, 32, false};
    Packed p = make_packed(K, N, spec);
    EXPECT_EQ(p.qweight.shape(), Shape({K * bits / 32, N}));
    EXPECT_EQ(p.scales.shape(), Shape({2, N}));
    EXPECT_EQ(p.qzeros.shape(), Shape({2, (N * bits + 31) / 32}));
    std::mt19937 rng(bits);
    std::vector<int32_t> q(K * N), z(2 * N);
    for (auto& v : q) v = static_cast<int32_t>(rng() % (maxq + 1));
    for (auto& v : z) v = static_cast<int32_t>(rng() % (maxq + 1));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) set_q(p, bits, k, n, q[k * N + n]);
    for (int64_t g = 0; g < 2; ++g)
      for (int64_t n = 0; n < N; ++n) set_zero(p, bits, g, n, z[g * N + n]);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) ASSERT_EQ(get_q(p, bits, k, n), q[k * N + n]) << bits << " bits, " << k << "," << n;
    for (int64_t g = 0; g < 2; ++g)
      for (int64_t n = 0; n < N; ++n) ASSERT_EQ(get_zero(p, bits, g, n), z[g * N + n]);
  }
}

TEST(QuantPack, ThreeBitsAsAutoGptqPacksThem) {  // 32 values in 3 words; values 10 and 21 straddle two
  Packed p = make_packed(32, 1, Spec{3, 32, true});
  for (int k = 0; k < 32; ++k) set_q(p, 3, k, 0, k % 8);
  const auto* w = p.qweight.data_as<int32_t>();
  uint32_t expect[3] = {0, 0, 0};
  for (int k = 0; k < 32; ++k) {  // AutoGPTQ: value i at bit 3i of the 96-bit little-endian stream
    const int pos = 3 * k;
    expect[pos / 32] |= static_cast<uint32_t>(k % 8) << (pos % 32);
    if (pos % 32 > 29) expect[pos / 32 + 1] |= static_cast<uint32_t>(k % 8) >> (32 - pos % 32);
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(static_cast<uint32_t>(w[i]), expect[i]) << "word " << i;
  EXPECT_EQ(static_cast<uint32_t>(w[0]) >> 30, 10u % 8 & 3u);  // value 10: bits 30-31 of word 0 ...
  EXPECT_EQ(static_cast<uint32_t>(w[1]) & 1u, (10u % 8) >> 2);  // ... and bit 0 of word 1
}

TEST(QuantPack, LowBitsFirstAlongK) {  // GPTQ: word (k/P, n) holds k = P*(k/P) + j at bits [j*b, (j+1)*b)
  Packed p = make_packed(8, 1, Spec{4, 8, true});
  for (int k = 0; k < 8; ++k) set_q(p, 4, k, 0, k + 1);
  EXPECT_EQ(static_cast<uint32_t>(p.qweight.data_as<int32_t>()[0]), 0x87654321u);
}

class QuantRtn : public ::testing::TestWithParam<std::tuple<int, int64_t, bool>> {};

TEST_P(QuantRtn, WithinHalfAScaleAndGptqParameters) {
  const auto [bits, group, sym] = GetParam();
  const int64_t K = 256, N = 37;
  const int64_t G = group > 0 ? group : K;
  std::vector<float> w = randn(static_cast<size_t>(K * N), 7, 0.05f);
  w[5] = 0.4f;  // an outlier in group 0 of column 5
  Spec spec{bits, G, sym};
  Packed p = quantize_rtn(w.data(), K, N, spec);
  Tensor d = dequantize(p, K, bits);
  const int maxq = (1 << bits) - 1;
  double worst = 0;
  for (int64_t g = 0; g < K / G; ++g)
    for (int64_t n = 0; n < N; ++n) {
      float lo = 0, hi = 0;
      for (int64_t k = g * G; k < (g + 1) * G; ++k) lo = std::min(lo, w[k * N + n]), hi = std::max(hi, w[k * N + n]);
      const float s = get_scale(p, g, n);
      const int32_t z = get_zero(p, bits, g, n);
      // GPTQ's parameters (before the float16 rounding of s).
      const float s_exact = sym ? 2 * std::max(-lo, hi) / maxq : (hi - lo) / maxq;
      EXPECT_NEAR(s, s_exact, s_exact * 1e-3) << g << "," << n;
      if (sym) EXPECT_EQ(z, (maxq + 1) / 2);
      else EXPECT_EQ(z, static_cast<int32_t>(std::nearbyint(-lo / s)));
      for (int64_t k = g * G; k < (g + 1) * G; ++k) {
        const double err = std::fabs(static_cast<double>(d.data_as<float>()[k * N + n]) - w[k * N + n]);
        EXPECT_LE(err, 0.5 * s * (1 + 1e-6)) << "k " << k << " n " << n;
        worst = std::max(worst, err / s);
      }
    }
  std::printf("    bits %d group %lld %s: max |w - deq| = %.4f scales\n", bits, static_cast<long long>(G),
              sym ? "sym" : "asym", worst);
}

INSTANTIATE_TEST_SUITE_P(All, QuantRtn,
                         ::testing::Combine(::testing::Values(3, 4, 8), ::testing::Values(32, 64, 128, -1),
                                            ::testing::Bool()));

TEST(QuantRtn, AllZeroGroupIsExact) {
  std::vector<float> w(64 * 4, 0.0f);
  Packed p = quantize_rtn(w.data(), 64, 4, Spec{4, 32, false});
  Tensor d = dequantize(p, 64, 4);
  for (int64_t i = 0; i < 64 * 4; ++i) EXPECT_EQ(d.data_as<float>()[i], 0.0f);
}

TEST(QuantSpec, BadSpecsNameTheProblem) {
  auto msg = [](Spec s, int64_t K) {
    try {
      check_spec(s, K, 8, "layer.x");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(msg(Spec{4, 100, true}, 768).find("group size 100 does not divide the input dimension 768"), std::string::npos);
  EXPECT_NE(msg(Spec{5, 128, true}, 768).find("5 bits is not supported"), std::string::npos);
  EXPECT_NE(msg(Spec{3, 16, true}, 768).find("group size 16 is not a multiple of 32 (3-bit packing)"), std::string::npos);
  EXPECT_NE(msg(Spec{8, 2, true}, 768).find("not a multiple of 4"), std::string::npos);
  EXPECT_EQ(msg(Spec{4, 128, true}, 768), "");
}

}  // namespace
}  // namespace lmf::quant

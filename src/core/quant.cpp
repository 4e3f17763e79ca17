#include "core/quant.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace lmf::quant {

void check_spec(const Spec& spec, int64_t K, int64_t N, const std::string& what) {
  LMF_CHECK(spec.bits == 4 || spec.bits == 8, kInvalidArgument, "{}: {} bits is not supported (4 or 8)", what,
            spec.bits);
  LMF_CHECK(K > 0 && N > 0, kInvalidArgument, "{}: empty weight ({} x {})", what, K, N);
  const int P = pack_factor(spec.bits);
  LMF_CHECK(spec.group > 0 && K % spec.group == 0, kInvalidArgument,
            "{}: group size {} does not divide the input dimension {}", what, spec.group, K);
  LMF_CHECK(spec.group % P == 0, kInvalidArgument, "{}: group size {} is not a multiple of {} ({}-bit packing)",
            what, spec.group, P, spec.bits);
}

namespace {
// x >= 0 rounded up to a float16 value, so that a range fits in its steps.
float f16_up(float x) {
  uint16_t h = f32_to_f16(x);
  if (f16_to_f32(h) < x) ++h;  // the next float16 up (positive values)
  return f16_to_f32(h);
}
}  // namespace

void choose_params(const float* w, int64_t n, int64_t stride, const Spec& spec, float* scale, int32_t* zero) {
  float lo = 0, hi = 0;  // the range always includes 0, as GPTQ's
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, w[i * stride]);
    hi = std::max(hi, w[i * stride]);
  }
  const int maxq = (1 << spec.bits) - 1;
  if (spec.sym) {
    const float amax = std::max(-lo, hi);
    *scale = f16_up(2.0f * amax / static_cast<float>(maxq));
    *zero = (maxq + 1) / 2;
  } else {
    *scale = f16_up((hi - lo) / static_cast<float>(maxq));
    *zero = *scale > 0 ? std::clamp(static_cast<int32_t>(std::nearbyint(-lo / *scale)), 0, maxq) : 0;
  }
}

Packed make_packed(int64_t K, int64_t N, const Spec& spec) {
  const int64_t P = pack_factor(spec.bits), groups = K / spec.group;
  Packed p;
  p.qweight = Tensor::empty(DType::kI32, {K / P, N}, true);
  p.scales = Tensor::empty(DType::kF16, {groups, N}, true);
  p.qzeros = Tensor::empty(DType::kI32, {groups, (N + P - 1) / P}, true);
  return p;
}

namespace {
void put(int32_t* word, int bits, int64_t slot, int32_t v) {
  const uint32_t mask = (1u << bits) - 1u, shift = static_cast<uint32_t>(slot * bits);
  auto u = static_cast<uint32_t>(*word);
  u = (u & ~(mask << shift)) | ((static_cast<uint32_t>(v) & mask) << shift);
  *word = static_cast<int32_t>(u);
}
int32_t get(int32_t word, int bits, int64_t slot) {
  return static_cast<int32_t>((static_cast<uint32_t>(word) >> (slot * bits)) & ((1u << bits) - 1u));
}
}  // namespace

void set_q(Packed& p, int bits, int64_t k, int64_t n, int32_t q) {
  const int64_t P = pack_factor(bits), N = p.qweight.dim(1);
  put(p.qweight.data_as<int32_t>() + (k / P) * N + n, bits, k % P, q);
}
void set_zero(Packed& p, int bits, int64_t group, int64_t n, int32_t z) {
  const int64_t P = pack_factor(bits), W = p.qzeros.dim(1);
  put(p.qzeros.data_as<int32_t>() + group * W + n / P, bits, n % P, z);
}
void set_scale(Packed& p, int64_t group, int64_t n, float s) {
  if (p.scales.dtype() == DType::kF32)
    p.scales.data_as<float>()[group * p.scales.dim(1) + n] = s;
  else
    p.scales.data_as<uint16_t>()[group * p.scales.dim(1) + n] = f32_to_f16(s);
}
int32_t get_q(const Packed& p, int bits, int64_t k, int64_t n) {
  const int64_t P = pack_factor(bits), N = p.qweight.dim(1);
  return get(p.qweight.data_as<int32_t>()[(k / P) * N + n], bits, k % P);
}
int32_t get_zero(const Packed& p, int bits, int64_t group, int64_t n) {
  const int64_t P = pack_factor(bits), W = p.qzeros.dim(1);
  return get(p.qzeros.data_as<int32_t>()[group * W + n / P], bits, n % P);
}
float get_scale(const Packed& p, int64_t group, int64_t n) {
  if (p.scales.dtype() == DType::kF32) return p.scales.data_as<float>()[group * p.scales.dim(1) + n];
  return f16_to_f32(p.scales.data_as<uint16_t>()[group * p.scales.dim(1) + n]);
}

Packed quantize_per_channel_int8(const float* w_kn, int64_t K, int64_t N) {
  Spec spec{8, K, true};
  check_spec(spec, K, N, "quantize");
  Packed p = make_packed(K, N, spec);
  p.scales = Tensor::empty(DType::kF32, {1, N}, true);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    float amax = 0;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(w_kn[k * N + n]));
    const float s = amax / 127.5f;
    const float inv = s > 0 ? 1.0f / s : 0.0f;
    set_scale(p, 0, n, s);
    for (int64_t k = 0; k < K; ++k) {
      const float q = std::clamp(std::nearbyint(w_kn[k * N + n] * inv), -128.0f, 127.0f);
      set_q(p, 8, k, n, static_cast<int32_t>(q) + 128);
    }
  }
  for (int64_t n = 0; n < N; ++n) set_zero(p, 8, 0, n, 128);
  return p;
}

Packed quantize_rtn(const float* w_kn, int64_t K, int64_t N, const Spec& spec) {
  check_spec(spec, K, N, "quantize");
  Packed p = make_packed(K, N, spec);
  const int64_t G = spec.group;
#pragma omp parallel for schedule(static)
  for (int64_t g = 0; g < K / G; ++g)
    for (int64_t n = 0; n < N; ++n) {
      float s;
      int32_t z;
      choose_params(w_kn + g * G * N + n, G, N, spec, &s, &z);
      set_scale(p, g, n, s);
      // Columns share qzeros words across n: one group row is written by one thread only.
      set_zero(p, spec.bits, g, n, z);
      for (int64_t k = g * G; k < (g + 1) * G; ++k) set_q(p, spec.bits, k, n, quantize_value(w_kn[k * N + n], s, z, spec.bits));
    }
  return p;
}

Spec spec_of(const Packed& p, int64_t K, bool sym) {
  Spec s;
  s.bits = static_cast<int>(32 / (K / p.qweight.dim(0)));
  s.group = K / p.scales.dim(0);
  s.sym = sym;
  return s;
}

Tensor dequantize(const Packed& p, int64_t K, int bits) {
  const int64_t N = p.qweight.dim(1), G = K / p.scales.dim(0);
  Tensor out = Tensor::empty(DType::kF32, {K, N});
  auto* w = out.data_as<float>();
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      w[k * N + n] = static_cast<float>(get_q(p, bits, k, n) - get_zero(p, bits, k / G, n)) * get_scale(p, k / G, n);
  return out;
}

}  // namespace lmf::quant

#include "core/quant.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace lmf::quant {

void check_spec(const Spec& spec, int64_t K, int64_t N, const std::string& what) {
  LMF_CHECK(spec.bits == 3 || spec.bits == 4 || spec.bits == 8, kInvalidArgument,
            "{}: {} bits is not supported (3, 4 or 8)", what, spec.bits);
  LMF_CHECK(K > 0 && N > 0, kInvalidArgument, "{}: empty weight ({} x {})", what, K, N);
  LMF_CHECK(spec.group > 0 && K % spec.group == 0, kInvalidArgument,
            "{}: group size {} does not divide the input dimension {}", what, spec.group, K);
  const int64_t step = 32 / std::gcd(32, spec.bits);
  LMF_CHECK(spec.group % step == 0, kInvalidArgument, "{}: group size {} is not a multiple of {} ({}-bit packing)",
            what, spec.group, step, spec.bits);
}

int64_t fit_group(int64_t requested, int64_t K, int bits, int64_t multiple) {
  if (K <= 0 || bits <= 0 || multiple <= 0) return 0;
  const int64_t step = std::lcm<int64_t>(32 / std::gcd(32, bits), multiple);
  if (requested <= 0 || requested > K) requested = K;
  for (int64_t g = requested - requested % step; g >= step; g -= step)
    if (K % g == 0) return g;
  return 0;  // K % step != 0: no group, not even K, fits
}

uint32_t read_packed(const int32_t* base, int64_t stride, int64_t index, int bits) {
  const int64_t pos = index * bits, w = pos >> 5, off = pos & 31;
  uint64_t v = static_cast<uint32_t>(base[w * stride]) >> off;
  if (off + bits > 32) v |= static_cast<uint64_t>(static_cast<uint32_t>(base[(w + 1) * stride])) << (32 - off);
  return static_cast<uint32_t>(v) & ((1u << bits) - 1u);
}

void write_packed(int32_t* base, int64_t stride, int64_t index, int bits, uint32_t value) {
  const int64_t pos = index * bits, w = pos >> 5, off = pos & 31;
  const uint64_t mask = (1ull << bits) - 1ull, v = static_cast<uint64_t>(value) & mask;
  auto put = [&](int64_t word, uint64_t m, uint64_t x) {
    auto u = static_cast<uint32_t>(base[word * stride]);
    u = (u & ~static_cast<uint32_t>(m)) | static_cast<uint32_t>(x);
    base[word * stride] = static_cast<int32_t>(u);
  };
  put(w, (mask << off) & 0xffffffffull, (v << off) & 0xffffffffull);
  if (off + bits > 32) put(w + 1, mask >> (32 - off), v >> (32 - off));
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
  const int64_t groups = K / spec.group;
  Packed p;
  p.qweight = Tensor::empty(DType::kI32, {packed_rows(K, spec.bits), N}, true);
  p.scales = Tensor::empty(DType::kF16, {groups, N}, true);
  p.qzeros = Tensor::empty(DType::kI32, {groups, packed_cols(N, spec.bits)}, true);
  return p;
}

void set_q(Packed& p, int bits, int64_t k, int64_t n, int32_t q) {
  write_packed(p.qweight.mutable_data_as<int32_t>() + n, p.qweight.dim(1), k, bits, static_cast<uint32_t>(q));
}
void set_zero(Packed& p, int bits, int64_t group, int64_t n, int32_t z) {
  write_packed(p.qzeros.mutable_data_as<int32_t>() + group * p.qzeros.dim(1), 1, n, bits, static_cast<uint32_t>(z));
}
void set_scale(Packed& p, int64_t group, int64_t n, float s) {
  if (p.scales.dtype() == DType::kF32)
    p.scales.mutable_data_as<float>()[group * p.scales.dim(1) + n] = s;
  else
    p.scales.mutable_data_as<uint16_t>()[group * p.scales.dim(1) + n] = f32_to_f16(s);
}
int32_t get_q(const Packed& p, int bits, int64_t k, int64_t n) {
  return static_cast<int32_t>(read_packed(p.qweight.data_as<int32_t>() + n, p.qweight.dim(1), k, bits));
}
int32_t get_zero(const Packed& p, int bits, int64_t group, int64_t n) {
  return static_cast<int32_t>(read_packed(p.qzeros.data_as<int32_t>() + group * p.qzeros.dim(1), 1, n, bits));
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
  s.bits = static_cast<int>(32 * p.qweight.dim(0) / K);
  s.group = K / p.scales.dim(0);
  s.sym = sym;
  return s;
}

Tensor dequantize(const Packed& p, int64_t K, int bits) {
  const int64_t N = p.qweight.dim(1), G = K / p.scales.dim(0);
  Tensor out = Tensor::empty(DType::kF32, {K, N});
  auto* w = out.mutable_data_as<float>();
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      w[k * N + n] = static_cast<float>(get_q(p, bits, k, n) - get_zero(p, bits, k / G, n)) * get_scale(p, k / G, n);
  return out;
}

}  // namespace lmf::quant

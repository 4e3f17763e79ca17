// lmforge CPU backend: int8-dynamic matmul (qmatmul.h): activations quantized per row,
// int8 weights, int32 dot products, exact on every path, so every CPU gives the same
// bits:
//  - AVX-512 VNNI: vpdpbusd multiplies 64 unsigned activation bytes by signed weight
//    bytes per instruction; activations are stored as q + 128 (unsigned) and 128 · Σ_k w
//    is taken back off per column.
//  - AVX2: vpmaddubsw on |w| (unsigned, 0..128) and the activations with w's sign
//    (-127..127): each pair sums to at most 2 · 128 · 127 < 2^15, so it never saturates;
//    vpmaddwd by ones adds the pairs to int32.
//  - Elsewhere: portable scalar code.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"
#include "core/dtype.h"

namespace lmf::cpu {

namespace {

constexpr int64_t kS = kQStrip;

QI8Isa cpu_isa() {
  static const QI8Isa isa = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                    __builtin_cpu_supports("avx512vnni")
                                ? QI8Isa::kVnni
                            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? QI8Isa::kAvx2
                                                             : QI8Isa::kPortable;
  return isa;
}

// acc (R, 16) int32 = Σ_k xq[r][k] · w[k][c] for one strip; xq: R rows of K/4 words of
// 4 unsigned bytes (q + 128).
template <int R>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void strip_vnni(const int32_t* xq, int64_t kq, const int32_t* w,
                                                                          int32_t* acc) {
  constexpr int A = R == 1 ? 4 : (R == 2 ? 2 : 1);  // independent chains per row (vpdpbusd latency)
  __m512i a[R][A];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < A; ++c) a[r][c] = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + A <= kq; i += A)
    for (int c = 0; c < A; ++c) {
      const __m512i wv = _mm512_loadu_si512(w + (i + c) * kS);
      _mm_prefetch(reinterpret_cast<const char*>(w + (i + c + kQPrefetchRows) * kS), _MM_HINT_T0);
      for (int r = 0; r < R; ++r) a[r][c] = _mm512_dpbusd_epi32(a[r][c], _mm512_set1_epi32(xq[r * kq + i + c]), wv);
    }
  for (; i < kq; ++i) {
    const __m512i wv = _mm512_loadu_si512(w + i * kS);
    for (int r = 0; r < R; ++r) a[r][0] = _mm512_dpbusd_epi32(a[r][0], _mm512_set1_epi32(xq[r * kq + i]), wv);
  }
  for (int r = 0; r < R; ++r) {
    __m512i t = a[r][0];
    for (int c = 1; c < A; ++c) t = _mm512_add_epi32(t, a[r][c]);
    _mm512_storeu_si512(acc + r * kS, t);
  }
}

// The same sums with signed activation bytes (xq: R rows of K/4 words of 4 int8).
template <int R>
__attribute__((target("avx2"))) void strip_avx2(const int32_t* xq, int64_t kq, const int32_t* w, int32_t* acc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i a[R][2];
  for (int r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm256_setzero_si256();
  for (int64_t i = 0; i < kq; ++i) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i * kS));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i * kS + 8));
    _mm_prefetch(reinterpret_cast<const char*>(w + (i + kQPrefetchRows) * kS), _MM_HINT_T0);
    const __m256i u0 = _mm256_abs_epi8(w0), u1 = _mm256_abs_epi8(w1);  // -128 -> 128 as unsigned
    for (int r = 0; r < R; ++r) {
      const __m256i xb = _mm256_set1_epi32(xq[r * kq + i]);
      const __m256i p0 = _mm256_maddubs_epi16(u0, _mm256_sign_epi8(xb, w0));
      const __m256i p1 = _mm256_maddubs_epi16(u1, _mm256_sign_epi8(xb, w1));
      a[r][0] = _mm256_add_epi32(a[r][0], _mm256_madd_epi16(p0, ones));
      a[r][1] = _mm256_add_epi32(a[r][1], _mm256_madd_epi16(p1, ones));
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kS), a[r][0]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kS + 8), a[r][1]);
  }
}

// The same sums in scalar code (signed activation bytes).
void strip_portable(const int32_t* xq, int64_t R, int64_t kq, const int32_t* w, int32_t* acc) {
  for (int64_t r = 0; r < R; ++r) {
    int32_t a[kS] = {};
    const auto* xb = reinterpret_cast<const int8_t*>(xq + r * kq);
    for (int64_t i = 0; i < kq; ++i) {
      const auto* wb = reinterpret_cast<const int8_t*>(w + i * kS);
      for (int64_t c = 0; c < kS; ++c)
        for (int j = 0; j < 4; ++j) a[c] += static_cast<int32_t>(xb[i * 4 + j]) * wb[c * 4 + j];
    }
    std::memcpy(acc + r * kS, a, sizeof(a));
  }
}

void strips(const int32_t* xq, const float* sx, int64_t M, const QWeightI8& w, const float* bias, float* y,
            int64_t s0, int64_t s1, QI8Isa isa) {
  const int64_t kq = w.K / 4;
  alignas(64) int32_t acc[4 * kS];
  for (int64_t st = s0; st < s1; ++st) {
    const int32_t* q = w.q + st * kq * kS;
    const int64_t c0 = st * kS, cols = std::min(kS, w.N - c0);
    for (int64_t m = 0; m < M; m += 4) {
      const int64_t R = std::min<int64_t>(4, M - m);
      const int32_t* xm = xq + m * kq;
      if (isa == QI8Isa::kVnni) {
        switch (R) {
          case 1: strip_vnni<1>(xm, kq, q, acc); break;
          case 2: strip_vnni<2>(xm, kq, q, acc); break;
          case 3: strip_vnni<3>(xm, kq, q, acc); break;
          default: strip_vnni<4>(xm, kq, q, acc); break;
        }
      } else if (isa == QI8Isa::kAvx2) {
        switch (R) {
          case 1: strip_avx2<1>(xm, kq, q, acc); break;
          case 2: strip_avx2<2>(xm, kq, q, acc); break;
          case 3: strip_avx2<3>(xm, kq, q, acc); break;
          default: strip_avx2<4>(xm, kq, q, acc); break;
        }
      } else {
        strip_portable(xm, R, kq, q, acc);
      }
      const int32_t zero = isa == QI8Isa::kVnni ? 128 : 0;  // VNNI's activations are q + 128
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const int32_t dot = acc[r * kS + c] - zero * w.colsum[st * kS + c];
          y[(m + r) * w.N + c0 + c] =
              static_cast<float>(dot) * (sx[m + r] * w.s[st * kS + c]) + (bias ? bias[c0 + c] : 0.0f);
        }
    }
  }
}

}  // namespace

QI8Isa q_i8_isa(const KernelOptions& ko) { return std::min(cpu_isa(), ko.i8_isa); }

void q_tile_i8(const int32_t* qweight, const void* scales, bool scales_f32, int64_t K, int64_t N, int32_t* q, float* s,
               int32_t* colsum) {
  const int64_t kq = K / 4, nst = q_strips(N);
#pragma omp parallel for schedule(static)
  for (int64_t st = 0; st < nst; ++st)
    for (int64_t c = 0; c < kS; ++c) {
      const int64_t n = st * kS + c;
      int32_t sum = 0;
      for (int64_t i = 0; i < kq; ++i) {
        // unsigned bytes (zero 128) -> signed: flip each byte's top bit
        const uint32_t word = n < N ? static_cast<uint32_t>(qweight[i * N + n]) ^ 0x80808080u : 0u;
        q[(st * kq + i) * kS + c] = static_cast<int32_t>(word);
        for (int j = 0; j < 4; ++j) sum += static_cast<int8_t>(word >> (8 * j));
      }
      colsum[st * kS + c] = sum;
      s[st * kS + c] = n >= N       ? 0.0f
                       : scales_f32 ? static_cast<const float*>(scales)[n]
                                    : f16_to_f32(static_cast<const uint16_t*>(scales)[n]);
    }
}

int64_t linear_q_i8_scratch(int64_t K, int64_t max_rows) { return max_rows * (K / 4 + 1) + 16; }

void linear_q_i8(const float* x, const QWeightI8& w, const float* bias, float* y, int64_t M, float* scratch,
                 const KernelOptions& ko) {
  if (M == 0) return;
  const int64_t K = w.K, kq = K / 4;
  auto* xq = reinterpret_cast<int32_t*>(scratch);  // (M, K/4) words of 4 bytes
  float* sx = scratch + M * kq;
  const QI8Isa isa = q_i8_isa(ko);
  for (int64_t r = 0; r < M; ++r) {
    auto* b = reinterpret_cast<uint8_t*>(xq + r * kq);
    sx[r] = quantize_int8_sym(x + r * K, K, reinterpret_cast<int8_t*>(b), ko);
    if (isa == QI8Isa::kVnni)
      for (int64_t k = 0; k < K; ++k) b[k] ^= 0x80;  // signed -> unsigned q + 128
  }
  for_strip_ranges(q_strips(w.N), [&](int64_t s0, int64_t s1) { strips(xq, sx, M, w, bias, y, s0, s1, isa); });
}

}  // namespace lmf::cpu

// lmforge CPU backend: linear_q's one-row (decode) kernel for 4-bit weights with bf16 dot
// products (AVX-512 BF16: vdpbf16ps), on the wide strips the plan lays out for it where
// the CPU has them and the pair kernel (qgemv_a8.cpp) does not take the weights (groups
// not a multiple of 32, or LMF_NO_I8PAIR: 64 columns per strip; see qmatmul.h). More rows gain nothing from it
// (the float kernels unpack a word once for up to four rows, and x in two bf16 parts doubles
// the products): they run the float kernels on the wide strips' 16-column parts.
//
// Why: the float kernel spends, per 64-byte row of a strip (128 weights), 8 fused
// multiply-adds, 8 table lookups (vpermps) and 7 shifts. Where 512-bit operations take
// two passes through 256-bit units (AMD Zen 4), that is ~12 cycles a row, ~19 GB/s of
// weights per core in L2: two cores read less than the memory gives. vdpbf16ps does two
// multiply-adds per lane, so a row is 8 of them plus 7 unpacking operations on other
// pipes, and 8 broadcasts of x; a wide strip's row holds four 16-column rows side by side,
// so that one set of broadcasts serves all four and the weights stay one sequential stream
// (four 16-column strips read side by side, four streams, drew ~10% less from memory).
//
// The numbers:
//  - A weight q (0..15) is unpacked as the bf16 number 1 + q/16 (exact: 0x3F80 | q << 3),
//    so y = s·Σ x q - zs·Σ x becomes y = 16 s·(Σ x (1 + q/16) - Σ x) - zs·Σ x, with
//    the same s and zs as the float kernel. A 32-bit lane of a strip word holds the values
//    j and j + 4 at bits 4j and 4j + 16: one shift by 4j - 3 puts both at bits 3..6 of
//    their 16-bit halves, and one vpternlogd masks them and sets 0x3F80.
//  - x is held as two bf16 parts, hi = bf16(x) and lo = bf16(x - hi) (round to nearest
//    even), so x̃ = hi + lo is within 2^-16 |x| of x (16 significant bits); products of
//    bf16 numbers are exact in float32 and are summed in float32. The conversions and
//    vdpbf16ps treat subnormal inputs as zero (|x| < 2^-126 counts as 0).
//  - The parts are laid out as the kernel reads them: for each strip word row kp (inputs
//    8 kp .. 8 kp + 7) and j = 0..3, the dword (hi[8kp+j], hi[8kp+j+4]) then (lo[8kp+j],
//    lo[8kp+j+4]): K dwords, each broadcast to the 64 columns of a wide strip row.
// One core, weights in L2 (Zen 4; bench/kernels_bench --benchmark_filter=LinearQDecode, arg 3
// = 3 the float kernel on 16-column strips, 0 this one): 768 x 768 17.0-17.3 -> 21.1-22.2
// GB/s, 3072 x 768 16.7-17.1 -> 23.8-24.0.

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "backend/cpu/qmatmul.h"

// GCC 12 warns, wrongly, that the undefined vectors inside some AVX-512 intrinsics
// (_mm512_cvtepu16_epi32, _mm512_inserti64x4, _mm512_reduce_add_ps) may be used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace lmf::cpu {
namespace {

// AVX-512 BF16 (and BW for the byte and word operations).
bool cpu_has_bf16() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512bf16");
  return has;
}

// 16 bf16 numbers as float32.
__attribute__((target("avx512f,avx512bw"))) inline __m512 widen(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// One row of x -> its bf16 parts (the layout at the top) and xsum (K / G) = Σ (hi + lo) per
// group. Needs G % 16 == 0.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void split_row(const float* x, int64_t K, int64_t G,
                                                                        uint32_t* parts, float* xsum) {
  // Output dword d of 16 inputs (two strip word rows): word row d / 8, j = (d % 8) / 2, part
  // p = d % 2; its low half is input 8 (d / 8) + j of part p, its high half that input + 4.
  // In the packed vector, part p of input e is 16-bit word 16 p + e.
  alignas(64) static constexpr uint16_t kIdx[32] = {0,  4,  16, 20, 1,  5,  17, 21, 2,  6,  18,
                                                    22, 3,  7,  19, 23, 8,  12, 24, 28, 9,  13,
                                                    25, 29, 10, 14, 26, 30, 11, 15, 27, 31};
  const __m512i idx = _mm512_load_si512(kIdx);
  for (int64_t g = 0; g < K / G; ++g) {
    __m512 sum = _mm512_setzero_ps();
    for (int64_t k = g * G; k < (g + 1) * G; k += 16) {
      const __m512 v = _mm512_loadu_ps(x + k);
      const __m256i hi = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v));
      const __m512 hif = widen(hi);
      const __m256i lo = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_sub_ps(v, hif)));
      const __m512 lof = widen(lo);
      sum = _mm512_add_ps(sum, _mm512_add_ps(hif, lof));
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(hi), lo, 1);
      _mm512_storeu_si512(parts + k, _mm512_permutexvar_epi16(idx, both));
    }
    xsum[g] = _mm512_reduce_add_ps(sum);
  }
}

// (w & mask) | one for the four shifts of a strip word: the bf16 pairs 1 + q/16 of values
// (j, j + 4), j = 0..3 (vpternlogd's truth table 0xEA is (a & b) | c).
__attribute__((target("avx512f,avx512bw"))) inline void unpack(__m512i w, __m512i mask, __m512i one, __m512i f[4]) {
  f[0] = _mm512_ternarylogic_epi32(_mm512_slli_epi32(w, 3), mask, one, 0xEA);
  f[1] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(w, 1), mask, one, 0xEA);
  f[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(w, 5), mask, one, 0xEA);
  f[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(w, 9), mask, one, 0xEA);
}

// y += 16 s·(dot - Σx) - zs·Σx for one group of one strip (see the top).
__attribute__((target("avx512f"))) inline __m512 group_end(__m512 y, __m512 dot, float xsum, const float* s,
                                                           const float* zs) {
  const __m512 xs = _mm512_set1_ps(xsum);
  y = _mm512_fmadd_ps(_mm512_loadu_ps(s), _mm512_mul_ps(_mm512_sub_ps(dot, xs), _mm512_set1_ps(16.0f)), y);
  return _mm512_fnmadd_ps(_mm512_loadu_ps(zs), xs, y);
}

// out (64) = one row of x (decode) · one wide strip: each word row is 4 x 16 words side by
// side, the 8 broadcasts of x serve all four; four accumulation chains per 16 columns.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void wide_row(const uint32_t* xp, int64_t K, int64_t G,
                                                                       const int32_t* q, const float* s,
                                                                       const float* zs, const float* xsum,
                                                                       float* out) {
  constexpr int64_t W = kQStripWide;
  constexpr int U = W / kQStrip, A = 4;
  const int64_t groups = K / G, rows_per_group = G / 8;
  const __m512i mask = _mm512_set1_epi32(0x00780078), one = _mm512_set1_epi32(0x3F803F80);
  __m512 y[U];
  for (int u = 0; u < U; ++u) y[u] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512 acc[U][A];
    for (int u = 0; u < U; ++u)
      for (int a = 0; a < A; ++a) acc[u][a] = _mm512_setzero_ps();
    for (int64_t i = 0; i < rows_per_group; ++i) {
      const int64_t kp = g * rows_per_group + i;
      const int32_t* row = q + kp * W;
      // The stream 8 KiB ahead, as the float kernels (kQPrefetchRows 64-byte rows).
      for (int u = 0; u < U; ++u)
        _mm_prefetch(reinterpret_cast<const char*>(row + kQPrefetchRows * kQStrip + u * kQStrip), _MM_HINT_T0);
      const uint32_t* xk = xp + kp * 8;
      __m512i b[8];
      for (int d = 0; d < 8; ++d) b[d] = _mm512_set1_epi32(static_cast<int>(xk[d]));
      for (int u = 0; u < U; ++u) {
        __m512i f[4];
        unpack(_mm512_loadu_si512(row + u * kQStrip), mask, one, f);
        for (int d = 0; d < 8; ++d)
          acc[u][d % A] = _mm512_dpbf16_ps(acc[u][d % A], reinterpret_cast<__m512bh>(f[d / 2]),
                                           reinterpret_cast<__m512bh>(b[d]));
      }
    }
    for (int u = 0; u < U; ++u) {
      __m512 dot = acc[u][0];
      for (int a = 1; a < A; ++a) dot = _mm512_add_ps(dot, acc[u][a]);
      y[u] = group_end(y[u], dot, xsum[g], s + g * W + u * kQStrip, zs + g * W + u * kQStrip);
    }
  }
  for (int u = 0; u < U; ++u) _mm512_storeu_ps(out + u * kQStrip, y[u]);
}

}  // namespace

bool q_bf16_cpu(const KernelOptions& ko) { return ko.bf16 && cpu_has_bf16(); }

int64_t q_strip_cols(int bits, int64_t group, bool float_act, const KernelOptions& ko) {
  // The pair kernel runs on 16-column strips where it takes them (Intel Sapphire Rapids
  // class, one core, 768 x 768 in L2: 29 GB/s of strips, the bf16 kernel 10.5, the float 17).
  return float_act && strip_bits(bits) == 4 && group % 16 == 0 && q_bf16_cpu(ko) && !q_pair_takes(group, group, 4, ko)
             ? kQStripWide
             : kQStrip;
}

void q_bf16_split(const float* x, int64_t K, int64_t G, uint32_t* parts, float* xsum) {
  split_row(x, K, G, parts, xsum);
}

void q_bf16_strips(const uint32_t* parts, const QWeight& w, const float* xsum, const float* bias, float* y, int64_t s0,
                   int64_t s1) {
  constexpr int64_t W = kQStripWide;
  const int64_t K = w.K, N = w.N, G = w.group, groups = K / G, qrows = K / 8;
  alignas(64) float tmp[W];
  for (int64_t st = s0; st < s1; ++st) {
    const int64_t c0 = st * W, cols = std::min(W, N - c0);
    wide_row(parts, K, G, w.q + st * qrows * W, w.s + st * groups * W, w.zs + st * groups * W, xsum, tmp);
    for (int64_t c = 0; c < cols; ++c) y[c0 + c] = tmp[c] + (bias ? bias[c0 + c] : 0.0f);
  }
}

}  // namespace lmf::cpu

#pragma GCC diagnostic pop

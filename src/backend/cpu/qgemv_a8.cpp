// lmforge CPU backend: group-wise 4/8-bit strips with activations rounded to int8 per
// block of 32 inputs at run time (qmatmul.h, linear_q_a8).
//
// Any number of rows (decode and prompts alike): per strip, 32-input block and row of x,
// the integer dot product of the weights' unsigned values with the block's signed
// activation bytes, then per group y += s · Σ_b sx_b · dot_b - zs · Σ_k x̂_k.
//  - AVX-512 VNNI: one vpdpbusd per 64 values (4-bit: the low and the high nibbles of a
//    strip row are two operands, so the activation words are laid out to match: bytes
//    k0 k2 k4 k6 and k1 k3 k5 k7 of each 8 inputs). A 4-bit strip row costs a shift, two
//    masks and two vpdpbusd per row of x, instead of a shift, a table lookup and a
//    multiply-add per 16 values with float activations.
//  - AVX2: vpmaddubsw (strip_avx2 below).
//  - Neither: x̂ through linear_q's float kernels, the same x̂ · W to float rounding.
// A prompt of 64 rows ran 2800-3300 t/s (GPT-2 small w4a8, 2 threads) against 1500-1700
// for 128 rows through x̂ + dequantize + sgemm, so the integer strips serve every M (and
// prompt and decode compute the same sums).
// GCC 12 reports its own _mm512_undefined_* placeholders (inside srli, cvtepi32_ps and
// the reductions) as (maybe) uninitialized; a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"

namespace lmf::cpu {

namespace {

constexpr int64_t kS = kQStrip;
constexpr int64_t kB = kActBlock;

// The strip rows of one 32-input block: 4 words of 8 nibbles or 8 words of 4 bytes.
constexpr int64_t block_rows(int bits) { return bits == 4 ? 4 : 8; }

// out (R, 16) = the few-row result for one strip (no bias). xw: R rows of K/4 activation
// words; sx: R rows of K/32 block scales; xsum: R rows of `groups` sums of x̂.
template <int R, int BITS>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void strip_vnni(const int32_t* xw, const float* sx,
                                                                          const float* xsum, int64_t K, int64_t G,
                                                                          const int32_t* q, const float* s,
                                                                          const float* zs, float* out) {
  constexpr int64_t QR = block_rows(BITS);
  constexpr int A = R == 1 ? 4 : 2;  // independent integer chains per row
  const int64_t kw = K / 4, nb = K / kB, groups = K / G, bpg = G / kB;
  const __m512i m4 = _mm512_set1_epi32(0x0F0F0F0F);
  __m512 y[R];
  for (int r = 0; r < R; ++r) y[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512 f[R];
    for (int r = 0; r < R; ++r) f[r] = _mm512_setzero_ps();
    for (int64_t bb = 0; bb < bpg; ++bb) {
      const int64_t b = g * bpg + bb;
      __m512i a[R][A];
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < A; ++c) a[r][c] = _mm512_setzero_si512();
      for (int64_t i = 0; i < QR; ++i) {
        const int64_t kp = b * QR + i;
        const __m512i w = _mm512_loadu_si512(q + kp * kS);
        _mm_prefetch(reinterpret_cast<const char*>(q + (kp + kQPrefetchRows) * kS), _MM_HINT_T0);
        if constexpr (BITS == 4) {
          const __m512i lo = _mm512_and_si512(w, m4), hi = _mm512_and_si512(_mm512_srli_epi32(w, 4), m4);
          for (int r = 0; r < R; ++r) {
            __m512i& acc = a[r][i % A];
            acc = _mm512_dpbusd_epi32(acc, lo, _mm512_set1_epi32(xw[r * kw + 2 * kp]));
            acc = _mm512_dpbusd_epi32(acc, hi, _mm512_set1_epi32(xw[r * kw + 2 * kp + 1]));
          }
        } else {
          for (int r = 0; r < R; ++r) a[r][i % A] = _mm512_dpbusd_epi32(a[r][i % A], w, _mm512_set1_epi32(xw[r * kw + kp]));
        }
      }
      for (int r = 0; r < R; ++r) {
        __m512i t = a[r][0];
        for (int c = 1; c < A; ++c) t = _mm512_add_epi32(t, a[r][c]);
        f[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_set1_ps(sx[r * nb + b]), f[r]);
      }
    }
    const __m512 sv = _mm512_loadu_ps(s + g * kS), zv = _mm512_loadu_ps(zs + g * kS);
    for (int r = 0; r < R; ++r)
      y[r] = _mm512_fnmadd_ps(zv, _mm512_set1_ps(xsum[r * groups + g]), _mm512_fmadd_ps(sv, f[r], y[r]));
  }
  for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + r * kS, y[r]);
}

// strip_vnni's result with AVX2 (two 8-column halves per strip row, R <= 2 rows of x):
//  - 4 bits: vpmaddubsw of the unsigned nibbles (0..15) by the signed activation bytes;
//    a block's 4 rows x 2 nibble planes x 2 products sum to at most 16 · 15 · 127 < 2^15,
//    so they add in 16 bits, then vpmaddwd by ones to int32 once per block.
//  - 8 bits: q - 128 (signed); vpmaddubsw of |q - 128| by the activations carrying its
//    sign (each pair at most 2 · 128 · 127 < 2^15), vpmaddwd to int32 per row; the 128
//    goes into the group's zero: y += s · Σ_b sx_b · dot'_b - (zs - 128 s) · Σ_k x̂_k.
template <int R, int BITS>
__attribute__((target("avx2,fma"))) void strip_avx2(const int32_t* xw, const float* sx, const float* xsum, int64_t K,
                                                    int64_t G, const int32_t* q, const float* s, const float* zs,
                                                    float* out) {
  constexpr int64_t QR = block_rows(BITS);
  const int64_t kw = K / 4, nb = K / kB, groups = K / G, bpg = G / kB;
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8(-128);
  __m256 y[R][2];
  for (int r = 0; r < R; ++r) y[r][0] = y[r][1] = _mm256_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m256 f[R][2];
    for (int r = 0; r < R; ++r) f[r][0] = f[r][1] = _mm256_setzero_ps();
    for (int64_t bb = 0; bb < bpg; ++bb) {
      const int64_t b = g * bpg + bb;
      __m256i a[R][2];
      for (int r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm256_setzero_si256();
      for (int64_t i = 0; i < QR; ++i) {
        const int64_t kp = b * QR + i;
        _mm_prefetch(reinterpret_cast<const char*>(q + (kp + kQPrefetchRows) * kS), _MM_HINT_T0);
        for (int h = 0; h < 2; ++h) {
          const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + kp * kS + 8 * h));
          if constexpr (BITS == 4) {
            const __m256i lo = _mm256_and_si256(w, m4), hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
            for (int r = 0; r < R; ++r) {
              const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(xw[r * kw + 2 * kp]));
              const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(xw[r * kw + 2 * kp + 1]));
              a[r][h] = _mm256_add_epi16(a[r][h], _mm256_add_epi16(p0, p1));
            }
          } else {
            const __m256i ws = _mm256_xor_si256(w, flip), u = _mm256_abs_epi8(ws);
            for (int r = 0; r < R; ++r) {
              const __m256i p = _mm256_maddubs_epi16(u, _mm256_sign_epi8(_mm256_set1_epi32(xw[r * kw + kp]), ws));
              a[r][h] = _mm256_add_epi32(a[r][h], _mm256_madd_epi16(p, ones));
            }
          }
        }
      }
      for (int r = 0; r < R; ++r)
        for (int h = 0; h < 2; ++h) {
          const __m256i t = BITS == 4 ? _mm256_madd_epi16(a[r][h], ones) : a[r][h];
          f[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), _mm256_set1_ps(sx[r * nb + b]), f[r][h]);
        }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 sv = _mm256_loadu_ps(s + g * kS + 8 * h);
      __m256 zv = _mm256_loadu_ps(zs + g * kS + 8 * h);
      if constexpr (BITS == 8) zv = _mm256_fnmadd_ps(_mm256_set1_ps(128.0f), sv, zv);
      for (int r = 0; r < R; ++r)
        y[r][h] = _mm256_fnmadd_ps(zv, _mm256_set1_ps(xsum[r * groups + g]), _mm256_fmadd_ps(sv, f[r][h], y[r][h]));
    }
  }
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + r * kS + 8 * h, y[r][h]);
}

// The pair kernel's 8-bit strips (linear_q_pair): one row of x as int16 per 32-input block
// (x16 = round(x / sx), sx = max|x_b| / 32767), vpmaddwd of the stored bytes widened to
// 16 bits (0..255) by 4 inputs at a time: a 16-column strip row is 4 x 16 bytes, each 4
// columns x 4 inputs, giving per column two int32 lanes (inputs 0-1 and 2-3), which one
// vphaddd per block folds. A block's lane sums stay below 16 · 255 · 32767 < 2^31. The
// folded columns come out as 0 1 4 5 2 3 6 7 (and 8 + that), so s and zs are read and y
// written through that permutation (its own inverse).
__attribute__((target("avx2,fma"))) void strip_x16_avx2(const int16_t* x16, const float* sx, const float* xsum,
                                                        int64_t K, int64_t G, const int32_t* q, const float* s,
                                                        const float* zs, float* out) {
  const int64_t groups = K / G, bpg = G / kB;
  const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  __m256 y[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t g = 0; g < groups; ++g) {
    __m256 f[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t bb = 0; bb < bpg; ++bb) {
      const int64_t b = g * bpg + bb;
      __m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
      for (int64_t i = 0; i < block_rows(8); ++i) {
        const int64_t kp = b * block_rows(8) + i;
        _mm_prefetch(reinterpret_cast<const char*>(q + (kp + kQPrefetchRows) * kS), _MM_HINT_T0);
        int64_t xq;
        std::memcpy(&xq, x16 + 4 * kp, sizeof xq);
        const __m256i xv = _mm256_set1_epi64x(xq);
        const auto* row = reinterpret_cast<const __m128i*>(q + kp * kS);
        for (int j = 0; j < 4; ++j)
          a[j] = _mm256_add_epi32(a[j], _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(row + j)), xv));
      }
      const __m256 sb = _mm256_set1_ps(sx[b]);
      f[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_hadd_epi32(a[0], a[1])), sb, f[0]);
      f[1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_hadd_epi32(a[2], a[3])), sb, f[1]);
    }
    const __m256 xs = _mm256_set1_ps(xsum[g]);
    for (int h = 0; h < 2; ++h) {
      const __m256 sv = _mm256_permutevar8x32_ps(_mm256_loadu_ps(s + g * kS + 8 * h), perm);
      const __m256 zv = _mm256_permutevar8x32_ps(_mm256_loadu_ps(zs + g * kS + 8 * h), perm);
      y[h] = _mm256_fnmadd_ps(zv, xs, _mm256_fmadd_ps(sv, f[h], y[h]));
    }
  }
  for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 8 * h, _mm256_permutevar8x32_ps(y[h], perm));
}

void strips(const int32_t* xw, const float* sx, const float* xsum, int64_t M, const QWeight& w, const float* bias,
            float* y, int64_t s0, int64_t s1, bool vnni) {
  const int64_t K = w.K, G = w.group, kw = K / 4, nb = K / kB, groups = K / G;
  const int64_t qrows = K / (32 / w.bits);
  alignas(64) float tmp[4 * kS];
  for (int64_t st = s0; st < s1; ++st) {
    const int32_t* q = w.q + st * qrows * kS;
    const float* s = w.s + st * groups * kS;
    const float* zs = w.zs + st * groups * kS;
    const int64_t c0 = st * kS, cols = std::min(kS, w.N - c0);
    for (int64_t m = 0; m < M;) {
      const int64_t R = std::min<int64_t>(vnni ? 4 : 2, M - m);
      const int32_t* xm = xw + m * kw;
      const float* sm = sx + m * nb;
      const float* xs = xsum + m * groups;
      if (!vnni) {
        if (w.bits == 4)
          R == 1 ? strip_avx2<1, 4>(xm, sm, xs, K, G, q, s, zs, tmp) : strip_avx2<2, 4>(xm, sm, xs, K, G, q, s, zs, tmp);
        else
          R == 1 ? strip_avx2<1, 8>(xm, sm, xs, K, G, q, s, zs, tmp) : strip_avx2<2, 8>(xm, sm, xs, K, G, q, s, zs, tmp);
      } else if (w.bits == 4) {
        switch (R) {
          case 1: strip_vnni<1, 4>(xm, sm, xs, K, G, q, s, zs, tmp); break;
          case 2: strip_vnni<2, 4>(xm, sm, xs, K, G, q, s, zs, tmp); break;
          case 3: strip_vnni<3, 4>(xm, sm, xs, K, G, q, s, zs, tmp); break;
          default: strip_vnni<4, 4>(xm, sm, xs, K, G, q, s, zs, tmp); break;
        }
      } else {
        switch (R) {
          case 1: strip_vnni<1, 8>(xm, sm, xs, K, G, q, s, zs, tmp); break;
          case 2: strip_vnni<2, 8>(xm, sm, xs, K, G, q, s, zs, tmp); break;
          case 3: strip_vnni<3, 8>(xm, sm, xs, K, G, q, s, zs, tmp); break;
          default: strip_vnni<4, 8>(xm, sm, xs, K, G, q, s, zs, tmp); break;
        }
      }
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < cols; ++c) y[(m + r) * w.N + c0 + c] = tmp[r * kS + c] + (bias ? bias[c0 + c] : 0.0f);
      m += R;
    }
  }
}

// One block of 32 inputs rounded: q (32 bytes; with `nibbles`, per 8 inputs k0 k2 k4 k6
// k1 k3 k5 k7, the order of a 4-bit word's low and high nibbles), *isum = Σ q; returns
// the scale. Scalar, AVX2 and AVX-512 give the same values (max is exact, the conversion
// rounds to nearest even as nearbyint does, the sums are integers).
float round_block(const float* x, bool nibbles, int8_t* q, int32_t* isum) {
  int8_t qb[kB];
  const float scale = quantize_int8_sym(x, kB, qb);
  int32_t sum = 0;
  for (int64_t j = 0; j < kB; ++j) sum += qb[j];
  *isum = sum;
  if (!nibbles) {
    std::memcpy(q, qb, kB);
    return scale;
  }
  for (int64_t e = 0; e < kB; e += 8)
    for (int j = 0; j < 4; ++j) q[e + j] = qb[e + 2 * j], q[e + 4 + j] = qb[e + 2 * j + 1];
  return scale;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) float round_block_avx512(const float* x, bool nibbles,
                                                                                 int8_t* q, int32_t* isum) {
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const __m512 iv = _mm512_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
  const __m512i q0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, iv)), lo), hi);
  const __m512i q1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, iv)), lo), hi);
  *isum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  __m128i b0 = _mm512_cvtepi32_epi8(q0), b1 = _mm512_cvtepi32_epi8(q1);
  if (nibbles) {
    const __m128i order = _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
    b0 = _mm_shuffle_epi8(b0, order), b1 = _mm_shuffle_epi8(b1, order);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), b0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), b1);
  return amax / 127.0f;
}

// The largest of the 8 lanes.
__attribute__((target("avx2"))) inline float hmax_avx2(__m256 m) {
  m = _mm256_max_ps(m, _mm256_permute2f128_ps(m, m, 1));
  m = _mm256_max_ps(m, _mm256_shuffle_ps(m, m, 0x4E));
  m = _mm256_max_ps(m, _mm256_shuffle_ps(m, m, 0xB1));
  return _mm256_cvtss_f32(m);
}

// The sum of the 8 int32 lanes.
__attribute__((target("avx2"))) inline int32_t hsum_avx2(__m256i t) {
  t = _mm256_add_epi32(t, _mm256_permute2x128_si256(t, t, 1));
  t = _mm256_add_epi32(t, _mm256_shuffle_epi32(t, 0x4E));
  t = _mm256_add_epi32(t, _mm256_shuffle_epi32(t, 0xB1));
  return _mm256_cvtsi256_si32(t);
}

// Four vectors of 8 int32 (values of one 32-input block, in input order) -> 32 bytes at q
// (with `nibbles`, per 8 inputs k0 k2 k4 k6 k1 k3 k5 k7); returns their sum.
__attribute__((target("avx2"))) int32_t store_block_avx2(const __m256i* qi, bool nibbles, int8_t* q) {
  const int32_t sum = hsum_avx2(_mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3])));
  // packs interleave 128-bit lanes: dwords come out as q[0..3] q[8..11] q[16..19] q[24..27] q[4..7] ...
  __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
  b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  if (nibbles)
    b = _mm256_shuffle_epi8(b, _mm256_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15, 0, 2, 4, 6, 1, 3,
                                                 5, 7, 8, 10, 12, 14, 9, 11, 13, 15));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), b);
  return sum;
}

// The block's 32 values and the largest |x| among them.
__attribute__((target("avx2"))) float load_block_avx2(const float* x, __m256* v) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    m = _mm256_max_ps(m, _mm256_and_ps(v[i], absmask));
  }
  return hmax_avx2(m);
}

// The same with AVX2 (four 8-float vectors; bytes packed, then put back in input order).
__attribute__((target("avx2"))) float round_block_avx2(const float* x, bool nibbles, int8_t* q, int32_t* isum) {
  __m256 v[4];
  const float amax = load_block_avx2(x, v);
  const __m256 iv = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  __m256i qi[4];
  for (int i = 0; i < 4; ++i)
    qi[i] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[i], iv)), lo), hi);
  *isum = store_block_avx2(qi, nibbles, q);
  return amax / 127.0f;
}

// One block as two int8 parts (the pair kernel, linear_q_pair): with sx = max|x|/127 and
// u = x / sx, hi = round(u) and lo = round(254 (u - hi)), both in [-127, 127], so that
// x̃ = sx (hi + lo / 254) is within sx / 508 (+ float32 rounding of u) of x. Bytes as
// round_block_avx2's; returns sx.
__attribute__((target("avx2"))) float round_block_pair_avx2(const float* x, bool nibbles, int8_t* qh, int8_t* ql,
                                                            int32_t* isum_h, int32_t* isum_l) {
  __m256 v[4];
  const float amax = load_block_avx2(x, v);
  const __m256 iv = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f), k254 = _mm256_set1_ps(254.0f);
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  __m256i h[4], l[4];
  for (int i = 0; i < 4; ++i) {
    const __m256 u = _mm256_mul_ps(v[i], iv);
    h[i] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(u), lo), hi);
    const __m256 r = _mm256_sub_ps(u, _mm256_cvtepi32_ps(h[i]));
    l[i] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(r, k254)), lo), hi);
  }
  *isum_h = store_block_avx2(h, nibbles, qh);
  *isum_l = store_block_avx2(l, nibbles, ql);
  return amax / 127.0f;
}

using RoundBlock = float (*)(const float*, bool, int8_t*, int32_t*);

// Rows of x as activation words (xw, in the order of `bits`-bit strip words), block
// scales (sx) and group sums of x̂ (xsum).
void quantize_rows(const float* x, int64_t M, int64_t K, int64_t G, int bits, RoundBlock round, int32_t* xw,
                   float* sx, float* xsum) {
  const int64_t kw = K / 4, nb = K / kB, groups = K / G, bpg = G / kB;
  for (int64_t r = 0; r < M; ++r) {
    auto* bytes = reinterpret_cast<int8_t*>(xw + r * kw);
    for (int64_t g = 0; g < groups; ++g) {
      float sum = 0;
      for (int64_t bb = 0; bb < bpg; ++bb) {
        const int64_t b = g * bpg + bb;
        int32_t isum = 0;
        const float scale = round(x + r * K + b * kB, bits == 4, bytes + b * kB, &isum);
        sx[r * nb + b] = scale;
        sum = std::fma(scale, static_cast<float>(isum), sum);
      }
      xsum[r * groups + g] = sum;
    }
  }
}

// One row of x as the pair kernel's two activation rows for 4-bit strips (strip_avx2 or
// strip_vnni with R = 2, activation bytes in nibble order): row 0 the hi parts with block
// scales sx_b, row 1 the lo parts with sx_b / 254; xsum per row and group the sums of its
// parts times their scales, so that the two rows' results add up to x̃ · W.
void split_row_pair(const float* x, int64_t K, int64_t G, int32_t* xw, float* sx, float* xsum) {
  const int64_t kw = K / 4, nb = K / kB, groups = K / G, bpg = G / kB;
  auto* hb = reinterpret_cast<int8_t*>(xw);
  auto* lb = reinterpret_cast<int8_t*>(xw + kw);
  for (int64_t g = 0; g < groups; ++g) {
    float sh = 0, sl = 0;
    for (int64_t bb = 0; bb < bpg; ++bb) {
      const int64_t b = g * bpg + bb;
      int32_t ih = 0, il = 0;
      const float scale = round_block_pair_avx2(x + b * kB, true, hb + b * kB, lb + b * kB, &ih, &il);
      sx[b] = scale;
      sx[nb + b] = scale / 254.0f;
      sh = std::fma(scale, static_cast<float>(ih), sh);
      sl = std::fma(sx[nb + b], static_cast<float>(il), sl);
    }
    xsum[g] = sh;
    xsum[groups + g] = sl;
  }
}

// One row of x as int16 per 32-input block for strip_x16_avx2: x16 = round(x / sx) in
// [-32767, 32767] with sx = max|x_b| / 32767, so |sx x16 - x| <= sx / 2 (+ float32
// rounding of x / sx); xsum per group Σ_b sx_b Σ x16.
__attribute__((target("avx2"))) void split_row_x16(const float* x, int64_t K, int64_t G, int16_t* x16, float* sx,
                                                   float* xsum) {
  const int64_t groups = K / G, bpg = G / kB;
  const __m256i lo = _mm256_set1_epi32(-32767), hi = _mm256_set1_epi32(32767);
  for (int64_t g = 0; g < groups; ++g) {
    float sum = 0;
    for (int64_t bb = 0; bb < bpg; ++bb) {
      const int64_t b = g * bpg + bb;
      __m256 v[4];
      const float amax = load_block_avx2(x + b * kB, v);
      const __m256 iv = _mm256_set1_ps(amax > 0 ? 32767.0f / amax : 0.0f);
      __m256i qi[4], t = _mm256_setzero_si256();
      for (int i = 0; i < 4; ++i) {
        qi[i] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[i], iv)), lo), hi);
        t = _mm256_add_epi32(t, qi[i]);
      }
      // packs interleave 128-bit lanes: 0-3 8-11 4-7 12-15; permute4x64 puts them back.
      for (int i = 0; i < 2; ++i)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(x16 + b * kB + 16 * i),
                            _mm256_permute4x64_epi64(_mm256_packs_epi32(qi[2 * i], qi[2 * i + 1]), 0xD8));
      sx[b] = amax / 32767.0f;
      sum = std::fma(sx[b], static_cast<float>(hsum_avx2(t)), sum);
    }
    xsum[g] = sum;
  }
}

// x̂ (n values, n a multiple of 32) in float: per block sx · q.
void round_rows(const float* x, int64_t n, RoundBlock round, float* xh) {
  int8_t q[kB];
  int32_t isum = 0;
  for (int64_t b = 0; b < n; b += kB) {
    const float scale = round(x + b, false, q, &isum);
    for (int64_t j = 0; j < kB; ++j) xh[b + j] = scale * static_cast<float>(q[j]);
  }
}

// quantize_int8_sym for finite x: 16 values per step (the conversion rounds to nearest
// even, as nearbyint does; max and the clamp are exact), the tail scalar.
__attribute__((target("avx512f,avx512bw"))) float quantize_int8_sym_avx512(const float* x, int64_t n, int8_t* q) {
  __m512 m = _mm512_setzero_ps();
  const int64_t n16 = n / 16 * 16;
  int64_t k = 0;
  for (; k < n16; k += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
  float amax = _mm512_reduce_max_ps(m);
  for (int64_t j = k; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  const __m512 iv = _mm512_set1_ps(inv);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (k = 0; k < n16; k += 16) {
    const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + k), iv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi)));
  }
  for (; k < n; ++k) q[k] = static_cast<int8_t>(std::clamp(std::nearbyint(x[k] * inv), -127.0f, 127.0f));
  return amax / 127.0f;
}

// The same with AVX2, 8 values per step.
__attribute__((target("avx2"))) float quantize_int8_sym_avx2(const float* x, int64_t n, int8_t* q) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_setzero_ps();
  const int64_t n8 = n / 8 * 8;
  int64_t k = 0;
  for (; k < n8; k += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + k), absmask));
  float amax = hmax_avx2(m);
  for (int64_t j = k; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  const __m256 iv = _mm256_set1_ps(inv);
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127), pick = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
  for (k = 0; k < n8; k += 8) {
    const __m256i v = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), iv)), lo), hi);
    const __m256i w = _mm256_packs_epi32(v, v);
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w, w), pick);  // bytes 0..7 = v[0..7]
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + k), _mm256_castsi256_si128(b));
  }
  for (; k < n; ++k) q[k] = static_cast<int8_t>(std::clamp(std::nearbyint(x[k] * inv), -127.0f, 127.0f));
  return amax / 127.0f;
}

float quantize_int8_sym_scalar(const float* x, int64_t n, int8_t* q) {
  float amax = 0;
  for (int64_t k = 0; k < n; ++k) amax = std::max(amax, std::fabs(x[k]));
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  for (int64_t k = 0; k < n; ++k)
    q[k] = static_cast<int8_t>(std::clamp(std::nearbyint(x[k] * inv), -127.0f, 127.0f));
  return amax / 127.0f;
}

}  // namespace

// The vector code of the integer path in use (so the tests' ISA limit runs each), scalar
// for the portable one; all give the same bytes for finite x.
float quantize_int8_sym(const float* x, int64_t n, int8_t* q, const KernelOptions& ko) {
  const QI8Isa isa = q_i8_isa(ko);
  if (isa == QI8Isa::kVnni) return quantize_int8_sym_avx512(x, n, q);
  if (isa == QI8Isa::kAvx2) return quantize_int8_sym_avx2(x, n, q);
  return quantize_int8_sym_scalar(x, n, q);
}

bool q_a8_supported(int64_t K, int64_t group, int bits) {
  return (bits == 4 || bits == 8) && group > 0 && K % group == 0 && group % kB == 0;
}

int64_t linear_q_a8_scratch(int64_t K, int64_t N, int64_t group, int64_t max_rows, const KernelOptions& ko) {
  // VNNI: activation words, block scales, group sums; otherwise x̂ and linear_q's own.
  return std::max(max_rows * (K / 4 + K / kB + K / group), max_rows * K + linear_q_scratch(K, N, group, max_rows, ko));
}

bool linear_q_a8(const float* x, const QWeight& w, const float* bias, float* y, int64_t M, float* scratch,
                 const KernelOptions& ko) {
  if (M == 0) return true;
  const int64_t K = w.K;
  const QI8Isa isa = q_i8_isa(ko);
  if (isa == QI8Isa::kPortable) {  // x̂ in float, then linear_q (its float strip kernels, or dequantize + sgemm)
    float* xh = scratch;
#pragma omp parallel for schedule(static) if (M * K >= 32768)
    for (int64_t r = 0; r < M; ++r) round_rows(x + r * K, K, round_block, xh + r * K);
    return linear_q(xh, w, bias, y, M, scratch + M * K, ko);
  }
  auto* xw = reinterpret_cast<int32_t*>(scratch);
  float* sx = scratch + M * (K / 4);
  float* xsum = sx + M * (K / kB);
  const int64_t nb = K / kB, groups = K / w.group;
  const bool vnni = isa == QI8Isa::kVnni;
#pragma omp parallel for schedule(static) if (M * K >= 32768)
  for (int64_t r = 0; r < M; ++r)
    quantize_rows(x + r * K, 1, K, w.group, w.bits, vnni ? round_block_avx512 : round_block_avx2, xw + r * (K / 4),
                  sx + r * nb, xsum + r * groups);
  for_strip_ranges(q_strips(w.N), [&](int64_t s0, int64_t s1) { strips(xw, sx, xsum, M, w, bias, y, s0, s1, vnni); });
  return true;
}

bool q_pair_cpu(const KernelOptions& ko) { return ko.i8_pair && q_i8_isa(ko) != QI8Isa::kPortable; }

bool q_pair_takes(int64_t K, int64_t group, int bits, const KernelOptions& ko) {
  return q_pair_cpu(ko) && q_a8_supported(K, group, bits) && (bits == 4 || q_i8_isa(ko) == QI8Isa::kAvx2);
}

int64_t linear_q_pair_scratch(int64_t K, int64_t group) { return 2 * (K / 4 + K / kB + K / group); }  // (≥ x16's)

void linear_q_pair(const float* x, const QWeight& w, const float* bias, float* y, float* scratch,
                   const KernelOptions& ko) {
  const int64_t K = w.K, G = w.group, N = w.N, nb = K / kB, groups = K / G, qrows = K / (32 / w.bits);
  const bool vnni = q_i8_isa(ko) == QI8Isa::kVnni, x16 = w.bits == 8;
  auto* xw = reinterpret_cast<int32_t*>(scratch);
  float* sx = scratch + 2 * (K / 4);
  float* xsum = sx + 2 * nb;
  if (x16)
    split_row_x16(x, K, G, reinterpret_cast<int16_t*>(xw), sx, xsum);
  else
    split_row_pair(x, K, G, xw, sx, xsum);
  for_strip_ranges(q_strips(N), [&](int64_t s0, int64_t s1) {
    alignas(64) float tmp[2 * kS];
    for (int64_t st = s0; st < s1; ++st) {
      const int32_t* q = w.q + st * qrows * kS;
      const float* s = w.s + st * groups * kS;
      const float* zs = w.zs + st * groups * kS;
      const int64_t c0 = st * kS, cols = std::min(kS, N - c0);
      if (x16) {
        strip_x16_avx2(reinterpret_cast<const int16_t*>(xw), sx, xsum, K, G, q, s, zs, tmp);
        for (int64_t c = 0; c < cols; ++c) y[c0 + c] = tmp[c] + (bias ? bias[c0 + c] : 0.0f);
        continue;
      }
      (vnni ? strip_vnni<2, 4> : strip_avx2<2, 4>)(xw, sx, xsum, K, G, q, s, zs, tmp);
      for (int64_t c = 0; c < cols; ++c) y[c0 + c] = tmp[c] + tmp[kS + c] + (bias ? bias[c0 + c] : 0.0f);  // hi + lo
    }
  });
}

}  // namespace lmf::cpu

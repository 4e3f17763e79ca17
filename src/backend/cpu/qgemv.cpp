// lmforge CPU backend: quantized-weight matmul kernels (see qmatmul.h), compiled per
// Highway target and dispatched at run time.

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "hwy/cache_control.h"

#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"
#include "core/dtype.h"
#include "core/quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/qgemv.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

// Value J of each lane's word as a float. On AVX-512, 4-bit values are looked up in the
// 16-entry table {0, ..., 15} (vpermps reads only an index's low 4 bits: one instruction
// instead of a mask and a conversion); 8-bit values are moved to the bottom byte by one
// byte shuffle (instead of a shift and a mask); otherwise shifted, masked, converted.
template <int BITS, int J, class DF, class VI>
HWY_INLINE hn::Vec<DF> Unpack(DF df, VI w, VI mask) {
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
  if constexpr (BITS == 4 && hn::MaxLanes(df) == 16) {
    const auto table = hn::Iota(df, 0.0f);
    return hn::Vec<DF>{_mm512_permutexvar_ps(hn::ShiftRight<J * BITS>(w).raw, table.raw)};
  }
#endif
  if constexpr (BITS == 8 && J > 0) {  // byte J of each lane moved to byte 0, the rest zeroed: one shuffle
    const hn::RebindToSigned<DF> di;
    const auto ctrl = hn::Or(hn::Add(hn::ShiftLeft<2>(hn::And(hn::Iota(di, 0), hn::Set(di, 3))), hn::Set(di, J)),
                             hn::Set(di, static_cast<int32_t>(0x80808000u)));
    return hn::ConvertTo(df, hn::TableLookupBytesOr0(w, ctrl));
  }
  return hn::ConvertTo(df, hn::And(hn::ShiftRight<J * BITS>(w), mask));
}

// out (R, 16) = x (R rows, stride K) · strip, for one strip of 16 columns. xsum (R, K/G):
// the sums of x over each group. Per group: s · sum_k x q - zs · sum_k x. The P values
// of a word are unpacked with immediate shift counts (a count in a register made the
// kernel ~30% slower), one accumulation chain per value for one row. Measured on one
// core, weights in L2 (GPT-2 small shapes): 4 bits ~54 -> ~68-73 Gweights/s with the
// table lookup and 8 chains, 8 bits ~55 -> ~62 with the byte shuffle.
// The strip's word and scale rows are W apart (its width: 16 columns, or one 16-column
// part of a wide strip).
template <int R, int BITS, size_t W>
HWY_INLINE void Strip(const float* HWY_RESTRICT x, size_t K, size_t G, bool prefetch_rows,
                      const int32_t* HWY_RESTRICT q, const float* HWY_RESTRICT s, const float* HWY_RESTRICT zs,
                      const float* HWY_RESTRICT xsum, float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  using V = hn::Vec<decltype(df)>;
  constexpr size_t kS = static_cast<size_t>(kQStrip);
  constexpr int P = 32 / BITS;
  constexpr int A = R == 1 ? (P < 8 ? P : 8) : (R == 2 ? 4 : 2);  // accumulation chains per row
  const size_t L = std::min(hn::Lanes(df), kS);
  const size_t nv = kS / L;  // vectors per strip (1 on AVX-512)
  const size_t groups = K / G, rows_per_group = G / P;
  const auto mask = hn::Set(di, (1 << BITS) - 1);
  for (size_t v = 0; v < nv; ++v) {
    V y[R];
    for (int r = 0; r < R; ++r) y[r] = hn::Zero(df);
    const int32_t* qv = q + v * L;
    for (size_t g = 0; g < groups; ++g) {
      // A independent accumulation chains per row, so that fused multiply-add latency
      // does not serialize the P values of a word.
      V acc[R][A];
      for (int r = 0; r < R; ++r)
        for (int a = 0; a < A; ++a) acc[r][a] = hn::Zero(df);
      for (size_t i = 0; i < rows_per_group; ++i) {
        const size_t kp = g * rows_per_group + i;
        const auto w = hn::LoadU(di, qv + kp * W);
        // The stream 8 KiB ahead (may run into the next strip). The first 16 columns of a wide
        // strip fetch its whole rows, which the other three then find in cache.
        if (prefetch_rows) {
          for (size_t j = 0; j < W / kS; ++j) hwy::Prefetch(qv + (kp + kQPrefetchRows) * W + j * kS);
        }
        const float* xk = x + kp * P;
        // The P values of the word, unrolled with immediate shift counts.
        [&]<int... J>(std::integer_sequence<int, J...>) {
          ([&] {
            const V f = Unpack<BITS, J>(df, w, mask);
            for (int r = 0; r < R; ++r) acc[r][J % A] = hn::MulAdd(hn::Set(df, xk[r * K + J]), f, acc[r][J % A]);
          }(), ...);
        }(std::make_integer_sequence<int, P>{});
      }
      const V sv = hn::LoadU(df, s + g * W + v * L), zv = hn::LoadU(df, zs + g * W + v * L);
      for (int r = 0; r < R; ++r) {
        V sum = acc[r][0];
        for (int a = 1; a < A; ++a) sum = hn::Add(sum, acc[r][a]);
        y[r] = hn::NegMulAdd(zv, hn::Set(df, xsum[r * groups + g]), hn::MulAdd(sv, sum, y[r]));
      }
    }
    for (int r = 0; r < R; ++r) hn::StoreU(y[r], df, out + r * kS + v * L);
  }
}

// Columns [16 b0, 16 b1) of W (blocks of 16: strips, or the 16-column parts of wide ones,
// W = the strip width).
template <int BITS, size_t W>
void StripsT(const float* x, size_t M, size_t K, size_t G, const QWeight& w, const float* xsum, const float* bias,
             float* y, size_t N, size_t b0, size_t b1) {
  constexpr size_t kS = static_cast<size_t>(kQStrip);
  const size_t groups = K / G, qrows = K / static_cast<size_t>(32 / BITS);
  HWY_ALIGN float tmp[4 * kS];
  for (size_t b = b0; b < b1; ++b) {
    const size_t st = b * kS / W, sub = b * kS % W;
    const int32_t* q = w.q + st * qrows * W + sub;
    const float* s = w.s + st * groups * W + sub;
    const float* zs = w.zs + st * groups * W + sub;
    const size_t c0 = b * kS, cols = std::min(kS, N - c0);
    for (size_t m = 0; m < M; m += 4) {
      const size_t R = std::min<size_t>(4, M - m);
      const float* xm = x + m * K;
      const float* xs = xsum + m * groups;
      switch (R) {
        case 1: Strip<1, BITS, W>(xm, K, G, sub == 0, q, s, zs, xs, tmp); break;
        case 2: Strip<2, BITS, W>(xm, K, G, sub == 0, q, s, zs, xs, tmp); break;
        case 3: Strip<3, BITS, W>(xm, K, G, sub == 0, q, s, zs, xs, tmp); break;
        default: Strip<4, BITS, W>(xm, K, G, sub == 0, q, s, zs, xs, tmp); break;
      }
      for (size_t r = 0; r < R; ++r)
        for (size_t c = 0; c < cols; ++c) y[(m + r) * N + c0 + c] = tmp[r * kS + c] + (bias ? bias[c0 + c] : 0.0f);
    }
  }
}

}  // namespace

// xsum (M, K/G) = the sums of each row of x over each group, in vectors (the lanes
// summed at the end, then the tail scalar).
void GroupSums(const float* HWY_RESTRICT x, size_t M, size_t K, size_t G, float* HWY_RESTRICT xsum) {
  const hn::ScalableTag<float> df;
  const size_t L = hn::Lanes(df), groups = K / G;
  for (size_t r = 0; r < M; ++r)
    for (size_t g = 0; g < groups; ++g) {
      const float* p = x + r * K + g * G;
      auto a0 = hn::Zero(df), a1 = hn::Zero(df);
      size_t k = 0;
      for (; k + 2 * L <= G; k += 2 * L) {
        a0 = hn::Add(a0, hn::LoadU(df, p + k));
        a1 = hn::Add(a1, hn::LoadU(df, p + k + L));
      }
      for (; k + L <= G; k += L) a0 = hn::Add(a0, hn::LoadU(df, p + k));
      float acc = hn::GetLane(hn::SumOfLanes(df, hn::Add(a0, a1)));
      for (; k < G; ++k) acc += p[k];
      xsum[r * groups + g] = acc;
    }
}

// 16 columns of a strip as float32: out (K, 16), row stride ldo, = q · s - zs, the
// strip's word and scale rows `W` apart (its width); needs G % (32/BITS) == 0 (a word's
// values share a group).
template <int BITS>
void DequantStripT(const int32_t* HWY_RESTRICT q, const float* HWY_RESTRICT s, const float* HWY_RESTRICT zs,
                   size_t K, size_t G, size_t W, float* HWY_RESTRICT out, size_t ldo) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  constexpr size_t kS = static_cast<size_t>(kQStrip);
  constexpr int P = 32 / BITS;
  const size_t L = std::min(hn::Lanes(df), kS), nv = kS / L;
  const auto mask = hn::Set(di, (1 << BITS) - 1);
  for (size_t kp = 0; kp < K / P; ++kp) {
    const size_t g = kp * P / G;
    for (size_t v = 0; v < nv; ++v) {
      const auto w = hn::LoadU(di, q + kp * W + v * L);
      const auto sv = hn::LoadU(df, s + g * W + v * L), zv = hn::LoadU(df, zs + g * W + v * L);
      float* o = out + kp * P * ldo + v * L;
      [&]<int... J>(std::integer_sequence<int, J...>) {
        (hn::StoreU(hn::MulSub(Unpack<BITS, J>(df, w, mask), sv, zv), df, o + J * ldo), ...);
      }(std::make_integer_sequence<int, P>{});
    }
  }
}

void DequantStrip(const int32_t* q, const float* s, const float* zs, size_t K, size_t G, size_t W, int bits,
                  float* out, size_t ldo) {
  if (bits == 4)
    DequantStripT<4>(q, s, zs, K, G, W, out, ldo);
  else
    DequantStripT<8>(q, s, zs, K, G, W, out, ldo);
}

// 16-column blocks [b0, b1) of W against M (<= kQStripRows) rows of x.
void QStrips(const float* x, size_t M, const QWeight& w, const float* xsum, const float* bias, float* y, size_t b0,
             size_t b1) {
  const auto K = static_cast<size_t>(w.K), G = static_cast<size_t>(w.group), N = static_cast<size_t>(w.N);
  constexpr size_t kS = static_cast<size_t>(kQStrip), kW = static_cast<size_t>(kQStripWide);
  if (w.bits == 4 && w.strip == kQStripWide)
    StripsT<4, kW>(x, M, K, G, w, xsum, bias, y, N, b0, b1);
  else if (w.bits == 4)
    StripsT<4, kS>(x, M, K, G, w, xsum, bias, y, N, b0, b1);
  else
    StripsT<8, kS>(x, M, K, G, w, xsum, bias, y, N, b0, b1);
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(QStrips);
HWY_EXPORT(DequantStrip);
HWY_EXPORT(GroupSums);

namespace {
constexpr int64_t kDequantCols = 256;      // columns dequantized per sgemm in prefill

inline int32_t field(int32_t word, int bits, int64_t slot) {
  return static_cast<int32_t>((static_cast<uint32_t>(word) >> (slot * bits)) & ((1u << bits) - 1u));
}
}  // namespace

void q_tile(const int32_t* qweight, const void* scales, bool scales_f32, const int32_t* qzeros, int64_t K, int64_t N,
            int bits, int64_t group, int32_t* q, float* s, float* zs, int64_t strip) {
  // 3-bit values are stored as 4-bit strips (the kernels unpack 4 or 8 bits).
  const int tb = strip_bits(bits);
  const int64_t P = 32 / tb, qrows = K / P, groups = K / group, zw = quant::packed_cols(N, bits),
                strips = q_strips(N, strip), W = strip;
#pragma omp parallel for schedule(static)
  for (int64_t st = 0; st < strips; ++st) {
    for (int64_t c = 0; c < W; ++c) {
      const int64_t n = st * W + c;
      for (int64_t kp = 0; kp < qrows; ++kp) {
        uint32_t word = 0;
        if (n < N && tb == bits) {
          word = static_cast<uint32_t>(qweight[kp * N + n]);
        } else if (n < N) {
          for (int64_t j = 0; j < P; ++j)
            word |= quant::read_packed(qweight + n, N, kp * P + j, bits) << (j * tb);
        }
        q[(st * qrows + kp) * W + c] = static_cast<int32_t>(word);
      }
      for (int64_t g = 0; g < groups; ++g) {
        const float sc = n >= N       ? 0.0f
                         : scales_f32 ? static_cast<const float*>(scales)[g * N + n]
                                      : f16_to_f32(static_cast<const uint16_t*>(scales)[g * N + n]);
        const auto z = n < N ? static_cast<int32_t>(quant::read_packed(qzeros + g * zw, 1, n, bits)) : 0;
        s[(st * groups + g) * W + c] = sc;
        zs[(st * groups + g) * W + c] = static_cast<float>(z) * sc;
      }
    }
  }
}

// Few rows: the group sums; for the bf16 kernel (one row) then the row's bf16 parts.
inline int64_t bf16_parts_offset(int64_t K, int64_t group) { return (K / group + 15) / 16 * 16; }

int64_t linear_q_scratch(int64_t K, int64_t N, int64_t group, int64_t max_rows, const KernelOptions& ko) {
  const int64_t few = std::max({std::min(max_rows, kQStripRows) * (K / group), bf16_parts_offset(K, group) + K,
                                linear_q_pair_scratch(K, group)});
  // Prefill: a chunk of columns dequantized; on strips kDequantStripCols of them (whole
  // strips) and gemm_strips' (max_rows, chunk) output; else (K, kDequantCols) for sgemm.
  // Room for either, so the size does not depend on the weight's dequant_strips.
  if (max_rows <= kQStripRows) return few;
  return std::max({few, (K + max_rows) * kDequantStripCols, K * std::min(N, kDequantCols) + kQStrip});
}

void q_dequantize_cols(const QWeight& w, int64_t c0, int64_t c1, float* out, int64_t ldo) {
  const int64_t P = 32 / w.bits, qrows = w.K / P, groups = w.K / w.group, W = w.strip;
  for (int64_t c = c0; c < c1; c += kQStrip) {  // 16 columns of a strip at a time
    const int64_t st = c / W, sub = c % W;
    const int32_t* q = w.q + st * qrows * W + sub;
    const float* s = w.s + st * groups * W + sub;
    const float* zs = w.zs + st * groups * W + sub;
    const int64_t base = c - c0, cols = std::min(kQStrip, c1 - c);
    if (cols == kQStrip && w.group % P == 0) {  // vectors of 16 columns
      HWY_DYNAMIC_DISPATCH(DequantStrip)(q, s, zs, static_cast<size_t>(w.K), static_cast<size_t>(w.group),
                                         static_cast<size_t>(W), w.bits, out + base, static_cast<size_t>(ldo));
      continue;
    }
    for (int64_t k = 0; k < w.K; ++k) {
      const int64_t g = k / w.group, kp = k / P, slot = k % P;
      float* o = out + k * ldo + base;
      for (int64_t j = 0; j < cols; ++j)
        o[j] = static_cast<float>(field(q[kp * W + j], w.bits, slot)) * s[g * W + j] - zs[g * W + j];
    }
  }
}

bool linear_q(const float* x, const QWeight& w, const float* bias, float* y, int64_t M, float* scratch,
              const KernelOptions& ko) {
  if (M == 0) return true;
  const int64_t K = w.K, N = w.N;
  const bool wide = w.strip == kQStripWide;
  if (M == 1 && wide && q_bf16_cpu(ko)) {  // the bf16 kernel
    float* xsum = scratch;  // (groups)
    auto* parts = reinterpret_cast<uint32_t*>(scratch + bf16_parts_offset(K, w.group));
    q_bf16_split(x, K, w.group, parts, xsum);
    for_strip_ranges(q_strips(N, kQStripWide),
                     [&](int64_t s0, int64_t s1) { q_bf16_strips(parts, w, xsum, bias, y, s0, s1); });
    return true;
  }
  if (M == 1 && !wide && q_pair_takes(K, w.group, w.bits, ko)) {  // the pair kernel
    linear_q_pair(x, w, bias, y, scratch, ko);
    return true;
  }
  if (M <= kQStripRows) {  // the float kernels, 16 columns at a time
    float* xsum = scratch;  // (M, groups)
    HWY_DYNAMIC_DISPATCH(GroupSums)(x, static_cast<size_t>(M), static_cast<size_t>(K),
                                    static_cast<size_t>(w.group), xsum);
    for_strip_ranges(q_strips(N), [&](int64_t s0, int64_t s1) {
      HWY_DYNAMIC_DISPATCH(QStrips)(x, static_cast<size_t>(M), w, xsum, bias, y, static_cast<size_t>(s0),
                                    static_cast<size_t>(s1));
    });
    return true;
  }
  // Prefill on a plan that holds float weights in 64-column strips (matmul.h): dequantize
  // kDequantStripCols columns at a time straight into strips (the last one's columns past
  // N zero), then gemm_strips (bias fused) into a (M, cols) block copied into y's columns.
  if (w.dequant_strips) {
    float* out = scratch + K * kDequantStripCols;
    for (int64_t c0 = 0; c0 < N; c0 += kDequantStripCols) {
      const int64_t nc = std::min(kDequantStripCols, N - c0), S = strip_count(nc);
#pragma omp parallel for schedule(static)
      for (int64_t st = 0; st < S; ++st) {
        float* o = scratch + st * K * kStripCols;
        const int64_t cols = std::min(kStripCols, nc - st * kStripCols);
        if (cols < kStripCols) std::fill_n(o, K * kStripCols, 0.0f);
        q_dequantize_cols(w, c0 + st * kStripCols, c0 + st * kStripCols + cols, o, kStripCols);
      }
      gemm_strips(x, scratch, bias ? bias + c0 : nullptr, nc == N ? y : out, M, K, nc, false);
      if (nc == N) continue;
#pragma omp parallel for schedule(static)
      for (int64_t m = 0; m < M; ++m) std::copy_n(out + m * nc, nc, y + m * N + c0);
    }
    return true;
  }
  // Elsewhere: dequantize kDequantCols columns at a time, then sgemm into y's columns.
  for (int64_t c0 = 0; c0 < N; c0 += kDequantCols) {
    const int64_t c1 = std::min(N, c0 + kDequantCols), nc = c1 - c0;
    const int64_t b0 = c0 / kQStrip, b1 = q_strips(c1);  // blocks of 16 columns
#pragma omp parallel for schedule(static)
    for (int64_t b = b0; b < b1; ++b)
      q_dequantize_cols(w, b * kQStrip, std::min(c1, (b + 1) * kQStrip), scratch + (b * kQStrip - c0), nc);
    if (!sgemm('N', 'N', M, nc, K, 1.0f, x, K, scratch, nc, 0.0f, y + c0, N)) return false;
  }
  if (bias) add_bias(y, bias, M, N);
  return true;
}

void embedding_q(const QWeight& w, const int32_t* ids, int64_t n, float* out) {
  const int64_t P = 32 / w.bits, qrows = w.K / P, groups = w.K / w.group, W = w.strip;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = ids[i], st = v / W, c = v % W;
    const int32_t* q = w.q + st * qrows * W;
    const float* s = w.s + st * groups * W;
    const float* zs = w.zs + st * groups * W;
    for (int64_t k = 0; k < w.K; ++k) {
      const int64_t g = k / w.group;
      out[i * w.K + k] = static_cast<float>(field(q[(k / P) * W + c], w.bits, k % P)) * s[g * W + c] - zs[g * W + c];
    }
  }
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE

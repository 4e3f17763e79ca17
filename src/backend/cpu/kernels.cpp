// lmforge CPU backend: elementwise and row-wise float32 kernels (norms, activations,
// softmax, RoPE); attention_head and argmax are in kernels_attention.cpp. See kernels.h
// for the contract. The SIMD bodies below are compiled once per Highway target
// (foreach_target.h re-includes this file); the public functions at the bottom split
// large work into fixed blocks over OpenMP threads and call the best target through
// HWY_DYNAMIC_DISPATCH. Tails shorter than one vector go through a padded buffer and the
// same vector code, so an element's result does not depend on where it sits in the
// array; each row is reduced by one thread in a fixed order.

#include "backend/cpu/kernels.h"
#include "backend/cpu/kernels_grad.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first.
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmf::cpu {
namespace HWY_NAMESPACE {
namespace {  // per-target code has internal linkage: no clash with other kernel files
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

#include "backend/cpu/simd-inl.h"

// y[i] = f(a[i], b[i]) for i in [0, n). y may alias a or b.
template <class F>
HWY_INLINE void MapBinary(const float* a, const float* b, float* y, size_t n, const F& f) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, y + i);
  if (i < n) {
    const VF va = LoadPadded(d, a + i, n - i, 0.0f);
    const VF vb = LoadPadded(d, b + i, n - i, 0.0f);
    StorePartial(d, f(d, va, vb), y + i, n - i);
  }
}

// y[i] = f(x[i]) for i in [0, n). y may alias x.
template <class F>
HWY_INLINE void MapUnary(const float* x, float* y, size_t n, const F& f) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) StorePartial(d, f(d, LoadPadded(d, x + i, n - i, 0.0f)), y + i, n - i);
}

// ---- elementwise ---------------------------------------------------------------------

void AddRange(const float* a, const float* b, float* y, size_t n) {
  MapBinary(a, b, y, n, [](DF, VF va, VF vb) HWY_ATTR { return hn::Add(va, vb); });
}

// gelu_new (GeluTanhVec, simd-inl.h).
void GeluRange(const float* x, float* y, size_t n) {
  MapUnary(x, y, n, [](DF d, VF v) HWY_ATTR { return GeluTanhVec(d, v); });
}

// silu(g) * u = g sigmoid(g) u.
void SiluMulRange(const float* gate, const float* up, float* y, size_t n) {
  MapBinary(gate, up, y, n, [](DF d, VF g, VF u) HWY_ATTR { return hn::Mul(TimesSigmoid(d, g, g), u); });
}

// ---- row-wise ------------------------------------------------------------------------

// Rows [r0, r1) of y (rows, cols) += bias (cols).
void AddBiasRows(float* y, const float* bias, size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; ++r) AddRange(y + r * cols, bias, y + r * cols, cols);
}

void LayerNormRows(const float* x, const float* g, const float* b, float* y, size_t r0,
                   size_t r1, size_t cols, float eps) {
  const DF d;
  const size_t N = hn::Lanes(d);
  for (size_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    // Mean, then one correction pass (exact-ish for rows with a large common offset).
    const float mean0 = SumDiff(xr, cols, 0.0f) / static_cast<float>(cols);
    const float mean = mean0 + SumDiff(xr, cols, mean0) / static_cast<float>(cols);
    const float var = SumSquaredDiff(xr, cols, mean) / static_cast<float>(cols);
    const VF vmean = hn::Set(d, mean);
    const VF vrstd = hn::Set(d, 1.0f / std::sqrt(var + eps));
    size_t i = 0;
    for (; i + N <= cols; i += N) {
      const VF xhat = hn::Mul(hn::Sub(hn::LoadU(d, xr + i), vmean), vrstd);
      hn::StoreU(hn::MulAdd(xhat, hn::LoadU(d, g + i), hn::LoadU(d, b + i)), d, yr + i);
    }
    if (i < cols) {
      const size_t m = cols - i;
      const VF xhat = hn::Mul(hn::Sub(LoadPadded(d, xr + i, m, 0.0f), vmean), vrstd);
      const VF out = hn::MulAdd(xhat, LoadPadded(d, g + i, m, 0.0f), LoadPadded(d, b + i, m, 0.0f));
      StorePartial(d, out, yr + i, m);
    }
  }
}

void RmsNormRows(const float* x, const float* g, float* y, size_t r0, size_t r1, size_t cols,
                 float eps) {
  const DF d;
  const size_t N = hn::Lanes(d);
  for (size_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const float ms = SumSquaredDiff(xr, cols, 0.0f) / static_cast<float>(cols);
    const VF vrstd = hn::Set(d, 1.0f / std::sqrt(ms + eps));
    size_t i = 0;
    for (; i + N <= cols; i += N) {
      const VF v = hn::Mul(hn::LoadU(d, xr + i), vrstd);
      hn::StoreU(hn::Mul(v, hn::LoadU(d, g + i)), d, yr + i);
    }
    if (i < cols) {
      const size_t m = cols - i;
      const VF v = hn::Mul(LoadPadded(d, xr + i, m, 0.0f), vrstd);
      StorePartial(d, hn::Mul(v, LoadPadded(d, g + i, m, 0.0f)), yr + i, m);
    }
  }
}

// x[0, n) = exp(x - m); returns their sum (4 accumulators, fixed order).
HWY_INLINE float ExpShiftSum4(float* x, size_t n, float m) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const VF vm = hn::Set(d, m);
  VF s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VF e0 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i), vm));
    const VF e1 = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i + N), vm));
    hn::StoreU(e0, d, x + i);
    hn::StoreU(e1, d, x + i + N);
    s0 = hn::Add(s0, e0);
    s1 = hn::Add(s1, e1);
  }
  for (; i + N <= n; i += N) {
    const VF e = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i), vm));
    hn::StoreU(e, d, x + i);
    s2 = hn::Add(s2, e);
  }
  if (i < n) {
    // Padded lanes hold -inf: exp(-inf) = 0 adds nothing.
    const VF e = ExpNonPositive(d, hn::Sub(LoadPadded(d, x + i, n - i, -HUGE_VALF), vm));
    StorePartial(d, e, x + i, n - i);
    s3 = hn::Add(s3, e);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
}

HWY_INLINE float MaxOf(const float* x, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF m0 = hn::Set(d, -HUGE_VALF), m1 = m0;
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    m0 = hn::Max(m0, hn::LoadU(d, x + i));
    m1 = hn::Max(m1, hn::LoadU(d, x + i + N));
  }
  for (; i + N <= n; i += N) m0 = hn::Max(m0, hn::LoadU(d, x + i));
  if (i < n) m1 = hn::Max(m1, LoadPadded(d, x + i, n - i, -HUGE_VALF));
  return hn::GetLane(hn::MaxOfLanes(d, hn::Max(m0, m1)));
}

HWY_INLINE void ScaleRange(float* x, size_t n, float s) {
  const DF d;
  const VF vs = hn::Set(d, s);
  MapUnary(x, x, n, [vs](DF, VF v) HWY_ATTR { return hn::Mul(v, vs); });
}

void SoftmaxRows(float* x, size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; ++r) {
    float* xr = x + r * cols;
    const float m = MaxOf(xr, cols);
    const float sum = ExpShiftSum4(xr, cols, m);
    ScaleRange(xr, cols, 1.0f / sum);
  }
}

// ---- RoPE ----------------------------------------------------------------------------

// cos and sin (in double, rounded to float) of the angles of pairs [i0, i0 + m) at position
// pos: pos * inv_freq[i0 + i], each times `scale`, the sin negated for the inverse rotation.
// One definition for rope(), its backward and rope_table(), so they agree to the bit.
inline void RopeAngles(int32_t pos, const double* inv_freq, double scale, size_t i0, size_t m, bool inverse, float* cs,
                       float* sn) {
  const double sign = inverse ? -scale : scale;
  for (size_t i = 0; i < m; ++i) {
    const double angle = static_cast<double>(pos) * inv_freq[i0 + i];
    cs[i] = static_cast<float>(scale * std::cos(angle));
    sn[i] = static_cast<float>(sign * std::sin(angle));
  }
}

// a, b: the two halves (m floats each) of one head; rotates pair i by (cs[i], sn[i]) into
// oa, ob (which may be a, b).
HWY_INLINE void RotateHalvesTo(const float* a, const float* b, const float* cs, const float* sn, size_t m, float* oa,
                               float* ob) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const auto rotate = [&](VF x1, VF x2, VF c, VF s, VF& o1, VF& o2) HWY_ATTR {
    o1 = hn::NegMulAdd(x2, s, hn::Mul(x1, c));  // x1 cos - x2 sin
    o2 = hn::MulAdd(x1, s, hn::Mul(x2, c));     // x2 cos + x1 sin
  };
  VF o1, o2;
  size_t i = 0;
  for (; i + N <= m; i += N) {
    rotate(hn::LoadU(d, a + i), hn::LoadU(d, b + i), hn::LoadU(d, cs + i), hn::LoadU(d, sn + i),
           o1, o2);
    hn::StoreU(o1, d, oa + i);
    hn::StoreU(o2, d, ob + i);
  }
  if (i < m) {
    const size_t r = m - i;
    rotate(LoadPadded(d, a + i, r, 0.0f), LoadPadded(d, b + i, r, 0.0f),
           LoadPadded(d, cs + i, r, 0.0f), LoadPadded(d, sn + i, r, 0.0f), o1, o2);
    StorePartial(d, o1, oa + i, r);
    StorePartial(d, o2, ob + i, r);
  }
}

HWY_INLINE void RotateHalves(float* a, float* b, const float* cs, const float* sn, size_t m) {
  RotateHalvesTo(a, b, cs, sn, m, a, b);
}

// Tokens [t0, t1) of rope(); cos/sin are computed once per (token, pair) (RopeAngles) and
// shared by all heads. Pairs go in chunks so the tables live on the stack.
void RopeTokens(float* x, size_t t0, size_t t1, size_t tok_stride, size_t nheads, size_t D,
                const int32_t* positions, const double* inv_freq, double scale, bool inverse) {
  constexpr size_t kChunk = 128;  // a multiple of every vector length
  HWY_ALIGN float cs[kChunk];
  HWY_ALIGN float sn[kChunk];
  const size_t half = D / 2;
  for (size_t i0 = 0; i0 < half; i0 += kChunk) {
    const size_t m = std::min(kChunk, half - i0);
    for (size_t t = t0; t < t1; ++t) {
      RopeAngles(positions[t], inv_freq, scale, i0, m, inverse, cs, sn);
      float* xt = x + t * tok_stride;
      for (size_t h = 0; h < nheads; ++h) {
        RotateHalves(xt + h * D + i0, xt + h * D + half + i0, cs, sn, m);
      }
    }
  }
}

// Tokens [t0, t1) of rope_with_table(): token t's cos and sin are row t of the table.
void RopeTokensTable(const float* x, float* y, size_t t0, size_t t1, size_t tok_stride, size_t nheads, size_t D,
                     const float* table) {
  const size_t half = D / 2;
  for (size_t t = t0; t < t1; ++t) {
    const float* xt = x + t * tok_stride;
    float* yt = y + t * tok_stride;
    const float* row = table + t * D;
    for (size_t h = 0; h < nheads; ++h)
      RotateHalvesTo(xt + h * D, xt + h * D + half, row, row + half, half, yt + h * D, yt + h * D + half);
  }
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(AddRange);
HWY_EXPORT(GeluRange);
HWY_EXPORT(SiluMulRange);
HWY_EXPORT(AddBiasRows);
HWY_EXPORT(LayerNormRows);
HWY_EXPORT(RmsNormRows);
HWY_EXPORT(SoftmaxRows);
HWY_EXPORT(RopeTokens);
HWY_EXPORT(RopeTokensTable);

namespace {

// Work (in floats) from which a kernel splits over threads, and the size of one block.
// Blocks depend only on the shape, never on the thread count.
constexpr int64_t kParallelMinWork = int64_t{1} << 16;
constexpr int64_t kBlockWork = int64_t{1} << 14;  // a multiple of every vector length

// Calls f(r0, r1) for row blocks covering [0, rows), in parallel when the work is large.
// Each row is handled by exactly one call, and rows are independent, so the split does
// not change results. Small work skips the OpenMP region (it costs ~0.1-0.3 us a call).
template <class F>
void for_row_blocks(int64_t rows, int64_t cols, const F& f) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t rows_per_block = std::max<int64_t>(1, kBlockWork / cols);
  const int64_t nblocks = (rows + rows_per_block - 1) / rows_per_block;
  if (rows * cols < kParallelMinWork || nblocks == 1) {  // decode-sized: no OpenMP region
    f(0, static_cast<size_t>(rows));
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t r0 = blk * rows_per_block;
    f(static_cast<size_t>(r0), static_cast<size_t>(std::min(rows, r0 + rows_per_block)));
  }
}

// Calls f(offset, count) for blocks covering [0, n), in parallel when n is large.
// Block boundaries fall on multiples of every vector length, and tails take the same
// vector code, so every element's result is independent of the split.
template <class F>
void for_elem_blocks(int64_t n, const F& f) {
  if (n <= 0) return;
  if (n < kParallelMinWork) {  // decode-sized: no OpenMP region
    f(0, static_cast<size_t>(n));
    return;
  }
  const int64_t nblocks = (n + kBlockWork - 1) / kBlockWork;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t i0 = blk * kBlockWork;
    f(static_cast<size_t>(i0), static_cast<size_t>(std::min(n, i0 + kBlockWork) - i0));
  }
}

}  // namespace

void layer_norm(const float* x, const float* g, const float* b, float* y, int64_t rows,
                int64_t cols, float eps) {
  for_row_blocks(rows, cols, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(LayerNormRows)(x, g, b, y, r0, r1, static_cast<size_t>(cols), eps);
  });
}

void rms_norm(const float* x, const float* g, float* y, int64_t rows, int64_t cols, float eps) {
  for_row_blocks(rows, cols, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(RmsNormRows)(x, g, y, r0, r1, static_cast<size_t>(cols), eps);
  });
}

void gelu_tanh(const float* x, float* y, int64_t n) {
  for_elem_blocks(n, [&](size_t i, size_t count) {
    HWY_DYNAMIC_DISPATCH(GeluRange)(x + i, y + i, count);
  });
}

void silu_mul(const float* gate, const float* up, float* y, int64_t n) {
  for_elem_blocks(n, [&](size_t i, size_t count) {
    HWY_DYNAMIC_DISPATCH(SiluMulRange)(gate + i, up + i, y + i, count);
  });
}

void add(const float* a, const float* b, float* y, int64_t n) {
  for_elem_blocks(n, [&](size_t i, size_t count) {
    HWY_DYNAMIC_DISPATCH(AddRange)(a + i, b + i, y + i, count);
  });
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  for_row_blocks(rows, cols, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(AddBiasRows)(y, bias, r0, r1, static_cast<size_t>(cols));
  });
}

void softmax(float* x, int64_t rows, int64_t cols) {
  for_row_blocks(rows, cols, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(SoftmaxRows)(x, r0, r1, static_cast<size_t>(cols));
  });
}

std::vector<double> rope_inv_freq(float theta, int64_t D) {
  std::vector<double> f(static_cast<size_t>(std::max<int64_t>(D / 2, 0)));
  for (size_t i = 0; i < f.size(); ++i)
    f[i] = std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(D));
  return f;
}

namespace {
void rope_rows(float* x, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D, const int32_t* positions,
               const RopeFreqs& fr, bool inverse) {
  if (D < 2 || nheads <= 0) return;
  for_row_blocks(T, nheads * D, [&](size_t t0, size_t t1) {
    HWY_DYNAMIC_DISPATCH(RopeTokens)(x, t0, t1, static_cast<size_t>(tok_stride),
                                     static_cast<size_t>(nheads), static_cast<size_t>(D),
                                     positions, fr.inv_freq, fr.scale, inverse);
  });
}
}  // namespace

void rope(float* x, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D, const int32_t* positions,
          const RopeFreqs& fr) {
  rope_rows(x, T, tok_stride, nheads, D, positions, fr, false);
}

void rope(float* x, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D,
          const int32_t* positions, float theta) {
  const std::vector<double> f = rope_inv_freq(theta, D);
  rope(x, T, tok_stride, nheads, D, positions, RopeFreqs{f.data(), 1.0});
}

void rope_table(const int32_t* positions, int64_t T, int64_t D, const RopeFreqs& fr, float* table) {
  if (D < 2) return;
  const size_t half = static_cast<size_t>(D / 2);
  for_row_blocks(T, D, [&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      float* row = table + t * static_cast<size_t>(D);
      HWY_STATIC_DISPATCH(RopeAngles)(positions[t], fr.inv_freq, fr.scale, 0, half, false, row, row + half);
    }
  });
}

void rope_table(const int32_t* positions, int64_t T, int64_t D, float theta, float* table) {
  const std::vector<double> f = rope_inv_freq(theta, D);
  rope_table(positions, T, D, RopeFreqs{f.data(), 1.0}, table);
}

void rope_with_table(const float* x, float* y, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D,
                     const float* table) {
  if (D < 2 || nheads <= 0) return;
  for_row_blocks(T, nheads * D, [&](size_t t0, size_t t1) {
    HWY_DYNAMIC_DISPATCH(RopeTokensTable)(x, y, t0, t1, static_cast<size_t>(tok_stride), static_cast<size_t>(nheads),
                                          static_cast<size_t>(D), table);
  });
}

// The backward of rope (kernels_grad.h): the same rotation by the negated angle.
void rope_backward(float* dx, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D, const int32_t* positions,
                   const RopeFreqs& fr) {
  rope_rows(dx, T, tok_stride, nheads, D, positions, fr, true);
}

void rope_backward(float* dx, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D, const int32_t* positions,
                   float theta) {
  const std::vector<double> f = rope_inv_freq(theta, D);
  rope_backward(dx, T, tok_stride, nheads, D, positions, RopeFreqs{f.data(), 1.0});
}

int64_t kernel_simd_targets() { return HWY_TARGETS; }

}  // namespace lmf::cpu
#endif  // HWY_ONCE

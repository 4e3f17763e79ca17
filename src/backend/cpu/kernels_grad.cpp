// lmforge CPU backend: backward kernels of the norms, activations and the embedding
// lookup (kernels_grad.h). Attention is in kernels_grad_attention.cpp, the losses in
// losses.cpp, sum_squares and AdamW in kernels_grad_optim.cpp, and rope_backward in
// kernels.cpp (rope's own code with the angle negated).
//
// Compiled once per Highway target (foreach_target.h re-includes this file) and
// dispatched at run time, like kernels.cpp. Determinism: a row's dx is computed by one
// thread; the parameter gradients (dg, db) are column sums over rows, computed per
// column block by one thread that adds the rows in order, in chunks of kRowChunk rows
// whose statistics (mean, rstd, the two row means of the backward) sit in a stack
// buffer. Tails shorter than a vector take the same vector code through a padded
// buffer, so a column's result does not depend on where it sits.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels_grad.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/kernels_grad.cpp"
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
using MF = hn::Mask<DF>;

#include "backend/cpu/simd-inl.h"

HWY_INLINE float Total(DF d, VF a, VF b) { return hn::GetLane(hn::SumOfLanes(d, hn::Add(a, b))); }

// ---- norms ---------------------------------------------------------------------------
// Per-row statistics, 4 floats a row: layer_norm {mean, rstd, mean(dy g), mean(dy g xhat)},
// rms_norm {rstd, rstd^2 mean(dy g x), -, -}.

void LayerNormStats(const float* x, const float* g, const float* dy, float* stats, size_t r0,
                    size_t r1, size_t cols, float eps) {
  for (size_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    const float fc = static_cast<float>(cols);
    const float mean0 = SumDiff(xr, cols, 0.0f) / fc;  // as layer_norm computes them
    const float mean = mean0 + SumDiff(xr, cols, mean0) / fc;
    const float var = SumSquaredDiff(xr, cols, mean) / fc;
    const float rstd = 1.0f / std::sqrt(var + eps);
    const DF d;
    const VF vmean = hn::Set(d, mean), vrstd = hn::Set(d, rstd);
    VF a0 = hn::Zero(d), a1 = a0, b0 = a0, b1 = a0;
    bool odd = false;
    ForVectors(cols, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
      const VF dyg = hn::Mul(Ld(d, dyr + i, m), Ld(d, g + i, m));
      const VF xhat = hn::Mul(hn::Sub(Ld(d, xr + i, m), vmean), vrstd);
      if (odd) {
        a1 = hn::Add(a1, dyg);
        b1 = hn::MulAdd(dyg, xhat, b1);
      } else {
        a0 = hn::Add(a0, dyg);
        b0 = hn::MulAdd(dyg, xhat, b0);
      }
      odd = !odd;
    });
    float* s = stats + 4 * (r - r0);
    s[0] = mean;
    s[1] = rstd;
    s[2] = Total(d, a0, a1) / fc;
    s[3] = Total(d, b0, b1) / fc;
  }
}

// dx = rstd (dy g - mean(dy g) - xhat mean(dy g xhat)) for rows [r0, r1).
void LayerNormDx(const float* x, const float* g, const float* dy, float* dx, const float* stats,
                 size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; ++r) {
    const float* s = stats + 4 * (r - r0);
    const DF d0;
    const VF vmean = hn::Set(d0, s[0]), vrstd = hn::Set(d0, s[1]);
    const VF c1 = hn::Set(d0, s[2]), c2 = hn::Set(d0, s[3]);
    const size_t o = r * cols;
    ForVectors(cols, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
      const VF xhat = hn::Mul(hn::Sub(Ld(d, x + o + i, m), vmean), vrstd);
      const VF t = hn::Sub(hn::Mul(Ld(d, dy + o + i, m), Ld(d, g + i, m)), c1);
      St(d, hn::Mul(hn::NegMulAdd(xhat, c2, t), vrstd), dx + o + i, m);
    });
  }
}

// Columns [c0, c1) of dg (+)= sum_r dy xhat and db (+)= sum_r dy over rows [r0, r1) in
// order (written, not added to, when first). Either may be null.
void LayerNormParamGrads(const float* x, const float* dy, const float* stats, float* dg,
                         float* db, size_t r0, size_t r1, size_t cols, size_t c0, size_t c1,
                         bool first) {
  ForVectors(c1 - c0, [&](DF d, size_t j, size_t m, MF) HWY_ATTR {
    const size_t c = c0 + j;
    VF ag = first || !dg ? hn::Zero(d) : Ld(d, dg + c, m);
    VF ab = first || !db ? hn::Zero(d) : Ld(d, db + c, m);
    for (size_t r = r0; r < r1; ++r) {
      const float* s = stats + 4 * (r - r0);
      const VF vdy = Ld(d, dy + r * cols + c, m);
      const VF xhat = hn::Mul(hn::Sub(Ld(d, x + r * cols + c, m), hn::Set(d, s[0])), hn::Set(d, s[1]));
      ag = hn::MulAdd(vdy, xhat, ag);
      ab = hn::Add(ab, vdy);
    }
    if (dg) St(d, ag, dg + c, m);
    if (db) St(d, ab, db + c, m);
  });
}

void RmsNormStats(const float* x, const float* g, const float* dy, float* stats, size_t r0,
                  size_t r1, size_t cols, float eps) {
  for (size_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    const float* dyr = dy + r * cols;
    const float fc = static_cast<float>(cols);
    const float rstd = 1.0f / std::sqrt(SumSquaredDiff(xr, cols, 0.0f) / fc + eps);
    const DF d;
    VF a0 = hn::Zero(d), a1 = a0;
    bool odd = false;
    ForVectors(cols, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
      const VF dyg = hn::Mul(Ld(d, dyr + i, m), Ld(d, g + i, m));
      if (odd) {
        a1 = hn::MulAdd(dyg, Ld(d, xr + i, m), a1);
      } else {
        a0 = hn::MulAdd(dyg, Ld(d, xr + i, m), a0);
      }
      odd = !odd;
    });
    float* s = stats + 4 * (r - r0);
    s[0] = rstd;
    s[1] = rstd * rstd * (Total(d, a0, a1) / fc);
  }
}

// dx = rstd (dy g - x rstd^2 mean(dy g x)) for rows [r0, r1).
void RmsNormDx(const float* x, const float* g, const float* dy, float* dx, const float* stats,
               size_t r0, size_t r1, size_t cols) {
  for (size_t r = r0; r < r1; ++r) {
    const float* s = stats + 4 * (r - r0);
    const DF d0;
    const VF vrstd = hn::Set(d0, s[0]), c = hn::Set(d0, s[1]);
    const size_t o = r * cols;
    ForVectors(cols, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
      const VF t = hn::Mul(Ld(d, dy + o + i, m), Ld(d, g + i, m));
      St(d, hn::Mul(hn::NegMulAdd(Ld(d, x + o + i, m), c, t), vrstd), dx + o + i, m);
    });
  }
}

// Columns [c0, c1) of dg (+)= sum_r dy (x rstd), rows [r0, r1) in order.
void RmsNormParamGrads(const float* x, const float* dy, const float* stats, float* dg, size_t r0,
                       size_t r1, size_t cols, size_t c0, size_t c1, bool first) {
  ForVectors(c1 - c0, [&](DF d, size_t j, size_t m, MF) HWY_ATTR {
    const size_t c = c0 + j;
    VF ag = first ? hn::Zero(d) : Ld(d, dg + c, m);
    for (size_t r = r0; r < r1; ++r) {
      const VF xn = hn::Mul(Ld(d, x + r * cols + c, m), hn::Set(d, stats[4 * (r - r0)]));
      ag = hn::MulAdd(Ld(d, dy + r * cols + c, m), xn, ag);
    }
    St(d, ag, dg + c, m);
  });
}

// ---- activations ---------------------------------------------------------------------

// gelu_tanh(x) = x s, s = 1 / (1 + e), e = exp(-2u), u = sqrt(2/pi) (x + 0.044715 x^3):
// d/dx = s + x s (1 - s) 2u' = s (1 + x (e s) (c1 + 3 c3 x^2)), with 1 - s = e s. Where
// -2u > 80 (x < -10.4) the derivative is below 1e-32 and taken as 0 (the forward gives
// -0 or a denormal there); where e = 0 (large x) the second term is 0 (not 0 * inf).
void GeluBackwardRange(const float* x, const float* dy, float* dx, size_t n) {
  ForVectors(n, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
    const VF v = Ld(d, x + i, m);
    const VF c1 = hn::Set(d, 1.5957691216057308f);   // 2 sqrt(2/pi)
    const VF c3 = hn::Set(d, 0.07135481627260025f);  // 2 sqrt(2/pi) 0.044715
    const VF cap = hn::Set(d, 80.0f);
    const VF v2 = hn::Mul(v, v);
    const VF z = hn::Mul(hn::Neg(v), hn::MulAdd(c3, v2, c1));  // -2u
    const VF e = hn::Exp(d, hn::Min(z, cap));
    const VF s = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
    const VF es = hn::Mul(e, s);                                       // 1 - s
    const VF du = hn::MulAdd(hn::Mul(hn::Set(d, 3.0f), c3), v2, c1);  // 2u'
    const VF t = hn::IfThenElseZero(hn::Gt(es, hn::Zero(d)), hn::Mul(hn::Mul(v, es), du));
    const VF grad = hn::IfThenZeroElse(hn::Gt(z, cap), hn::MulAdd(s, t, s));
    St(d, hn::Mul(Ld(d, dy + i, m), grad), dx + i, m);
  });
}

// silu(g) = g s, s = 1 / (1 + e), e = exp(-g); silu'(g) = s (1 + g (e s)). Where -g > 80
// both silu and silu' are below 1e-32 and taken as 0.
void SiluMulBackwardRange(const float* gate, const float* up, const float* dy, float* dgate,
                          float* dup, size_t n) {
  ForVectors(n, [&](DF d, size_t i, size_t m, MF) HWY_ATTR {
    const VF g = Ld(d, gate + i, m);
    const VF u = Ld(d, up + i, m);
    const VF vdy = Ld(d, dy + i, m);
    const VF cap = hn::Set(d, 80.0f);
    const auto tiny = hn::Gt(hn::Neg(g), cap);
    const VF e = hn::Exp(d, hn::Min(hn::Neg(g), cap));
    const VF s = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
    const VF es = hn::Mul(e, s);  // 1 - s
    const VF t = hn::IfThenElseZero(hn::Gt(es, hn::Zero(d)), hn::Mul(g, es));
    const VF dsilu = hn::IfThenZeroElse(tiny, hn::MulAdd(s, t, s));
    const VF ddup = hn::IfThenZeroElse(tiny, hn::Mul(vdy, hn::Mul(g, s)));
    St(d, hn::Mul(hn::Mul(vdy, u), dsilu), dgate + i, m);
    St(d, ddup, dup + i, m);
  });
}

// ---- embedding -----------------------------------------------------------------------

// Rows [v0, v1) of dtable (V, C): zeroed, then dy[i] added for each token i with an id in
// the range, tokens in order.
void EmbeddingBackwardRows(const int32_t* ids, const float* dy, float* dtable, size_t n,
                           size_t v0, size_t v1, size_t C) {
  std::memset(dtable + v0 * C, 0, (v1 - v0) * C * sizeof(float));
  for (size_t i = 0; i < n; ++i) {
    const size_t id = static_cast<size_t>(ids[i]);
    if (id < v0 || id >= v1) continue;
    float* row = dtable + id * C;
    const float* src = dy + i * C;
    ForVectors(C, [&](DF d, size_t j, size_t m, MF) HWY_ATTR {
      St(d, hn::Add(Ld(d, row + j, m), Ld(d, src + j, m)), row + j, m);
    });
  }
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(LayerNormStats);
HWY_EXPORT(LayerNormDx);
HWY_EXPORT(LayerNormParamGrads);
HWY_EXPORT(RmsNormStats);
HWY_EXPORT(RmsNormDx);
HWY_EXPORT(RmsNormParamGrads);
HWY_EXPORT(GeluBackwardRange);
HWY_EXPORT(SiluMulBackwardRange);
HWY_EXPORT(EmbeddingBackwardRows);

namespace {

// Work (floats) from which a kernel goes parallel; blocks depend only on the shape.
constexpr int64_t kParallelMinWork = int64_t{1} << 16;
constexpr int64_t kBlockWork = int64_t{1} << 14;  // a multiple of every vector length
constexpr int64_t kRowChunk = 256;                // rows whose statistics sit on the stack
constexpr int64_t kColBlock = 64;                 // columns of dg/db one task sums

// Calls f(r0, r1) for fixed row blocks covering [0, rows); each row goes to one call.
template <class F>
void for_row_blocks(int64_t rows, int64_t cols, const F& f) {
  if (rows <= 0 || cols <= 0) return;
  const int64_t per = std::max<int64_t>(1, kBlockWork / cols);
  const int64_t nblocks = (rows + per - 1) / per;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinWork && nblocks > 1)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t r0 = blk * per;
    f(static_cast<size_t>(r0), static_cast<size_t>(std::min(rows, r0 + per)));
  }
}

// Calls f(offset, count) for fixed blocks covering [0, n) (boundaries on multiples of
// every vector length, so an element's result does not depend on the split).
template <class F>
void for_elem_blocks(int64_t n, const F& f) {
  if (n <= 0) return;
  const int64_t nblocks = (n + kBlockWork - 1) / kBlockWork;
#pragma omp parallel for schedule(static) if (n >= kParallelMinWork)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t i0 = blk * kBlockWork;
    f(static_cast<size_t>(i0), static_cast<size_t>(std::min(n, i0 + kBlockWork) - i0));
  }
}

// The three phases of a norm backward, per chunk of kRowChunk rows: stats(r0, r1, buf)
// per row block in parallel, then params(r0, r1, buf, c0, c1, first) per column block in
// parallel (each column summed over the chunk's rows in order), then dx(r0, r1, buf) per
// row block (after params, since dx may overwrite dy). One parallel region; the phases
// are worksharing loops separated by their barriers.
template <class Stats, class Params, class Dx>
void norm_backward(int64_t rows, int64_t cols, bool want_params, const Stats& stats,
                   const Params& params, const Dx& dx) {
  if (rows <= 0 || cols <= 0) return;
  float buf[4 * kRowChunk];
  const int64_t per = std::max<int64_t>(1, std::min(kRowChunk, kBlockWork / cols));
  const int64_t ncol_blocks = (cols + kColBlock - 1) / kColBlock;
#pragma omp parallel if (rows * cols >= kParallelMinWork)
  for (int64_t c0 = 0; c0 < rows; c0 += kRowChunk) {
    const int64_t c1 = std::min(rows, c0 + kRowChunk);
    const int64_t nblocks = (c1 - c0 + per - 1) / per;
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const int64_t r0 = c0 + blk * per, r1 = std::min(c1, r0 + per);
      stats(r0, r1, buf + 4 * (r0 - c0));
    }
    if (want_params) {
#pragma omp for schedule(static)
      for (int64_t cb = 0; cb < ncol_blocks; ++cb) {
        params(c0, c1, buf, cb * kColBlock, std::min(cols, (cb + 1) * kColBlock), c0 == 0);
      }
    }
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const int64_t r0 = c0 + blk * per, r1 = std::min(c1, r0 + per);
      dx(r0, r1, buf + 4 * (r0 - c0));
    }
  }
}

}  // namespace

void layer_norm_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, float* db,
                         int64_t rows, int64_t cols, float eps) {
  const size_t C = static_cast<size_t>(cols);
  norm_backward(
      rows, cols, dg != nullptr || db != nullptr,
      [&](int64_t r0, int64_t r1, float* s) {
        HWY_DYNAMIC_DISPATCH(LayerNormStats)(x, g, dy, s, r0, r1, C, eps);
      },
      [&](int64_t r0, int64_t r1, const float* s, int64_t j0, int64_t j1, bool first) {
        HWY_DYNAMIC_DISPATCH(LayerNormParamGrads)(x, dy, s, dg, db, r0, r1, C, j0, j1, first);
      },
      [&](int64_t r0, int64_t r1, const float* s) {
        HWY_DYNAMIC_DISPATCH(LayerNormDx)(x, g, dy, dx, s, r0, r1, C);
      });
}

void rms_norm_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t rows,
                       int64_t cols, float eps) {
  const size_t C = static_cast<size_t>(cols);
  norm_backward(
      rows, cols, dg != nullptr,
      [&](int64_t r0, int64_t r1, float* s) {
        HWY_DYNAMIC_DISPATCH(RmsNormStats)(x, g, dy, s, r0, r1, C, eps);
      },
      [&](int64_t r0, int64_t r1, const float* s, int64_t j0, int64_t j1, bool first) {
        HWY_DYNAMIC_DISPATCH(RmsNormParamGrads)(x, dy, s, dg, r0, r1, C, j0, j1, first);
      },
      [&](int64_t r0, int64_t r1, const float* s) {
        HWY_DYNAMIC_DISPATCH(RmsNormDx)(x, g, dy, dx, s, r0, r1, C);
      });
}

void gelu_tanh_backward(const float* x, const float* dy, float* dx, int64_t n) {
  for_elem_blocks(n, [&](size_t i, size_t count) {
    HWY_DYNAMIC_DISPATCH(GeluBackwardRange)(x + i, dy + i, dx + i, count);
  });
}

void silu_mul_backward(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t n) {
  for_elem_blocks(n, [&](size_t i, size_t count) {
    HWY_DYNAMIC_DISPATCH(SiluMulBackwardRange)(gate + i, up + i, dy + i, dgate + i, dup + i, count);
  });
}

void embedding_backward(const int32_t* ids, const float* dy, float* dtable, int64_t n, int64_t V, int64_t C) {
  if (V <= 0 || C <= 0) return;
  // Vocabulary ranges of about kBlockWork floats (at least 64 rows, so the id scans stay
  // cheap); each range is zeroed and filled by one thread, tokens in order.
  const int64_t per = std::max<int64_t>({64, kBlockWork / C, (V + 255) / 256});
  const int64_t nblocks = (V + per - 1) / per;
#pragma omp parallel for schedule(static) if (V * C >= kParallelMinWork && nblocks > 1)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t v0 = blk * per;
    HWY_DYNAMIC_DISPATCH(EmbeddingBackwardRows)(ids, dy, dtable, static_cast<size_t>(std::max<int64_t>(n, 0)),
                                                v0, std::min(V, v0 + per), static_cast<size_t>(C));
  }
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE

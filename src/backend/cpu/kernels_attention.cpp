// lmforge CPU backend: the single-threaded kernels, fused causal attention for one
// (sequence, query head), exp_nonpositive and argmax. See kernels.h for the contract.
// Compiled once per Highway target (foreach_target.h re-includes this file) and
// dispatched at run time.
//
// attention_head, per query row t: scores s = scale * q_t . k_s into scratch (dot
// products vectorized over D), exp(s - max) and their sum, then out_t = sum_s p_s v_s /
// sum, accumulated over the v rows with 4 vectors of D in registers (2 interleaved
// accumulator sets to hide FMA latency). Decode (T = 1) is one pass over K and one
// over V.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "backend/cpu/kernels.h"
#include "hwy/cache_control.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/kernels_attention.cpp"
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


// out[j0, j0 + 4N) = scale * sum_s w[s] v[s, j0 + .]: 4 vectors of D kept in registers,
// even and odd rows in separate accumulators. (No arrays of vectors: SVE/RVV vectors are
// sizeless.)
HWY_INLINE void WeightedRows4(const float* w, size_t ws, const float* v, size_t n, size_t D, size_t j0,
                              float scale, float* out) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF a0 = hn::Zero(d), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const float* vs = v + j0;
  size_t s = 0;
  for (; s + 2 <= n; s += 2, vs += 2 * D) {
    const VF w0 = hn::Set(d, w[s * ws]);
    const VF w1 = hn::Set(d, w[(s + 1) * ws]);
    a0 = hn::MulAdd(w0, hn::LoadU(d, vs), a0);
    a1 = hn::MulAdd(w0, hn::LoadU(d, vs + N), a1);
    a2 = hn::MulAdd(w0, hn::LoadU(d, vs + 2 * N), a2);
    a3 = hn::MulAdd(w0, hn::LoadU(d, vs + 3 * N), a3);
    b0 = hn::MulAdd(w1, hn::LoadU(d, vs + D), b0);
    b1 = hn::MulAdd(w1, hn::LoadU(d, vs + D + N), b1);
    b2 = hn::MulAdd(w1, hn::LoadU(d, vs + D + 2 * N), b2);
    b3 = hn::MulAdd(w1, hn::LoadU(d, vs + D + 3 * N), b3);
  }
  if (s < n) {
    const VF w0 = hn::Set(d, w[s * ws]);
    a0 = hn::MulAdd(w0, hn::LoadU(d, vs), a0);
    a1 = hn::MulAdd(w0, hn::LoadU(d, vs + N), a1);
    a2 = hn::MulAdd(w0, hn::LoadU(d, vs + 2 * N), a2);
    a3 = hn::MulAdd(w0, hn::LoadU(d, vs + 3 * N), a3);
  }
  const VF vscale = hn::Set(d, scale);
  hn::StoreU(hn::Mul(hn::Add(a0, b0), vscale), d, out + j0);
  hn::StoreU(hn::Mul(hn::Add(a1, b1), vscale), d, out + j0 + N);
  hn::StoreU(hn::Mul(hn::Add(a2, b2), vscale), d, out + j0 + 2 * N);
  hn::StoreU(hn::Mul(hn::Add(a3, b3), vscale), d, out + j0 + 3 * N);
}

// Same for one vector, out[j0, j0 + N).
HWY_INLINE void WeightedRows1(const float* w, size_t ws, const float* v, size_t n, size_t D, size_t j0,
                              float scale, float* out) {
  const DF d;
  VF a0 = hn::Zero(d), b0 = a0;
  const float* vs = v + j0;
  size_t s = 0;
  for (; s + 2 <= n; s += 2, vs += 2 * D) {
    a0 = hn::MulAdd(hn::Set(d, w[s * ws]), hn::LoadU(d, vs), a0);
    b0 = hn::MulAdd(hn::Set(d, w[(s + 1) * ws]), hn::LoadU(d, vs + D), b0);
  }
  if (s < n) a0 = hn::MulAdd(hn::Set(d, w[s * ws]), hn::LoadU(d, vs), a0);
  hn::StoreU(hn::Mul(hn::Add(a0, b0), hn::Set(d, scale)), d, out + j0);
}

// out[0, D) = scale * sum_{s < n} w[s ws] v[s, :], v: (n, D).
HWY_INLINE void WeightedRows(const float* w, size_t ws, const float* v, size_t n, size_t D, float scale,
                             float* out) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t j = 0;
  for (; j + 4 * N <= D; j += 4 * N) WeightedRows4(w, ws, v, n, D, j, scale, out);
  for (; j + N <= D; j += N) WeightedRows1(w, ws, v, n, D, j, scale, out);
  for (; j < D; ++j) {  // D not a multiple of the vector length
    float acc = 0.0f;
    for (size_t s = 0; s < n; ++s) acc += w[s * ws] * v[s * D + j];
    out[j] = acc * scale;
  }
}

// Two rows' weighted sums over the same n rows of v (weights w0[s ws], w1[s ws]): each v
// vector loaded once for both; chunks of 4 vectors, then 1, then scalars.
HWY_INLINE void WeightedRowsPair(const float* w0, const float* w1, size_t ws, const float* v, size_t n, size_t D,
                                 float scale0, float scale1, float* out0, float* out1) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t j = 0;
  for (; j + 4 * N <= D; j += 4 * N) {
    VF a0 = hn::Zero(d), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    const float* vs = v + j;
    for (size_t s = 0; s < n; ++s, vs += D) {
      const VF x0 = hn::Set(d, w0[s * ws]), x1 = hn::Set(d, w1[s * ws]);
      const VF v0 = hn::LoadU(d, vs), v1 = hn::LoadU(d, vs + N), v2 = hn::LoadU(d, vs + 2 * N),
               v3 = hn::LoadU(d, vs + 3 * N);
      a0 = hn::MulAdd(x0, v0, a0), a1 = hn::MulAdd(x0, v1, a1), a2 = hn::MulAdd(x0, v2, a2), a3 = hn::MulAdd(x0, v3, a3);
      b0 = hn::MulAdd(x1, v0, b0), b1 = hn::MulAdd(x1, v1, b1), b2 = hn::MulAdd(x1, v2, b2), b3 = hn::MulAdd(x1, v3, b3);
    }
    const VF s0 = hn::Set(d, scale0), s1 = hn::Set(d, scale1);
    hn::StoreU(hn::Mul(a0, s0), d, out0 + j), hn::StoreU(hn::Mul(a1, s0), d, out0 + j + N);
    hn::StoreU(hn::Mul(a2, s0), d, out0 + j + 2 * N), hn::StoreU(hn::Mul(a3, s0), d, out0 + j + 3 * N);
    hn::StoreU(hn::Mul(b0, s1), d, out1 + j), hn::StoreU(hn::Mul(b1, s1), d, out1 + j + N);
    hn::StoreU(hn::Mul(b2, s1), d, out1 + j + 2 * N), hn::StoreU(hn::Mul(b3, s1), d, out1 + j + 3 * N);
  }
  for (; j + N <= D; j += N) {
    VF a0 = hn::Zero(d), b0 = a0;
    for (size_t s = 0; s < n; ++s) {
      const VF v0 = hn::LoadU(d, v + s * D + j);
      a0 = hn::MulAdd(hn::Set(d, w0[s * ws]), v0, a0), b0 = hn::MulAdd(hn::Set(d, w1[s * ws]), v0, b0);
    }
    hn::StoreU(hn::Mul(a0, hn::Set(d, scale0)), d, out0 + j), hn::StoreU(hn::Mul(b0, hn::Set(d, scale1)), d, out1 + j);
  }
  for (; j < D; ++j) {
    float a = 0.0f, b = 0.0f;
    for (size_t s = 0; s < n; ++s) a += w0[s * ws] * v[s * D + j], b += w1[s * ws] * v[s * D + j];
    out0[j] = a * scale0, out1[j] = b * scale1;
  }
}

// Four rows' weighted sums over the same n rows of v (row i's weights wi[s ws], then its
// scale si): each v vector loaded once for all four, 16 accumulators (targets with 32
// vector registers; AttentionRows takes pairs elsewhere). Chunks of 4 vectors, then 1,
// then scalars.
HWY_INLINE void WeightedRowsQuad(const float* w, size_t ws, const float* v, size_t n, size_t D,
                                 const float* scale, float* out, size_t out_stride) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const float *w0 = w, *w1 = w + 1, *w2 = w + 2, *w3 = w + 3;
  size_t j = 0;
  for (; j + 4 * N <= D; j += 4 * N) {
    VF a0 = hn::Zero(d), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    VF c0 = a0, c1 = a0, c2 = a0, c3 = a0, e0 = a0, e1 = a0, e2 = a0, e3 = a0;
    const float* vs = v + j;
    for (size_t s = 0; s < n; ++s, vs += D) {
      const VF v0 = hn::LoadU(d, vs), v1 = hn::LoadU(d, vs + N), v2 = hn::LoadU(d, vs + 2 * N),
               v3 = hn::LoadU(d, vs + 3 * N);
      const VF x0 = hn::Set(d, w0[s * ws]), x1 = hn::Set(d, w1[s * ws]);
      a0 = hn::MulAdd(x0, v0, a0), a1 = hn::MulAdd(x0, v1, a1), a2 = hn::MulAdd(x0, v2, a2), a3 = hn::MulAdd(x0, v3, a3);
      b0 = hn::MulAdd(x1, v0, b0), b1 = hn::MulAdd(x1, v1, b1), b2 = hn::MulAdd(x1, v2, b2), b3 = hn::MulAdd(x1, v3, b3);
      const VF x2 = hn::Set(d, w2[s * ws]), x3 = hn::Set(d, w3[s * ws]);
      c0 = hn::MulAdd(x2, v0, c0), c1 = hn::MulAdd(x2, v1, c1), c2 = hn::MulAdd(x2, v2, c2), c3 = hn::MulAdd(x2, v3, c3);
      e0 = hn::MulAdd(x3, v0, e0), e1 = hn::MulAdd(x3, v1, e1), e2 = hn::MulAdd(x3, v2, e2), e3 = hn::MulAdd(x3, v3, e3);
    }
    auto store4 = [&](size_t i, VF r0, VF r1, VF r2, VF r3) {
      const VF sc = hn::Set(d, scale[i]);
      float* o = out + i * out_stride + j;
      hn::StoreU(hn::Mul(r0, sc), d, o), hn::StoreU(hn::Mul(r1, sc), d, o + N);
      hn::StoreU(hn::Mul(r2, sc), d, o + 2 * N), hn::StoreU(hn::Mul(r3, sc), d, o + 3 * N);
    };
    store4(0, a0, a1, a2, a3), store4(1, b0, b1, b2, b3), store4(2, c0, c1, c2, c3), store4(3, e0, e1, e2, e3);
  }
  for (; j + N <= D; j += N) {
    VF a0 = hn::Zero(d), b0 = a0, c0 = a0, e0 = a0;
    for (size_t s = 0; s < n; ++s) {
      const VF v0 = hn::LoadU(d, v + s * D + j);
      a0 = hn::MulAdd(hn::Set(d, w0[s * ws]), v0, a0), b0 = hn::MulAdd(hn::Set(d, w1[s * ws]), v0, b0);
      c0 = hn::MulAdd(hn::Set(d, w2[s * ws]), v0, c0), e0 = hn::MulAdd(hn::Set(d, w3[s * ws]), v0, e0);
    }
    hn::StoreU(hn::Mul(a0, hn::Set(d, scale[0])), d, out + j);
    hn::StoreU(hn::Mul(b0, hn::Set(d, scale[1])), d, out + out_stride + j);
    hn::StoreU(hn::Mul(c0, hn::Set(d, scale[2])), d, out + 2 * out_stride + j);
    hn::StoreU(hn::Mul(e0, hn::Set(d, scale[3])), d, out + 3 * out_stride + j);
  }
  for (; j < D; ++j)
    for (size_t i = 0; i < 4; ++i) {
      float a = 0.0f;
      for (size_t s = 0; s < n; ++s) a += w[i + s * ws] * v[s * D + j];
      out[i * out_stride + j] = a * scale[i];
    }
}

// Rows [b, b + R) of a prompt (R <= Lanes) at once, one query row per lane: q^T (D, L)
// scaled in qt, then the scores of every key the block sees, 8 keys at a time, as
// vectors over the rows (st: (n, L); no horizontal sums, each q^T vector feeds 8
// multiply-adds), the causal mask on the block's diagonal keys, the softmax along the
// keys per lane (ExpNonPositive), and each row's weighted sum of v over its own keys
// (four rows or two at a time, over the last one's keys: the others' extra weights are 0).
void AttentionRows(const float* q, size_t q_stride, const float* k, const float* v, float* out, size_t out_stride,
                   size_t b, size_t R, size_t D, size_t pos0, float scale, float* qt, float* st) {
  const DF d;
  const size_t L = hn::Lanes(d);
  for (size_t j = 0; j < D; ++j)
    for (size_t r = 0; r < L; ++r) qt[j * L + r] = r < R ? scale * q[(b + r) * q_stride + j] : 0.0f;
  const size_t n = pos0 + b + R, diag = pos0 + b;  // keys seen by the last row; keys >= diag are masked for some
  const VF iota = hn::Iota(d, 0.0f), ninf = hn::Set(d, -HUGE_VALF);
  VF m = ninf;
  auto put = [&](size_t s, VF sc) {
    if (s >= diag) sc = hn::IfThenElse(hn::Ge(iota, hn::Set(d, static_cast<float>(s - diag))), sc, ninf);
    hn::StoreU(sc, d, st + s * L);
    m = hn::Max(m, sc);
  };
  size_t s = 0;
  for (; s + 8 <= n; s += 8) {  // 8 chains of multiply-adds: enough to cover the FMA latency
    const float* k0 = k + s * D;
    VF a0 = hn::Zero(d), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t j = 0; j < D; ++j) {
      const VF qv = hn::LoadU(d, qt + j * L);
      a0 = hn::MulAdd(hn::Set(d, k0[j]), qv, a0);
      a1 = hn::MulAdd(hn::Set(d, k0[D + j]), qv, a1);
      a2 = hn::MulAdd(hn::Set(d, k0[2 * D + j]), qv, a2);
      a3 = hn::MulAdd(hn::Set(d, k0[3 * D + j]), qv, a3);
      a4 = hn::MulAdd(hn::Set(d, k0[4 * D + j]), qv, a4);
      a5 = hn::MulAdd(hn::Set(d, k0[5 * D + j]), qv, a5);
      a6 = hn::MulAdd(hn::Set(d, k0[6 * D + j]), qv, a6);
      a7 = hn::MulAdd(hn::Set(d, k0[7 * D + j]), qv, a7);
    }
    put(s, a0), put(s + 1, a1), put(s + 2, a2), put(s + 3, a3);
    put(s + 4, a4), put(s + 5, a5), put(s + 6, a6), put(s + 7, a7);
  }
  for (; s < n; ++s) {  // the last n % 8 keys
    VF a0 = hn::Zero(d);
    for (size_t j = 0; j < D; ++j) a0 = hn::MulAdd(hn::Set(d, k[s * D + j]), hn::LoadU(d, qt + j * L), a0);
    put(s, a0);
  }
  VF sum = hn::Zero(d);
  for (s = 0; s < n; ++s) {
    const VF e = ExpNonPositive(d, hn::Sub(hn::LoadU(d, st + s * L), m));
    hn::StoreU(e, d, st + s * L);
    sum = hn::Add(sum, e);
  }
  hn::StoreU(hn::Div(hn::Set(d, 1.0f), sum), d, qt);  // 1 / sum per row (q^T is done with)
  // Pairs of rows over the second one's keys (the first one's weight for its extra key is
  // exp(-inf) = 0), then a last odd row alone.
  size_t r = 0;
#if !HWY_ARCH_X86 || HWY_TARGET <= HWY_AVX3  // 32 vector registers: four rows at a time
  for (; r + 4 <= R; r += 4)  // over the fourth row's keys (the others' extra weights are 0)
    WeightedRowsQuad(st + r, L, v, diag + r + 4, D, qt + r, out + (b + r) * out_stride, out_stride);
#endif
  for (; r + 2 <= R; r += 2)
    WeightedRowsPair(st + r, st + r + 1, L, v, diag + r + 2, D, qt[r], qt[r + 1], out + (b + r) * out_stride,
                     out + (b + r + 1) * out_stride);
  if (r < R) WeightedRows(st + r, L, v, diag + r + 1, D, qt[r], out + (b + r) * out_stride);
}

void AttentionHead(const float* q, size_t q_stride, const float* k, const float* v, float* out,
                   size_t out_stride, size_t T, size_t D, size_t pos0, float scale,
                   float* scratch) {
  const size_t L = hn::Lanes(DF());
  if (T >= static_cast<size_t>(kAttentionBlockMin) && L > 1) {  // a prompt: blocks of L rows (scratch: q^T (D, L), scores (n, L))
    for (size_t b = 0; b < T; b += L)
      AttentionRows(q, q_stride, k, v, out, out_stride, b, std::min(L, T - b), D, pos0, scale, scratch,
                    scratch + D * L);
    return;
  }
  // Decode: a head's keys and values (n x D floats each, tens of KB) were evicted by the
  // weight stream since the last step; asking for all of their lines up front lets the
  // reads overlap instead of waiting on the prefetchers' ramp over short streams.
  if (T == 1) {
    const size_t bytes = (pos0 + 1) * D * sizeof(float);
    for (size_t off = 0; off < bytes; off += 64) {
      hwy::Prefetch(reinterpret_cast<const char*>(k) + off);
      hwy::Prefetch(reinterpret_cast<const char*>(v) + off);
    }
  }
  for (size_t t = 0; t < T; ++t) {
    const float* qt = q + t * q_stride;
    const size_t n = pos0 + t + 1;
    float m = -HUGE_VALF;
    for (size_t s = 0; s < n; ++s) {
      const float score = Dot(qt, k + s * D, D) * scale;
      scratch[s] = score;
      m = score > m ? score : m;
    }
    const float sum = ExpShiftSum(scratch, n, m);
    WeightedRows(scratch, 1, v, n, D, 1.0f / sum, out + t * out_stride);
  }
}

// a . b over D values, b int8 (promoted and converted per vector).
HWY_INLINE float DotI8(const float* a, const int8_t* b, size_t D) {
  const DF d;
  const hn::Rebind<int32_t, DF> di;
  const hn::Rebind<int8_t, DF> d8;
  const size_t N = hn::Lanes(d);
  VF s0 = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= D; i += N)
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, b + i))), s0);
  float s = hn::GetLane(hn::SumOfLanes(d, s0));
  for (; i < D; ++i) s += a[i] * static_cast<float>(b[i]);
  return s;
}

// The int8 cache (rows scaled by ks, vs: one scale per position): attention_head's
// computation with k[s] = ks[s] k8[s] and v[s] = vs[s] v8[s].
void AttentionHeadI8(const float* q, size_t q_stride, const int8_t* k, const float* ks, const int8_t* v,
                     const float* vs, float* out, size_t out_stride, size_t T, size_t D, size_t pos0, float scale,
                     float* scratch) {
  const DF d;
  const hn::Rebind<int32_t, DF> di;
  const hn::Rebind<int8_t, DF> d8;
  const size_t N = hn::Lanes(d);
  for (size_t t = 0; t < T; ++t) {
    const float* qt = q + t * q_stride;
    const size_t n = pos0 + t + 1;
    float m = -HUGE_VALF;
    for (size_t s = 0; s < n; ++s) {
      const float score = DotI8(qt, k + s * D, D) * ks[s] * scale;
      scratch[s] = score;
      m = score > m ? score : m;
    }
    const float inv = 1.0f / ExpShiftSum(scratch, n, m);
    float* o = out + t * out_stride;
    size_t j = 0;
    for (; j + N <= D; j += N) {
      VF a0 = hn::Zero(d), a1 = hn::Zero(d);
      size_t s = 0;
      for (; s + 2 <= n; s += 2) {
        a0 = hn::MulAdd(hn::Set(d, scratch[s] * vs[s]), hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, v + s * D + j))), a0);
        a1 = hn::MulAdd(hn::Set(d, scratch[s + 1] * vs[s + 1]),
                        hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, v + (s + 1) * D + j))), a1);
      }
      if (s < n) a0 = hn::MulAdd(hn::Set(d, scratch[s] * vs[s]), hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, v + s * D + j))), a0);
      hn::StoreU(hn::Mul(hn::Add(a0, a1), hn::Set(d, inv)), d, o + j);
    }
    for (; j < D; ++j) {
      float acc = 0.0f;
      for (size_t s = 0; s < n; ++s) acc += scratch[s] * vs[s] * static_cast<float>(v[s * D + j]);
      o[j] = acc * inv;
    }
  }
}

void ExpNonPositiveArray(const float* x, float* out, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(ExpNonPositive(d, hn::LoadU(d, x + i)), d, out + i);
  if (i < n) StorePartial(d, ExpNonPositive(d, LoadPadded(d, x + i, n - i, 0.0f)), out + i, n - i);
}

// First index of the largest non-NaN element; 0 if all are NaN.
int64_t ArgmaxScalar(const float* x, size_t n) {
  int64_t best = -1;
  float bv = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) continue;
    if (best < 0 || x[i] > bv) {
      best = static_cast<int64_t>(i);
      bv = x[i];
    }
  }
  return best < 0 ? 0 : best;
}

// Vector max, then the first index holding it. Falls back to the scalar loop when the
// input holds a NaN or an infinity (x - x is then NaN), where vector Max is not reliable.
int64_t Argmax(const float* x, size_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  VF m0 = hn::Set(d, -HUGE_VALF), m1 = m0, bad = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VF v0 = hn::LoadU(d, x + i);
    const VF v1 = hn::LoadU(d, x + i + N);
    m0 = hn::Max(m0, v0);
    m1 = hn::Max(m1, v1);
    bad = hn::Add(bad, hn::Add(hn::Sub(v0, v0), hn::Sub(v1, v1)));
  }
  for (; i + N <= n; i += N) {
    const VF v0 = hn::LoadU(d, x + i);
    m0 = hn::Max(m0, v0);
    bad = hn::Add(bad, hn::Sub(v0, v0));
  }
  if (i < n) {
    const VF v0 = LoadPadded(d, x + i, n - i, -HUGE_VALF);
    const VF v1 = LoadPadded(d, x + i, n - i, 0.0f);
    m0 = hn::Max(m0, v0);
    bad = hn::Add(bad, hn::Sub(v1, v1));
  }
  if (hn::GetLane(hn::SumOfLanes(d, bad)) != 0.0f) return ArgmaxScalar(x, n);
  const VF vmax = hn::MaxOfLanes(d, hn::Max(m0, m1));
  i = 0;
  for (; i + N <= n; i += N) {
    const intptr_t pos = hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, x + i), vmax));
    if (pos >= 0) return static_cast<int64_t>(i) + pos;
  }
  const float mx = hn::GetLane(vmax);
  for (; i < n; ++i) {
    if (x[i] == mx) return static_cast<int64_t>(i);
  }
  return 0;  // not reached: the maximum is one of the elements
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace lmf::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmf::cpu {

HWY_EXPORT(AttentionHead);
HWY_EXPORT(AttentionHeadI8);
HWY_EXPORT(Argmax);
HWY_EXPORT(ExpNonPositiveArray);

void exp_nonpositive(const float* x, float* out, int64_t n) {
  if (n > 0) HWY_DYNAMIC_DISPATCH(ExpNonPositiveArray)(x, out, static_cast<size_t>(n));
}

void attention_head_i8(const float* q, int64_t q_stride, const int8_t* k, const float* ks, const int8_t* v,
                       const float* vs, float* out, int64_t out_stride, int64_t T, int64_t D, int64_t pos0, float scale,
                       float* scratch) {
  HWY_DYNAMIC_DISPATCH(AttentionHeadI8)(q, static_cast<size_t>(q_stride), k, ks, v, vs, out,
                                        static_cast<size_t>(out_stride), static_cast<size_t>(T), static_cast<size_t>(D),
                                        static_cast<size_t>(pos0), scale, scratch);
}

int64_t attention_head_scratch(int64_t n, int64_t D) {
  // The widest vector's lanes of any target (HWY_MAX_BYTES is the last compiled target's here).
  constexpr int64_t L = HWY_ARCH_X86 ? 16 : 64;
  return std::max(n, (D + n) * L);
}

void attention_head(const float* q, int64_t q_stride, const float* k, const float* v,
                    float* out, int64_t out_stride, int64_t T, int64_t D, int64_t pos0,
                    float scale, float* scratch) {
  if (T <= 0 || D <= 0) return;
  HWY_DYNAMIC_DISPATCH(AttentionHead)(q, static_cast<size_t>(q_stride), k, v, out,
                                      static_cast<size_t>(out_stride), static_cast<size_t>(T),
                                      static_cast<size_t>(D), static_cast<size_t>(pos0), scale,
                                      scratch);
}

int64_t argmax(const float* x, int64_t n) {
  if (n <= 0) return -1;
  return HWY_DYNAMIC_DISPATCH(Argmax)(x, static_cast<size_t>(n));
}

}  // namespace lmf::cpu
#endif  // HWY_ONCE

// lmforge CPU backend: per-target SIMD helpers shared by the kernel files (kernels.cpp,
// kernels_attention.cpp, kernels_grad*.cpp, losses.cpp). Included after
// hwy/foreach_target.h, hwy/contrib/math/math-inl.h (Exp) and hwy/highway.h, inside a file's HWY_NAMESPACE, so it is compiled
// once per target like the file itself; the guard below is Highway's per-target toggle.
// (Within a file's anonymous namespace: each file keeps internal linkage.)
#if defined(LMF_BACKEND_CPU_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMF_BACKEND_CPU_SIMD_INL_H_
#undef LMF_BACKEND_CPU_SIMD_INL_H_
#else
#define LMF_BACKEND_CPU_SIMD_INL_H_
#endif

// The first `count` (< Lanes) floats of p, the other lanes set to `pad`.
HWY_INLINE hn::Vec<hn::ScalableTag<float>> LoadPadded(hn::ScalableTag<float> d, const float* p, size_t count,
                                                      float pad) {
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)];
  const size_t N = hn::Lanes(d);
  for (size_t i = 0; i < N; ++i) buf[i] = i < count ? p[i] : pad;
  return hn::Load(d, buf);
}

// Stores the first `count` (< Lanes) lanes of v to p.
HWY_INLINE void StorePartial(hn::ScalableTag<float> d, hn::Vec<hn::ScalableTag<float>> v, float* p, size_t count) {
  HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)] = {};  // (quiets -Wmaybe-uninitialized)
  hn::Store(v, d, buf);
  for (size_t i = 0; i < count; ++i) p[i] = buf[i];
}

// The statistics of layer_norm and rms_norm; their backward recomputes them with these
// same functions, so forward and backward see bit-identical means and variances.
// Sum of (x[i] - c) over [0, n) in 4 vector accumulators (a fixed order for a target).
HWY_INLINE float SumDiff(const float* x, size_t n, float c) {
  const hn::ScalableTag<float> d;
  using VF = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  const VF vc = hn::Set(d, c);
  VF s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::Add(s0, hn::Sub(hn::LoadU(d, x + i), vc));
    s1 = hn::Add(s1, hn::Sub(hn::LoadU(d, x + i + N), vc));
    s2 = hn::Add(s2, hn::Sub(hn::LoadU(d, x + i + 2 * N), vc));
    s3 = hn::Add(s3, hn::Sub(hn::LoadU(d, x + i + 3 * N), vc));
  }
  for (; i + N <= n; i += N) s0 = hn::Add(s0, hn::Sub(hn::LoadU(d, x + i), vc));
  if (i < n) s1 = hn::Add(s1, hn::Sub(LoadPadded(d, x + i, n - i, c), vc));  // pads give 0
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
}

// Sum of (x[i] - c)^2 over [0, n), same accumulation order as SumDiff.
HWY_INLINE float SumSquaredDiff(const float* x, size_t n, float c) {
  const hn::ScalableTag<float> d;
  using VF = hn::Vec<decltype(d)>;
  const size_t N = hn::Lanes(d);
  const VF vc = hn::Set(d, c);
  VF s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const VF d0 = hn::Sub(hn::LoadU(d, x + i), vc);
    const VF d1 = hn::Sub(hn::LoadU(d, x + i + N), vc);
    const VF d2 = hn::Sub(hn::LoadU(d, x + i + 2 * N), vc);
    const VF d3 = hn::Sub(hn::LoadU(d, x + i + 3 * N), vc);
    s0 = hn::MulAdd(d0, d0, s0);
    s1 = hn::MulAdd(d1, d1, s1);
    s2 = hn::MulAdd(d2, d2, s2);
    s3 = hn::MulAdd(d3, d3, s3);
  }
  for (; i + N <= n; i += N) {
    const VF d0 = hn::Sub(hn::LoadU(d, x + i), vc);
    s0 = hn::MulAdd(d0, d0, s0);
  }
  if (i < n) {
    const VF d0 = hn::Sub(LoadPadded(d, x + i, n - i, c), vc);  // padded lanes give 0
    s1 = hn::MulAdd(d0, d0, s1);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
}

// Used by the attention kernels (kernels_attention.cpp, kernels_grad_attention.cpp): the
// forward and the backward compute scores and softmax sums with the same code.
// a . b over D floats (2 accumulators, padded tail).
HWY_INLINE float Dot(const float* a, const float* b, size_t D) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  hn::Vec<decltype(d)> s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= D; i += 2 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), s1);
  }
  for (; i + N <= D; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  if (i < D) s1 = hn::MulAdd(LoadPadded(d, a + i, D - i, 0.0f), LoadPadded(d, b + i, D - i, 0.0f), s1);
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
}

// exp(x) for the x <= 0 of a softmax shifted by its maximum (a -inf gives 0, a NaN stays
// NaN), cheaper than hn::Exp, which serves the whole float range: exp(x) = 2^n exp(r) with
// n = round(x log2 e), r = x - n ln 2 (ln 2 in two parts, Cody and Waite's reduction:
// |r| <= ln2 / 2) and exp(r) by its Taylor polynomial of degree 7 (truncation below 6e-9
// relative). x < -87.7 (n < -126, past float's normal range) gives 0.
HWY_INLINE hn::Vec<hn::ScalableTag<float>> ExpNonPositive(hn::ScalableTag<float> d,
                                                          hn::Vec<hn::ScalableTag<float>> x) {
  const hn::RebindToSigned<decltype(d)> di;
  const auto lo = hn::Set(d, -126.0f);
  auto n = hn::Round(hn::Mul(x, hn::Set(d, 1.44269504088896341f)));
  const auto tiny = hn::Lt(n, lo);  // false for a NaN, which stays NaN
  n = hn::IfThenElse(tiny, lo, n);
  auto r = hn::NegMulAdd(n, hn::Set(d, 0.693145751953125f), x);  // 15 bits of ln 2: n ln2_hi is exact
  r = hn::NegMulAdd(n, hn::Set(d, 1.428606765330187e-6f), r);
  auto p = hn::Set(d, 1.0f / 5040);
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 720));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 120));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 24));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f / 6));
  p = hn::MulAdd(p, r, hn::Set(d, 0.5f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.0f));
  const auto two_n = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, n), hn::Set(di, 127))));
  return hn::IfThenZeroElse(tiny, hn::Mul(p, two_n));
}

// x sigmoid(w) = x / (1 + exp(-w)), from e = exp(-|w|) <= 1 (ExpNonPositive, cheaper than
// hn::Exp): x / (1 + e) for w >= 0, x e / (1 + e) below. Past |w| ~ 87.7, e is 0: the
// result is x, or -0 / 0 where the exact value is under 1e-37. A NaN stays NaN.
HWY_INLINE hn::Vec<hn::ScalableTag<float>> TimesSigmoid(hn::ScalableTag<float> d, hn::Vec<hn::ScalableTag<float>> x,
                                                        hn::Vec<hn::ScalableTag<float>> w) {
  const auto e = ExpNonPositive(d, hn::Neg(hn::Abs(w)));
  const auto num = hn::IfThenElse(hn::Ge(w, hn::Zero(d)), x, hn::Mul(x, e));
  return hn::Div(num, hn::Add(hn::Set(d, 1.0f), e));
}

// gelu_new(x) = 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3).
HWY_INLINE hn::Vec<hn::ScalableTag<float>> GeluTanhVec(hn::ScalableTag<float> d, hn::Vec<hn::ScalableTag<float>> v) {
  const auto c1 = hn::Set(d, 1.5957691216057308f);   // 2 sqrt(2/pi)
  const auto c3 = hn::Set(d, 0.07135481627260025f);  // 2 sqrt(2/pi) 0.044715
  return TimesSigmoid(d, v, hn::Mul(v, hn::MulAdd(c3, hn::Mul(v, v), c1)));  // 2u
}

// x[0, n) = exp(x - m); returns their sum.
HWY_INLINE float ExpShiftSum(float* x, size_t n, float m) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vm = hn::Set(d, m);
  hn::Vec<decltype(d)> s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto e = ExpNonPositive(d, hn::Sub(hn::LoadU(d, x + i), vm));
    hn::StoreU(e, d, x + i);
    s0 = hn::Add(s0, e);
  }
  if (i < n) {
    const auto e = ExpNonPositive(d, hn::Sub(LoadPadded(d, x + i, n - i, -HUGE_VALF), vm));
    StorePartial(d, e, x + i, n - i);
    s1 = e;
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
}

// Calls f(d, i, m, mask) for the vectors of [0, n): m = Lanes for full vectors, fewer for
// the tail, whose inactive lanes the mask marks false (kernels_grad.cpp, losses.cpp).
template <class F>
HWY_INLINE void ForVectors(size_t n, const F& f) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) f(d, i, N, hn::FirstN(d, N));
  if (i < n) f(d, i, n - i, hn::FirstN(d, n - i));
}

// m floats at p: a whole vector, or (m < Lanes) the tail padded with `pad`.
HWY_INLINE hn::Vec<hn::ScalableTag<float>> Ld(hn::ScalableTag<float> d, const float* p, size_t m, float pad = 0.0f) {
  return m == hn::Lanes(d) ? hn::LoadU(d, p) : LoadPadded(d, p, m, pad);
}
// Stores the first m lanes of v at p.
HWY_INLINE void St(hn::ScalableTag<float> d, hn::Vec<hn::ScalableTag<float>> v, float* p, size_t m) {
  if (m == hn::Lanes(d)) {
    hn::StoreU(v, d, p);
  } else {
    StorePartial(d, v, p, m);
  }
}

#endif  // LMF_BACKEND_CPU_SIMD_INL_H_ toggle

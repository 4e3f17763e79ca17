// lmforge CPU backend: per-target integer dot products and the one activation rounding of
// the quantized kernels (qgemv_a8.cpp, qgemv_i8.cpp). Included after hwy/highway.h inside
// a file's HWY_NAMESPACE (with `hn` = hwy::HWY_NAMESPACE), so it is compiled once per
// Highway target like the file itself; the guard below is Highway's per-target toggle.
//
// Highway 1.0.3 (Debian 12) has no int8 dot-product op (SumOfMulQuadAccumulate came
// later), so:
//  - PairDot: the portable form on every target. Bytes are widened to 16-bit lanes (two
//    per 32-bit lane, the lane's own column) and multiplied pairwise with
//    ReorderWidenMulAccumulate into two accumulators that RearrangeToOddPlusEven folds back
//    into column order (x86: vpmaddwd, the second accumulator unused; NEON: vmlal on the
//    halves; SVE: the even and odd lanes).
//  - DotBytes: AVX-512 VNNI's vpdpbusd. On HWY_AVX3_DL (Ice Lake, Sapphire Rapids, Zen 4:
//    VNNI with VBMI2, VAES, VPCLMULQDQ, BITALG, VPOPCNTDQ) through the intrinsic on the
//    vectors' .raw: Highway 1.0.3 compiles AVX3_DL only where HWY_WANT_AVX3_DL is defined
//    (the qgemv files define it), and its target string names "avxvnni" rather than
//    "avx512vnni", so LMF_VNNI_ATTR adds the latter to the functions that use it. On HWY_AVX3
//    (which a CPU with VNNI but not the rest, Cascade Lake, runs) through inline asm, taken
//    only where HaveDot() (cpuid's AVX512_VNNI bit, at run time): no AVX3 function is compiled
//    with VNNI enabled, so the code a CPU without it (Skylake-X) runs holds no VNNI
//    instruction the compiler might have chosen. Tests run the AVX3 path on an AVX3_DL CPU
//    by limiting dispatch to HWY_AVX3 (Highway's target mask).
#if defined(LMF_BACKEND_CPU_QDOT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMF_BACKEND_CPU_QDOT_INL_H_
#undef LMF_BACKEND_CPU_QDOT_INL_H_
#else
#define LMF_BACKEND_CPU_QDOT_INL_H_
#endif

#undef LMF_HAVE_DOT
#undef LMF_VNNI_ATTR
#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3
#define LMF_HAVE_DOT 1  // DotBytes is compiled (HaveDot: whether the CPU runs it)
#else
#define LMF_HAVE_DOT 0
#endif
#if HWY_TARGET == HWY_AVX3_DL
#define LMF_VNNI_ATTR __attribute__((target(HWY_TARGET_STR ",avx512vnni")))
#else
#define LMF_VNNI_ATTR
#endif

// Whether this target's integer kernels use an int8 dot-product instruction (QI8Isa::kDot)
// on this CPU: always on AVX3_DL, on AVX3 where cpuid reports AVX512_VNNI (Cascade Lake).
HWY_INLINE bool HaveDot() {
#if HWY_TARGET == HWY_AVX3_DL
  return true;
#elif HWY_TARGET == HWY_AVX3
  return __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

// (acc0, acc1) += the products of the 16-bit halves of a and b, lane pairs in an order
// RearrangeToOddPlusEven undoes; a and b hold int16 pairs in 32-bit lanes. (HWY_SCALAR,
// one 32-bit lane, cannot split a lane: its halves are sign-extended and multiplied.)
template <class DI>
HWY_INLINE hn::Vec<DI> PairDot(DI di, hn::Vec<DI> a, hn::Vec<DI> b, hn::Vec<DI> acc0, hn::Vec<DI>& acc1) {
#if HWY_TARGET == HWY_SCALAR
  (void)di;
  (void)acc1;
  const auto lo = hn::Mul(hn::ShiftRight<16>(hn::ShiftLeft<16>(a)), hn::ShiftRight<16>(hn::ShiftLeft<16>(b)));
  return hn::Add(acc0, hn::Add(lo, hn::Mul(hn::ShiftRight<16>(a), hn::ShiftRight<16>(b))));
#else
  const hn::Repartition<int16_t, DI> d16;
  return hn::ReorderWidenMulAccumulate(di, hn::BitCast(d16, a), hn::BitCast(d16, b), acc0, acc1);
#endif
}

// Per 32-bit lane, the sum of PairDot's products (its accumulators folded).
template <class DI>
HWY_INLINE hn::Vec<DI> PairSum(hn::Vec<DI> acc0, hn::Vec<DI> acc1) {
  return hn::RearrangeToOddPlusEven(acc0, acc1);
}

// The even and the odd bytes of each 32-bit lane (signed), sign-extended to its 16-bit
// halves: (b0, b2) and (b1, b3).
template <class DI>
HWY_INLINE void SignedBytePairs(DI di, hn::Vec<DI> w, hn::Vec<DI>& even, hn::Vec<DI>& odd) {
#if HWY_TARGET == HWY_SCALAR
  const auto lo16 = hn::Set(di, 0xFFFF);
  even = hn::Or(hn::And(hn::ShiftRight<24>(hn::ShiftLeft<24>(w)), lo16),
                hn::ShiftLeft<16>(hn::ShiftRight<24>(hn::ShiftLeft<8>(w))));
  odd = hn::Or(hn::And(hn::ShiftRight<24>(hn::ShiftLeft<16>(w)), lo16), hn::ShiftLeft<16>(hn::ShiftRight<24>(w)));
#else
  const hn::Repartition<int16_t, DI> d16;
  const auto w16 = hn::BitCast(d16, w);
  even = hn::BitCast(di, hn::ShiftRight<8>(hn::ShiftLeft<8>(w16)));
  odd = hn::BitCast(di, hn::ShiftRight<8>(w16));
#endif
}

#if LMF_HAVE_DOT
// acc + Σ_j u[j] · s[j] over the 4 bytes of each 32-bit lane, u unsigned, s signed.
template <class V>
HWY_INLINE LMF_VNNI_ATTR V DotBytes(V acc, V u, V s) {
#if HWY_TARGET == HWY_AVX3_DL
  return V{_mm512_dpbusd_epi32(acc.raw, u.raw, s.raw)};
#else  // HWY_AVX3, where HaveDot(): AT&T operand order (signed, unsigned, accumulator)
  auto a = acc.raw;
  asm("vpdpbusd %2, %1, %0" : "+v"(a) : "v"(u.raw), "v"(s.raw));
  return V{a};
#endif
}
#endif

#undef LMF_HAVE_MADDUBS
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
#define LMF_HAVE_MADDUBS 1
// x86 without VNNI (SSSE3 to AVX3): vpmaddubsw, per 16-bit lane u[0] s[0] + u[1] s[1] (u
// unsigned bytes, s signed; saturating, so callers keep |sums| < 2^15), and vpmaddwd by ones
// (the 16-bit lane pairs of each 32-bit lane added). Highway 1.0.3 has neither op.
template <class V>
HWY_INLINE V MaddUbs(V u, V s) {
#if HWY_TARGET <= HWY_AVX3
  return V{_mm512_maddubs_epi16(u.raw, s.raw)};
#elif HWY_TARGET == HWY_AVX2
  return V{_mm256_maddubs_epi16(u.raw, s.raw)};
#else
  return V{_mm_maddubs_epi16(u.raw, s.raw)};
#endif
}
template <class V>
HWY_INLINE V AddPairs16(V a) {
#if HWY_TARGET <= HWY_AVX3
  return V{_mm512_madd_epi16(a.raw, _mm512_set1_epi16(1))};
#elif HWY_TARGET == HWY_AVX2
  return V{_mm256_madd_epi16(a.raw, _mm256_set1_epi16(1))};
#else
  return V{_mm_madd_epi16(a.raw, _mm_set1_epi16(1))};
#endif
}
#else
#define LMF_HAVE_MADDUBS 0
#endif

// Whether 4-bit strips take their activations as bytes (kDot's layout) on this target:
// with VNNI, and with vpmaddubsw on x86 (4-bit sums of a block fit 16 bits).
inline constexpr bool kBytes4 = LMF_HAVE_DOT || LMF_HAVE_MADDUBS;

// ---- the activation rounding ---------------------------------------------------------
// One rule for every int8 (and the pair kernel's int16) activation: with inv = top / max|x|
// (0 when every x is 0), q = clamp(round(x · inv), -top, top), rounding to nearest even;
// the scale is max|x| / top. max is exact and the product is one IEEE multiplication, so
// every target (and any vector width) gives the same q.

// max |x[0..n)|.
HWY_INLINE float AbsMax(const float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> df;
  const size_t L = hn::Lanes(df);
  auto m = hn::Zero(df);
  size_t k = 0;
  for (; k + L <= n; k += L) m = hn::Max(m, hn::Abs(hn::LoadU(df, x + k)));
  float amax = hn::GetLane(hn::MaxOfLanes(df, m));
  for (; k < n; ++k) amax = std::max(amax, std::fabs(x[k]));
  return amax;
}

inline float InvScale(float amax, float top) { return amax > 0 ? top / amax : 0.0f; }

// u (already x · inv) rounded and clamped to [-top, top], as int32 lanes.
template <class DF>
HWY_INLINE hn::Vec<hn::RebindToSigned<DF>> RoundClamp(DF df, hn::Vec<DF> u, float top) {
  const auto r = hn::Min(hn::Max(hn::Round(u), hn::Set(df, -top)), hn::Set(df, top));
  return hn::ConvertTo(hn::RebindToSigned<DF>(), r);
}

// q[k] = the rounding of x[k] · inv for k < n (a tail through a zero-padded vector).
HWY_INLINE void RoundScaled(const float* HWY_RESTRICT x, size_t n, float inv, float top, int32_t* HWY_RESTRICT q) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t L = hn::Lanes(df);
  const auto iv = hn::Set(df, inv);
  size_t k = 0;
  for (; k + L <= n; k += L) hn::StoreU(RoundClamp(df, hn::Mul(hn::LoadU(df, x + k), iv), top), di, q + k);
  if (k < n) {
    HWY_ALIGN float buf[HWY_MAX_BYTES / sizeof(float)] = {};
    HWY_ALIGN int32_t out[HWY_MAX_BYTES / sizeof(float)];
    for (size_t j = k; j < n; ++j) buf[j - k] = x[j];
    hn::Store(RoundClamp(df, hn::Mul(hn::Load(df, buf), iv), top), di, out);
    for (size_t j = k; j < n; ++j) q[j] = out[j - k];
  }
}

// The rule over x[0..n): q (int32) and the scale max|x| / top.
HWY_INLINE float RoundSym(const float* HWY_RESTRICT x, size_t n, float top, int32_t* HWY_RESTRICT q) {
  const float amax = AbsMax(x, n);
  RoundScaled(x, n, InvScale(amax, top), top, q);
  return amax / top;
}

// ---- packing the rounded activations --------------------------------------------------
// The kernels read the rounded q as bytes or int16 in one of these orders (PackSrc: the
// input stored at position j):
//  kOrderInput  input order (int8: 8-bit strips with kDot, int8-dynamic; int16: -);
//  kOrderNib    per 8 inputs k0 k2 k4 k6 k1 k3 k5 k7 (int8: a 4-bit word's low then high
//               nibbles, kBytes4);
//  kOrderPair2  per 4 inputs k0 k2 k1 k3 (int16: pairs (j, j + 2), 8-bit words widened;
//               int8-dynamic's widened bytes);
//  kOrderPair4  per 8 inputs k0 k4 k1 k5 k2 k6 k3 k7 (int16: pairs (j, j + 4), 4-bit words).
// Vectors of at least 8 int32 lanes narrow q (DemoteTo, values already in range) and
// reorder it within 8-input groups by one byte shuffle (TableLookupBytes: within 128-bit
// blocks, where the groups lie); shorter vectors (SSE4, NEON, EMU128, scalar) store it
// element by element. kFlip adds 128 to each byte (unsigned q + 128, kDot's int8-dynamic).
constexpr int kOrderInput = 0, kOrderNib = 1, kOrderPair2 = 2, kOrderPair4 = 3;

constexpr size_t PackSrc(int order, size_t j) {
  const size_t e = j & ~size_t{7}, t = j & 7;
  switch (order) {
    case kOrderNib: return e + (t < 4 ? 2 * t : 2 * (t - 4) + 1);
    case kOrderPair2: return e + (t & 4) + (t & 3) / 2 + (t & 1) * 2;
    case kOrderPair4: return e + t / 2 + (t & 1) * 4;
    default: return j;
  }
}

// The byte shuffle of PackSrc(order) for lanes of `bytes` bytes, indices within 16-byte
// blocks; enough entries for 256-byte vectors.
struct PackTable {
  alignas(64) uint8_t idx[256];
};
constexpr PackTable MakePackTable(int order, size_t bytes) {
  PackTable t{};
  for (size_t i = 0; i < 256; ++i)
    t.idx[i] = static_cast<uint8_t>((PackSrc(order, i / bytes) * bytes + i % bytes) & 15);
  return t;
}

// q[0..n) (int32, already within T's range) stored as T in `order` at out, one element at
// a time (n a multiple of the order's group: 8, or 4 for kOrderPair2).
template <int kOrder, class T, bool kFlip>
HWY_INLINE void PackScalar(const int32_t* HWY_RESTRICT q, size_t n, T* HWY_RESTRICT out) {
  for (size_t j = 0; j < n; ++j) {
    const int32_t v = q[PackSrc(kOrder, j)];
    out[j] = kFlip ? static_cast<T>(static_cast<uint8_t>(v + 128)) : static_cast<T>(v);
  }
}

// Whether PackVec serves this target's vectors for `order` (Lanes(di) int32 lanes).
template <class DI>
HWY_INLINE bool PackVecOk(DI di, int order) {
#if HWY_TARGET == HWY_SCALAR
  (void)di;
  return order == kOrderInput;
#else
  return order == kOrderInput || hn::Lanes(di) >= 8;
#endif
}

// One vector of q (int32, within T's range) stored as Lanes(di) T in `order` at out
// (PackVecOk).
template <int kOrder, class T, bool kFlip, class DI>
HWY_INLINE void PackVec(DI di, hn::Vec<DI> q, T* HWY_RESTRICT out) {
  const hn::Rebind<T, DI> dt;
  auto v = hn::DemoteTo(dt, q);
#if HWY_TARGET != HWY_SCALAR
  if constexpr (kOrder != kOrderInput) {
    static constexpr PackTable kTab = MakePackTable(kOrder, sizeof(T));
    const hn::Repartition<uint8_t, decltype(dt)> d8;
    v = hn::BitCast(dt, hn::TableLookupBytes(hn::BitCast(d8, v), hn::LoadU(d8, kTab.idx)));
  }
#endif
  if constexpr (kFlip) {
    const hn::Repartition<uint8_t, decltype(dt)> d8;
    v = hn::BitCast(dt, hn::Xor(hn::BitCast(d8, v), hn::Set(d8, uint8_t{0x80})));
  }
  (void)di;
  hn::StoreU(v, dt, out);
}

// RoundPack: q[k] = the rounding of x[k] · inv to [-top, top] (RoundClamp) for k < n,
// stored as T in kOrder at out (n a multiple of the order's group); returns Σ q.
template <int kOrder, class T, bool kFlip = false>
HWY_INLINE int32_t RoundPack(const float* HWY_RESTRICT x, size_t n, float inv, float top, T* HWY_RESTRICT out) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t L = hn::Lanes(df);
  const auto iv = hn::Set(df, inv);
  size_t k = 0;
  int32_t sum = 0;
  if (PackVecOk(di, kOrder)) {
    auto acc = hn::Zero(di);
    for (; k + L <= n; k += L) {
      const auto q = RoundClamp(df, hn::Mul(hn::LoadU(df, x + k), iv), top);
      acc = hn::Add(acc, q);
      PackVec<kOrder, T, kFlip>(di, q, out + k);
    }
    sum = hn::GetLane(hn::SumOfLanes(di, acc));
  }
  constexpr size_t kChunk = 64;  // the rest: a multiple of 8 (or 4) inputs, in chunks
  HWY_ALIGN int32_t t[kChunk];
  for (; k < n; k += kChunk) {
    const size_t c = std::min(kChunk, n - k);
    RoundScaled(x + k, c, inv, top, t);
    for (size_t j = 0; j < c; ++j) sum += t[j];
    PackScalar<kOrder, T, kFlip>(t, c, out + k);
  }
  return sum;
}

#endif  // LMF_BACKEND_CPU_QDOT_INL_H_ toggle

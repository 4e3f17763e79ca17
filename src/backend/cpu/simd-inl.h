// lmforge CPU backend: per-target SIMD helpers shared by the kernel files (kernels.cpp,
// kernels_attention.cpp, kernels_grad*.cpp, losses.cpp). Included after
// hwy/foreach_target.h and hwy/highway.h, inside a file's HWY_NAMESPACE, so it is compiled
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

#endif  // LMF_BACKEND_CPU_SIMD_INL_H_ toggle

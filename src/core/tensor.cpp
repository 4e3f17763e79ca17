#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace lmf {

int64_t shape_numel(const Shape& s) { return checked_numel(s, "tensor"); }

int64_t checked_numel(const Shape& s, std::string_view what) {
  int64_t n = 1;
  for (int64_t d : s) {
    LMF_CHECK(d >= 0, kBadFile, "{}: shape {} has a negative dimension", what, shape_str(s));
    LMF_CHECK(!__builtin_mul_overflow(n, d, &n), kBadFile, "{}: shape {} has more elements than a 64-bit integer holds",
              what, shape_str(s));
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}

void* alloc_aligned(size_t bytes) {
  if (bytes > SIZE_MAX - 63) fail(ErrorCode::kIo, "out of memory allocating {} bytes", bytes);
  size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) fail(ErrorCode::kIo, "out of memory allocating {} bytes", bytes);
  return p;
}

void free_aligned(void* p) { std::free(p); }

void transpose_f32(const float* src, float* dst, int64_t N, int64_t K) {
  constexpr int64_t kB = 32;
#pragma omp parallel for schedule(static)
  for (int64_t n0 = 0; n0 < N; n0 += kB)
    for (int64_t k0 = 0; k0 < K; k0 += kB)
      for (int64_t n = n0; n < std::min(N, n0 + kB); ++n)
        for (int64_t k = k0; k < std::min(K, k0 + kB); ++k) dst[k * N + n] = src[n * K + k];
}

Tensor Tensor::empty(DType dtype, Shape shape, bool zero) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  size_t bytes = 0;
  LMF_CHECK(!__builtin_mul_overflow(static_cast<size_t>(t.numel()), dtype_size(dtype), &bytes), kOutOfRange,
            "a {} tensor of shape {} needs more bytes than a 64-bit size holds", dtype_name(dtype), shape_str(t.shape_));
  void* p = alloc_aligned(bytes);
  if (zero) std::memset(p, 0, bytes);
  t.data_ = p;
  t.owner_ = std::shared_ptr<void>(p, free_aligned);
  return t;
}

Tensor Tensor::borrow(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner, bool mapped) {
  Tensor t;
  t.mapped_ = mapped;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

void* Tensor::mutable_data() {
  LMF_CHECK(!mapped_, kInvalidArgument,
            "a {} tensor of shape {} is a read-only mapping of a file: it cannot be written (copy it first)",
            dtype_name(dtype_), shape_str(shape_));
  return data_;
}

Tensor Tensor::reshaped(Shape shape) const {
  LMF_CHECK(shape_numel(shape) == numel(), kInternal, "cannot reshape {} to {}", shape_str(shape_),
            shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::to_f32() const {
  if (dtype_ == DType::kF32) return *this;
  Tensor t = empty(DType::kF32, shape_);
  convert_to_f32(dtype_, data_, t.mutable_data_as<float>(), static_cast<size_t>(numel()));
  return t;
}

}  // namespace lmf

// lmforge core: tensors and the storage behind them.
//
// A Tensor is a dtype, a shape and a pointer into a Storage. Storage is either
// owned (64-byte aligned heap memory) or borrowed (a memory-mapped file region,
// kept alive by a shared handle), so weights read from safetensors are used in
// place, never copied. Tensors are contiguous and row-major.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace lmf {

using Shape = std::vector<int64_t>;

// The element count of s; throws lmf::Error naming `what` (e.g. "FILE: tensor 'NAME'")
// when a dimension is negative or the product overflows int64 (the checked_mul of core/checked.h).
int64_t checked_numel(const Shape& s, std::string_view what);
int64_t shape_numel(const Shape& s);  // checked_numel(s, "tensor")
std::string shape_str(const Shape& s);

class Tensor {
 public:
  Tensor() = default;
  // A new owning tensor with uninitialized (zero-filled when `zero`) contents.
  static Tensor empty(DType dtype, Shape shape, bool zero = false);
  // A borrowed view of memory kept alive by `owner`; `mapped`: read-only pages of a
  // memory-mapped file (their pages may be dropped and read again: release_mapped_pages).
  static Tensor borrow(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner, bool mapped = false);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_[i]; }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool defined() const { return data_ != nullptr || numel() == 0; }
  bool mapped() const { return mapped_; }

  // Reading: any tensor, through const access.
  const void* data() const { return data_; }
  template <typename T>
  const T* data_as() const { return static_cast<const T*>(data_); }
  // Writing: an owned tensor or a writable borrowed view. A read-only mapping of a file
  // (mapped()) is refused with lmf::Error (kInvalidArgument) naming its dtype and shape:
  // copy it first (e.g. to_f32() or Tensor::empty + memcpy).
  void* mutable_data();
  template <typename T>
  T* mutable_data_as() { return static_cast<T*>(mutable_data()); }

  // Same storage, different shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // A float32 copy (or this tensor itself when it already is float32).
  Tensor to_f32() const;

 private:
  DType dtype_ = DType::kF32;
  Shape shape_;
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
  bool mapped_ = false;
};

// 64-byte aligned allocation released by free_aligned.
void* alloc_aligned(size_t bytes);
void free_aligned(void* p);

// dst (K, N) = src (N, K) transposed (float32), in cache-sized blocks over OpenMP threads.
void transpose_f32(const float* src, float* dst, int64_t N, int64_t K);

}  // namespace lmf

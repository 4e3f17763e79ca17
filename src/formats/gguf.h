// lmforge formats: GGUF files (llama.cpp's model format, versions 2 and 3), read by
// memory-mapping.
//
// Layout (little-endian): "GGUF", version u32, tensor count u64, metadata count u64; the
// metadata key/value pairs (a key string, a value type u32, the value; strings are a u64
// length and bytes; arrays an element type u32, a u64 count and the elements); the tensor
// infos (name, n_dims u32, n_dims u64 dims with the fastest-varying first, a ggml type u32,
// a data offset u64); then, at the next multiple of general.alignment (default 32), the
// tensor data, each tensor at its offset (a multiple of the alignment) from there.
//
// Everything is validated before a tensor is handed out: counts and lengths against the
// bytes left, dims and sizes with checked arithmetic, each tensor's bytes inside the data
// section, aligned and not overlapping another's. Errors are lmf::Error(kBadFile) naming
// the file and what is wrong (and where: the key, or the tensor).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/mapped_file.h"

namespace lmf {

// ggml tensor types (ggml.h's enum ggml_type numbers).
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kBF16 = 30,
};
struct GgmlTypeTraits {
  const char* name;   // "Q4_K", as llama.cpp prints it
  int64_t block;      // elements per block
  int64_t block_bytes;
  bool dequantize;    // gguf_dequantize supports it
};
// The traits of ggml type t; null for a type lmforge does not know.
const GgmlTypeTraits* ggml_type_traits(uint32_t t);

// GGUF metadata value types.
enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8,
  kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* gguf_type_name(GgufType t);

struct GgufValue {
  GgufType type = GgufType::kU8;
  GgufType elem_type = GgufType::kU8;  // of an array
  nlohmann::json value;                // numbers, bool, string, or an array of them
};

struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> dims;  // ne[0] (contiguous) first, as ggml orders them
  uint64_t offset = 0;        // from the data section's start
  uint64_t nbytes = 0;
  int64_t numel() const;
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_start_; }
  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  // The value of `key`, or null.
  const GgufValue* find(const std::string& key) const;
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;
  // The tensor's bytes in the mapping.
  const unsigned char* tensor_data(const GgufTensor& t) const { return file_->data() + data_start_ + t.offset; }

 private:
  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32, data_start_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// The values of tensor t as float32 (t.numel() of them), as ggml's dequantize_row_* gives
// them. Throws kUnsupported naming the tensor and type for a type it does not decode.
std::vector<float> gguf_dequantize(const GgufFile& f, const GgufTensor& t);
// The same for raw blocks: `n` values of type `type` from `data`.
void gguf_dequantize_row(GgmlType type, const unsigned char* data, int64_t n, float* out);

}  // namespace lmf

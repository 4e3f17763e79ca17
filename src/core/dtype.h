// lmforge core: element types and the conversions between them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace lmf {

enum class DType : uint8_t { kF32, kF16, kBF16, kI8, kI32, kI64, kU8 };

// Bytes per element.
size_t dtype_size(DType t);
// Canonical short name: "f32", "f16", "bf16", "i8", "i32", "i64", "u8".
const char* dtype_name(DType t);
// Parses a safetensors dtype string ("F32", "BF16", ...); returns false if unknown.
bool dtype_from_safetensors(std::string_view s, DType* out);

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t f32_to_bf16(float f) {  // round to nearest even
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Converts n elements of type `from` at src into float32 at dst.
void convert_to_f32(DType from, const void* src, float* dst, size_t n);

}  // namespace lmf

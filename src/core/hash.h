// lmforge core: FNV-1a 64, the one hash lmforge uses for checksums, digests and split
// buckets (data shards, tokenizer digests, a user document's split bucket).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lmf {

// FNV-1a 64: offset basis 0xcbf29ce484222325, prime 0x100000001b3, byte by byte.
struct Fnv1a64 {
  static constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ull;
  static constexpr uint64_t kPrime = 0x100000001b3ull;
  uint64_t h = kOffsetBasis;
  void update(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kPrime;
  }
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The four bytes of v, least significant first (the same on every platform).
  void update_u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) h = (h ^ ((v >> (8 * i)) & 0xFF)) * kPrime;
  }
  // 16 lower-case hex digits.
  std::string hex() const;
};

uint64_t fnv1a64(std::string_view s);
// FNV-1a 64 of bytes as 16 lower-case hex digits.
std::string fnv1a64_hex(std::string_view s);

}  // namespace lmf

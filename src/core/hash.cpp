#include "core/hash.h"

#include <fmt/format.h>

namespace lmf {

std::string Fnv1a64::hex() const { return fmt::format("{:016x}", h); }

uint64_t fnv1a64(std::string_view s) {
  Fnv1a64 f;
  f.update(s);
  return f.h;
}

std::string fnv1a64_hex(std::string_view s) {
  Fnv1a64 f;
  f.update(s);
  return f.hex();
}

}  // namespace lmf

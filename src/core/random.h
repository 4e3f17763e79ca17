// lmforge core: SplitMix64 (Steele, Lea and Flood 2014), the one small deterministic
// generator lmforge uses where a result must be the same on every platform (random
// initialization, data-order shuffles, the fuzz mutation test).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmf {

// One SplitMix64 step from state x: x + the golden-ratio increment, then the finalizer.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    const uint64_t out = splitmix64(s);
    s += 0x9e3779b97f4a7c15ull;
    return out;
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }           // [0, n), 0 when n = 0
};

}  // namespace lmf

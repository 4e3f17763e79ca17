// Tests for core/hash.h: FNV-1a 64 matches the published test vectors (Fowler, Noll, Vo:
// "FNV-1a 64" of "", "a", "foobar"), streaming equals one call, and update_u32 hashes the
// value's four bytes least significant first.
#include "core/hash.h"

#include <gtest/gtest.h>

namespace lmf {
namespace {

TEST(Fnv1a64, PublishedVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(fnv1a64_hex("foobar"), "85944171f73967e8");
}

TEST(Fnv1a64, StreamingAndU32) {
  Fnv1a64 f;
  f.update("foo");
  f.update(std::string_view("bar"));
  EXPECT_EQ(f.h, 0x85944171f73967e8ull);
  Fnv1a64 a, b;
  a.update_u32(0x04030201u);
  const unsigned char bytes[4] = {1, 2, 3, 4};
  b.update(bytes, 4);
  EXPECT_EQ(a.h, b.h);
  EXPECT_EQ(a.hex(), b.hex());
}

}  // namespace
}  // namespace lmf

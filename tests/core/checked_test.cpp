// Checked arithmetic on file-supplied sizes (core/checked.h, checked_numel in
// core/tensor.h) and its use by the safetensors reader: a header whose shape product,
// or shape product times the dtype size, overflows int64 is an error naming the file
// and the tensor, never signed overflow.
#include "core/checked.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "core/mapped_file.h"
#include "core/tensor.h"
#include "formats/safetensors.h"
#include "support/errors.h"

namespace lmf {
namespace {

using test::error_of;

TEST(Checked, MultiplyAndAddRefuseOverflow) {
  EXPECT_EQ(checked_mul(int64_t{3} << 40, 1000, "x"), (int64_t{3} << 40) * 1000);
  EXPECT_EQ(checked_mul(-4, 5, "x"), -20);
  EXPECT_EQ(error_of([] { checked_mul(int64_t{1} << 32, int64_t{1} << 31, "f.bin: field 'n'"); }),
            "f.bin: field 'n': 4294967296 x 2147483648 overflows a 64-bit integer");
  EXPECT_NE(error_of([] { checked_mul(INT64_MIN, -1, "w"); }).find("overflows"), std::string::npos);
  EXPECT_EQ(checked_add(INT64_MAX - 1, 1, "x"), INT64_MAX);
  EXPECT_EQ(error_of([] { checked_add(INT64_MAX, 1, "m: field 'd'"); }),
            "m: field 'd': 9223372036854775807 + 1 overflows a 64-bit integer");
}

TEST(Checked, NumelRefusesNegativeAndOverflowingShapes) {
  EXPECT_EQ(checked_numel({}, "t"), 1);
  EXPECT_EQ(checked_numel({3, 0, 5}, "t"), 0);
  EXPECT_EQ(checked_numel({int64_t{1} << 31, int64_t{1} << 31}, "t"), int64_t{1} << 62);
  EXPECT_EQ(error_of([] { checked_numel({int64_t{1} << 32, int64_t{1} << 32}, "a.st: tensor 'w'"); }),
            "a.st: tensor 'w': shape (4294967296, 4294967296) has more elements than a 64-bit integer holds");
  EXPECT_EQ(error_of([] { checked_numel({2, -3}, "a.st: tensor 'w'"); }),
            "a.st: tensor 'w': shape (2, -3) has a negative dimension");
  EXPECT_NE(error_of([] { shape_numel({int64_t{1} << 40, int64_t{1} << 40}); }).find("more elements"), std::string::npos);
  EXPECT_EQ(error_of([] { Tensor::empty(DType::kF32, {int64_t{1} << 31, int64_t{1} << 31}); }),
            "a f32 tensor of shape (2147483648, 2147483648) needs more bytes than a 64-bit size holds");
}

TEST(Checked, ParseInt64NamesTheField) {
  EXPECT_EQ(parse_int64("1234", "x"), 1234);
  EXPECT_EQ(parse_int64("-7", "x"), -7);
  EXPECT_EQ(error_of([] { parse_int64("12x", "s.st: metadata 'step'"); }), "s.st: metadata 'step': '12x' is not an integer");
  EXPECT_EQ(error_of([] { parse_int64("", "s.st: metadata 'step'"); }), "s.st: metadata 'step': '' is not an integer");
  EXPECT_EQ(error_of([] { parse_int64(" 1", "w"); }), "w: ' 1' is not an integer");
  EXPECT_EQ(error_of([] { parse_int64("99999999999999999999", "w"); }), "w: '99999999999999999999' is out of range");
}

// A safetensors file of one tensor "w" with the given header entry and `data` bytes of data.
std::string safetensors_with(const std::string& entry, size_t data) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("lmf_checked_" + std::to_string(::getpid()) + ".safetensors")).string();
  std::string h = "{\"w\": " + entry + "}";
  while (h.size() % 8) h += ' ';
  const uint64_t n = h.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  out += h + std::string(data, '\0');
  write_file_atomic(path, out);
  return path;
}

TEST(Checked, SafetensorsHeaderWithOverflowingShapeIsRefused) {
  const std::string p1 = safetensors_with(
      R"({"dtype": "F32", "shape": [4294967296, 4294967296, 2], "data_offsets": [0, 16]})", 16);
  EXPECT_EQ(error_of([&] { SafetensorsFile::open(p1); }),
            p1 + ": tensor 'w': shape (4294967296, 4294967296, 2) has more elements than a 64-bit integer holds");
  // 2^62 elements fit int64, their 2^64 bytes do not (the old check printed this truncated)
  const std::string p2 = safetensors_with(R"({"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]})", 0);
  EXPECT_EQ(error_of([&] { SafetensorsFile::open(p2); }),
            p2 + ": tensor 'w': 4611686018427387904 x 4 overflows a 64-bit integer");
  const std::string p3 = safetensors_with(R"({"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]})", 16);
  EXPECT_EQ(error_of([&] { SafetensorsFile::open(p3); }), p3 + ": tensor 'w': shape has a bad dimension");
  const std::string p4 = safetensors_with(R"({"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]})", 16);
  EXPECT_EQ(SafetensorsFile::open(p4).tensor("w").numel(), 4);
  std::filesystem::remove(p4);
}

}  // namespace
}  // namespace lmf

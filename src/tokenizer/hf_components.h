// lmforge tokenizer (internal): the components of a tokenizer.json pipeline (hf_tokenizer.h).
// Each is built from its JSON object by a make_* function that names `file` and the JSON
// `field` ("pre_tokenizer.pretokenizers[1]") in its errors.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lmf::tok::hf {

// A PCRE2 pattern compiled with UTF | UCP (JIT where available); shareable across threads.
class Regex {
 public:
  // Throws lmf::Error "FILE: FIELD: regex '...' does not compile: WHY (at offset N)".
  Regex(const std::string& pattern, const std::string& file, const std::string& field);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Non-overlapping matches [start, end) left to right (an empty match is reported and the
  // search goes on one character further), as Hugging Face's find_iter. s must be valid UTF-8.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  void* code_ = nullptr;  // pcre2_code_8
};

// A piece of text during pre-tokenization; `first`: it starts at offset 0 of the input
// (Metaspace's prepend_scheme "first").
struct Piece {
  std::string text;
  bool first = false;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Hugging Face's decode_chain: tokens in, tokens out (joined with "" at the end).
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  // The text one token stands for on its own, for streaming (see Tokenizer::token_text).
  virtual void token_text(std::string& token) const { }
};

// null JSON gives nullptr (no component).
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& file,
                                            const std::string& field);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& file,
                                                 const std::string& field);
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& file, const std::string& field);

// UTF-8 helpers (s valid UTF-8). Code point at s[i] and its length.
uint32_t next_cp(std::string_view s, size_t i, uint32_t* len);
void append_cp(std::string& out, uint32_t cp);
bool is_whitespace(uint32_t cp);  // Rust char::is_whitespace (White_Space)

}  // namespace lmf::tok::hf

// lmforge tokenizer (internal): the state behind BpeTokenizer and how it is built.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace lmf::tok {

struct AddedToken {
  std::string content;  // raw text, matched literally
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;  // also swallow whitespace on the left
  bool rstrip = false;  // and on the right
};

enum class PreSplit { kGpt2, kNone };

// Everything a loader reads from its files; build_bpe() checks and indexes it.
struct BpeSpec {
  std::string path;                                          // for error messages
  std::vector<std::pair<std::string, int64_t>> vocab;        // byte-level token -> id
  std::vector<std::pair<std::string, std::string>> merges;   // in rank order
  std::vector<AddedToken> added;
  std::optional<std::string> unk_token;
  PreSplit split = PreSplit::kGpt2;
  bool add_prefix_space = false;
  bool ignore_merges = false;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// Byte-level BPE of whole words, memoized; safe to use from several threads.
class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 64;
  static constexpr size_t kMaxEntries = size_t{1} << 18;
  // Appends the cached ids of word to out; false when it is not cached.
  bool lookup(std::string_view word, std::vector<int32_t>& out) const;
  void insert(std::string_view word, const std::vector<int32_t>& ids) const;

 private:
  mutable std::shared_mutex mu_;
  mutable StringMap<std::vector<int32_t>> map_;
};

}  // namespace lmf::tok

namespace lmf {

struct BpeTokenizer::Impl {
  std::string path;
  std::vector<std::string> token_strings;  // by id: as in the file ("" where no token)
  std::vector<std::string> token_bytes;    // by id: the bytes it decodes to
  std::vector<uint8_t> present;            // by id: 1 where a token has this id
  std::vector<uint8_t> special;            // by id: 1 for special added tokens
  tok::StringMap<int32_t> by_token;        // file form (vocabulary and added tokens) -> id
  tok::StringMap<int32_t> by_bytes;        // raw bytes -> id (only with ignore_merges)
  std::array<int32_t, 256> byte_ids{};     // byte -> id of its byte-level symbol, -1 if none
  tok::MergeTable merges;
  std::vector<tok::AddedToken> added;
  std::array<std::vector<uint32_t>, 256> added_by_first_byte;  // indices, longest first
  std::optional<int32_t> unk_id;
  tok::PreSplit split = tok::PreSplit::kGpt2;
  bool add_prefix_space = false;
  bool ignore_merges = false;
  std::string digest;
  std::optional<int32_t> default_eos;
  tok::WordCache cache;

  void encode(std::string_view text, std::vector<int32_t>& out) const;
  void encode_segment(std::string_view seg, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  const std::string& bytes_of(int32_t id) const;
};

namespace tok {
std::shared_ptr<BpeTokenizer::Impl> build_bpe(BpeSpec spec);
// Bytes of a byte-level token string ("Ġthe" -> " the"); a string with a character
// outside the byte-level alphabet stays as it is (HF's ByteLevel decoder does the same).
std::string byte_level_decode(std::string_view token);
// The byte-level string of raw bytes (" the" -> "Ġthe").
std::string byte_level_encode(std::string_view bytes);
}  // namespace tok

}  // namespace lmf

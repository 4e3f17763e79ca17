// lmforge tokenizer (internal): Unicode classes, UTF-8 decoding and GPT-2's pre-tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace lmf::tok {

enum class CharClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };

// \p{L}, \p{N} or \s (White_Space) of a code point; kOther for anything else.
CharClass char_class(uint32_t cp);
// The Unicode version of the tables.
const char* unicode_version();

struct Utf8Char {
  uint32_t cp;   // kInvalidCp for a byte that does not start a valid UTF-8 sequence
  uint32_t len;  // bytes consumed, 1..4
};
inline constexpr uint32_t kInvalidCp = 0xFFFFFFFF;

// Decodes the character at s[i] (i < s.size()). Overlong forms, surrogates, values above
// U+10FFFF and truncated sequences decode as one invalid byte.
Utf8Char decode_utf8(std::string_view s, size_t i);

// Class and length of the character at s[i]; invalid bytes are kOther.
struct ClassedChar {
  CharClass cls;
  uint32_t len;
};
ClassedChar classify_at(std::string_view s, size_t i);

// A piece of the input: s.substr(offset, length).
struct Piece {
  uint32_t offset;
  uint32_t length;
};

// Splits text with GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// appending the matches (which cover the whole text, in order) to out.
void gpt2_split(std::string_view text, std::vector<Piece>& out);

}  // namespace lmf::tok

// lmforge tokenizer (internal): Unicode classes, UTF-8 decoding and GPT-2's pre-tokenizer.
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <array>

namespace lmf::tok {
namespace {

struct UnicodeRange {
  uint32_t lo, hi;
  uint8_t cls;
};

#include "tokenizer/unicode_tables.inc"

// Direct table for the Basic Multilingual Plane; binary search above it.
struct BmpTable {
  std::array<uint8_t, 0x10000> cls{};
  BmpTable() {
    for (const UnicodeRange& r : kUnicodeRanges) {
      if (r.lo > 0xFFFF) break;
      for (uint32_t cp = r.lo; cp <= std::min<uint32_t>(r.hi, 0xFFFF); ++cp) cls[cp] = r.cls;
    }
  }
};

const BmpTable& bmp_table() {
  static const BmpTable table;
  return table;
}

}  // namespace

const char* unicode_version() { return LMF_UNICODE_VERSION; }

CharClass char_class(uint32_t cp) {
  if (cp <= 0xFFFF) return static_cast<CharClass>(bmp_table().cls[cp]);
  auto it = std::upper_bound(std::begin(kUnicodeRanges), std::end(kUnicodeRanges), cp,
                             [](uint32_t v, const UnicodeRange& r) { return v < r.lo; });
  if (it == std::begin(kUnicodeRanges)) return CharClass::kOther;
  --it;
  return cp <= it->hi ? static_cast<CharClass>(it->cls) : CharClass::kOther;
}

Utf8Char decode_utf8(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const uint32_t b0 = p[i];
  if (b0 < 0x80) return {b0, 1};
  uint32_t len, cp, min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {kInvalidCp, 1};
  }
  if (i + len > n) return {kInvalidCp, 1};
  for (uint32_t k = 1; k < len; ++k) {
    const uint32_t b = p[i + k];
    if ((b & 0xC0) != 0x80) return {kInvalidCp, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {kInvalidCp, 1};
  return {cp, len};
}

namespace {

// Classes of the ASCII characters: letters, digits, \t\n\v\f\r and space.
constexpr std::array<uint8_t, 128> make_ascii_classes() {
  std::array<uint8_t, 128> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = 1;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = 1;
  for (int c = '0'; c <= '9'; ++c) t[c] = 2;
  for (int c = 0x09; c <= 0x0D; ++c) t[c] = 3;
  t[' '] = 3;
  return t;
}
constexpr std::array<uint8_t, 128> kAsciiClasses = make_ascii_classes();

}  // namespace

ClassedChar classify_at(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return {static_cast<CharClass>(kAsciiClasses[b]), 1};
  const Utf8Char c = decode_utf8(s, i);
  if (c.cp == kInvalidCp) return {CharClass::kOther, 1};
  return {char_class(c.cp), c.len};
}

namespace {

// Length of a contraction ('s 't 're 've 'm 'll 'd, lower case only) at s[i], or 0.
size_t contraction_at(std::string_view s, size_t i) {
  if (s[i] != '\'' || i + 1 >= s.size()) return 0;
  const char c1 = s[i + 1];
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (i + 2 >= s.size()) return 0;
  const char c2 = s[i + 2];
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

// End of the run of characters of class cls (kOther: anything but L, N, \s) from s[i].
size_t run_end(std::string_view s, size_t i, CharClass cls) {
  const size_t n = s.size();
  while (i < n) {
    const ClassedChar c = classify_at(s, i);
    if (c.cls != cls) break;
    i += c.len;
  }
  return i;
}

}  // namespace

void gpt2_split(std::string_view s, std::vector<Piece>& out) {
  const size_t n = s.size();
  size_t pos = 0;
  auto emit = [&](size_t end) {
    out.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(end - pos)});
    pos = end;
  };
  while (pos < n) {
    if (size_t len = contraction_at(s, pos)) {
      emit(pos + len);
      continue;
    }
    // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+"
    const size_t p = s[pos] == ' ' ? pos + 1 : pos;
    if (p < n) {
      const ClassedChar c = classify_at(s, p);
      if (c.cls != CharClass::kSpace) {
        emit(run_end(s, p + c.len, c.cls));
        continue;
      }
    }
    // "\s+(?!\S)|\s+": the whole run at the end of the text or when it is one character,
    // otherwise all of it but its last character (which goes with what follows).
    size_t end = pos, last = pos;
    while (end < n) {
      const ClassedChar c = classify_at(s, end);
      if (c.cls != CharClass::kSpace) break;
      last = end;
      end += c.len;
    }
    emit(end == n || last == pos ? end : last);
  }
}

}  // namespace lmf::tok

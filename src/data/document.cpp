#include "data/document.h"

#include <fmt/format.h>

#include <charconv>

#include "core/error.h"
#include "tokenizer/pre_tokenizer.h"

namespace lmf::data {

const char* split_name(Split s) { return kSplitNames[static_cast<int>(s)]; }

Split parse_split(std::string_view name) {
  if (name == "train") return Split::kTrain;
  if (name == "valid" || name == "validation") return Split::kValid;
  if (name == "test") return Split::kTest;
  fail(ErrorCode::kInvalidArgument, "unknown split '{}' (splits: train, valid, test)", name);
}

SplitPercent parse_split_percent(const std::string& s, const std::string& flag) {
  int v[3] = {0, 0, 0};
  size_t pos = 0;
  for (int k = 0; k < 3; ++k) {
    const char* b = s.data() + pos;
    const char* e = s.data() + s.size();
    auto [p, ec] = std::from_chars(b, e, v[k]);
    const bool sep_ok = k < 2 ? (p < e && *p == ',') : p == e;
    LMF_CHECK(ec == std::errc() && p > b && sep_ok && v[k] >= 0 && v[k] <= 100, kInvalidArgument,
              "{}: '{}' is not three percentages TRAIN,VALID,TEST (e.g. 90,5,5)", flag, s);
    pos = static_cast<size_t>(p - s.data()) + 1;
  }
  LMF_CHECK(v[0] + v[1] + v[2] == 100, kInvalidArgument, "{}: '{}' must sum to 100, not {}", flag, s,
            v[0] + v[1] + v[2]);
  return {v[0], v[1], v[2]};
}

Split split_of(int bucket, const SplitPercent& p) {
  if (bucket < p.train) return Split::kTrain;
  if (bucket < p.train + p.valid) return Split::kValid;
  return Split::kTest;
}

TextProblem check_text(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) return {TextProblem::kNul, i};
    if (c < 0x80) {
      ++i;
      continue;
    }
    const tok::Utf8Char u = tok::decode_utf8(text, i);
    if (u.cp == tok::kInvalidCp) return {TextProblem::kInvalidUtf8, i};
    i += u.len;
  }
  return {};
}

bool is_blank(std::string_view text) {
  for (char c : text)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') return false;
  return true;
}

}  // namespace lmf::data

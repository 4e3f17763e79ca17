#include "core/checked.h"

#include <charconv>

namespace lmf {

int64_t parse_int64(const std::string& text, std::string_view what) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  LMF_CHECK(ec != std::errc::result_out_of_range, kBadFile, "{}: '{}' is out of range", what, text);
  LMF_CHECK(ec == std::errc() && p == end && !text.empty(), kBadFile, "{}: '{}' is not an integer", what, text);
  return v;
}

bool json_depth_ok(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

void check_json_depth(std::string_view text, std::string_view what) {
  LMF_CHECK(json_depth_ok(text), kBadFile, "{}: JSON nested deeper than {} levels", what, kMaxJsonDepth);
}

void check_token_ids(std::span<const int32_t> ids, int64_t vocab, std::string_view what) {
  for (size_t i = 0; i < ids.size(); ++i)
    LMF_CHECK(ids[i] >= 0 && ids[i] < vocab, kBadFile, "{}: token id {} at {} is outside the model's vocabulary of {}",
              what, ids[i], i, vocab);
}

}  // namespace lmf

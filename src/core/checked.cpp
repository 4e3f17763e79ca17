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

}  // namespace lmf

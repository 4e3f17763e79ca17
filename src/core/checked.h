// lmforge core: checked arithmetic and number parsing for file-supplied values.
//
// Every product or sum of sizes read from a file (a safetensors shape × its dtype size,
// a manifest's token counts × bytes per token) goes through checked_mul / checked_add,
// so an absurd header is an lmf::Error naming `what` (file and tensor or field), never
// signed overflow. parse_int64 is std::stoll for file metadata: the whole text must be
// a decimal integer in range, else an error naming `what`. check_json_depth caps the
// nesting of a file's JSON before it is parsed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace lmf {

// a * b; throws kBadFile "<what>: <a> x <b> overflows a 64-bit integer" on overflow.
inline int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
  int64_t out;
  LMF_CHECK(!__builtin_mul_overflow(a, b, &out), kBadFile, "{}: {} x {} overflows a 64-bit integer", what, a, b);
  return out;
}

// a + b; throws kBadFile naming `what` on overflow.
inline int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
  int64_t out;
  LMF_CHECK(!__builtin_add_overflow(a, b, &out), kBadFile, "{}: {} + {} overflows a 64-bit integer", what, a, b);
  return out;
}

// The decimal integer `text` (optional leading '-'); throws kBadFile
// "<what>: '<text>' is not an integer" (or "... is out of range").
int64_t parse_int64(const std::string& text, std::string_view what);

// JSON from a file may nest this deep at most. nlohmann's parser and destructor are
// iterative, but copying, comparing and printing a value recurse once per level, so
// 100 000 nested brackets would overflow the stack long after parsing succeeded.
inline constexpr int kMaxJsonDepth = 256;
// Whether `text` nests arrays and objects at most kMaxJsonDepth deep (brackets inside
// strings do not count); a linear scan, to run before parsing.
bool json_depth_ok(std::string_view text);
// Throws kBadFile "<what>: JSON nested deeper than 256 levels" unless json_depth_ok(text).
void check_json_depth(std::string_view text, std::string_view what);

// Throws kBadFile "<what>: token id <id> at <i> is outside the model's vocabulary of <vocab>"
// for the first id not in [0, vocab): ids from a file (a dataset, calibration data) or a
// caller index logits and embeddings.
void check_token_ids(std::span<const int32_t> ids, int64_t vocab, std::string_view what);

}  // namespace lmf

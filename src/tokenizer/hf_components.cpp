// lmforge tokenizer: normalizers, pre-tokenizers and decoders of tokenizer.json (see
// hf_components.h), following Hugging Face `tokenizers` semantics.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/hf_components.h"

#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/bpe_tokenizer_impl.h"
#include "tokenizer/hf_tokenizer.h"

namespace lmf::tok::hf {

using nlohmann::json;

// ---------------------------------------------------------------- UTF-8 and Unicode classes

uint32_t next_cp(std::string_view s, size_t i, uint32_t* len) {
  utf8proc_int32_t cp = 0;
  const utf8proc_ssize_t n =
      utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i), static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
  if (n <= 0) {  // not reached for valid UTF-8; one byte as U+FFFD
    *len = 1;
    return 0xFFFD;
  }
  *len = static_cast<uint32_t>(n);
  return static_cast<uint32_t>(cp);
}

void append_cp(std::string& out, uint32_t cp) {
  utf8proc_uint8_t buf[4];
  const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

bool is_whitespace(uint32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

namespace {

utf8proc_category_t category(uint32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }

bool is_numeric(uint32_t cp) {  // Rust char::is_numeric: Nd, Nl, No
  const auto c = category(cp);
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

bool is_punctuation(uint32_t cp) {  // HF: ASCII punctuation or Unicode P*
  if (cp < 0x80) return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  const auto c = category(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool is_control(uint32_t cp) {  // BERT's _is_control
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  const auto c = category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CN ||
         c == UTF8PROC_CATEGORY_CO;
}

bool is_chinese(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// ---------------------------------------------------------------- JSON field access

struct Node {
  const json& j;
  const std::string& file;
  std::string field;

  [[noreturn]] void bad(const std::string& what) const { fail(ErrorCode::kBadFile, "{}: {} {}", file, field, what); }
  std::string type() const {
    LMF_CHECK(j.is_object(), kBadFile, "{}: {} is not an object", file, field);
    auto it = j.find("type");
    LMF_CHECK(it != j.end() && it->is_string(), kBadFile, "{}: {}.type is missing or not a string", file, field);
    return it->get<std::string>();
  }
  [[noreturn]] void unsupported(const std::string& type) const {
    fail(ErrorCode::kUnsupported, "{}: {}.type '{}' is not supported", file, field, type);
  }
  bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }
  std::string str(const char* key, const std::string& def) const {
    if (!has(key)) return def;
    LMF_CHECK(j[key].is_string(), kBadFile, "{}: {}.{} is not a string", file, field, key);
    return j[key].get<std::string>();
  }
  bool boolean(const char* key, bool def) const {
    if (!has(key)) return def;
    LMF_CHECK(j[key].is_boolean(), kBadFile, "{}: {}.{} is not true or false", file, field, key);
    return j[key].get<bool>();
  }
  int64_t integer(const char* key, int64_t def) const {
    if (!has(key)) return def;
    LMF_CHECK(j[key].is_number_integer(), kBadFile, "{}: {}.{} is not an integer", file, field, key);
    return j[key].get<int64_t>();
  }
  const json& array(const char* key) const {
    LMF_CHECK(j.contains(key) && j[key].is_array(), kBadFile, "{}: {}.{} is not an array", file, field, key);
    return j[key];
  }
  // A single character ("▁"), as Metaspace's replacement.
  uint32_t character(const char* key, uint32_t def) const {
    if (!has(key)) return def;
    const std::string s = str(key, "");
    uint32_t len = 0;
    LMF_CHECK(!s.empty() && next_cp(s, 0, &len) && len == s.size(), kBadFile, "{}: {}.{} '{}' is not one character", file,
              field, key, s);
    return next_cp(s, 0, &len);
  }
};

// A Split/Replace pattern: {"String": s} or {"Regex": r}.
struct Pattern {
  std::string literal;
  std::unique_ptr<Regex> regex;

  Pattern(const Node& n, const char* key) {
    LMF_CHECK(n.j.contains(key) && n.j[key].is_object(), kBadFile, "{}: {}.{} is not an object", n.file, n.field, key);
    const json& p = n.j[key];
    if (p.contains("String") && p["String"].is_string()) {
      literal = p["String"].get<std::string>();
    } else if (p.contains("Regex") && p["Regex"].is_string()) {
      regex = std::make_unique<Regex>(p["Regex"].get<std::string>(), n.file, n.field + "." + key + ".Regex");
    } else {
      fail(ErrorCode::kBadFile, "{}: {}.{} is neither {{\"String\": ...}} nor {{\"Regex\": ...}}", n.file, n.field, key);
    }
  }
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
    if (regex) return regex->find_all(s, out);
    if (literal.empty()) return;
    for (size_t p = s.find(literal); p != std::string_view::npos; p = s.find(literal, p + literal.size())) {
      out.emplace_back(p, p + literal.size());
    }
  }
};

}  // namespace

// ---------------------------------------------------------------- Regex

namespace {
struct MatchScratch {
  pcre2_match_context* ctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchScratch() {
    ctx = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (ctx && stack) pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(ctx);
  }
};
}  // namespace

Regex::Regex(const std::string& pattern, const std::string& file, const std::string& field) {
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    fail(ErrorCode::kBadFile, "{}: {}: regex '{}' does not compile: {} (at offset {})", file, field, pattern,
         reinterpret_cast<const char*>(msg), off);
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter where JIT is missing
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  thread_local MatchScratch scratch;
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  LMF_CHECK(md != nullptr, kInternal, "pcre2: out of memory");
  size_t pos = 0;
  while (pos <= s.size()) {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, PCRE2_NO_UTF_CHECK, md,
                               scratch.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      fail(ErrorCode::kInternal, "regex match failed: {}", reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    out.emplace_back(ov[0], ov[1]);
    if (ov[1] > ov[0]) {
      pos = ov[1];
    } else {  // empty match: go on after the next character
      if (ov[1] >= s.size()) break;
      uint32_t len = 1;
      next_cp(s, ov[1], &len);
      pos = ov[1] + len;
    }
  }
  pcre2_match_data_free(md);
}

// ---------------------------------------------------------------- splitting with a behaviour

namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior parse_behavior(const Node& n, const std::string& def) {
  const std::string b = n.str("behavior", def);
  if (b == "Removed") return Behavior::kRemoved;
  if (b == "Isolated") return Behavior::kIsolated;
  if (b == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::kMergedWithNext;
  if (b == "Contiguous") return Behavior::kContiguous;
  fail(ErrorCode::kUnsupported, "{}: {}.behavior '{}' is not supported", n.file, n.field, b);
}

struct Span {
  size_t start, end;
  bool match;
};

// Hugging Face's NormalizedString::split: `matches` (sorted, non-overlapping) cut s into spans.
void split_piece(const Piece& p, const std::vector<std::pair<size_t, size_t>>& matches, bool invert, Behavior b,
                 std::vector<Piece>& out) {
  std::vector<Span> spans;
  size_t prev = 0;
  for (const auto& [s, e] : matches) {
    if (s > prev) spans.push_back({prev, s, invert});
    spans.push_back({s, e, !invert});
    prev = e;
  }
  if (prev < p.text.size()) spans.push_back({prev, p.text.size(), invert});
  std::vector<Span> kept;
  switch (b) {
    case Behavior::kRemoved:
      for (const Span& s : spans)
        if (!s.match) kept.push_back(s);
      break;
    case Behavior::kIsolated:
      kept = spans;
      break;
    case Behavior::kContiguous:
      for (const Span& s : spans) {
        if (!kept.empty() && kept.back().match == s.match) {
          kept.back().end = s.end;
        } else {
          kept.push_back(s);
        }
      }
      break;
    case Behavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const Span& s : spans) {
        if (s.match && !prev_match && !kept.empty()) {
          kept.back().end = s.end;
        } else {
          kept.push_back({s.start, s.end, false});
        }
        prev_match = s.match;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool prev_match = false;
      for (size_t i = spans.size(); i-- > 0;) {
        const Span& s = spans[i];
        if (s.match && !prev_match && !kept.empty()) {
          kept.back().start = s.start;
        } else {
          kept.push_back({s.start, s.end, false});
        }
        prev_match = s.match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
  }
  for (const Span& s : kept) {
    if (s.end > s.start) out.push_back({p.text.substr(s.start, s.end - s.start), p.first && s.start == 0});
  }
}

template <typename Pred>
void char_matches(std::string_view s, Pred pred, std::vector<std::pair<size_t, size_t>>& out) {
  for (size_t i = 0; i < s.size();) {
    uint32_t len = 1;
    const uint32_t cp = next_cp(s, i, &len);
    if (pred(cp)) out.emplace_back(i, i + len);
    i += len;
  }
}

// Applies `find` (string -> matches) to every piece with a behaviour.
template <typename Find>
void split_all(std::vector<Piece>& pieces, Find find, bool invert, Behavior b) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  std::vector<std::pair<size_t, size_t>> m;
  for (const Piece& p : pieces) {
    m.clear();
    find(p.text, m);
    split_piece(p, m, invert, b, out);
  }
  pieces = std::move(out);
}

// ---------------------------------------------------------------- normalizers

class UnicodeNorm final : public Normalizer {
 public:
  explicit UnicodeNorm(int options) : options_(options) {}
  std::string normalize(std::string s) const override {
    if (s.empty()) return s;
    utf8proc_uint8_t* dst = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                            static_cast<utf8proc_ssize_t>(s.size()), &dst,
                                            static_cast<utf8proc_option_t>(options_ | UTF8PROC_STABLE));
    LMF_CHECK(n >= 0, kInternal, "utf8proc: {}", utf8proc_errmsg(n));
    std::string r(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
    std::free(dst);
    return r;
  }

 private:
  int options_;
};

std::string lowercase(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t len = 1;
    const uint32_t cp = next_cp(s, i, &len);
    if (cp == 0x130) {  // full lowercase mapping: 'i' + combining dot above
      r += "i\xCC\x87";
    } else {
      append_cp(r, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
    i += len;
  }
  return r;
}

class Lowercase final : public Normalizer {
 public:
  std::string normalize(std::string s) const override { return lowercase(s); }
};

std::string strip_ws(std::string_view s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      uint32_t len = 1;
      if (!is_whitespace(next_cp(s, b, &len))) break;
      b += len;
    }
  }
  if (right) {
    while (e > b) {
      size_t k = e - 1;
      while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
      uint32_t len = 1;
      if (!is_whitespace(next_cp(s, k, &len))) break;
      e = k;
    }
  }
  return std::string(s.substr(b, e - b));
}

class Strip final : public Normalizer {
 public:
  Strip(bool l, bool r) : left_(l), right_(r) {}
  std::string normalize(std::string s) const override { return strip_ws(s, left_, right_); }

 private:
  bool left_, right_;
};

std::string replace_all(const Pattern& pat, const std::string& content, std::string_view s) {
  std::vector<std::pair<size_t, size_t>> m;
  pat.find_all(s, m);
  if (m.empty()) return std::string(s);
  std::string r;
  size_t prev = 0;
  for (const auto& [a, b] : m) {
    r.append(s.substr(prev, a - prev));
    r += content;
    prev = b;
  }
  r.append(s.substr(prev));
  return r;
}

class Replace final : public Normalizer {
 public:
  Replace(const Node& n) : pat_(n, "pattern"), content_(n.str("content", "")) {}
  std::string normalize(std::string s) const override { return replace_all(pat_, content_, s); }

 private:
  Pattern pat_;
  std::string content_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string p) : p_(std::move(p)) {}
  std::string normalize(std::string s) const override { return s.empty() ? s : p_ + s; }

 private:
  std::string p_;
};

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(const Node& n)
      : clean_(n.boolean("clean_text", true)),
        chinese_(n.boolean("handle_chinese_chars", true)),
        lower_(n.boolean("lowercase", true)),
        strip_(n.has("strip_accents") ? n.boolean("strip_accents", false) : lower_) {}
  std::string normalize(std::string s) const override {
    std::string r;
    r.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      uint32_t len = 1;
      const uint32_t cp = next_cp(s, i, &len);
      i += len;
      if (clean_) {
        if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
        if (is_whitespace(cp)) {
          r += ' ';
          continue;
        }
      }
      if (chinese_ && is_chinese(cp)) {
        r += ' ';
        append_cp(r, cp);
        r += ' ';
        continue;
      }
      append_cp(r, cp);
    }
    if (strip_) {
      r = UnicodeNorm(UTF8PROC_DECOMPOSE).normalize(std::move(r));
      std::string t;
      for (size_t i = 0; i < r.size();) {
        uint32_t len = 1;
        const uint32_t cp = next_cp(r, i, &len);
        if (category(cp) != UTF8PROC_CATEGORY_MN) t.append(r, i, len);
        i += len;
      }
      r = std::move(t);
    }
    if (lower_) r = lowercase(r);
    return r;
  }

 private:
  bool clean_, chinese_, lower_, strip_;
};

class NormalizerSequence final : public Normalizer {
 public:
  explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> s) : steps_(std::move(s)) {}
  std::string normalize(std::string s) const override {
    for (const auto& n : steps_) s = n->normalize(std::move(s));
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

// ---------------------------------------------------------------- pre-tokenizers

constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPre final : public PreTokenizer {
 public:
  ByteLevelPre(const Node& n) : prefix_(n.boolean("add_prefix_space", true)) {
    if (n.boolean("use_regex", true)) regex_ = std::make_unique<Regex>(std::string(kGpt2Pattern), n.file, n.field);
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (prefix_) {
      for (Piece& p : pieces)
        if (p.text.empty() || p.text[0] != ' ') p.text.insert(0, 1, ' ');
    }
    if (regex_) {
      split_all(pieces, [this](std::string_view s, auto& m) { regex_->find_all(s, m); }, false, Behavior::kIsolated);
    }
    for (Piece& p : pieces) p.text = byte_level_encode(p.text);
  }

 private:
  bool prefix_;
  std::unique_ptr<Regex> regex_;
};

class SplitPre final : public PreTokenizer {
 public:
  SplitPre(const Node& n)
      : pat_(n, "pattern"), behavior_(parse_behavior(n, "Isolated")), invert_(n.boolean("invert", false)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, [this](std::string_view s, auto& m) { pat_.find_all(s, m); }, invert_, behavior_);
  }

 private:
  Pattern pat_;
  Behavior behavior_;
  bool invert_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

PrependScheme parse_prepend_scheme(const Node& n) {
  if (!n.has("prepend_scheme")) return n.boolean("add_prefix_space", true) ? PrependScheme::kAlways : PrependScheme::kNever;
  const std::string s = n.str("prepend_scheme", "always");
  if (s == "always") return PrependScheme::kAlways;
  if (s == "first") return PrependScheme::kFirst;
  if (s == "never") return PrependScheme::kNever;
  fail(ErrorCode::kUnsupported, "{}: {}.prepend_scheme '{}' is not supported", n.file, n.field, s);
}

class MetaspacePre final : public PreTokenizer {
 public:
  MetaspacePre(const Node& n) : scheme_(parse_prepend_scheme(n)), split_(n.boolean("split", true)) {
    append_cp(rep_, n.character("replacement", 0x2581));
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (Piece& p : pieces) {
      std::string t;
      t.reserve(p.text.size() + rep_.size());
      for (char c : p.text) {
        if (c == ' ') {
          t += rep_;
        } else {
          t += c;
        }
      }
      const bool prepend = scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && p.first);
      if (prepend && !t.starts_with(rep_)) t.insert(0, rep_);
      p.text = std::move(t);
    }
    if (split_) {
      split_all(
          pieces,
          [this](std::string_view s, auto& m) {
            for (size_t q = s.find(rep_); q != std::string_view::npos; q = s.find(rep_, q + rep_.size()))
              m.emplace_back(q, q + rep_.size());
          },
          false, Behavior::kMergedWithNext);
    }
  }

 private:
  std::string rep_;
  PrependScheme scheme_;
  bool split_;
};

template <typename Pred>
class CharSplitPre final : public PreTokenizer {
 public:
  CharSplitPre(Pred pred, Behavior b) : pred_(pred), b_(b) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, [this](std::string_view s, auto& m) { char_matches(s, pred_, m); }, false, b_);
  }

 private:
  Pred pred_;
  Behavior b_;
};
template <typename Pred>
std::unique_ptr<PreTokenizer> char_split(Pred p, Behavior b) {
  return std::make_unique<CharSplitPre<Pred>>(p, b);
}

class WhitespacePre final : public PreTokenizer {
 public:
  WhitespacePre(const Node& n) : re_(R"(\w+|[^\w\s]+)", n.file, n.field) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, [this](std::string_view s, auto& m) { re_.find_all(s, m); }, true, Behavior::kRemoved);
  }

 private:
  Regex re_;
};

class PreSequence final : public PreTokenizer {
 public:
  explicit PreSequence(std::vector<std::unique_ptr<PreTokenizer>> s) : steps_(std::move(s)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : steps_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

// ---------------------------------------------------------------- decoders

class ByteLevelDec final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) bytes += byte_level_decode(t);
    tokens.assign(1, utf8_lossy(bytes));
  }
  void token_text(std::string& t) const override { t = byte_level_decode(t); }
};

class MetaspaceDec final : public Decoder {
 public:
  MetaspaceDec(const Node& n) : scheme_(parse_prepend_scheme(n)) { rep_ = n.character("replacement", 0x2581); }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) apply(tokens[i], i == 0 && scheme_ != PrependScheme::kNever);
  }
  void token_text(std::string& t) const override { apply(t, false); }

 private:
  void apply(std::string& t, bool drop) const {
    std::string r;
    for (size_t k = 0; k < t.size();) {
      uint32_t len = 1;
      const uint32_t cp = next_cp(t, k, &len);
      if (cp == rep_) {
        if (!drop) r += ' ';
      } else {
        r.append(t, k, len);
      }
      k += len;
    }
    t = std::move(r);
  }
  uint32_t rep_;
  PrependScheme scheme_;
};

int byte_token(const std::string& t) {  // "<0x4A>" -> 0x4A, else -1
  if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return -1;
  auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  const int h = hex(t[3]), l = hex(t[4]);
  return h < 0 || l < 0 ? -1 : h * 16 + l;
}

class ByteFallbackDec final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (utf8_lossy(pending) == pending) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& t : tokens) {
      const int b = byte_token(t);
      if (b >= 0) {
        pending += static_cast<char>(b);
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
  void token_text(std::string& t) const override {
    if (const int b = byte_token(t); b >= 0) t.assign(1, static_cast<char>(b));
  }
};

class FuseDec final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDec final : public Decoder {
 public:
  StripDec(const Node& n) : start_(n.integer("start", 0)), stop_(n.integer("stop", 0)) {
    content_ = n.character("content", ' ');
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<std::pair<uint32_t, uint32_t>> cps;  // cp, byte offset
      for (size_t k = 0; k < t.size();) {
        uint32_t len = 1;
        cps.emplace_back(next_cp(t, k, &len), static_cast<uint32_t>(k));
        k += len;
      }
      size_t b = 0, e = cps.size();
      for (int64_t i = 0; i < start_ && b < e && cps[b].first == content_; ++i) ++b;
      for (int64_t i = 0; i < stop_ && e > b && cps[e - 1].first == content_; ++i) --e;
      const size_t bb = b < cps.size() ? cps[b].second : t.size();
      const size_t eb = e < cps.size() ? cps[e].second : t.size();
      t = t.substr(bb, eb - bb);
    }
  }

 private:
  int64_t start_, stop_;
  uint32_t content_;
};

class ReplaceDec final : public Decoder {
 public:
  ReplaceDec(const Node& n) : pat_(n, "pattern"), content_(n.str("content", "")) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) t = replace_all(pat_, content_, t);
  }
  void token_text(std::string& t) const override { t = replace_all(pat_, content_, t); }

 private:
  Pattern pat_;
  std::string content_;
};

class WordPieceDec final : public Decoder {
 public:
  WordPieceDec(const Node& n) : prefix_(n.str("prefix", "##")), cleanup_(n.boolean("cleanup", true)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i > 0) {
        if (t.starts_with(prefix_)) {
          t.erase(0, prefix_.size());
        } else {
          t.insert(0, 1, ' ');
        }
      }
      if (cleanup_) t = cleanup(t);
    }
  }

 private:
  static std::string cleanup(std::string s) {
    static const std::pair<std::string_view, std::string_view> kRules[] = {
        {" .", "."},     {" ?", "?"},     {" !", "!"},     {" ,", ","},          {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"},
        {" 're", "'re"}};
    for (const auto& [from, to] : kRules) {
      std::string r;
      size_t prev = 0;
      for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, prev)) {
        r.append(s, prev, p - prev);
        r += to;
        prev = p + from.size();
      }
      r.append(s, prev);
      s = std::move(r);
    }
    return s;
  }
  std::string prefix_;
  bool cleanup_;
};

class DecoderSequence final : public Decoder {
 public:
  explicit DecoderSequence(std::vector<std::unique_ptr<Decoder>> s) : steps_(std::move(s)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : steps_) d->decode_chain(tokens);
  }
  void token_text(std::string& t) const override {
    for (const auto& d : steps_) d->token_text(t);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

std::string item(const std::string& field, const char* key, size_t i) { return fmt::format("{}.{}[{}]", field, key, i); }

}  // namespace

// ---------------------------------------------------------------- factories

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& file, const std::string& field) {
  if (j.is_null()) return nullptr;
  const Node n{j, file, field};
  const std::string type = n.type();
  if (type == "NFC") return std::make_unique<UnicodeNorm>(UTF8PROC_COMPOSE);
  if (type == "NFD") return std::make_unique<UnicodeNorm>(UTF8PROC_DECOMPOSE);
  if (type == "NFKC") return std::make_unique<UnicodeNorm>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD") return std::make_unique<UnicodeNorm>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Strip") return std::make_unique<Strip>(n.boolean("strip_left", true), n.boolean("strip_right", true));
  if (type == "Replace") return std::make_unique<Replace>(n);
  if (type == "Prepend") return std::make_unique<Prepend>(n.str("prepend", ""));
  if (type == "BertNormalizer") return std::make_unique<BertNormalizer>(n);
  if (type == "Sequence") {
    const json& a = n.array("normalizers");
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto s = make_normalizer(a[i], file, item(field, "normalizers", i))) steps.push_back(std::move(s));
    }
    return std::make_unique<NormalizerSequence>(std::move(steps));
  }
  n.unsupported(type);
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& file, const std::string& field) {
  if (j.is_null()) return nullptr;
  const Node n{j, file, field};
  const std::string type = n.type();
  if (type == "ByteLevel") return std::make_unique<ByteLevelPre>(n);
  if (type == "Split") return std::make_unique<SplitPre>(n);
  if (type == "Metaspace") return std::make_unique<MetaspacePre>(n);
  if (type == "Digits") {
    return char_split(is_numeric, n.boolean("individual_digits", false) ? Behavior::kIsolated : Behavior::kContiguous);
  }
  if (type == "Punctuation") return char_split(is_punctuation, parse_behavior(n, "Isolated"));
  if (type == "WhitespaceSplit") return char_split(is_whitespace, Behavior::kRemoved);
  if (type == "Whitespace") return std::make_unique<WhitespacePre>(n);
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    steps.push_back(char_split(is_whitespace, Behavior::kRemoved));
    steps.push_back(char_split(is_punctuation, Behavior::kIsolated));
    return std::make_unique<PreSequence>(std::move(steps));
  }
  if (type == "Sequence") {
    const json& a = n.array("pretokenizers");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto s = make_pre_tokenizer(a[i], file, item(field, "pretokenizers", i))) steps.push_back(std::move(s));
    }
    return std::make_unique<PreSequence>(std::move(steps));
  }
  n.unsupported(type);
}

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& file, const std::string& field) {
  if (j.is_null()) return nullptr;
  const Node n{j, file, field};
  const std::string type = n.type();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (type == "Metaspace") return std::make_unique<MetaspaceDec>(n);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (type == "Fuse") return std::make_unique<FuseDec>();
  if (type == "Strip") return std::make_unique<StripDec>(n);
  if (type == "Replace") return std::make_unique<ReplaceDec>(n);
  if (type == "WordPiece") return std::make_unique<WordPieceDec>(n);
  if (type == "Sequence") {
    const json& a = n.array("decoders");
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto s = make_decoder(a[i], file, item(field, "decoders", i))) steps.push_back(std::move(s));
    }
    return std::make_unique<DecoderSequence>(std::move(steps));
  }
  n.unsupported(type);
}

}  // namespace lmf::tok::hf

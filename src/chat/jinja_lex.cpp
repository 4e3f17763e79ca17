// lmforge chat: the Jinja lexer (see jinja_lex.h).
#include "chat/jinja_lex.h"

#include <fmt/format.h>

#include <algorithm>

#include "chat/jinja.h"
#include "core/error.h"

namespace lmf::jinja {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_ident(char c, bool first) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

class Lexer {
 public:
  Lexer(const std::string& src, const std::string& name, const Options& opt) : src_(src), name_(name), opt_(opt) {
    if (!src_.empty() && src_.back() == '\n') {
      src_.pop_back();
      if (!src_.empty() && src_.back() == '\r') src_.pop_back();
    }
  }

  std::vector<Token> run() {
    enum class After { kNone, kStripAll, kTrimNewline } after = After::kNone;
    size_t pos = 0;
    while (pos <= src_.size()) {
      const size_t open = find_tag(pos);
      const size_t end = open == std::string::npos ? src_.size() : open;
      std::string text = src_.substr(pos, end - pos);
      if (after == After::kStripAll) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      } else if (after == After::kTrimNewline) {
        if (text.rfind("\n", 0) == 0) text.erase(0, 1);
        else if (text.rfind("\r\n", 0) == 0) text.erase(0, 2);
      }
      const int text_line = line_;
      if (open != std::string::npos) {
        const char kind = src_[open + 1];
        const char mod = open + 2 < src_.size() ? src_[open + 2] : 0;
        if (mod == '-') {
          while (!text.empty() && is_space(text.back())) text.pop_back();
        } else if ((kind == '%' || kind == '#') && opt_.lstrip_blocks && mod != '+') {
          size_t k = open;
          while (k > pos && (src_[k - 1] == ' ' || src_[k - 1] == '\t')) --k;
          if (k == 0 || src_[k - 1] == '\n') text.resize(text.size() - std::min(text.size(), open - k));
        }
      }
      if (!text.empty()) out_.push_back({Token::Kind::kText, text, text_line});
      advance_lines(pos, end);
      if (open == std::string::npos) break;
      const char kind = src_[open + 1];
      size_t p = open + 2;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
      char close_mod = 0;
      if (kind == '#') {
        const size_t close = src_.find("#}", p);
        if (close == std::string::npos) error(line_, "unclosed comment {# (no #})");
        close_mod = close > p && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : 0;
        advance_lines(open, close + 2);
        pos = close + 2;
      } else {
        const bool block = kind == '%';
        out_.push_back({block ? Token::Kind::kBlockBegin : Token::Kind::kVarBegin, "", line_});
        advance_lines(open, p);
        pos = lex_code(p, block, &close_mod);
        if (block && raw_pending_) pos = lex_raw(pos, &close_mod);
      }
      const bool is_block = kind != '{';
      after = close_mod == '-' ? After::kStripAll
              : (is_block && opt_.trim_blocks && close_mod != '+') ? After::kTrimNewline
                                                                   : After::kNone;
    }
    out_.push_back({Token::Kind::kEof, "", line_});
    return std::move(out_);
  }

 private:
  [[noreturn]] void error(int line, const std::string& msg) {
    fail(ErrorCode::kBadFile, "{}: line {}: {}", name_, line, msg);
  }

  size_t find_tag(size_t from) const {
    for (size_t k = src_.find('{', from); k != std::string::npos && k + 1 < src_.size(); k = src_.find('{', k + 1)) {
      const char c = src_[k + 1];
      if (c == '{' || c == '%' || c == '#') return k;
    }
    return std::string::npos;
  }

  void advance_lines(size_t from, size_t to) {
    for (size_t k = from; k < to && k < src_.size(); ++k) line_ += src_[k] == '\n';
  }

  // Tokenizes the code of a tag from `p` up to its closing delimiter; returns the position
  // after it and stores the closing modifier ('-', '+' or 0).
  size_t lex_code(size_t p, bool block, char* close_mod) {
    int depth = 0;
    const size_t first = out_.size();
    while (true) {
      while (p < src_.size() && is_space(src_[p])) line_ += src_[p++] == '\n';
      if (p >= src_.size()) error(line_, block ? "unclosed tag {% (no %})" : "unclosed tag {{ (no }})");
      const char* close = block ? "%}" : "}}";
      auto closes_at = [&](size_t q) { return src_.compare(q, 2, close) == 0 && (block || depth == 0); };
      if (closes_at(p) || ((src_[p] == '-' || src_[p] == '+') && closes_at(p + 1))) {
        *close_mod = closes_at(p) ? 0 : src_[p];
        out_.push_back({block ? Token::Kind::kBlockEnd : Token::Kind::kVarEnd, "", line_});
        raw_pending_ = block && out_.size() == first + 2 && out_[first].kind == Token::Kind::kName &&
                       out_[first].text == "raw";
        return p + (*close_mod ? 3 : 2);
      }
      const char c = src_[p];
      if (is_ident(c, true)) {
        size_t q = p;
        while (q < src_.size() && is_ident(src_[q], false)) ++q;
        out_.push_back({Token::Kind::kName, src_.substr(p, q - p), line_});
        p = q;
      } else if (c >= '0' && c <= '9') {
        p = lex_number(p);
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        static const char* kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op(1, c);
        for (const char* t : kTwo)
          if (src_.compare(p, 2, t) == 0) op = t;
        if (op.size() == 1 && std::string("+-*/%~<>=()[]{},.:|").find(c) == std::string::npos)
          error(line_, fmt::format("unexpected character '{}'", c));
        if (op == "{") ++depth;
        if (op == "}") --depth;
        out_.push_back({Token::Kind::kOp, op, line_});
        p += op.size();
      }
    }
  }

  size_t lex_number(size_t p) {
    size_t q = p;
    auto digits = [&] {
      while (q < src_.size() && ((src_[q] >= '0' && src_[q] <= '9') || src_[q] == '_')) ++q;
    };
    digits();
    bool is_float = false;
    if (q + 1 < src_.size() && src_[q] == '.' && src_[q + 1] >= '0' && src_[q + 1] <= '9') {
      ++q;
      digits();
      is_float = true;
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t r = q + 1;
      if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
      if (r < src_.size() && src_[r] >= '0' && src_[r] <= '9') {
        q = r;
        digits();
        is_float = true;
      }
    }
    std::string text;
    for (size_t k = p; k < q; ++k)
      if (src_[k] != '_') text += src_[k];
    out_.push_back({is_float ? Token::Kind::kFloat : Token::Kind::kInt, text, line_});
    return q;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // A string literal with Python's escapes.
  size_t lex_string(size_t p) {
    const char quote = src_[p];
    const int line = line_;
    std::string s;
    size_t q = p + 1;
    for (; q < src_.size() && src_[q] != quote; ++q) {
      line_ += src_[q] == '\n';
      if (src_[q] != '\\' || q + 1 >= src_.size()) {
        s += src_[q];
        continue;
      }
      const char e = src_[++q];
      switch (e) {
        case 'n': s += '\n'; break;
        case 't': s += '\t'; break;
        case 'r': s += '\r'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'v': s += '\v'; break;
        case '0': s += '\0'; break;
        case '\\': s += '\\'; break;
        case '\'': s += '\''; break;
        case '"': s += '"'; break;
        case '\n': ++line_; break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (q + n >= src_.size()) error(line_, "truncated \\" + std::string(1, e) + " escape in a string");
          append_utf8(s, static_cast<uint32_t>(std::stoul(src_.substr(q + 1, n), nullptr, 16)));
          q += n;
          break;
        }
        default: s += '\\', s += e;
      }
    }
    if (q >= src_.size()) error(line, "unterminated string literal");
    out_.push_back({Token::Kind::kString, s, line});
    return q + 1;
  }

  // After {% raw %}: the text up to {% endraw %} is literal.
  size_t lex_raw(size_t p, char* close_mod) {
    raw_pending_ = false;
    out_.resize(out_.size() - 3);  // the raw tag's begin, name and end tokens
    for (size_t k = src_.find("{%", p); k != std::string::npos; k = src_.find("{%", k + 2)) {
      size_t q = k + 2;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) continue;
      q += 6;
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
      if (src_.compare(q, 2, "%}") != 0) continue;
      std::string text = src_.substr(p, k - p);
      if (*close_mod == '-') text.erase(0, text.find_first_not_of(" \t\n\r\v\f") == std::string::npos
                                              ? text.size()
                                              : text.find_first_not_of(" \t\n\r\v\f"));
      if (src_[k + 2] == '-')
        while (!text.empty() && is_space(text.back())) text.pop_back();
      out_.push_back({Token::Kind::kText, text, line_});
      advance_lines(p, q + 2);
      *close_mod = src_[q - 1] == '-' || src_[q - 1] == '+' ? src_[q - 1] : 0;
      return q + 2;
    }
    error(line_, "{% raw %} without {% endraw %}");
  }

  std::string src_;
  const std::string& name_;
  Options opt_;
  int line_ = 1;
  bool raw_pending_ = false;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(const std::string& source, const std::string& name, const Options& opt) {
  Lexer lexer(source, name, opt);
  return lexer.run();
}

}  // namespace lmf::jinja

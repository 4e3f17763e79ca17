// lmforge chat: the Jinja lexer and parser. The lexer splits the source into text and tags,
// applying whitespace control as Jinja2 does ({%- -%} {{- -}} {#- -#}, trim_blocks,
// lstrip_blocks, {%+ %}, one trailing newline of the source dropped) and tokenizes the code
// inside tags; the parser builds the tree of jinja_ast.h with Jinja2's operator precedence.
#include <fmt/format.h>

#include <set>

#include "chat/jinja.h"
#include "chat/jinja_ast.h"
#include "core/error.h"

namespace lmf::jinja {

namespace {

struct Token {
  enum class Kind { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kInt, kFloat, kString, kOp, kEof };
  Kind kind;
  std::string text;
  int line;
};

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

class Parser {
 public:
  Parser(std::vector<Token> toks, const std::string& name) : t_(std::move(toks)), name_(name) {}

  Body parse_template() {
    std::string stopped;
    return parse_body({}, &stopped, 0);
  }

 private:
  using K = Token::Kind;
  const Token& peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(p_++, t_.size() - 1)]; }
  bool is_op(const char* op, size_t ahead = 0) const { return peek(ahead).kind == K::kOp && peek(ahead).text == op; }
  bool is_name(const char* n, size_t ahead = 0) const {
    return peek(ahead).kind == K::kName && peek(ahead).text == n;
  }

  [[noreturn]] void error(int line, const std::string& msg) const {
    fail(ErrorCode::kBadFile, "{}: line {}: {}", name_, line, msg);
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case K::kEof: return "end of template";
      case K::kBlockEnd: return "end of tag '%}'";
      case K::kVarEnd: return "end of expression '}}'";
      case K::kText: return "text";
      case K::kString: return "string '" + t.text + "'";
      default: return "'" + t.text + "'";
    }
  }
  [[noreturn]] void unexpected(const char* wanted) const {
    error(peek().line, fmt::format("expected {}, got {}", wanted, describe(peek())));
  }
  void expect_op(const char* op) {
    if (!is_op(op)) unexpected(fmt::format("'{}'", op).c_str());
    next();
  }
  std::string expect_name() {
    if (peek().kind != K::kName) unexpected("a name");
    return next().text;
  }
  void expect_block_end() {
    if (peek().kind != K::kBlockEnd) unexpected("end of tag '%}'");
    next();
  }

  Body parse_body(const std::set<std::string>& stops, std::string* stopped, int open_line) {
    Body body;
    while (true) {
      const Token& tok = peek();
      if (tok.kind == K::kEof) {
        if (!stops.empty()) {
          std::string list;
          for (const auto& s : stops) list += (list.empty() ? "" : " or ") + s;
          error(open_line, fmt::format("tag opened here is never closed (expected {{% {} %}})", list));
        }
        return body;
      }
      auto st = std::make_unique<Stmt>();
      st->line = tok.line;
      if (tok.kind == K::kText) {
        st->kind = Stmt::Kind::kText;
        st->text = next().text;
      } else if (tok.kind == K::kVarBegin) {
        next();
        st->kind = Stmt::Kind::kOutput;
        st->expr = parse_expression();
        if (peek().kind != K::kVarEnd) unexpected("end of expression '}}'");
        next();
      } else if (tok.kind == K::kBlockBegin) {
        next();
        const std::string kw = expect_name();
        if (stops.count(kw)) {
          *stopped = kw;
          return body;
        }
        if (!parse_statement(kw, *st)) continue;
      } else {
        unexpected("text or a tag");
      }
      body.push_back(std::move(st));
    }
  }

  // Parses the rest of a {% kw ... %} tag (and its body); false for a tag that renders nothing.
  bool parse_statement(const std::string& kw, Stmt& st) {
    const Nest nest(*this);
    std::string stopped;
    if (kw == "if") {
      st.kind = Stmt::Kind::kIf;
      st.conds.push_back(parse_expression());
      expect_block_end();
      while (true) {
        st.bodies.push_back(parse_body({"elif", "else", "endif"}, &stopped, st.line));
        if (stopped == "elif") {
          st.conds.push_back(parse_expression());
          expect_block_end();
        } else if (stopped == "else") {
          expect_block_end();
          st.bodies.push_back(parse_body({"endif"}, &stopped, st.line));
          expect_block_end();
          return true;
        } else {
          expect_block_end();
          return true;
        }
      }
    }
    if (kw == "for") {
      st.kind = Stmt::Kind::kFor;
      st.targets.push_back(expect_name());
      while (is_op(",")) {
        next();
        st.targets.push_back(expect_name());
      }
      if (!is_name("in")) unexpected("'in'");
      next();
      st.expr = parse_expression(/*with_cond=*/false);
      if (is_name("if")) {
        next();
        st.cond = parse_expression();
      }
      if (is_name("recursive")) error(peek().line, "recursive for loops are not supported");
      expect_block_end();
      st.bodies.push_back(parse_body({"else", "endfor"}, &stopped, st.line));
      if (stopped == "else") {
        expect_block_end();
        st.bodies.push_back(parse_body({"endfor"}, &stopped, st.line));
      }
      expect_block_end();
      return true;
    }
    if (kw == "set") {
      const int line = peek().line;
      auto target = std::make_unique<Expr>();
      target->line = line;
      target->kind = Expr::Kind::kName;
      target->name = expect_name();
      if (is_op(".")) {
        next();
        auto attr = std::make_unique<Expr>();
        attr->kind = Expr::Kind::kAttr;
        attr->line = line;
        attr->name = expect_name();
        attr->args.push_back(std::move(target));
        target = std::move(attr);
      } else {
        while (is_op(",")) {
          next();
          st.targets.push_back(expect_name());
        }
        if (!st.targets.empty()) st.targets.insert(st.targets.begin(), target->name);
      }
      st.target = std::move(target);
      if (is_op("=")) {
        next();
        st.kind = Stmt::Kind::kSet;
        st.expr = parse_expression();
        if (is_op(",")) st.expr = parse_tuple_rest(std::move(st.expr));
        expect_block_end();
        return true;
      }
      if (st.target->kind != Expr::Kind::kName || !st.targets.empty())
        error(line, "a block {% set %} assigns one plain name");
      st.kind = Stmt::Kind::kSetBlock;
      expect_block_end();
      st.bodies.push_back(parse_body({"endset"}, &stopped, st.line));
      expect_block_end();
      return true;
    }
    if (kw == "macro") {
      st.kind = Stmt::Kind::kMacro;
      st.text = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        st.targets.push_back(expect_name());
        ExprPtr def;
        if (is_op("=")) {
          next();
          def = parse_expression();
        }
        st.defaults.push_back(std::move(def));
        if (!is_op(")")) expect_op(",");
      }
      next();
      expect_block_end();
      st.bodies.push_back(parse_body({"endmacro"}, &stopped, st.line));
      if (peek().kind == K::kName) next();  // {% endmacro name %}
      expect_block_end();
      return true;
    }
    if (kw == "filter") {  // {% filter name(args) | name2 %}...{% endfilter %}
      st.kind = Stmt::Kind::kFilterBlock;
      auto subject = node(Expr::Kind::kName, st.line, "");
      ExprPtr chain = std::move(subject);
      do {
        if (is_op("|")) next();
        auto f = node(Expr::Kind::kFilter, peek().line, expect_name());
        f->args.push_back(std::move(chain));
        if (is_op("(")) parse_call_args(*f);
        chain = std::move(f);
      } while (is_op("|"));
      st.expr = std::move(chain);
      expect_block_end();
      st.bodies.push_back(parse_body({"endfilter"}, &stopped, st.line));
      expect_block_end();
      return true;
    }
    if (kw == "break" || kw == "continue") {
      st.kind = kw == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      expect_block_end();
      return true;
    }
    if (kw == "generation" || kw == "endgeneration") {  // transformers' assistant-mask markers
      expect_block_end();
      return false;
    }
    static const std::set<std::string> kClosers = {"endif", "endfor", "endset", "endmacro", "endfilter", "elif", "else"};
    if (kClosers.count(kw)) error(st.line, fmt::format("unexpected {{% {} %}} (no open block it closes)", kw));
    error(st.line, fmt::format("unknown or unsupported tag '{}'", kw));
  }

  ExprPtr node(Expr::Kind kind, int line, std::string name = "") {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    e->name = std::move(name);
    return e;
  }
  ExprPtr binary(Expr::Kind kind, std::string op, ExprPtr l, ExprPtr r) {
    auto e = node(kind, l->line, std::move(op));
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_tuple_rest(ExprPtr first) {
    auto t = node(Expr::Kind::kTuple, first->line);
    t->args.push_back(std::move(first));
    while (is_op(",")) {
      next();
      if (peek().kind == K::kBlockEnd) break;
      t->args.push_back(parse_expression());
    }
    return t;
  }

  ExprPtr parse_expression(bool with_cond = true) {
    const Nest nest(*this);
    ExprPtr e = parse_or();
    while (with_cond && is_name("if")) {
      next();
      auto c = node(Expr::Kind::kCond, e->line);
      c->args.push_back(std::move(e));
      c->args.push_back(parse_or());
      if (is_name("else")) {
        next();
        c->args.push_back(parse_expression());
      } else {
        c->args.push_back(nullptr);
      }
      e = std::move(c);
    }
    return e;
  }
  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      next();
      l = binary(Expr::Kind::kOr, "or", std::move(l), parse_and());
    }
    return l;
  }
  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      next();
      l = binary(Expr::Kind::kAnd, "and", std::move(l), parse_not());
    }
    return l;
  }
  ExprPtr parse_not() {
    const Nest nest(*this);
    if (is_name("not")) {
      const int line = next().line;
      auto e = node(Expr::Kind::kNot, line);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  // Jinja2 chains comparisons as Python does: a < b < c is (a < b) and (b < c).
  static ExprPtr clone(const Expr& e) {
    auto c = std::make_unique<Expr>();
    c->kind = e.kind, c->line = e.line, c->value = e.value, c->name = e.name, c->negated = e.negated;
    for (const ExprPtr& a : e.args) c->args.push_back(a ? clone(*a) : nullptr);
    for (const auto& [k, v] : e.kwargs) c->kwargs.emplace_back(k, clone(*v));
    return c;
  }
  ExprPtr parse_compare() {
    ExprPtr l = parse_math1();
    ExprPtr chain;  // the comparisons so far, when l is the right side of the last one
    while (true) {
      std::string op;
      if (peek().kind == K::kOp && (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") || is_op(">") ||
                                    is_op(">="))) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next(), next();
        op = "not in";
      } else {
        return chain ? std::move(chain) : std::move(l);
      }
      ExprPtr r = parse_math1();
      ExprPtr right_copy = clone(*r);
      ExprPtr cmp = binary(Expr::Kind::kBinary, op, std::move(l), std::move(r));
      chain = chain ? binary(Expr::Kind::kAnd, "and", std::move(chain), std::move(cmp)) : std::move(cmp);
      l = std::move(right_copy);
    }
  }
  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = next().text;
      l = binary(Expr::Kind::kBinary, op, std::move(l), parse_concat());
    }
    return l;
  }
  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      next();
      l = binary(Expr::Kind::kBinary, "~", std::move(l), parse_math2());
    }
    return l;
  }
  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = next().text;
      l = binary(Expr::Kind::kBinary, op, std::move(l), parse_pow());
    }
    return l;
  }
  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      next();
      l = binary(Expr::Kind::kBinary, "**", std::move(l), parse_unary(true));
    }
    return l;
  }
  ExprPtr parse_unary(bool with_filter) {
    const Nest nest(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      ExprPtr operand = parse_unary(false);
      if (t.text == "-") {
        e = node(Expr::Kind::kNeg, t.line);
        e->args.push_back(std::move(operand));
      } else {
        e = std::move(operand);
      }
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    return with_filter ? parse_filters(std::move(e)) : std::move(e);
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    const int line = t.line;
    if (t.kind == K::kName) {
      next();
      auto e = node(Expr::Kind::kLiteral, line);
      if (t.text == "true" || t.text == "True") e->value = Value::boolean(true);
      else if (t.text == "false" || t.text == "False") e->value = Value::boolean(false);
      else if (t.text == "none" || t.text == "None") e->value = Value::none();
      else e = node(Expr::Kind::kName, line, t.text);
      return e;
    }
    if (t.kind == K::kString) {
      std::string s;
      while (peek().kind == K::kString) s += next().text;
      auto e = node(Expr::Kind::kLiteral, line);
      e->value = Value::string(std::move(s));
      return e;
    }
    if (t.kind == K::kInt || t.kind == K::kFloat) {
      next();
      auto e = node(Expr::Kind::kLiteral, line);
      try {
        e->value = t.kind == K::kInt ? Value::integer(std::stoll(t.text)) : Value::number(std::stod(t.text));
      } catch (const std::exception&) {
        error(line, fmt::format("number {} is out of range", t.text));
      }
      return e;
    }
    if (is_op("(")) {
      next();
      if (is_op(")")) {
        next();
        return node(Expr::Kind::kTuple, line);
      }
      ExprPtr e = parse_expression();
      if (is_op(",")) {
        auto tup = node(Expr::Kind::kTuple, line);
        tup->args.push_back(std::move(e));
        while (is_op(",")) {
          next();
          if (is_op(")")) break;
          tup->args.push_back(parse_expression());
        }
        e = std::move(tup);
      }
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      next();
      auto e = node(Expr::Kind::kList, line);
      while (!is_op("]")) {
        e->args.push_back(parse_expression());
        if (!is_op("]")) expect_op(",");
      }
      next();
      return e;
    }
    if (is_op("{")) {
      next();
      auto e = node(Expr::Kind::kDict, line);
      while (!is_op("}")) {
        e->args.push_back(parse_expression());
        expect_op(":");
        e->args.push_back(parse_expression());
        if (!is_op("}")) expect_op(",");
      }
      next();
      return e;
    }
    unexpected("an expression");
  }

  void parse_call_args(Expr& call) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().kind == K::kName && is_op("=", 1)) {
        std::string key = next().text;
        next();
        call.kwargs.emplace_back(key, parse_expression());
      } else {
        call.args.push_back(parse_expression());
      }
      if (!is_op(")")) expect_op(",");
    }
    next();
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (is_op(".")) {
        next();
        const Token& t = next();
        if (t.kind != K::kName && t.kind != K::kInt) error(t.line, "expected an attribute name after '.'");
        auto a = node(t.kind == K::kName ? Expr::Kind::kAttr : Expr::Kind::kItem, line, t.text);
        a->args.push_back(std::move(e));
        if (t.kind == K::kInt) {
          auto idx = node(Expr::Kind::kLiteral, line);
          idx->value = Value::integer(std::stoll(t.text));
          a->args.push_back(std::move(idx));
        }
        e = std::move(a);
      } else if (is_op("[")) {
        next();
        ExprPtr parts[3];
        bool slice = false;
        if (!is_op(":")) parts[0] = parse_expression();
        if (is_op(":")) {
          slice = true;
          next();
          if (!is_op(":") && !is_op("]")) parts[1] = parse_expression();
          if (is_op(":")) {
            next();
            if (!is_op("]")) parts[2] = parse_expression();
          }
        }
        expect_op("]");
        auto s = node(slice ? Expr::Kind::kSlice : Expr::Kind::kItem, line);
        s->args.push_back(std::move(e));
        s->args.push_back(std::move(parts[0]));
        if (slice) s->args.push_back(std::move(parts[1])), s->args.push_back(std::move(parts[2]));
        e = std::move(s);
      } else if (is_op("(")) {
        auto c = node(Expr::Kind::kCall, line);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filters(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        const int line = next().line;
        auto f = node(Expr::Kind::kFilter, line, expect_name());
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(*f);
        e = parse_postfix(std::move(f));
      } else if (is_name("is")) {
        const int line = next().line;
        auto t = node(Expr::Kind::kTest, line);
        if (is_name("not")) {
          next();
          t->negated = true;
        }
        t->name = expect_name();
        t->args.push_back(std::move(e));
        const Token& a = peek();
        const bool bare_arg = (a.kind == K::kName || a.kind == K::kString || a.kind == K::kInt ||
                               a.kind == K::kFloat || is_op("[") || is_op("{")) &&
                              !(is_name("else") || is_name("or") || is_name("and") || is_name("if"));
        if (is_op("(")) {
          parse_call_args(*t);
        } else if (bare_arg) {
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  // Nesting deeper than kMaxDepth (expressions or blocks) is refused, so that neither the
  // parser nor the evaluator can run out of stack on a hostile template.
  static constexpr int kMaxDepth = 256;
  struct Nest {
    explicit Nest(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) p_.error(p_.peek().line, fmt::format("nested deeper than {} levels", kMaxDepth));
    }
    ~Nest() { --p_.depth_; }
    Parser& p_;
  };

  std::vector<Token> t_;
  size_t p_ = 0;
  int depth_ = 0;
  const std::string& name_;
};

}  // namespace

Body parse_source(const std::string& source, const std::string& name, const Options& opt) {
  Lexer lexer(source, name, opt);
  Parser parser(lexer.run(), name);
  return parser.parse_template();
}

}  // namespace lmf::jinja

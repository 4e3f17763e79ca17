// lmforge chat: the Jinja parser. Builds the tree of jinja_ast.h from the tokens of
// jinja_lex.h with Jinja2's operator precedence (conditional, or, and, not, comparisons
// (chained), + -, ~, * / // %, **, unary, then postfix access, filters and tests).
#include <fmt/format.h>

#include <set>

#include "chat/jinja.h"
#include "chat/jinja_ast.h"
#include "chat/jinja_lex.h"
#include "core/error.h"

namespace lmf::jinja {

namespace {

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
  Parser parser(lex(source, name, opt), name);
  return parser.parse_template();
}

}  // namespace lmf::jinja

// lmforge chat: the Jinja evaluator. Runs the tree of jinja_ast.h over Values with Jinja2's
// scoping: a for loop's body (each iteration) and a macro call get their own scope, so a
// `set` there does not leak out (namespace() objects are how templates carry state out);
// `if` shares its enclosing scope. break/continue (Jinja2's loopcontrols, which transformers
// enables) end an iteration. A RenderError becomes an lmf::Error naming the template and line.
#include <fmt/format.h>

#include "chat/jinja.h"
#include "chat/jinja_ast.h"
#include "chat/jinja_builtins.h"
#include "core/error.h"

namespace lmf::jinja {

namespace {

struct Scope {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Scope> parent;

  const Value* find(const std::string& n) const {
    for (const Scope* s = this; s; s = s->parent.get())
      for (const auto& [k, v] : s->vars)
        if (k == n) return &v;
    return nullptr;
  }
  void set(const std::string& n, Value v) {
    for (auto& [k, old] : vars)
      if (k == n) {
        old = std::move(v);
        return;
      }
    vars.emplace_back(n, std::move(v));
  }
};
using ScopePtr = std::shared_ptr<Scope>;

ScopePtr child_of(const ScopePtr& parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

enum class Flow { kNormal, kBreak, kContinue };

constexpr int kMaxMacroDepth = 200;

class Evaluator {
 public:
  int line = 0;

  Flow exec(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const StmtPtr& st : body) {
      line = st->line;
      switch (st->kind) {
        case Stmt::Kind::kText: out += st->text; break;
        case Stmt::Kind::kOutput: out += to_str(eval(*st->expr, scope)); break;
        case Stmt::Kind::kIf: {
          size_t k = 0;
          while (k < st->conds.size() && !truthy(eval(*st->conds[k], scope))) ++k;
          if (k < st->bodies.size()) {
            const Flow f = exec(st->bodies[k], scope, out);
            if (f != Flow::kNormal) return f;
          }
          break;
        }
        case Stmt::Kind::kFor: exec_for(*st, scope, out); break;
        case Stmt::Kind::kSet: assign(*st, eval(*st->expr, scope), scope); break;
        case Stmt::Kind::kSetBlock: {
          std::string text;
          exec(st->bodies[0], scope, text);
          scope->set(st->target->name, Value::string(text));
          break;
        }
        case Stmt::Kind::kMacro: scope->set(st->text, make_macro(*st, scope)); break;
        case Stmt::Kind::kFilterBlock: {
          std::string text;
          exec(st->bodies[0], scope, text);
          out += to_str(apply_filter_chain(*st->expr, Value::string(text), scope));
          break;
        }
        case Stmt::Kind::kBreak: return Flow::kBreak;
        case Stmt::Kind::kContinue: return Flow::kContinue;
      }
    }
    return Flow::kNormal;
  }

 private:
  std::vector<ScopePtr> macro_scopes_;  // scopes macros were defined in: alive for the render
  int depth_ = 0;

  static void unpack(const std::vector<std::string>& names, const Value& v, Scope& into) {
    if (names.size() == 1) {
      into.set(names[0], v);
      return;
    }
    const Array items = iterate(v);
    if (items.size() != names.size())
      render_error(fmt::format("cannot unpack {} values into {} names", items.size(), names.size()));
    for (size_t k = 0; k < names.size(); ++k) into.set(names[k], items[k]);
  }

  void assign(const Stmt& st, Value v, const ScopePtr& scope) {
    if (st.target->kind == Expr::Kind::kAttr) {
      const std::string& ns_name = st.target->args[0]->name;
      const Value* ns = scope->find(ns_name);
      if (!ns || !ns->is_object() || !ns->o->is_namespace)
        render_error(fmt::format("cannot assign attribute '{}' of '{}': it is not a namespace()", st.target->name,
                                 ns_name));
      ns->o->set(st.target->name, std::move(v));
      return;
    }
    if (!st.targets.empty()) {
      unpack(st.targets, v, *scope);
      return;
    }
    scope->set(st.target->name, std::move(v));
  }

  void exec_for(const Stmt& st, const ScopePtr& scope, std::string& out) {
    Array items = iterate(eval(*st.expr, scope));
    if (st.cond) {
      Array kept;
      for (Value& item : items) {
        ScopePtr probe = child_of(scope);
        unpack(st.targets, item, *probe);
        if (truthy(eval(*st.cond, probe))) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      if (st.bodies.size() > 1) exec(st.bodies[1], child_of(scope), out);
      return;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t k = 0; k < n; ++k) {
      ScopePtr s = child_of(scope);
      unpack(st.targets, items[static_cast<size_t>(k)], *s);
      Object loop;
      loop.items = {{"index", Value::integer(k + 1)},    {"index0", Value::integer(k)},
                    {"revindex", Value::integer(n - k)}, {"revindex0", Value::integer(n - k - 1)},
                    {"first", Value::boolean(k == 0)},   {"last", Value::boolean(k == n - 1)},
                    {"length", Value::integer(n)}};
      if (k > 0) loop.items.emplace_back("previtem", items[static_cast<size_t>(k - 1)]);
      if (k + 1 < n) loop.items.emplace_back("nextitem", items[static_cast<size_t>(k + 1)]);
      loop.items.emplace_back("cycle", Value::function("loop.cycle", [k](Args& a) {
        if (a.pos.empty()) render_error("loop.cycle needs at least one value");
        return a.pos[static_cast<size_t>(k) % a.pos.size()];
      }));
      s->set("loop", Value::object(std::move(loop)));
      if (exec(st.bodies[0], s, out) == Flow::kBreak) break;
    }
  }

  Value make_macro(const Stmt& st, const ScopePtr& scope) {
    macro_scopes_.push_back(scope);
    Scope* def_scope = scope.get();
    const Stmt* m = &st;
    return Value::function(st.text, [this, def_scope, m](Args& a) {
      if (depth_ >= kMaxMacroDepth) render_error(fmt::format("macro '{}': recursion deeper than {}", m->text, kMaxMacroDepth));
      auto s = std::make_shared<Scope>();
      s->parent = std::shared_ptr<Scope>(std::shared_ptr<Scope>(), def_scope);  // non-owning: kept in macro_scopes_
      Array extra;
      for (size_t k = m->targets.size(); k < a.pos.size(); ++k) extra.push_back(a.pos[k]);
      Object extra_kw;
      for (const auto& [key, v] : a.kw)
        if (std::find(m->targets.begin(), m->targets.end(), key) == m->targets.end()) extra_kw.set(key, v);
      for (size_t k = 0; k < m->targets.size(); ++k) {
        Value v = a.get(k, m->targets[k]);
        if (!a.has(k, m->targets[k]) && m->defaults[k]) v = eval(*m->defaults[k], s);
        s->set(m->targets[k], v);
      }
      s->set("varargs", Value::array(std::move(extra)));
      s->set("kwargs", Value::object(std::move(extra_kw)));
      std::string text;
      ++depth_;
      exec(m->bodies[0], s, text);
      --depth_;
      return Value::string(text);
    });
  }

  // A {% filter %} block's chain: the innermost filter's subject is the rendered body.
  Value apply_filter_chain(const Expr& f, Value body, const ScopePtr& scope) {
    Value v = f.args[0]->kind == Expr::Kind::kFilter ? apply_filter_chain(*f.args[0], std::move(body), scope) : body;
    Args a = eval_args(f, 1, scope);
    line = f.line;
    return apply_filter(f.name, v, a);
  }

  Args eval_args(const Expr& e, size_t first, const ScopePtr& scope) {
    Args a;
    for (size_t k = first; k < e.args.size(); ++k) a.pos.push_back(eval(*e.args[k], scope));
    for (const auto& [key, x] : e.kwargs) a.kw.emplace_back(key, eval(*x, scope));
    return a;
  }

  Value eval(const Expr& e, const ScopePtr& scope) {
    line = e.line;
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.value;
      case Expr::Kind::kName: {
        const Value* v = scope->find(e.name);
        return v ? *v : Value::undefined(e.name);
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        Array items;
        for (const ExprPtr& x : e.args) items.push_back(eval(*x, scope));
        return Value::array(std::move(items));
      }
      case Expr::Kind::kDict: {
        Object o;
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) o.set(to_str(eval(*e.args[k], scope)), eval(*e.args[k + 1], scope));
        return Value::object(std::move(o));
      }
      case Expr::Kind::kAttr: return get_attr(eval(*e.args[0], scope), e.name);
      case Expr::Kind::kItem: {
        const Value obj = eval(*e.args[0], scope);
        return get_item(obj, eval(*e.args[1], scope));
      }
      case Expr::Kind::kSlice: {
        const Value obj = eval(*e.args[0], scope);
        auto part = [&](size_t k) { return e.args[k] ? eval(*e.args[k], scope) : Value::undefined(); };
        const Value b = part(1), s = part(2), st = part(3);
        line = e.line;
        return slice(obj, b, s, st);
      }
      case Expr::Kind::kCall: {
        const Value callee = eval(*e.args[0], scope);
        Args a = eval_args(e, 1, scope);
        line = e.line;
        if (!callee.is_function()) {
          const std::string what = e.args[0]->kind == Expr::Kind::kName ? e.args[0]->name
                                   : e.args[0]->kind == Expr::Kind::kAttr ? e.args[0]->name
                                                                          : "expression";
          if (callee.is_undefined()) render_error(fmt::format("'{}' is undefined (it cannot be called)", what));
          render_error(fmt::format("'{}' object is not callable", type_name(callee)));
        }
        a.callee = callee.name;
        return (*callee.fn)(a);
      }
      case Expr::Kind::kFilter: {
        const Value v = eval(*e.args[0], scope);
        Args a = eval_args(e, 1, scope);
        line = e.line;
        return apply_filter(e.name, v, a);
      }
      case Expr::Kind::kTest: {
        const Value v = eval(*e.args[0], scope);
        Args a = eval_args(e, 1, scope);
        line = e.line;
        return Value::boolean(apply_test(e.name, v, a) != e.negated);
      }
      case Expr::Kind::kNot: return Value::boolean(!truthy(eval(*e.args[0], scope)));
      case Expr::Kind::kNeg: {
        const Value v = eval(*e.args[0], scope);
        line = e.line;
        if (v.kind == Value::Kind::kInt) return Value::integer(-v.i);
        if (v.kind == Value::Kind::kFloat) return Value::number(-v.f);
        if (v.kind == Value::Kind::kBool) return Value::integer(-static_cast<int64_t>(v.b));
        render_error(fmt::format("bad operand type for unary -: '{}'", type_name(v)));
      }
      case Expr::Kind::kBinary: {
        const Value l = eval(*e.args[0], scope);
        const Value r = eval(*e.args[1], scope);
        line = e.line;
        return binary_op(e.name, l, r);
      }
      case Expr::Kind::kAnd: {
        Value l = eval(*e.args[0], scope);
        return truthy(l) ? eval(*e.args[1], scope) : l;
      }
      case Expr::Kind::kOr: {
        Value l = eval(*e.args[0], scope);
        return truthy(l) ? l : eval(*e.args[1], scope);
      }
      case Expr::Kind::kCond:
        if (truthy(eval(*e.args[1], scope))) return eval(*e.args[0], scope);
        return e.args[2] ? eval(*e.args[2], scope) : Value::undefined();
    }
    return Value::undefined();
  }
};

}  // namespace

Template::Template(const std::string& source, std::string name, Options options)
    : name_(std::move(name)), body_(std::make_unique<Body>(parse_source(source, name_, options))) {}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const std::vector<std::pair<std::string, Value>>& vars) const {
  auto globals = std::make_shared<Scope>();
  globals->vars = global_values();
  for (const auto& [k, v] : vars) globals->set(k, v);
  auto scope = child_of(globals);
  Evaluator ev;
  std::string out;
  try {
    ev.exec(*body_, scope, out);
  } catch (const RenderError& e) {
    fail(ErrorCode::kInvalidArgument, "{}: line {}: {}", name_, ev.line, e.message);
  }
  return out;
}

}  // namespace lmf::jinja

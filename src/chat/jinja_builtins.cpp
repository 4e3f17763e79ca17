// lmforge chat: Jinja operators, attribute and item access, slicing, iteration, the methods of
// str/dict/list (Python's, as transformers' sandboxed Jinja2 allows them) and the globals.
// Filters and tests are in jinja_filters.cpp.
#include <fmt/format.h>

#include <cmath>
#include <ctime>

#include "chat/jinja_builtins.h"
#include "chat/jinja_strings.h"

namespace lmf::jinja {

namespace {

bool numeric(const Value& v) { return v.is_number() || v.kind == Value::Kind::kBool; }
int64_t int_of(const Value& v) { return v.kind == Value::Kind::kBool ? v.b : v.i; }
bool both_int(const Value& l, const Value& r) {
  return numeric(l) && numeric(r) && l.kind != Value::Kind::kFloat && r.kind != Value::Kind::kFloat;
}

[[noreturn]] void bad_operands(const std::string& op, const Value& l, const Value& r) {
  for (const Value* v : {&l, &r})
    if (v->is_undefined() && !v->name.empty()) render_error(fmt::format("'{}' is undefined (operator {})", v->name, op));
  render_error(fmt::format("unsupported operand types for {}: '{}' and '{}'", op, type_name(l), type_name(r)));
}

Value repeat(const Value& seq, int64_t n) {
  if (seq.is_string()) {
    std::string out;
    for (int64_t k = 0; k < n; ++k) out += seq.s;
    return Value::string(out);
  }
  Array out;
  for (int64_t k = 0; k < n; ++k) out.insert(out.end(), seq.a->begin(), seq.a->end());
  return Value::array(out);
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string())
      render_error(fmt::format("'in <string>' requires string as left operand, not {}", type_name(item)));
    return container.s.find(item.s) != std::string::npos;
  }
  if (container.is_array()) {
    for (const Value& e : *container.a)
      if (equals(e, item)) return true;
    return false;
  }
  if (container.is_object()) return item.is_string() && container.o->find(item.s) != nullptr;
  if (container.is_undefined()) return false;
  render_error(fmt::format("argument of type '{}' is not iterable", type_name(container)));
}

}  // namespace

Value binary_op(const std::string& op, const Value& l, const Value& r) {
  if (op == "~") return Value::string(to_str(l) + to_str(r));
  if (op == "==") return Value::boolean(equals(l, r));
  if (op == "!=") return Value::boolean(!equals(l, r));
  if (op == "<") return Value::boolean(less(l, r));
  if (op == ">") return Value::boolean(less(r, l));
  if (op == "<=") return Value::boolean(!less(r, l));
  if (op == ">=") return Value::boolean(!less(l, r));
  if (op == "in") return Value::boolean(contains(r, l));
  if (op == "not in") return Value::boolean(!contains(r, l));
  if (op == "+") {
    if (both_int(l, r)) return Value::integer(int_of(l) + int_of(r));
    if (numeric(l) && numeric(r)) return Value::number(l.as_double() + r.as_double());
    if (l.is_string() && r.is_string()) return Value::string(l.s + r.s);
    if (l.is_array() && r.is_array()) {
      Array out = *l.a;
      out.insert(out.end(), r.a->begin(), r.a->end());
      return Value::array(out);
    }
    bad_operands(op, l, r);
  }
  if (op == "*") {
    if (both_int(l, r)) return Value::integer(int_of(l) * int_of(r));
    if (numeric(l) && numeric(r)) return Value::number(l.as_double() * r.as_double());
    if ((l.is_string() || l.is_array()) && both_int(r, r)) return repeat(l, int_of(r));
    if ((r.is_string() || r.is_array()) && both_int(l, l)) return repeat(r, int_of(l));
    bad_operands(op, l, r);
  }
  if (!numeric(l) || !numeric(r)) bad_operands(op, l, r);
  if (op == "-") {
    return both_int(l, r) ? Value::integer(int_of(l) - int_of(r)) : Value::number(l.as_double() - r.as_double());
  }
  if (op == "**") {
    if (both_int(l, r) && int_of(r) >= 0) {
      int64_t out = 1;
      for (int64_t k = 0; k < int_of(r); ++k) out *= int_of(l);
      return Value::integer(out);
    }
    return Value::number(std::pow(l.as_double(), r.as_double()));
  }
  if (r.as_double() == 0) render_error(op == "%" ? "integer modulo by zero" : "division by zero");
  if (op == "/") return Value::number(l.as_double() / r.as_double());
  if (both_int(l, r)) {
    const int64_t a = int_of(l), b = int_of(r);
    int64_t q = a / b, m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) --q, m += b;
    return Value::integer(op == "//" ? q : m);
  }
  const double a = l.as_double(), b = r.as_double();
  if (op == "//") return Value::number(std::floor(a / b));
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return Value::number(m);
}

Array iterate(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kArray: return *v.a;
    case Value::Kind::kObject: {
      Array keys;
      for (const auto& [k, e] : v.o->items) keys.push_back(Value::string(k));
      return keys;
    }
    case Value::Kind::kString: {
      Array chars;
      for (auto& c : code_points(v.s)) chars.push_back(Value::string(c));
      return chars;
    }
    case Value::Kind::kUndefined: return {};
    default: render_error(fmt::format("'{}' object is not iterable", type_name(v)));
  }
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_object()) {
    if (!key.is_string()) return Value::undefined();
    const Value* v = obj.o->find(key.s);
    return v ? *v : get_attr(obj, key.s);
  }
  if ((obj.is_array() || obj.is_string()) && numeric(key) && key.kind != Value::Kind::kFloat) {
    const std::vector<std::string> chars = obj.is_string() ? code_points(obj.s) : std::vector<std::string>();
    const int64_t n = obj.is_string() ? static_cast<int64_t>(chars.size()) : static_cast<int64_t>(obj.a->size());
    int64_t i = int_of(key);
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined();
    return obj.is_string() ? Value::string(chars[static_cast<size_t>(i)]) : (*obj.a)[static_cast<size_t>(i)];
  }
  if (key.is_string()) return get_attr(obj, key.s);
  if (obj.is_undefined()) return Value::undefined();
  return Value::undefined();
}

Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (!obj.is_array() && !obj.is_string()) {
    if (obj.is_undefined()) return Value::undefined();
    render_error(fmt::format("'{}' object is not subscriptable with a slice", type_name(obj)));
  }
  auto as_index = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!numeric(v) || v.kind == Value::Kind::kFloat)
      render_error(fmt::format("slice {} must be an integer, got {}", what, type_name(v)));
    return int_of(v);
  };
  const std::vector<std::string> chars = obj.is_string() ? code_points(obj.s) : std::vector<std::string>();
  const int64_t n = obj.is_string() ? static_cast<int64_t>(chars.size()) : static_cast<int64_t>(obj.a->size());
  const int64_t st = as_index(step, "step").value_or(1);
  if (st == 0) render_error("slice step cannot be zero");
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t i = *v;
    if (i < 0) i = std::max<int64_t>(i + n, st < 0 ? -1 : 0);
    else if (i >= n) i = st < 0 ? n - 1 : n;
    return i;
  };
  const int64_t b = adjust(as_index(start, "start"), st < 0 ? n - 1 : 0);
  const int64_t e = adjust(as_index(stop, "stop"), st < 0 ? -1 : n);
  Array items;
  std::string text;
  for (int64_t k = b; st > 0 ? k < e : k > e; k += st) {
    if (obj.is_string()) text += chars[static_cast<size_t>(k)];
    else items.push_back((*obj.a)[static_cast<size_t>(k)]);
  }
  return obj.is_string() ? Value::string(text) : Value::array(items);
}

namespace {

Value string_method(const std::string& self, const std::string& name, Args& a) {
  auto str_arg = [&](size_t k, const char* key) {
    Value v = a.get(k, key);
    if (!v.is_string()) render_error(fmt::format("str.{}: argument {} must be a string, not {}", name, k + 1,
                                                 type_name(v)));
    return v.s;
  };
  auto chars_arg = [&]() -> std::optional<std::string> {
    Value v = a.get(0, "chars");
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    return str_arg(0, "chars");
  };
  if (name == "strip") return Value::string(str::strip(self, chars_arg(), true, true));
  if (name == "lstrip") return Value::string(str::strip(self, chars_arg(), true, false));
  if (name == "rstrip") return Value::string(str::strip(self, chars_arg(), false, true));
  if (name == "upper") return Value::string(str::upper(self));
  if (name == "lower") return Value::string(str::lower(self));
  if (name == "title") return Value::string(str::title(self));
  if (name == "capitalize") return Value::string(str::capitalize(self));
  if (name == "split" || name == "rsplit") {
    Value sep = a.get(0, "sep");
    const Value maxv = a.get(1, "maxsplit", Value::integer(-1));
    std::optional<std::string> s;
    if (!sep.is_none() && !sep.is_undefined()) s = str_arg(0, "sep");
    if (s && s->empty()) render_error("str.split: empty separator");
    Array out;
    for (auto& part : str::split(self, s, maxv.i, name == "rsplit")) out.push_back(Value::string(part));
    return Value::array(out);
  }
  if (name == "splitlines") {
    Array out;
    for (auto& part : str::splitlines(self)) out.push_back(Value::string(part));
    return Value::array(out);
  }
  if (name == "startswith" || name == "endswith") {
    const Value p = a.get(0, "prefix");
    std::vector<std::string> options;
    if (p.is_array()) {
      for (const Value& e : *p.a) options.push_back(e.is_string() ? e.s : to_str(e));
    } else {
      options.push_back(str_arg(0, "prefix"));
    }
    for (const auto& o : options) {
      const bool hit = name == "startswith" ? self.compare(0, o.size(), o) == 0 && self.size() >= o.size()
                                            : self.size() >= o.size() && self.compare(self.size() - o.size(), o.size(), o) == 0;
      if (hit) return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  if (name == "replace") {
    const Value count = a.get(2, "count", Value::integer(-1));
    return Value::string(str::replace(self, str_arg(0, "old"), str_arg(1, "new"), count.i));
  }
  if (name == "find") {
    const size_t at = self.find(str_arg(0, "sub"));
    return Value::integer(at == std::string::npos ? -1 : static_cast<int64_t>(code_points(self.substr(0, at)).size()));
  }
  if (name == "count") return Value::integer(str::count(self, str_arg(0, "sub")));
  if (name == "join") {
    std::string out;
    const Array items = iterate(a.get(0, "iterable"));
    for (size_t k = 0; k < items.size(); ++k) out += (k ? self : "") + to_str(items[k]);
    return Value::string(out);
  }
  if (name == "format") return Value::string(str::format(self, a));
  if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum" || name == "islower" ||
      name == "isupper")
    return Value::boolean(str::is_class(self, name));
  render_error(fmt::format("'str' object has no attribute '{}'", name));
}

bool is_string_method(const std::string& n) {
  static const char* kNames[] = {"strip",  "lstrip",     "rstrip",   "upper",   "lower",   "title",
                                 "capitalize", "split",  "rsplit",   "splitlines", "startswith", "endswith",
                                 "replace", "find",      "count",    "join",    "format",  "isdigit",
                                 "isalpha", "isspace",   "isalnum",  "islower", "isupper"};
  for (const char* k : kNames)
    if (n == k) return true;
  return false;
}

Value dict_method(const Value& self, const std::string& name, Args& a) {
  Array out;
  if (name == "items") {
    for (const auto& [k, v] : self.o->items) out.push_back(Value::array({Value::string(k), v}));
  } else if (name == "keys") {
    for (const auto& [k, v] : self.o->items) out.push_back(Value::string(k));
  } else if (name == "values") {
    for (const auto& [k, v] : self.o->items) out.push_back(v);
  } else {  // get
    const Value key = a.get(0, "key");
    const Value* v = key.is_string() ? self.o->find(key.s) : nullptr;
    return v ? *v : a.get(1, "default", Value::none());
  }
  return Value::array(out);
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_object()) {
    if (const Value* v = obj.o->find(name)) return *v;
    if (!obj.o->is_namespace && (name == "items" || name == "keys" || name == "values" || name == "get")) {
      return Value::function("dict." + name, [obj, name](Args& a) { return dict_method(obj, name, a); });
    }
    return Value::undefined(name);
  }
  if (obj.is_string() && is_string_method(name)) {
    return Value::function("str." + name, [s = obj.s, name](Args& a) { return string_method(s, name, a); });
  }
  if (obj.is_array() && (name == "index" || name == "count")) {
    return Value::function("list." + name, [obj, name](Args& a) {
      const Value x = a.get(0, "value");
      int64_t n = 0;
      for (size_t k = 0; k < obj.a->size(); ++k) {
        if (!equals((*obj.a)[k], x)) continue;
        if (name == "index") return Value::integer(static_cast<int64_t>(k));
        ++n;
      }
      if (name == "index") render_error(fmt::format("list.index: {} is not in list", repr(x)));
      return Value::integer(n);
    });
  }
  return Value::undefined(name);
}

std::vector<std::pair<std::string, Value>> global_values() {
  std::vector<std::pair<std::string, Value>> g;
  g.emplace_back("range", Value::function("range", [](Args& a) {
    if (a.pos.empty() || a.pos.size() > 3) render_error("range expects 1 to 3 integer arguments");
    for (const Value& v : a.pos)
      if (!numeric(v) || v.kind == Value::Kind::kFloat) render_error("range: arguments must be integers");
    int64_t start = 0, stop = int_of(a.pos[0]), step = 1;
    if (a.pos.size() >= 2) start = int_of(a.pos[0]), stop = int_of(a.pos[1]);
    if (a.pos.size() == 3) step = int_of(a.pos[2]);
    if (step == 0) render_error("range: step must not be zero");
    Array out;
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) out.push_back(Value::integer(k));
    return Value::array(out);
  }));
  auto make_dict = [](Args& a, bool ns) {
    Object o;
    o.is_namespace = ns;
    for (const Value& p : a.pos) {
      if (!p.is_object()) render_error(fmt::format("{}: positional argument must be a dict", ns ? "namespace" : "dict"));
      for (const auto& [k, v] : p.o->items) o.set(k, v);
    }
    for (const auto& [k, v] : a.kw) o.set(k, v);
    return Value::object(o);
  };
  g.emplace_back("namespace", Value::function("namespace", [make_dict](Args& a) { return make_dict(a, true); }));
  g.emplace_back("dict", Value::function("dict", [make_dict](Args& a) { return make_dict(a, false); }));
  g.emplace_back("raise_exception", Value::function("raise_exception", [](Args& a) -> Value {
    render_error(to_str(a.get(0, "message")));
  }));
  g.emplace_back("strftime_now", Value::function("strftime_now", [](Args& a) {
    const Value f = a.get(0, "format");
    if (!f.is_string()) render_error("strftime_now: the format must be a string");
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[512];
    const size_t n = std::strftime(buf, sizeof buf, f.s.c_str(), &tm);
    return Value::string(std::string(buf, n));
  }));
  return g;
}

}  // namespace lmf::jinja

// lmforge chat: Jinja filters (`x | name(args)`) and tests (`x is name(args)`) with Jinja2's
// semantics; tojson is transformers' (json.dumps with ensure_ascii=False, no HTML escaping).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "chat/jinja_builtins.h"
#include "chat/jinja_strings.h"

namespace lmf::jinja {

namespace {

bool numeric(const Value& v) { return v.is_number() || v.kind == Value::Kind::kBool; }

std::string need_string(const Value& v, const std::string& filter) {
  if (v.is_string()) return v.s;
  if (v.is_undefined()) return "";
  return to_str(v);
}

// Jinja2's attribute lookup for map/selectattr/sort: dotted names walk into dicts.
Value lookup_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = digits && cur.is_array() ? get_item(cur, Value::integer(std::stoll(part))) : get_item(cur, Value::string(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// The args after the first `skip` positional ones, as a new Args (for select/map).
Args rest_args(const Args& a, size_t skip) {
  Args r;
  r.callee = a.callee;
  for (size_t k = skip; k < a.pos.size(); ++k) r.pos.push_back(a.pos[k]);
  r.kw = a.kw;
  return r;
}

Value select_filter(const std::string& name, const Value& v, Args& a) {
  const bool by_attr = name == "selectattr" || name == "rejectattr";
  const bool keep = name == "select" || name == "selectattr";
  std::string attr;
  size_t first_test = 0;
  if (by_attr) {
    const Value at = a.get(0, "attribute");
    if (!at.is_string()) render_error(fmt::format("{}: the attribute name must be a string", name));
    attr = at.s;
    first_test = 1;
  }
  const Value test = a.get(first_test, "test");
  Args targs = rest_args(a, first_test + 1);
  Array out;
  for (const Value& item : iterate(v)) {
    const Value subject = by_attr ? lookup_path(item, attr) : item;
    bool ok;
    if (test.is_undefined()) {
      ok = truthy(subject);
    } else {
      if (!test.is_string()) render_error(fmt::format("{}: the test name must be a string", name));
      ok = apply_test(test.s, subject, targs);
    }
    if (ok == keep) out.push_back(item);
  }
  return Value::array(out);
}

Value map_filter(const Value& v, Args& a) {
  Array out;
  const Value attr = a.get(a.pos.size(), "attribute");
  if (attr.is_string()) {
    const Value dflt = a.get(a.pos.size(), "default");
    for (const Value& item : iterate(v)) {
      Value got = lookup_path(item, attr.s);
      out.push_back(got.is_undefined() && !dflt.is_undefined() ? dflt : got);
    }
    return Value::array(out);
  }
  const Value filter = a.get(0, "");
  if (!filter.is_string()) render_error("map: give a filter name or attribute=");
  Args fargs = rest_args(a, 1);
  for (const Value& item : iterate(v)) {
    Args copy = fargs;
    out.push_back(apply_filter(filter.s, item, copy));
  }
  return Value::array(out);
}

Value sort_filter(const Value& v, Args& a) {
  Array items = iterate(v);
  const bool reverse = truthy(a.get(0, "reverse"));
  const bool case_sensitive = truthy(a.get(1, "case_sensitive"));
  const Value attr = a.get(2, "attribute");
  auto key = [&](const Value& x) {
    Value k = attr.is_string() ? lookup_path(x, attr.s) : x;
    if (!case_sensitive && k.is_string()) k = Value::string(str::lower(k.s));
    return k;
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? less(key(y), key(x)) : less(key(x), key(y));
  });
  return Value::array(items);
}

std::string indent(const std::string& s, const Value& width, bool first, bool blank) {
  const std::string pad = width.is_string() ? width.s : std::string(static_cast<size_t>(std::max<int64_t>(0, width.i)), ' ');
  const std::vector<std::string> lines = str::splitlines(s + "\n");
  std::string out;
  for (size_t k = 0; k < lines.size(); ++k) {
    if (k) out += "\n";
    if (k && (blank || !lines[k].empty())) out += pad;
    out += lines[k];
  }
  return first ? pad + out : out;
}

Value int_of(const Value& v, const Value& dflt) {
  if (v.kind == Value::Kind::kInt) return v;
  if (v.kind == Value::Kind::kBool) return Value::integer(v.b);
  if (v.kind == Value::Kind::kFloat) return Value::integer(static_cast<int64_t>(v.f));
  if (v.is_string()) {
    const std::string t = str::strip(v.s, std::nullopt, true, true);
    try {
      size_t used = 0;
      const int64_t i = std::stoll(t, &used);
      if (used == t.size()) return Value::integer(i);
      const double d = std::stod(t, &used);
      if (used == t.size()) return Value::integer(static_cast<int64_t>(d));
    } catch (const std::exception&) {
    }
  }
  return dflt;
}

Value float_of(const Value& v, const Value& dflt) {
  if (numeric(v)) return Value::number(v.as_double());
  if (v.is_string()) {
    const std::string t = str::strip(v.s, std::nullopt, true, true);
    try {
      size_t used = 0;
      const double d = std::stod(t, &used);
      if (used == t.size()) return Value::number(d);
    } catch (const std::exception&) {
    }
  }
  return dflt;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

Value apply_filter(const std::string& name, const Value& v, Args& a) {
  if (name == "trim") {
    const Value chars = a.get(0, "chars");
    return Value::string(str::strip(need_string(v, name), chars.is_string() ? std::optional(chars.s) : std::nullopt,
                                    true, true));
  }
  if (name == "tojson") {
    JsonOptions opt;
    // transformers' signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
    opt.ensure_ascii = truthy(a.get(0, "ensure_ascii"));
    const Value ind = a.get(1, "indent");
    if (numeric(ind)) opt.indent = static_cast<int>(ind.as_double());
    const Value seps = a.get(2, "separators");
    if (seps.is_array() && seps.a->size() == 2) opt.item_sep = to_str((*seps.a)[0]), opt.key_sep = to_str((*seps.a)[1]);
    opt.sort_keys = truthy(a.get(3, "sort_keys"));
    return Value::string(to_json(v, opt));
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value::integer(static_cast<int64_t>(code_points(v.s).size()));
    if (v.is_array()) return Value::integer(static_cast<int64_t>(v.a->size()));
    if (v.is_object()) return Value::integer(static_cast<int64_t>(v.o->items.size()));
    if (v.is_undefined()) return Value::integer(0);
    render_error(fmt::format("object of type '{}' has no len()", type_name(v)));
  }
  if (name == "join") {
    const Value sep = a.get(0, "d", Value::string(""));
    const Value attr = a.get(1, "attribute");
    std::string out;
    const Array items = iterate(v);
    for (size_t k = 0; k < items.size(); ++k)
      out += (k ? to_str(sep) : "") + to_str(attr.is_string() ? lookup_path(items[k], attr.s) : items[k]);
    return Value::string(out);
  }
  if (name == "default" || name == "d") {
    const bool boolean = truthy(a.get(1, "boolean"));
    if (v.is_undefined() || (boolean && !truthy(v))) return a.get(0, "default_value", Value::string(""));
    return v;
  }
  if (name == "first" || name == "last") {
    const Array items = iterate(v);
    if (items.empty()) return Value::undefined();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::array();
    if (!v.is_object()) render_error(fmt::format("items: expected a dict, got {}", type_name(v)));
    return get_attr(v, "items").fn->operator()(a);
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject")
    return select_filter(name, v, a);
  if (name == "map") return map_filter(v, a);
  if (name == "string") return Value::string(to_str(v));
  if (name == "safe") return v;
  if (name == "int") return int_of(v, a.get(0, "default", Value::integer(0)));
  if (name == "float") return float_of(v, a.get(0, "default", Value::number(0)));
  if (name == "abs") {
    if (!numeric(v)) render_error(fmt::format("bad operand type for abs(): '{}'", type_name(v)));
    return v.kind == Value::Kind::kFloat ? Value::number(std::fabs(v.f)) : Value::integer(std::llabs(v.i));
  }
  if (name == "capitalize") return Value::string(str::capitalize(need_string(v, name)));
  if (name == "lower") return Value::string(str::lower(need_string(v, name)));
  if (name == "upper") return Value::string(str::upper(need_string(v, name)));
  if (name == "title") return Value::string(str::title(need_string(v, name)));
  if (name == "replace") {
    const Value from = a.get(0, "old"), to = a.get(1, "new"), count = a.get(2, "count", Value::integer(-1));
    return Value::string(str::replace(need_string(v, name), to_str(from), to_str(to), count.i));
  }
  if (name == "indent") {
    return Value::string(indent(need_string(v, name), a.get(0, "width", Value::integer(4)), truthy(a.get(1, "first")),
                                truthy(a.get(2, "blank"))));
  }
  if (name == "list") return Value::array(iterate(v));
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<std::string> cps = code_points(v.s);
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
      return Value::string(out);
    }
    Array items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::array(items);
  }
  if (name == "unique") {
    const bool case_sensitive = truthy(a.get(0, "case_sensitive"));
    const Value attr = a.get(1, "attribute");
    Array out, seen;
    for (const Value& item : iterate(v)) {
      Value key = attr.is_string() ? lookup_path(item, attr.s) : item;
      if (!case_sensitive && key.is_string()) key = Value::string(str::lower(key.s));
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return Value::array(out);
  }
  if (name == "sort") return sort_filter(v, a);
  if (name == "dictsort") {
    if (!v.is_object()) render_error(fmt::format("dictsort: expected a dict, got {}", type_name(v)));
    Args none;
    Value items = get_attr(v, "items").fn->operator()(none);
    Args sa;
    sa.kw = {{"reverse", a.get(2, "reverse")}, {"case_sensitive", a.get(0, "case_sensitive")}};
    const Value by = a.get(1, "by", Value::string("key"));
    sa.kw.emplace_back("attribute", Value::string(to_str(by) == "value" ? "1" : "0"));
    return sort_filter(items, sa);
  }
  if (name == "sum") {
    Value total = a.get(1, "start", Value::integer(0));
    const Value attr = a.get(0, "attribute");
    for (const Value& item : iterate(v)) total = binary_op("+", total, attr.is_string() ? lookup_path(item, attr.s) : item);
    return total;
  }
  if (name == "min" || name == "max") {
    const Array items = iterate(v);
    if (items.empty()) return Value::undefined();
    Value best = items[0];
    for (const Value& x : items)
      if (name == "min" ? less(x, best) : less(best, x)) best = x;
    return best;
  }
  if (name == "round") {
    const int64_t precision = a.get(0, "precision", Value::integer(0)).i;
    const std::string method = to_str(a.get(1, "method", Value::string("common")));
    const double scale = std::pow(10.0, static_cast<double>(precision)), x = v.as_double() * scale;
    const double r = method == "floor" ? std::floor(x) : method == "ceil" ? std::ceil(x) : std::round(x);
    return Value::number(r / scale);
  }
  if (name == "e" || name == "escape") return Value::string(html_escape(to_str(v)));
  if (name == "wordcount") return Value::integer(static_cast<int64_t>(str::split(to_str(v), std::nullopt, -1, false).size()));
  if (name == "attr") return get_attr(v, to_str(a.get(0, "name")));
  render_error(fmt::format("no filter named '{}'", name));
}

bool apply_test(const std::string& name, const Value& v, Args& a) {
  using K = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == K::kBool;
  if (name == "true") return v.kind == K::kBool && v.b;
  if (name == "false") return v.kind == K::kBool && !v.b;
  if (name == "integer") return v.kind == K::kInt;
  if (name == "float") return v.kind == K::kFloat;
  if (name == "number") return numeric(v);
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_object() && !v.o->is_namespace;
  if (name == "iterable") return v.is_string() || v.is_array() || v.is_object() || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_array() || (v.is_object() && !v.o->is_namespace);
  if (name == "callable") return v.is_function();
  if (name == "lower") return v.is_string() && str::is_class(v.s, "islower");
  if (name == "upper") return v.is_string() && str::is_class(v.s, "isupper");
  if (name == "odd" || name == "even") {
    if (!numeric(v) || v.kind == K::kFloat) render_error(fmt::format("test '{}' needs an integer", name));
    return (v.i % 2 != 0) == (name == "odd");
  }
  const Value other = a.get(0, "value");
  if (name == "divisibleby") {
    if (!numeric(v) || !numeric(other) || other.as_double() == 0) render_error("divisibleby needs a non-zero number");
    return std::fmod(v.as_double(), other.as_double()) == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, other);
  if (name == "ne" || name == "!=") return !equals(v, other);
  if (name == "lt" || name == "lessthan" || name == "<") return less(v, other);
  if (name == "gt" || name == "greaterthan" || name == ">") return less(other, v);
  if (name == "le" || name == "<=") return !less(other, v);
  if (name == "ge" || name == ">=") return !less(v, other);
  if (name == "in") return truthy(binary_op("in", v, other));
  if (name == "sameas") {
    if (v.kind != other.kind) return false;
    if (v.is_array()) return v.a == other.a;
    if (v.is_object()) return v.o == other.o;
    return equals(v, other);
  }
  render_error(fmt::format("no test named '{}'", name));
}

}  // namespace lmf::jinja

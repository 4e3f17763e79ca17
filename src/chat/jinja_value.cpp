// lmforge chat: Jinja values (see jinja_value.h): construction, Python's str/repr/==/<,
// truthiness, and transformers' tojson.
#include "chat/jinja_value.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace lmf::jinja {

const Value* Object::find(const std::string& key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Object::set(const std::string& key, Value v) {
  for (auto& [k, old] : items)
    if (k == key) {
      old = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

Value Value::undefined(std::string name) {
  Value v;
  v.name = std::move(name);
  return v;
}
Value Value::none() {
  Value v;
  v.kind = Kind::kNone;
  return v;
}
Value Value::boolean(bool x) {
  Value v;
  v.kind = Kind::kBool;
  v.b = x;
  return v;
}
Value Value::integer(int64_t x) {
  Value v;
  v.kind = Kind::kInt;
  v.i = x;
  return v;
}
Value Value::number(double x) {
  Value v;
  v.kind = Kind::kFloat;
  v.f = x;
  return v;
}
Value Value::string(std::string x) {
  Value v;
  v.kind = Kind::kString;
  v.s = std::move(x);
  return v;
}
Value Value::array(Array x) {
  Value v;
  v.kind = Kind::kArray;
  v.a = std::make_shared<Array>(std::move(x));
  return v;
}
Value Value::object(Object x) {
  Value v;
  v.kind = Kind::kObject;
  v.o = std::make_shared<Object>(std::move(x));
  return v;
}
Value Value::function(std::string name, Function f) {
  Value v;
  v.kind = Kind::kFunction;
  v.name = std::move(name);
  v.fn = std::make_shared<Function>(std::move(f));
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: return integer(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float: return number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Array a;
      for (const auto& e : j) a.push_back(from_json(e));
      return array(std::move(a));
    }
    case nlohmann::ordered_json::value_t::object: {
      Object o;
      for (const auto& [k, e] : j.items()) o.items.emplace_back(k, from_json(e));
      return object(std::move(o));
    }
    default: return undefined();
  }
}

Value Args::get(size_t index, const std::string& key, Value fallback) const {
  if (index < pos.size()) return pos[index];
  for (const auto& [k, v] : kw)
    if (k == key) return v;
  return fallback;
}

bool Args::has(size_t index, const std::string& key) const {
  if (index < pos.size()) return true;
  return std::any_of(kw.begin(), kw.end(), [&](const auto& p) { return p.first == key; });
}

void render_error(std::string message) { throw RenderError{std::move(message)}; }

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return false;
    case Value::Kind::kBool: return v.b;
    case Value::Kind::kInt: return v.i != 0;
    case Value::Kind::kFloat: return v.f != 0;
    case Value::Kind::kString: return !v.s.empty();
    case Value::Kind::kArray: return !v.a->empty();
    case Value::Kind::kObject: return v.o->is_namespace || !v.o->items.empty();
    case Value::Kind::kFunction: return true;
  }
  return false;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e-05"
  const size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  const int exp = std::stoi(sci.substr(e + 1));
  std::string sign;
  if (mant[0] == '-') {
    sign = "-";
    mant.erase(0, 1);
  }
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  if (exp >= -4 && exp < 16) {
    std::string out;
    if (exp < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
    }
    return sign + out;
  }
  std::string m = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
  return fmt::format("{}{}e{}{:02d}", sign, m, exp < 0 ? '-' : '+', std::abs(exp));
}

namespace {

std::string quote_repr(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == q) out += std::string("\\") + static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return out + q;
}

void json_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (size_t k = 0; k < s.size(); ++k) {
    const unsigned char c = static_cast<unsigned char>(s[k]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else if (c >= 0x80 && ensure_ascii) {
      int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
      uint32_t cp = c & (0x3f >> n);
      for (int m = 0; m < n && k + 1 < s.size(); ++m) cp = (cp << 6) | (static_cast<unsigned char>(s[++k]) & 0x3f);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else {
        out += fmt::format("\\u{:04x}", cp);
      }
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void json_into(const Value& v, const JsonOptions& opt, int depth, std::string& out) {
  const std::string item_sep = opt.item_sep ? *opt.item_sep : opt.indent ? "," : ", ";
  auto newline = [&](int d) {
    if (!opt.indent) return;
    out += '\n';
    out.append(static_cast<size_t>(std::max(0, *opt.indent * d)), ' ');
  };
  switch (v.kind) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: out += "null"; return;
    case Value::Kind::kBool: out += v.b ? "true" : "false"; return;
    case Value::Kind::kInt: out += std::to_string(v.i); return;
    case Value::Kind::kFloat:
      out += std::isnan(v.f) ? "NaN" : std::isinf(v.f) ? (v.f < 0 ? "-Infinity" : "Infinity") : float_repr(v.f);
      return;
    case Value::Kind::kString: json_string(v.s, opt.ensure_ascii, out); return;
    case Value::Kind::kArray: {
      if (v.a->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t k = 0; k < v.a->size(); ++k) {
        if (k) out += item_sep;
        newline(depth + 1);
        json_into((*v.a)[k], opt, depth + 1, out);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::kObject: {
      if (v.o->items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& p : v.o->items) items.push_back(&p);
      if (opt.sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* x, auto* y) { return x->first < y->first; });
      out += '{';
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out += item_sep;
        newline(depth + 1);
        json_string(items[k]->first, opt.ensure_ascii, out);
        out += opt.key_sep;
        json_into(items[k]->second, opt, depth + 1, out);
      }
      newline(depth);
      out += '}';
      return;
    }
    case Value::Kind::kFunction: render_error(fmt::format("tojson: {} is not JSON serializable", type_name(v)));
  }
}

}  // namespace

std::string to_json(const Value& v, const JsonOptions& opt) {
  std::string out;
  json_into(v, opt, 0, out);
  return out;
}

std::string repr(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kString: return quote_repr(v.s);
    case Value::Kind::kArray: {
      std::string out = "[";
      for (size_t k = 0; k < v.a->size(); ++k) out += (k ? ", " : "") + repr((*v.a)[k]);
      return out + "]";
    }
    case Value::Kind::kObject: {
      if (v.o->is_namespace) return "<Namespace>";
      std::string out = "{";
      for (size_t k = 0; k < v.o->items.size(); ++k)
        out += (k ? ", " : "") + quote_repr(v.o->items[k].first) + ": " + repr(v.o->items[k].second);
      return out + "}";
    }
    default: return to_str(v);
  }
}

std::string to_str(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return "";
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return v.b ? "True" : "False";
    case Value::Kind::kInt: return std::to_string(v.i);
    case Value::Kind::kFloat: return float_repr(v.f);
    case Value::Kind::kString: return v.s;
    case Value::Kind::kFunction: return "<function " + v.name + ">";
    default: return repr(v);
  }
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kUndefined: return "undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kArray: return "list";
    case Value::Kind::kObject: return v.o->is_namespace ? "Namespace" : "dict";
    case Value::Kind::kFunction: return "function";
  }
  return "?";
}

bool equals(const Value& x, const Value& y) {
  const bool xn = x.is_number() || x.kind == Value::Kind::kBool, yn = y.is_number() || y.kind == Value::Kind::kBool;
  if (xn && yn) {
    if (x.kind != Value::Kind::kFloat && y.kind != Value::Kind::kFloat) {
      return (x.kind == Value::Kind::kBool ? x.b : x.i) == (y.kind == Value::Kind::kBool ? y.b : y.i);
    }
    return x.as_double() == y.as_double();
  }
  if (x.kind != y.kind) return false;
  switch (x.kind) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return x.s == y.s;
    case Value::Kind::kArray:
      if (x.a->size() != y.a->size()) return false;
      for (size_t k = 0; k < x.a->size(); ++k)
        if (!equals((*x.a)[k], (*y.a)[k])) return false;
      return true;
    case Value::Kind::kObject:
      if (x.o == y.o) return true;
      if (x.o->items.size() != y.o->items.size()) return false;
      for (const auto& [k, v] : x.o->items) {
        const Value* other = y.o->find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    case Value::Kind::kFunction: return x.fn == y.fn;
    default: return false;
  }
}

bool less(const Value& x, const Value& y) {
  const bool xn = x.is_number() || x.kind == Value::Kind::kBool, yn = y.is_number() || y.kind == Value::Kind::kBool;
  if (xn && yn) {
    if (x.kind == Value::Kind::kInt && y.kind == Value::Kind::kInt) return x.i < y.i;
    return x.as_double() < y.as_double();
  }
  if (x.is_string() && y.is_string()) return x.s < y.s;
  if (x.is_array() && y.is_array()) {
    const size_t n = std::min(x.a->size(), y.a->size());
    for (size_t k = 0; k < n; ++k) {
      if (less((*x.a)[k], (*y.a)[k])) return true;
      if (less((*y.a)[k], (*x.a)[k])) return false;
    }
    return x.a->size() < y.a->size();
  }
  render_error(fmt::format("'<' not supported between instances of '{}' and '{}'", type_name(x), type_name(y)));
}

std::vector<std::string> code_points(const std::string& s) {
  std::vector<std::string> out;
  for (size_t k = 0; k < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[k]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
    n = std::min(n, s.size() - k);
    out.push_back(s.substr(k, n));
    k += n;
  }
  return out;
}

}  // namespace lmf::jinja

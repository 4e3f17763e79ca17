// lmforge chat: the values a Jinja template computes with.
//
// A Value is what Python's Jinja2 sees when transformers renders a chat template: undefined,
// None, booleans, integers, floats, strings, lists, dicts (insertion-ordered, as Python's
// are, so tojson keeps the key order of the input), namespaces (dicts a template may assign
// into) and callables (macros, globals, bound methods). Lists and dicts are shared by
// reference, as in Python. JSON input (nlohmann::ordered_json) converts to a Value.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lmf::jinja {

struct Value;
struct Args;
using Array = std::vector<Value>;
using Function = std::function<Value(Args&)>;

// A dict: key order is insertion order.
struct Object {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;  // a namespace(): `set ns.attr = ...` may assign into it
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value v);
};

struct Value {
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kFunction };
  Kind kind = Kind::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<Array> a;
  std::shared_ptr<Object> o;
  std::shared_ptr<Function> fn;
  std::string name;  // an undefined's variable name, a function's name (for messages)

  Value() = default;
  static Value undefined(std::string name = "");
  static Value none();
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value number(double v);
  static Value string(std::string v);
  static Value array(Array v = {});
  static Value object(Object v = {});
  static Value function(std::string name, Function f);
  static Value from_json(const nlohmann::ordered_json& j);

  bool is_undefined() const { return kind == Kind::kUndefined; }
  bool is_none() const { return kind == Kind::kNone; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_object() const { return kind == Kind::kObject; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat; }
  bool is_function() const { return kind == Kind::kFunction; }
  double as_double() const { return kind == Kind::kInt ? static_cast<double>(i) : kind == Kind::kBool ? b : f; }
};

// The arguments of a call: positional, then keyword (in call order).
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  std::string callee;  // for messages
  // The argument at `index` or named `key`, else `fallback` (undefined if not given).
  Value get(size_t index, const std::string& key, Value fallback = Value()) const;
  bool has(size_t index, const std::string& key) const;
};

// A rendering problem (a type error, raise_exception, an undefined call): the evaluator adds
// the template's name and line and rethrows it as lmf::Error.
struct RenderError {
  std::string message;
};
[[noreturn]] void render_error(std::string message);

// Python's truthiness.
bool truthy(const Value& v);
// Python's str(): what `{{ v }}` prints (undefined prints nothing).
std::string to_str(const Value& v);
// Python's repr() (strings quoted), used for lists and dicts inside str().
std::string repr(const Value& v);
// Python's type name, for messages ('str', 'int', 'list', 'dict', ...).
std::string type_name(const Value& v);
// Python's ==.
bool equals(const Value& x, const Value& y);
// Python's <, for numbers and strings (else a RenderError).
bool less(const Value& x, const Value& y);

struct JsonOptions {
  std::optional<int> indent;
  std::optional<std::string> item_sep;  // default ", ", or "," when indent is set
  std::string key_sep = ": ";
  bool sort_keys = false, ensure_ascii = false;
};
// transformers' tojson: json.dumps(v, ensure_ascii=False, indent=..., separators=..., sort_keys=...).
std::string to_json(const Value& v, const JsonOptions& opt = {});

// Python's float repr: shortest round-trip digits, "1.0", "1e-05", "1e+16".
std::string float_repr(double d);

// UTF-8 helpers: string operations count code points as Python does.
std::vector<std::string> code_points(const std::string& s);

}  // namespace lmf::jinja

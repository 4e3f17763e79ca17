// lmforge chat: what Jinja templates call: operators, filters, tests, the methods of strings,
// dicts and lists, and the globals (range, namespace, dict, raise_exception, strftime_now),
// each with the semantics of Python's Jinja2 as transformers configures it. Problems are
// RenderErrors; the evaluator adds the template line.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace lmf::jinja {

// A binary operator: + - * / // % ** ~ == != < <= > >= in "not in".
Value binary_op(const std::string& op, const Value& l, const Value& r);
// obj.name: a dict's key, else a method of a str/dict/list, else undefined.
Value get_attr(const Value& obj, const std::string& name);
// obj[key]: a list's or string's index (negative from the end), a dict's key, else undefined.
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] on a list or string (null parts are undefined values).
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// The items a for loop walks: a list's items, a dict's keys, a string's characters.
Array iterate(const Value& v);
Value apply_filter(const std::string& name, const Value& v, Args& args);
bool apply_test(const std::string& name, const Value& v, Args& args);
// The globals every template sees.
std::vector<std::pair<std::string, Value>> global_values();

}  // namespace lmf::jinja

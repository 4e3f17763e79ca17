// lmforge chat: a Jinja template interpreter for chat templates.
//
// Hugging Face models ship their prompt format as a Jinja template (tokenizer_config.json's
// chat_template); transformers renders it with Python's Jinja2 (trim_blocks and
// lstrip_blocks on, loop controls, tojson without HTML escaping, raise_exception and
// strftime_now as globals). This interpreter renders the same templates to the same text:
// jinja_lex.cpp lexes (whitespace control included), jinja_parse.cpp parses to a tree (jinja_ast.h),
// jinja_eval.cpp runs it over Values (jinja_value.h), jinja_builtins.cpp holds the filters,
// tests, methods and globals. Where @huggingface/jinja and Python's Jinja2 differ (how None,
// booleans and lists print), it follows Jinja2, which is what transformers uses.
// A syntax error, a type error or raise_exception is an lmf::Error that names the template
// and its line.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace lmf::jinja {

struct Stmt;

struct Options {
  bool trim_blocks = true;    // drop the first newline after a block tag (transformers' setting)
  bool lstrip_blocks = true;  // drop spaces and tabs before a block tag at the start of a line
};

class Template {
 public:
  // Parses `source`; `name` (e.g. "DIR/tokenizer_config.json: chat_template") starts every
  // error message. A syntax error throws lmf::Error naming the line.
  Template(const std::string& source, std::string name, Options options = {});
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with `vars` in scope (besides the globals range, namespace, dict,
  // raise_exception, strftime_now).
  std::string render(const std::vector<std::pair<std::string, Value>>& vars) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::unique_ptr<std::vector<std::unique_ptr<Stmt>>> body_;
};

}  // namespace lmf::jinja

// lmforge chat: the Jinja lexer (jinja_lex.cpp). It splits a template into text and tags,
// applying whitespace control as Jinja2 does ({%- -%} {{- -}} {#- -#}, trim_blocks,
// lstrip_blocks, {%+ %}, {% raw %}, one trailing newline of the source dropped), and
// tokenizes the code inside tags for the parser (jinja_parse.cpp).
#pragma once

#include <string>
#include <vector>

namespace lmf::jinja {

struct Options;

struct Token {
  enum class Kind { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kInt, kFloat, kString, kOp, kEof };
  Kind kind;
  std::string text;
  int line;
};

// The tokens of `source`, ending with kEof; a lexical error is an lmf::Error naming `name` and the line.
std::vector<Token> lex(const std::string& source, const std::string& name, const Options& opt);

}  // namespace lmf::jinja

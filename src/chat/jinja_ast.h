// lmforge chat: the syntax tree of a Jinja template (jinja_parse.cpp builds it,
// jinja_eval.cpp runs it). Every node keeps its template line for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace lmf::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,   // value
    kName,      // name
    kList,      // args: items
    kTuple,     // args: items
    kDict,      // args: key0, value0, key1, value1, ...
    kAttr,      // args[0].name
    kItem,      // args[0][args[1]]
    kSlice,     // args[0][args[1]:args[2]:args[3]] (null parts are omitted)
    kCall,      // args[0](args[1:], kwargs)
    kFilter,    // args[0] | name(args[1:], kwargs)
    kTest,      // args[0] is [not] name(args[1:])
    kNot,       // not args[0]
    kNeg,       // -args[0]
    kBinary,    // args[0] name args[1]: + - * / // % ** ~ == != < <= > >= in "not in"
    kAnd,
    kOr,
    kCond,      // args[0] if args[1] else args[2] (args[2] may be null)
  };
  Kind kind = Kind::kLiteral;
  int line = 0;
  Value value;
  std::string name;
  bool negated = false;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // conds[k] -> bodies[k]; bodies.size() == conds.size() + 1 when there is an else
    kFor,       // for targets in expr [if cond]: bodies[0]; else: bodies[1]
    kSet,       // set target = expr
    kSetBlock,  // set target: bodies[0] rendered
    kMacro,     // macro name(params = defaults): bodies[0]
    kFilterBlock,  // filter expr: bodies[0] rendered, then expr's filters (args[0] is a kName "")
    kBreak,
    kContinue,
  };
  Kind kind = Kind::kText;
  int line = 0;
  std::string text;
  ExprPtr expr, cond, target;
  std::vector<std::string> targets;  // for-loop variables, macro parameters
  std::vector<ExprPtr> conds, defaults;
  std::vector<Body> bodies;
};

}  // namespace lmf::jinja

namespace lmf::jinja {
struct Options;
// Lexes (jinja_lex.cpp) and parses (jinja_parse.cpp) a template; a syntax error is an lmf::Error naming
// `name` and the line.
Body parse_source(const std::string& source, const std::string& name, const Options& opt);
}  // namespace lmf::jinja

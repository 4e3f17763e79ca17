// lmforge IR: the graph every model becomes.
//
// A Graph holds Values (tensors with a dtype and a partly symbolic shape) and
// Nodes (an op name, typed attributes, input and output values) in execution
// order. Values are step inputs (token ids, positions, ...), weights (named
// constants backed by a Tensor), state (the KV cache: owned by the runtime, reached
// by ops through explicit inputs) or activations (produced by a node). Symbolic
// dimensions are bound when a plan is built: N = tokens in one step, M = rows whose
// logits are wanted, SLOTS = sequences in a batch, S = cache length.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace lmf {

struct Dim {
  int64_t n = 0;
  std::string sym;  // non-empty: symbolic
  Dim() = default;
  Dim(int64_t v) : n(v) {}  // NOLINT: a constant converts implicitly
  Dim(const char* s) : sym(s) {}  // NOLINT
  bool symbolic() const { return !sym.empty(); }
  bool operator==(const Dim& o) const { return n == o.n && sym == o.sym; }
  std::string str() const { return symbolic() ? sym : std::to_string(n); }
};
using SymShape = std::vector<Dim>;
std::string sym_shape_str(const SymShape& s);

enum class ValueKind { kInput, kWeight, kState, kActivation };

struct Value {
  std::string name;
  DType dtype = DType::kF32;
  SymShape shape;
  ValueKind kind = ValueKind::kActivation;
  Tensor data;        // weights only
  int producer = -1;  // node index for activations
};

using Attr = std::variant<int64_t, double, std::string>;

struct Node {
  std::string op;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::map<std::string, Attr> attrs;

  int64_t attr_int(const std::string& key) const;
  double attr_float(const std::string& key) const;
  const std::string& attr_str(const std::string& key) const;
  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
};

class Graph {
 public:
  int add_input(const std::string& name, DType dtype, SymShape shape);
  int add_state(const std::string& name, DType dtype, SymShape shape);
  int add_weight(const std::string& name, Tensor data);
  // Adds a node whose single output's dtype and shape come from the op's schema.
  int add(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs = {},
          const std::string& out_name = "");
  // The same for an op with several outputs (names optional, in order); returns their ids.
  std::vector<int> add_n(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs = {},
                         const std::vector<std::string>& out_names = {});
  void mark_output(int v) { outputs_.push_back(v); }
  void set_outputs(std::vector<int> v) { outputs_ = std::move(v); }

  const std::vector<Value>& values() const { return values_; }
  std::vector<Value>& values() { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& mutable_nodes() { return nodes_; }  // for passes; verify() afterwards
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  const Value& value(int id) const { return values_.at(static_cast<size_t>(id)); }
  int find(const std::string& name) const;  // -1 if absent

  // Checks that every node's inputs exist before it, dtypes and shapes agree with
  // the op schemas, and outputs are produced. Throws lmf::Error(kInternal) on failure.
  void verify() const;
  // Human-readable listing: one line per input, weight and node.
  std::string to_string() const;
  int64_t parameter_count() const;
  // Removes weights and state no node reads (e.g. after a pass replaced them), and
  // activations no node produces or reads (after erase_nodes), and renumbers the rest.
  // Returns how many values were removed.
  int remove_unused_values();
  // Drops the nodes flagged in `dead` (one flag per node) and renumbers the producers of
  // the rest; a pass that erases a node first gives its outputs' readers other values.
  void erase_nodes(const std::vector<bool>& dead);

 private:
  int new_value(Value v);
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<int> inputs_;
  std::vector<int> outputs_;
};

}  // namespace lmf

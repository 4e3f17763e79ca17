#include "ir/graph.h"

#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "ir/op_registry.h"

namespace lmf {

std::string sym_shape_str(const SymShape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + s[i].str();
  return out + ")";
}

int64_t Node::attr_int(const std::string& key) const {
  auto it = attrs.find(key);
  LMF_CHECK(it != attrs.end() && std::holds_alternative<int64_t>(it->second), kInternal,
            "op {}: missing integer attribute '{}'", op, key);
  return std::get<int64_t>(it->second);
}

double Node::attr_float(const std::string& key) const {
  auto it = attrs.find(key);
  LMF_CHECK(it != attrs.end(), kInternal, "op {}: missing attribute '{}'", op, key);
  if (std::holds_alternative<int64_t>(it->second)) return static_cast<double>(std::get<int64_t>(it->second));
  LMF_CHECK(std::holds_alternative<double>(it->second), kInternal, "op {}: attribute '{}' is not a number", op, key);
  return std::get<double>(it->second);
}

const std::string& Node::attr_str(const std::string& key) const {
  auto it = attrs.find(key);
  LMF_CHECK(it != attrs.end() && std::holds_alternative<std::string>(it->second), kInternal,
            "op {}: missing string attribute '{}'", op, key);
  return std::get<std::string>(it->second);
}

int Graph::new_value(Value v) {
  values_.push_back(std::move(v));
  return static_cast<int>(values_.size()) - 1;
}

int Graph::add_input(const std::string& name, DType dtype, SymShape shape) {
  Value v{name, dtype, std::move(shape), ValueKind::kInput, {}, -1};
  int id = new_value(std::move(v));
  inputs_.push_back(id);
  return id;
}

int Graph::add_state(const std::string& name, DType dtype, SymShape shape) {
  return new_value(Value{name, dtype, std::move(shape), ValueKind::kState, {}, -1});
}

int Graph::add_weight(const std::string& name, Tensor data) {
  SymShape s;
  for (int64_t d : data.shape()) s.emplace_back(d);
  DType dt = data.dtype();
  return new_value(Value{name, dt, std::move(s), ValueKind::kWeight, std::move(data), -1});
}

int Graph::add(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs,
               const std::string& out_name) {
  std::vector<int> outs = add_n(op, std::move(inputs), std::move(attrs), {out_name});
  LMF_CHECK(outs.size() == 1, kInternal, "op {} has {} outputs: use add_n", op, outs.size());
  return outs[0];
}

std::vector<int> Graph::add_n(const std::string& op, std::vector<int> inputs, std::map<std::string, Attr> attrs,
                              const std::vector<std::string>& out_names) {
  const OpSchema& schema = op_schema(op);
  Node n{op, std::move(inputs), {}, std::move(attrs)};
  LMF_CHECK(static_cast<int>(n.inputs.size()) >= schema.min_inputs &&
                static_cast<int>(n.inputs.size()) <= schema.max_inputs,
            kInternal, "op {}: takes {}..{} inputs, got {}", op, schema.min_inputs, schema.max_inputs,
            n.inputs.size());
  for (int i : n.inputs)
    LMF_CHECK(i >= 0 && i < static_cast<int>(values_.size()), kInternal, "op {}: bad input id {}", op, i);
  auto outs = schema.outputs(*this, n);
  for (size_t k = 0; k < outs.size(); ++k) {
    const std::string& given = k < out_names.size() ? out_names[k] : std::string();
    std::string name = given.empty() ? fmt::format("%{}", values_.size()) : given;
    n.outputs.push_back(new_value(Value{name, outs[k].first, std::move(outs[k].second), ValueKind::kActivation, {},
                                        static_cast<int>(nodes_.size())}));
  }
  std::vector<int> ids = n.outputs;
  nodes_.push_back(std::move(n));
  return ids;
}

int Graph::find(const std::string& name) const {
  for (size_t i = 0; i < values_.size(); ++i)
    if (values_[i].name == name) return static_cast<int>(i);
  return -1;
}

void Graph::verify() const {
  std::vector<bool> ready(values_.size(), false);
  for (size_t i = 0; i < values_.size(); ++i)
    if (values_[i].kind != ValueKind::kActivation) ready[i] = true;
  for (size_t ni = 0; ni < nodes_.size(); ++ni) {
    const Node& n = nodes_[ni];
    for (int in : n.inputs)
      LMF_CHECK(ready[static_cast<size_t>(in)], kInternal, "graph: node {} ({}) reads {} before it is produced",
                ni, n.op, values_[static_cast<size_t>(in)].name);
    const auto expect = op_schema(n.op).outputs(*this, n);
    LMF_CHECK(expect.size() == n.outputs.size(), kInternal, "graph: node {} ({}) has {} outputs, the schema {}", ni,
              n.op, n.outputs.size(), expect.size());
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const int out = n.outputs[k];
      const auto& [dtype, shape] = expect[k];
      const Value& v = values_[static_cast<size_t>(out)];
      LMF_CHECK(v.dtype == dtype && v.shape == shape, kInternal,
                "graph: node {} ({}) output {} is {} {} but the schema gives {} {}", ni, n.op, v.name,
                dtype_name(v.dtype), sym_shape_str(v.shape), dtype_name(dtype), sym_shape_str(shape));
      ready[static_cast<size_t>(out)] = true;
    }
  }
  for (int out : outputs_)
    LMF_CHECK(ready[static_cast<size_t>(out)], kInternal, "graph: output {} is never produced",
              values_[static_cast<size_t>(out)].name);
}

std::string Graph::to_string() const {
  std::string s;
  for (int i : inputs_) {
    const Value& v = values_[static_cast<size_t>(i)];
    s += fmt::format("input  {} : {} {}\n", v.name, dtype_name(v.dtype), sym_shape_str(v.shape));
  }
  for (const Value& v : values_) {
    if (v.kind == ValueKind::kWeight)
      s += fmt::format("weight {} : {} {}\n", v.name, dtype_name(v.dtype), sym_shape_str(v.shape));
    else if (v.kind == ValueKind::kState)
      s += fmt::format("state  {} : {} {}\n", v.name, dtype_name(v.dtype), sym_shape_str(v.shape));
  }
  for (const Node& n : nodes_) {
    std::string outs, ins, attrs;
    for (int o : n.outputs) {
      const Value& v = values_[static_cast<size_t>(o)];
      outs += fmt::format("{}{} : {} {}", outs.empty() ? "" : ", ", v.name, dtype_name(v.dtype), sym_shape_str(v.shape));
    }
    for (int i : n.inputs) ins += (ins.empty() ? "" : ", ") + values_[static_cast<size_t>(i)].name;
    for (const auto& [k, a] : n.attrs) {
      std::string val = std::visit([](const auto& x) { return fmt::format("{}", x); }, a);
      attrs += fmt::format("{}{}={}", attrs.empty() ? "" : ", ", k, val);
    }
    s += fmt::format("{} = {}({}){}\n", outs, n.op, ins, attrs.empty() ? "" : " {" + attrs + "}");
  }
  std::string outs;
  for (int o : outputs_) outs += (outs.empty() ? "" : ", ") + values_[static_cast<size_t>(o)].name;
  s += "output " + outs + "\n";
  return s;
}

int Graph::remove_unused_values() {
  std::vector<bool> keep(values_.size(), false);
  for (size_t i = 0; i < values_.size(); ++i)
    keep[i] = values_[i].kind == ValueKind::kInput ||
              (values_[i].kind == ValueKind::kActivation && values_[i].producer >= 0);
  for (const Node& n : nodes_)
    for (int i : n.inputs) keep[static_cast<size_t>(i)] = true;
  for (int o : outputs_) keep[static_cast<size_t>(o)] = true;
  std::vector<int> remap(values_.size(), -1);
  std::vector<Value> kept;
  for (size_t i = 0; i < values_.size(); ++i)
    if (keep[i]) {
      remap[i] = static_cast<int>(kept.size());
      kept.push_back(std::move(values_[i]));
    }
  const int removed = static_cast<int>(values_.size() - kept.size());
  values_ = std::move(kept);
  auto fix = [&](std::vector<int>& ids) {
    for (int& id : ids) id = remap[static_cast<size_t>(id)];
  };
  for (Node& n : nodes_) fix(n.inputs), fix(n.outputs);
  fix(inputs_);
  fix(outputs_);
  return removed;
}

void Graph::erase_nodes(const std::vector<bool>& dead) {
  LMF_CHECK(dead.size() == nodes_.size(), kInternal, "erase_nodes: {} flags for {} nodes", dead.size(), nodes_.size());
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(nodes_[i]));
  nodes_ = std::move(kept);
  for (Value& v : values_)
    if (v.kind == ValueKind::kActivation) v.producer = -1;
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (int o : nodes_[i].outputs) values_[static_cast<size_t>(o)].producer = static_cast<int>(i);
}

int64_t Graph::parameter_count() const {
  // A quantized weight (linear_q, embedding_q: three tensors) counts as its K x N
  // parameters, once however many nodes use it.
  std::set<int> quantized, seen;
  int64_t n = 0;
  for (const Node& node : nodes_) {
    if (node.op != "linear_q" && node.op != "embedding_q") continue;
    const size_t first = node.op == "linear_q" ? 1 : 0;
    for (size_t i = first; i < first + 3; ++i) quantized.insert(node.inputs[i]);
    if (seen.insert(node.inputs[first]).second) n += node.attr_int("in_features") * node.attr_int("out_features");
  }
  for (size_t i = 0; i < values_.size(); ++i)
    if (values_[i].kind == ValueKind::kWeight && !quantized.count(static_cast<int>(i))) n += values_[i].data.numel();
  return n;
}

}  // namespace lmf

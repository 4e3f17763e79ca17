// Gradient rules of the IR's ops (see op_gradients.h). Shapes: R rows, K/N a linear's
// input/output width, C model dim.
#include "ir/op_gradients.h"

#include <map>

#include "core/error.h"

namespace lmf {

namespace {

// Attributes of n named in keys, for the gradient node.
std::map<std::string, Attr> attrs_of(const Node& n, std::initializer_list<const char*> keys) {
  std::map<std::string, Attr> a;
  for (const char* k : keys) a[k] = n.attrs.at(k);
  return a;
}

std::map<std::string, GradRule> make_rules() {
  std::map<std::string, GradRule> r;
  r["embedding"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    return {g.add("embedding_grad", {n.inputs[0], n.inputs[1], d[0]}), -1};
  };
  r["add"] = [](Graph&, const Node&, const std::vector<int>& d) -> std::vector<int> { return {d[0], d[0]}; };
  r["gelu_tanh"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    return {g.add("gelu_tanh_grad", {n.inputs[0], d[0]})};
  };
  r["silu_mul"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    return g.add_n("silu_mul_grad", {n.inputs[0], n.inputs[1], d[0]});
  };
  r["layer_norm"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    return g.add_n("layer_norm_grad", {n.inputs[0], n.inputs[1], d[0]}, attrs_of(n, {"eps"}));
  };
  r["rms_norm"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    return g.add_n("rms_norm_grad", {n.inputs[0], n.inputs[1], d[0]},
                   n.has_attr("group") ? attrs_of(n, {"eps", "group"}) : attrs_of(n, {"eps"}));
  };
  // y (R, N) = x (R, K) · W + b: dx = dy · W^T-as-stored, dW = dy^T · x, db = column sums of dy.
  r["linear"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    const auto layout = attrs_of(n, {"layout"});
    std::vector<int> out = {g.add("linear_grad_x", {d[0], n.inputs[1]}, layout),
                            g.add("linear_grad_w", {d[0], n.inputs[0], n.inputs[1]}, layout)};
    if (n.inputs.size() == 3) out.push_back(g.add("col_sum", {d[0]}));
    return out;
  };
  r["split_cols"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    const int64_t cols = g.value(n.inputs[0]).shape[1].n;
    return {g.add("pad_cols", {d[0]}, {{"begin", n.attrs.at("begin")}, {"end", n.attrs.at("end")}, {"cols", cols}})};
  };
  r["rope"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    std::map<std::string, Attr> a = n.attrs;  // heads, head_dim, theta and any inv_freq, scale
    a.erase("angles");
    return {g.add("rope_grad", {d[0], n.inputs[1]}, a), -1};
  };
  r["attention_causal"] = [](Graph& g, const Node& n, const std::vector<int>& d) -> std::vector<int> {
    LMF_CHECK(d[0] >= 0, kInternal, "attention_causal: gradient of its output missing");
    return g.add_n("attention_causal_grad",
                   {n.inputs[0], n.inputs[1], n.inputs[2], n.outputs[0], n.outputs[1], d[0]},
                   attrs_of(n, {"heads", "kv_heads", "head_dim", "scale", "batch", "seq"}));
  };
  return r;
}

}  // namespace

const GradRule* op_gradient(const std::string& op) {
  static const std::map<std::string, GradRule> rules = make_rules();
  auto it = rules.find(op);
  return it == rules.end() ? nullptr : &it->second;
}

}  // namespace lmf

#include "train/autodiff.h"

#include <map>

#include "core/error.h"
#include "ir/op_gradients.h"

namespace lmf {

TrainGraph add_loss_and_backward(Graph forward, const LossSpec& spec, bool backward) {
  TrainGraph t;
  Graph& g = t.graph;
  g = std::move(forward);
  LMF_CHECK(!g.outputs().empty(), kInternal, "autodiff: the graph has no output");
  const int logits = g.outputs()[0];
  const SymShape& ls = g.value(logits).shape;
  LMF_CHECK(ls.size() == 2 && !ls[0].symbolic(), kInternal,
            "autodiff: logits {} are not (R, V) with concrete R: build the model for training",
            sym_shape_str(ls));
  const size_t forward_nodes = g.nodes().size();
  const int targets = g.add_input("targets", DType::kI32, {ls[0]});
  std::vector<int> loss;
  if (spec.kind == LossSpec::kCrossEntropy) {
    loss = g.add_n("cross_entropy", {logits, targets}, {{"scale", 1.0}}, {"loss", "grad.logits"});
  } else {
    const int teacher = g.add_input("teacher_logits", DType::kF32, ls);
    loss = g.add_n("distill_loss", {logits, teacher, targets},
                   {{"temperature", spec.temperature},
                    {"alpha", spec.alpha},
                    {"reverse", int64_t{spec.reverse_kl ? 1 : 0}},
                    {"scale", 1.0}},
                   {"loss", "grad.logits"});
  }
  t.loss = loss[0];
  if (!backward) {
    g.set_outputs({t.loss});
    g.verify();
    return t;
  }

  // grad[v]: the gradient of value v summed so far (-1: none yet).
  std::vector<int> grad(g.values().size(), -1);
  auto accumulate = [&](int v, int d) {
    if (grad[static_cast<size_t>(v)] < 0) {
      grad[static_cast<size_t>(v)] = d;
    } else {
      grad[static_cast<size_t>(v)] = g.add("add", {grad[static_cast<size_t>(v)], d});
    }
  };
  grad[static_cast<size_t>(logits)] = loss[1];
  for (size_t i = forward_nodes; i-- > 0;) {
    const Node n = g.nodes()[i];  // a copy: rules add nodes
    std::vector<int> dout;
    bool any = false;
    for (int o : n.outputs) {
      dout.push_back(grad[static_cast<size_t>(o)]);
      any = any || dout.back() >= 0;
    }
    if (!any) continue;
    const GradRule* rule = op_gradient(n.op);
    LMF_CHECK(rule != nullptr, kUnsupported, "autodiff: op '{}' has no gradient", n.op);
    const std::vector<int> din = (*rule)(g, n, dout);
    LMF_CHECK(din.size() == n.inputs.size(), kInternal, "autodiff: rule of {} gave {} gradients for {} inputs", n.op,
              din.size(), n.inputs.size());
    grad.resize(g.values().size(), -1);
    for (size_t k = 0; k < din.size(); ++k) {
      const int v = n.inputs[k];
      const ValueKind kind = g.value(v).kind;
      if (din[k] >= 0 && (kind == ValueKind::kWeight || kind == ValueKind::kActivation)) accumulate(v, din[k]);
    }
  }
  grad.resize(g.values().size(), -1);
  g.set_outputs({t.loss});
  for (size_t v = 0; v < g.values().size(); ++v) {
    if (g.values()[v].kind != ValueKind::kWeight) continue;
    const int d = grad[v];
    LMF_CHECK(d >= 0, kInternal, "autodiff: weight {} gets no gradient", g.values()[v].name);
    g.values()[static_cast<size_t>(d)].name = "grad." + g.values()[v].name;
    t.params.push_back({static_cast<int>(v), d});
    g.mark_output(d);
  }
  g.verify();
  return t;
}

}  // namespace lmf

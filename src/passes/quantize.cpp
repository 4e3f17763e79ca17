#include "passes/quantize.h"

#include <algorithm>
#include <map>
#include <regex>

#include <fmt/format.h>

#include "core/error.h"

namespace lmf::passes {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Sets spec.group to the group `lm` gets (quant::fit_group: the requested one, else the
// largest that fits its K, warning about the change). Returns false, after a warning, when
// no group fits: the module stays float. With int8 activation blocks a K or a requested
// group that is not a multiple of 32 is the quantize_weights error below, not a fallback.
bool fit_spec_group(quant::Spec& spec, const LinearModule& lm, bool blocks, const WarnFn& warn) {
  const int64_t requested = spec.group <= 0 ? lm.K : spec.group;
  if (blocks && (lm.K % 32 != 0 || requested % 32 != 0)) {  // the flags' error, below
    spec.group = requested;
    return true;
  }
  const int64_t g = quant::fit_group(requested, lm.K, spec.bits, blocks ? 32 : 1);
  if (g == 0) {
    if (warn)
      warn(fmt::format("{}: no {}-bit group size fits its {} inputs; kept float", lm.module, spec.bits, lm.K));
    return false;
  }
  if (g != requested && warn)
    warn(fmt::format("{}: group size {} does not fit its {} inputs; using {}{}", lm.module, requested, lm.K, g,
                     g == lm.K ? " (per output channel)" : ""));
  spec.group = g;
  return true;
}

}  // namespace

std::vector<LinearModule> linear_modules(const Graph& g) {
  std::vector<LinearModule> out;
  const auto& outputs = g.outputs();
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (n.op != "linear") continue;
    const Value& w = g.value(n.inputs[1]);
    if (w.kind != ValueKind::kWeight || !ends_with(w.name, ".weight")) continue;
    const bool nk = n.attr_str("layout") == "nk";
    LinearModule m;
    m.module = w.name.substr(0, w.name.size() - 7);
    m.node = static_cast<int>(i);
    m.K = nk ? w.data.dim(1) : w.data.dim(0);
    m.N = nk ? w.data.dim(0) : w.data.dim(1);
    m.head = std::find(outputs.begin(), outputs.end(), n.outputs[0]) != outputs.end();
    out.push_back(m);
  }
  return out;
}

Tensor linear_weight_kn(const Graph& g, const Node& node) {
  const Value& v = g.value(node.inputs[1]);
  LMF_CHECK(v.data.dtype() == DType::kF32, kInternal, "quantize: {} is not float32", v.name);
  if (node.attr_str("layout") != "nk") return v.data;
  const int64_t N = v.data.dim(0), K = v.data.dim(1);  // (N, K) -> (K, N)
  Tensor kn = Tensor::empty(DType::kF32, {K, N});
  transpose_f32(v.data.data_as<float>(), kn.mutable_data_as<float>(), N, K);
  return kn;
}

nlohmann::json quantize_weights(Graph& g, const QuantizeOptions& o) {
  for (const Node& n : g.nodes())
    LMF_CHECK(n.op != "linear_q" && n.op != "embedding_q", kInvalidArgument,
              "the model is already quantized (its {} reads quantized weights)", g.value(n.inputs[n.op == "linear_q" ? 1 : 0]).name);
  std::vector<std::regex> skip;
  for (const std::string& p : o.skip) {
    try {
      skip.emplace_back(p);
    } catch (const std::regex_error& e) {
      fail(ErrorCode::kInvalidArgument, "--skip '{}': not a regular expression: {}", p, e.what());
    }
  }
  nlohmann::json report = nlohmann::json::object();
  struct Done { int q, s, z; quant::Spec spec; int64_t K, N; };
  std::map<int, Done> done;  // float weight value -> its quantized tensors
  for (const LinearModule& lm : linear_modules(g)) {
    Node& n = g.mutable_nodes()[static_cast<size_t>(lm.node)];
    const int wid = n.inputs[1];
    bool keep = lm.head && !o.head_spec;
    for (const auto& re : skip) keep = keep || std::regex_search(lm.module, re);
    if (keep) {
      report[lm.module] = "float";
      continue;
    }
    const bool i8 = lm.head ? o.head_int8_dynamic : o.int8_dynamic;
    quant::Spec spec = i8 ? quant::Spec{8, lm.K, true} : (lm.head ? *o.head_spec : o.spec);
    const bool blocks = !i8 && o.act_int8_blocks;
    if (!fit_spec_group(spec, lm, blocks, o.warn)) {
      report[lm.module] = "float";
      continue;
    }
    auto it = done.find(wid);
    if (it == done.end()) {
      quant::check_spec(spec, lm.K, lm.N, lm.module);
      const Tensor kn = linear_weight_kn(g, n);
      quant::Packed p = i8          ? quant::quantize_per_channel_int8(kn.data_as<float>(), lm.K, lm.N)
                        : o.quantizer ? o.quantizer(lm.module, kn.data_as<float>(), lm.K, lm.N, spec)
                                      : quant::quantize_rtn(kn.data_as<float>(), lm.K, lm.N, spec);
      Done d{g.add_weight(lm.module + ".qweight", std::move(p.qweight)),
             g.add_weight(lm.module + ".scales", std::move(p.scales)),
             g.add_weight(lm.module + ".qzeros", std::move(p.qzeros)), spec, lm.K, lm.N};
      it = done.emplace(wid, d).first;
    }
    const Done& d = it->second;
    LMF_CHECK(!blocks || (d.K % 32 == 0 && d.spec.group % 32 == 0), kInvalidArgument,
              "--act int8: {} has {} inputs in groups of {}; int8 activation blocks need multiples of 32", lm.module,
              d.K, d.spec.group);
    const std::string act = i8 ? "int8" : blocks ? "int8_block32" : "float";
    std::vector<int> ins{n.inputs[0], d.q, d.s, d.z};
    if (n.inputs.size() == 3) ins.push_back(n.inputs[2]);
    n.op = "linear_q";
    n.inputs = ins;
    n.attrs = {{"bits", int64_t{d.spec.bits}}, {"group_size", d.spec.group}, {"in_features", d.K},
               {"out_features", d.N}, {"layout", std::string("gptq")}, {"act", act}};
    report[lm.module] = {{"bits", d.spec.bits}, {"group_size", d.spec.group}, {"sym", d.spec.sym}};
    if (act != "float") report[lm.module]["act"] = act;
  }
  // A token embedding reading a weight that was quantized (a tied head's) reads the quantized tensors.
  for (Node& n : g.mutable_nodes()) {
    if (n.op != "embedding") continue;
    auto it = done.find(n.inputs[0]);
    if (it == done.end()) continue;
    const Done& d = it->second;
    n.op = "embedding_q";
    n.inputs = {d.q, d.s, d.z, n.inputs[1]};
    n.attrs = {{"bits", int64_t{d.spec.bits}}, {"group_size", d.spec.group}, {"in_features", d.K},
               {"out_features", d.N}, {"layout", std::string("gptq")}, {"act", std::string("float")}};
  }
  g.remove_unused_values();
  g.verify();
  return report;
}

}  // namespace lmf::passes

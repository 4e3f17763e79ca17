// Schemas of the quantized-weight ops: linear_q and embedding_q (weights in the layout of
// core/quant.h). attrs: bits (4, 8), group_size G, in_features K, out_features N, and
// layout: "gptq" = qweight (K*bits/32, N) i32, scales (K/G, N) f16, qzeros (K/G,
// ceil(N*bits/32)) i32 as stored in checkpoints (scales f32 for PyTorch-exact int8); "strips" = the CPU
// backend's re-laid copy (qmatmul.h): q (strips, K/P, W) i32, s and zs (strips, K/G,
// W) f32, W = attr strip_cols (16 if absent; 64 for 4-bit weights on the bf16 kernel). attr act: "float" (default) or "int8": activations quantized per row at run
// time (int8-dynamic; 8-bit per-channel weights; strips hold signed bytes and zs is i32,
// the columns' weight sums).
#include <map>

#include "core/error.h"
#include "ir/op_registry.h"

namespace lmf::detail {

namespace {

// Checks the three weight inputs starting at input `first` against the attributes.
void check_qweights(const Graph& g, const Node& n, size_t first) {
  const int64_t bits = n.attr_int("bits"), G = n.attr_int("group_size");
  const int64_t K = n.attr_int("in_features"), N = n.attr_int("out_features");
  LMF_CHECK((bits == 3 || bits == 4 || bits == 8) && G > 0 && K > 0 && N > 0 && K % G == 0 && (G * bits) % 32 == 0,
            kInternal, "op {}: bad quantization attributes (bits {}, group {}, K {}, N {})", n.op, bits, G, K, N);
  const Value& q = g.value(n.inputs.at(first));
  const Value& s = g.value(n.inputs.at(first + 1));
  const Value& z = g.value(n.inputs.at(first + 2));
  const std::string& layout = n.attr_str("layout");
  LMF_CHECK(!n.has_attr("fused_act") || n.attr_str("fused_act") == "gelu_tanh", kInternal,
            "op {}: bad fused_act '{}'", n.op, n.attr_str("fused_act"));
  SymShape eq, es, ez;
  DType ds;
  const bool int8_act = n.attrs.count("act") && n.attr_str("act") == "int8";
  DType dz = DType::kF32;
  if (layout == "gptq") {
    eq = {K * bits / 32, N}, es = {K / G, N}, ez = {K / G, (N * bits + 31) / 32}, dz = DType::kI32;
    ds = g.value(n.inputs.at(first + 1)).dtype == DType::kF32 ? DType::kF32 : DType::kF16;
  } else {
    LMF_CHECK(layout == "strips", kInternal, "op {}: bad layout '{}'", n.op, layout);
    const int64_t W = n.attrs.count("strip_cols") ? n.attr_int("strip_cols") : 16, st = (N + W - 1) / W;
    LMF_CHECK(W == 16 || (W == 64 && bits == 4), kInternal, "op {}: strips of {} columns at {} bits", n.op, W, bits);
    LMF_CHECK(bits != 3, kInternal, "op {}: 3-bit strips (the backend stores 3-bit weights as 4-bit strips)", n.op);
    eq = {st, K * bits / 32, W}, es = {st, K / G, W}, ez = es, ds = DType::kF32;
    if (int8_act) dz = DType::kI32;  // the columns' sums of signed weights
  }
  auto check = [&](const Value& v, const SymShape& shape, DType dt) {
    LMF_CHECK(v.shape == shape && v.dtype == dt, kInternal, "op {}: {} is {} {}, expected {} {}", n.op, v.name,
              dtype_name(v.dtype), sym_shape_str(v.shape), dtype_name(dt), sym_shape_str(shape));
  };
  check(q, eq, DType::kI32);
  check(s, es, ds);
  check(z, ez, dz);
  LMF_CHECK(!int8_act || (bits == 8 && G == K && n.op == "linear_q"), kInternal,
            "op {}: int8 activations need 8-bit per-channel weights", n.op);
  const std::string act = n.attrs.count("act") ? n.attr_str("act") : "float";
  LMF_CHECK(act == "float" || act == "int8" || (act == "int8_block32" && n.op == "linear_q" && K % 32 == 0 && G % 32 == 0),
            kInternal, "op {}: act '{}' with group {} and {} inputs (float, int8, or int8_block32 with groups of 32k)",
            n.op, act, G, K);
}

}  // namespace

void add_quant_ops(std::map<std::string, OpSchema>& r) {
  auto add = [&](OpSchema s) { r[s.name] = std::move(s); };
  add({"linear_q", 4, 5, "x (N, K) times a quantized weight (qweight, scales, zeros), plus optional bias (out)",
       [](const Graph& g, const Node& n) -> std::pair<DType, SymShape> {
         const Value& x = g.value(n.inputs[0]);
         LMF_CHECK(x.shape.size() == 2 && x.dtype == DType::kF32 && x.shape[1] == Dim(n.attr_int("in_features")),
                   kInternal, "op linear_q: {} {} does not fit in_features {}", x.name, sym_shape_str(x.shape),
                   n.attr_int("in_features"));
         check_qweights(g, n, 1);
         const Dim out(n.attr_int("out_features"));
         if (n.inputs.size() == 5) {
           const Value& b = g.value(n.inputs[4]);
           LMF_CHECK(b.shape.size() == 1 && b.shape[0] == out, kInternal, "op linear_q: bias {} is {}", b.name,
                     sym_shape_str(b.shape));
         }
         return {DType::kF32, {x.shape[0], out}};
       }});
  add({"embedding_q", 4, 4,
       "columns of a quantized (K, V) weight (a tied head's) picked by ids (N) -> (N, K)",
       [](const Graph& g, const Node& n) -> std::pair<DType, SymShape> {
         check_qweights(g, n, 0);
         const Value& ids = g.value(n.inputs[3]);
         LMF_CHECK(ids.shape.size() == 1 && ids.dtype == DType::kI32, kInternal, "op embedding_q: ids must be i32 (N)");
         return {DType::kF32, {ids.shape[0], Dim(n.attr_int("in_features"))}};
       }});
}

}  // namespace lmf::detail

// The op schemas lmforge's training graphs add to the IR: causal attention over whole
// sequences (no KV cache), the fused losses, and the gradient ops the autodiff pass
// (train/autodiff.h) emits. Shapes: R rows (B sequences of T tokens), C model dim,
// K/N a linear's input/output width, V vocabulary, H heads, Hkv kv heads, D head dim.
#include <map>

#include "core/error.h"
#include "ir/op_registry.h"

namespace lmf::detail {

namespace {

using Infer = std::pair<DType, SymShape>;
using InferN = std::vector<Infer>;

const Value& in(const Graph& g, const Node& n, size_t i) { return g.value(n.inputs.at(i)); }

void expect_rank(const Node& n, const Value& v, size_t rank) {
  LMF_CHECK(v.shape.size() == rank, kInternal, "op {}: input {} has rank {}, expected {}", n.op, v.name,
            v.shape.size(), rank);
}

void expect_shape(const Node& n, const Value& v, const SymShape& s) {
  LMF_CHECK(v.shape == s, kInternal, "op {}: {} is {}, expected {}", n.op, v.name, sym_shape_str(v.shape),
            sym_shape_str(s));
}

// Shape of input i, checked to be a float32 matrix.
SymShape matrix(const Graph& g, const Node& n, size_t i) {
  const Value& v = in(g, n, i);
  expect_rank(n, v, 2);
  LMF_CHECK(v.dtype == DType::kF32, kInternal, "op {}: {} is {}, expected f32", n.op, v.name, dtype_name(v.dtype));
  return v.shape;
}

// The linear's weight W as (out, in) whatever its layout attribute.
std::pair<Dim, Dim> weight_out_in(const Graph& g, const Node& n, size_t i) {
  const SymShape w = matrix(g, n, i);
  const std::string& layout = n.attr_str("layout");
  LMF_CHECK(layout == "nk" || layout == "kn", kInternal, "op {}: bad layout '{}'", n.op, layout);
  return layout == "nk" ? std::pair{w[0], w[1]} : std::pair{w[1], w[0]};
}

// q (R, H*D), k and v (R, Hkv*D) against the attributes.
void check_qkv(const Graph& g, const Node& n) {
  const int64_t h = n.attr_int("heads"), hkv = n.attr_int("kv_heads"), d = n.attr_int("head_dim");
  const int64_t b = n.attr_int("batch"), t = n.attr_int("seq");
  LMF_CHECK(h > 0 && hkv > 0 && h % hkv == 0 && d > 0 && b > 0 && t > 0, kInternal, "op {}: bad attributes", n.op);
  expect_shape(n, in(g, n, 0), {b * t, h * d});
  expect_shape(n, in(g, n, 1), {b * t, hkv * d});
  expect_shape(n, in(g, n, 2), {b * t, hkv * d});
}

Infer same_as(const Graph& g, const Node& n, size_t i) { return {DType::kF32, in(g, n, i).shape}; }

}  // namespace

void add_training_ops(std::map<std::string, OpSchema>& r) {
  auto add = [&](OpSchema s) { r[s.name] = std::move(s); };

  add({"attention_causal", 3, 3,
       "causal attention over B whole sequences of T tokens (no cache): q (R, H*D), k, v (R, Hkv*D) -> out "
       "(R, H*D), lse (B, H, T) (log-sum-exp of each row's scores, for the backward); attrs heads, kv_heads, "
       "head_dim, scale, batch, seq",
       nullptr, [](const Graph& g, const Node& n) -> InferN {
         check_qkv(g, n);
         return {same_as(g, n, 0), {DType::kF32, {n.attr_int("batch"), n.attr_int("heads"), n.attr_int("seq")}}};
       }});
  add({"attention_causal_grad", 6, 6, "q, k, v, out, lse, dout -> dq, dk, dv", nullptr,
       [](const Graph& g, const Node& n) -> InferN {
         check_qkv(g, n);
         expect_shape(n, in(g, n, 3), in(g, n, 0).shape);
         expect_shape(n, in(g, n, 5), in(g, n, 0).shape);
         return {same_as(g, n, 0), same_as(g, n, 1), same_as(g, n, 2)};
       }});
  add({"cross_entropy", 2, 2,
       "mean cross-entropy of logits (R, V) against targets (R) i32 (negative: not scored) -> loss (1), "
       "dlogits (R, V) = scale * d loss / d logits; attr scale",
       nullptr, [](const Graph& g, const Node& n) -> InferN {
         const SymShape x = matrix(g, n, 0);
         const Value& t = in(g, n, 1);
         LMF_CHECK(t.dtype == DType::kI32, kInternal, "op cross_entropy: targets must be i32");
         expect_shape(n, t, {x[0]});
         return {{DType::kF32, {1}}, {DType::kF32, x}};
       }});
  add({"distill_loss", 3, 3,
       "alpha * T^2 * KL(teacher || student) at temperature T (batchmean) + (1 - alpha) * cross-entropy: student "
       "(R, V), teacher (R, V), targets (R) -> loss (1), dstudent (R, V); attrs temperature, alpha, reverse, scale",
       nullptr, [](const Graph& g, const Node& n) -> InferN {
         const SymShape s = matrix(g, n, 0);
         expect_shape(n, in(g, n, 1), s);
         expect_shape(n, in(g, n, 2), {s[0]});
         return {{DType::kF32, {1}}, {DType::kF32, s}};
       }});
  add({"linear_grad_x", 2, 2, "dy (R, N), weight (attr layout) -> dx (R, K) = dy · W", [](const Graph& g, const Node& n) {
         const SymShape dy = matrix(g, n, 0);
         auto [out, inner] = weight_out_in(g, n, 1);
         LMF_CHECK(dy[1] == out, kInternal, "op linear_grad_x: dy {} does not fit the weight", sym_shape_str(dy));
         return Infer{DType::kF32, {dy[0], inner}};
       }});
  add({"linear_grad_w", 3, 3,
       "dy (R, N), x (R, K), weight (for its shape and layout) -> dW shaped like the weight (dy^T · x)",
       [](const Graph& g, const Node& n) {
         const SymShape dy = matrix(g, n, 0), x = matrix(g, n, 1);
         auto [out, inner] = weight_out_in(g, n, 2);
         LMF_CHECK(dy[0] == x[0] && dy[1] == out && x[1] == inner, kInternal, "op linear_grad_w: {} and {} do not fit",
                   sym_shape_str(dy), sym_shape_str(x));
         return same_as(g, n, 2);
       }});
  add({"col_sum", 1, 1, "sum over rows of x (R, N) -> (N)", [](const Graph& g, const Node& n) {
         return Infer{DType::kF32, {matrix(g, n, 0)[1]}};
       }});
  add({"pad_cols", 1, 1, "x (R, end - begin) placed at columns [begin, end) of zeros (R, cols); attrs begin, end, cols",
       [](const Graph& g, const Node& n) {
         const SymShape x = matrix(g, n, 0);
         const int64_t b = n.attr_int("begin"), e = n.attr_int("end"), c = n.attr_int("cols");
         LMF_CHECK(0 <= b && b < e && e <= c && x[1] == Dim(e - b), kInternal, "op pad_cols: bad range");
         return Infer{DType::kF32, {x[0], c}};
       }});
  add({"embedding_grad", 3, 3, "table (V, C) (for its shape), ids (R), dy (R, C) -> dtable (V, C)",
       [](const Graph& g, const Node& n) {
         const SymShape t = matrix(g, n, 0), dy = matrix(g, n, 2);
         expect_shape(n, in(g, n, 1), {dy[0]});
         LMF_CHECK(dy[1] == t[1], kInternal, "op embedding_grad: dy {} does not fit", sym_shape_str(dy));
         return same_as(g, n, 0);
       }});
  add({"layer_norm_grad", 3, 3, "x (R, C), weight (C), dy (R, C) -> dx, dweight, dbias; attr eps", nullptr,
       [](const Graph& g, const Node& n) -> InferN {
         expect_shape(n, in(g, n, 2), matrix(g, n, 0));
         return {same_as(g, n, 0), same_as(g, n, 1), same_as(g, n, 1)};
       }});
  add({"rms_norm_grad", 3, 3, "x (R, C), weight (C), dy (R, C) -> dx, dweight; attr eps", nullptr,
       [](const Graph& g, const Node& n) -> InferN {
         expect_shape(n, in(g, n, 2), matrix(g, n, 0));
         return {same_as(g, n, 0), same_as(g, n, 1)};
       }});
  add({"gelu_tanh_grad", 2, 2, "x, dy -> dx", [](const Graph& g, const Node& n) {
         expect_shape(n, in(g, n, 1), in(g, n, 0).shape);
         return same_as(g, n, 0);
       }});
  add({"silu_mul_grad", 3, 3, "gate, up, dy -> dgate, dup", nullptr, [](const Graph& g, const Node& n) -> InferN {
         expect_shape(n, in(g, n, 1), in(g, n, 0).shape);
         expect_shape(n, in(g, n, 2), in(g, n, 0).shape);
         return {same_as(g, n, 0), same_as(g, n, 0)};
       }});
  add({"rope_grad", 2, 2, "dy (R, heads*D), positions (R) -> dx (the inverse rotation); attrs as rope",
       [](const Graph& g, const Node& n) {
         const SymShape x = matrix(g, n, 0);
         LMF_CHECK(x[1] == Dim(n.attr_int("heads") * n.attr_int("head_dim")), kInternal, "op rope_grad: bad width");
         return same_as(g, n, 0);
       }});
}

}  // namespace lmf::detail

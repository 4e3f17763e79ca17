// The op schemas of lmforge's IR. Shapes in comments: N tokens in the step,
// M logit rows, C model dim, V vocabulary, H heads, Hkv kv heads, D head dim.
#include "ir/op_registry.h"

#include <map>

#include "core/error.h"

namespace lmf {

namespace detail {
void add_training_ops(std::map<std::string, OpSchema>& r);  // op_registry_train.cpp
void add_quant_ops(std::map<std::string, OpSchema>& r);     // op_registry_quant.cpp
}  // namespace detail

namespace {

using Infer = std::pair<DType, SymShape>;

const Value& in(const Graph& g, const Node& n, size_t i) { return g.value(n.inputs.at(i)); }

void expect_rank(const Node& n, const Value& v, size_t rank) {
  LMF_CHECK(v.shape.size() == rank, kInternal, "op {}: input {} has rank {}, expected {}", n.op, v.name,
            v.shape.size(), rank);
}

void expect_f32(const Node& n, const Value& v) {
  LMF_CHECK(v.dtype == DType::kF32, kInternal, "op {}: input {} is {}, expected f32", n.op, v.name,
            dtype_name(v.dtype));
}

Infer same_as_first(const Graph& g, const Node& n) {
  const Value& x = in(g, n, 0);
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    const Value& y = in(g, n, i);
    LMF_CHECK(y.shape == x.shape, kInternal, "op {}: {} {} and {} {} differ", n.op, x.name,
              sym_shape_str(x.shape), y.name, sym_shape_str(y.shape));
  }
  expect_f32(n, x);
  return {x.dtype, x.shape};
}

Infer norm(const Graph& g, const Node& n) {
  const Value& x = in(g, n, 0);
  expect_rank(n, x, 2);
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    const Value& w = in(g, n, i);
    LMF_CHECK(w.shape.size() == 1 && w.shape[0] == x.shape[1], kInternal,
              "op {}: {} {} does not match {} {}", n.op, w.name, sym_shape_str(w.shape), x.name,
              sym_shape_str(x.shape));
  }
  return {DType::kF32, x.shape};
}

std::map<std::string, OpSchema> make_registry() {
  std::map<std::string, OpSchema> r;
  auto add = [&](OpSchema s) { r[s.name] = std::move(s); };

  add({"embedding", 2, 2, "rows of table (V, C) picked by ids (N) -> (N, C)",
       [](const Graph& g, const Node& n) -> Infer {
         const Value& table = in(g, n, 0);
         const Value& ids = in(g, n, 1);
         expect_rank(n, table, 2);
         expect_rank(n, ids, 1);
         LMF_CHECK(ids.dtype == DType::kI32, kInternal, "op embedding: ids must be i32");
         return {DType::kF32, {ids.shape[0], table.shape[1]}};
       }});
  add({"add", 2, 2, "a + b, same shapes", same_as_first});
  add({"gelu_tanh", 1, 1, "GPT-2's gelu_new (tanh approximation)", same_as_first});
  add({"silu_mul", 2, 2, "silu(gate) * up", same_as_first});
  add({"layer_norm", 3, 3, "x (N, C), weight (C), bias (C); attr eps", norm});
  add({"rms_norm", 2, 2,
       "x (N, C), weight (C); attr eps. attr group G (Qwen3's per-head q/k norm): weight (G), each "
       "row normalized in C / G groups of G columns",
       [](const Graph& g, const Node& n) -> Infer {
         if (!n.has_attr("group")) return norm(g, n);
         const Value& x = in(g, n, 0);
         expect_rank(n, x, 2);
         const int64_t G = n.attr_int("group");
         LMF_CHECK(G > 0 && !x.shape[1].symbolic() && x.shape[1].n % G == 0 && in(g, n, 1).shape == SymShape({G}),
                   kInternal, "op rms_norm: group {} does not fit {} and weight {}", G, sym_shape_str(x.shape),
                   sym_shape_str(in(g, n, 1).shape));
         return {x.dtype, x.shape};
       }});
  add({"linear", 2, 3,
       "x (N, K) times weight, plus optional bias (out). attr layout: 'nk' = weight (out, K) as in "
       "torch.nn.Linear, 'kn' = weight (K, out) as in GPT-2's Conv1D, 'strips' = weight "
       "(ceil(out / 64), K, 64) in 64-column strips (the CPU pre-pack; attr out_features). Optional "
       "attr fused_act 'gelu_tanh': gelu_tanh of the result (the CPU pre-pack's fusion)",
       [](const Graph& g, const Node& n) -> Infer {
         const Value& x = in(g, n, 0);
         const Value& w = in(g, n, 1);
         expect_rank(n, x, 2);
         expect_f32(n, x);
         const std::string& layout = n.attr_str("layout");
         LMF_CHECK(layout == "nk" || layout == "kn" || layout == "strips", kInternal, "op linear: bad layout '{}'",
                   layout);
         LMF_CHECK(!n.has_attr("fused_act") || n.attr_str("fused_act") == "gelu_tanh", kInternal,
                   "op linear: bad fused_act '{}'", n.attr_str("fused_act"));
         if (layout == "strips") {
           expect_rank(n, w, 3);
           const int64_t N = n.attr_int("out_features");
           LMF_CHECK(w.shape[0] == Dim((N + 63) / 64) && w.shape[2] == Dim(int64_t{64}), kInternal,
                     "op linear: strips weight {} is {} for {} outputs", w.name, sym_shape_str(w.shape), N);
         } else {
           expect_rank(n, w, 2);
         }
         Dim k = layout == "kn" ? w.shape[0] : w.shape[1];
         Dim out = layout == "nk" ? w.shape[0] : layout == "kn" ? w.shape[1] : Dim(n.attr_int("out_features"));
         LMF_CHECK(x.shape[1] == k, kInternal, "op linear: {} {} does not fit weight {} {}", x.name,
                   sym_shape_str(x.shape), w.name, sym_shape_str(w.shape));
         if (n.inputs.size() == 3) {
           const Value& b = in(g, n, 2);
           LMF_CHECK(b.shape.size() == 1 && b.shape[0] == out, kInternal, "op linear: bias {} is {}",
                     b.name, sym_shape_str(b.shape));
         }
         return {DType::kF32, {x.shape[0], out}};
       }});
  add({"split_cols", 1, 1, "columns [begin, end) of x (N, K) -> (N, end - begin)",
       [](const Graph& g, const Node& n) -> Infer {
         const Value& x = in(g, n, 0);
         expect_rank(n, x, 2);
         int64_t b = n.attr_int("begin"), e = n.attr_int("end");
         LMF_CHECK(!x.shape[1].symbolic() && 0 <= b && b < e && e <= x.shape[1].n, kInternal,
                   "op split_cols: bad range [{}, {}) of {}", b, e, sym_shape_str(x.shape));
         return {DType::kF32, {x.shape[0], e - b}};
       }});
  add({"rope", 2, 3,
       "rotary position embedding (rotate-half) of x (N, heads*D) at positions (N); attrs heads, "
       "head_dim, theta; optional inv_freq (head_dim/2 comma-separated doubles, the frequencies a "
       "rope_scaling gives, instead of theta's) and scale (cos and sin times it: yarn's attention "
       "factor). attrs dynamic_factor, dynamic_max (dynamic NTK): input 2 is the slots (N), and a "
       "sequence reaching length L > dynamic_max in the step turns with theta grown as Hugging Face "
       "does. attr angles = 'table' (the CPU pre-pack's sharing): input 1 is a "
       "rope_table (N, head_dim) instead of the positions",
       [](const Graph& g, const Node& n) -> Infer {
         const Value& x = in(g, n, 0);
         expect_rank(n, x, 2);
         int64_t h = n.attr_int("heads"), d = n.attr_int("head_dim");
         LMF_CHECK(x.shape[1] == Dim(h * d) && d % 2 == 0, kInternal, "op rope: {} is not heads*head_dim",
                   sym_shape_str(x.shape));
         const bool dynamic = n.has_attr("dynamic_factor");
         LMF_CHECK(n.inputs.size() == (dynamic ? 3u : 2u), kInternal, "op rope: {} inputs", n.inputs.size());
         if (dynamic)
           LMF_CHECK(in(g, n, 2).dtype == DType::kI32 && in(g, n, 2).shape == SymShape({x.shape[0]}), kInternal,
                     "op rope: slots {} is not ({}) i32", in(g, n, 2).name, x.shape[0].str());
         const Value& p = in(g, n, 1);
         if (n.has_attr("angles")) {
           LMF_CHECK(n.attr_str("angles") == "table" && p.dtype == DType::kF32 && p.shape.size() == 2 &&
                         p.shape[0] == x.shape[0] && p.shape[1] == Dim(d),
                     kInternal, "op rope: angles {} is not a ({}, {}) table", p.name, x.shape[0].str(), d);
         } else {
           LMF_CHECK(p.dtype == DType::kI32 && p.shape.size() == 1 && p.shape[0] == x.shape[0], kInternal,
                     "op rope: positions {} is not ({}) i32", p.name, x.shape[0].str());
         }
         return {DType::kF32, x.shape};
       }});
  add({"rope_table", 1, 1,
       "cos and sin of rope's angles at positions (N) i32 -> (N, head_dim): row t holds the cos "
       "of pairs [0, head_dim / 2), then their sin; attrs head_dim, theta and rope's inv_freq, scale",
       [](const Graph& g, const Node& n) -> Infer {
         const Value& p = in(g, n, 0);
         const int64_t d = n.attr_int("head_dim");
         LMF_CHECK(p.dtype == DType::kI32 && p.shape.size() == 1 && d > 0 && d % 2 == 0, kInternal,
                   "op rope_table: positions {} must be (N) i32 and head_dim {} even", p.name, d);
         return {DType::kF32, {p.shape[0], Dim(d)}};
       }});
  add({"attention", 7, 9,
       "causal attention with a KV cache: q (N, H*D), k (N, Hkv*D), v (N, Hkv*D), k_cache and "
       "v_cache (SLOTS, Hkv, S, D), slots (N), positions (N) -> (N, H*D). Writes k, v into the "
       "cache at (slot, position), then each token attends to its sequence's positions 0..its own. "
       "attr kv = 'int8': the caches are i8, each (slot, head, position) row scaled by inputs 7, 8 "
       "(SLOTS, Hkv, S) f32 (max|row| / 127). attr qkv = 'packed' (the CPU pre-pack's fusion): inputs 0, 1 "
       "and 2 are one (N, (H + 2 Hkv) D) value holding q, k and v side by side. attr window W > 0 "
       "(sliding-window attention, Mistral): a token at position p attends to positions p - W + 1 .. p",
       [](const Graph& g, const Node& n) -> Infer {
         const Value& q = in(g, n, 0);
         int64_t h = n.attr_int("heads"), hkv = n.attr_int("kv_heads"), d = n.attr_int("head_dim");
         LMF_CHECK(h % hkv == 0, kInternal, "op attention: heads {} not a multiple of kv_heads {}", h, hkv);
         const bool packed = n.has_attr("qkv") && n.attr_str("qkv") == "packed";
         LMF_CHECK(!n.has_attr("qkv") || packed, kInternal, "op attention: bad qkv '{}'", n.attr_str("qkv"));
         if (packed) {
           LMF_CHECK(n.inputs[1] == n.inputs[0] && n.inputs[2] == n.inputs[0] && q.shape.size() == 2 &&
                         q.shape[1] == Dim((h + 2 * hkv) * d),
                     kInternal, "op attention: packed qkv {} is {}", q.name, sym_shape_str(q.shape));
         } else {
           LMF_CHECK(q.shape.size() == 2 && q.shape[1] == Dim(h * d), kInternal, "op attention: q is {}",
                     sym_shape_str(q.shape));
           for (size_t i : {1, 2})
             LMF_CHECK(in(g, n, i).shape == SymShape({q.shape[0], hkv * d}), kInternal,
                       "op attention: {} is {}", in(g, n, i).name, sym_shape_str(in(g, n, i).shape));
         }
         const bool i8 = n.attrs.count("kv") && n.attr_str("kv") == "int8";
         LMF_CHECK(n.inputs.size() == (i8 ? 9u : 7u), kInternal, "op attention: {} inputs for kv '{}'",
                   n.inputs.size(), i8 ? "int8" : "f32");
         for (size_t i : {3, 4}) {
           const Value& c = in(g, n, i);
           LMF_CHECK(c.kind == ValueKind::kState && c.shape.size() == 4 && c.shape[1] == Dim(hkv) &&
                         c.shape[3] == Dim(d) && c.dtype == (i8 ? DType::kI8 : DType::kF32),
                     kInternal, "op attention: cache {} is {} {}", c.name, dtype_name(c.dtype), sym_shape_str(c.shape));
           if (i8) {
             const Value& sc = in(g, n, i + 4);
             LMF_CHECK(sc.kind == ValueKind::kState && sc.dtype == DType::kF32 &&
                           sc.shape == SymShape({c.shape[0], c.shape[1], c.shape[2]}),
                       kInternal, "op attention: cache scales {} are {}", sc.name, sym_shape_str(sc.shape));
           }
         }
         return {DType::kF32, {q.shape[0], h * d}};
       }});
  add({"gather_rows", 2, 2, "rows (M) of x (N, C) -> (M, C)",
       [](const Graph& g, const Node& n) -> Infer {
         const Value& x = in(g, n, 0);
         const Value& rows = in(g, n, 1);
         expect_rank(n, x, 2);
         expect_rank(n, rows, 1);
         return {DType::kF32, {rows.shape[0], x.shape[1]}};
       }});
  detail::add_training_ops(r);
  detail::add_quant_ops(r);
  return r;
}

const std::map<std::string, OpSchema>& registry() {
  static const std::map<std::string, OpSchema> r = make_registry();
  return r;
}

}  // namespace

std::vector<std::pair<DType, SymShape>> OpSchema::outputs(const Graph& g, const Node& n) const {
  if (infer_n) return infer_n(g, n);
  return {infer(g, n)};
}

const OpSchema& op_schema(const std::string& op) {
  auto it = registry().find(op);
  LMF_CHECK(it != registry().end(), kInternal, "unknown op '{}'", op);
  return it->second;
}

bool op_known(const std::string& op) { return registry().count(op) != 0; }

}  // namespace lmf

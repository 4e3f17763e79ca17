#include "models/model.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/quant.h"

namespace lmf {

namespace detail {

int weight(HfFolder& f, Graph& g, const std::string& name, const Shape& shape) {
  int existing = g.find(name);
  if (existing >= 0) return existing;
  Tensor t = f.take(name, shape);
  return g.add_weight(name, t.to_f32());
}

namespace {

// The tensor `name` as stored (no conversion), once per graph.
int raw_weight(HfFolder& f, Graph& g, const std::string& name) {
  int existing = g.find(name);
  if (existing >= 0) return existing;
  return g.add_weight(name, f.take(name));
}

// Whether `module`'s qzeros are stored GPTQ-v1 style (z - 1): config.json's
// quantization_config must say quant_method "gptq"; checkpoint_format "gptq_v2" (what
// lmforge writes) stores true zeros, "gptq" (AutoGPTQ, GPTQModel and Hugging Face
// optimum's v1; also when the field is absent, as in their older files) stores z - 1.
bool gptq_v1_zeros(const HfFolder& f, const std::string& module) {
  const auto& c = f.config();
  LMF_CHECK(c.contains("quantization_config") && c["quantization_config"].is_object(), kBadFile,
            "{}: {}.qweight is quantized, but there is no quantization_config (quant_method, checkpoint_format) "
            "saying how its zeros are stored",
            f.config_path(), module);
  const auto& q = c["quantization_config"];
  const nlohmann::json method = q.value("quant_method", nlohmann::json());
  LMF_CHECK(method == "gptq", kUnsupported, "{}: quantization_config.quant_method {} is not supported (\"gptq\")",
            f.config_path(), method.dump());
  const nlohmann::json format = q.value("checkpoint_format", nlohmann::json());
  LMF_CHECK(format.is_null() || format == "gptq" || format == "gptq_v2", kUnsupported,
            "{}: quantization_config.checkpoint_format {} is not supported (\"gptq\" or \"gptq_v2\")", f.config_path(),
            format.dump());
  return format != "gptq_v2";
}

// v1 qzeros zt (K/G, ceil(N*bits/32)) hold z - 1 per field: the true zeros (each field + 1)
// as an owned tensor. A field of 2^bits - 1 (z = 2^bits, or a zero of 0 that v1 wrapped)
// has no true zero and is refused.
Tensor zeros_from_v1(const Tensor& zt, int64_t N, int bits, const std::string& what) {
  Tensor out = Tensor::empty(DType::kI32, zt.shape(), true);
  const uint32_t maxq = (1u << bits) - 1;
  const int64_t W = zt.dim(1);
  for (int64_t g = 0; g < zt.dim(0); ++g)
    for (int64_t n = 0; n < N; ++n) {
      const uint32_t v = quant::read_packed(zt.data_as<int32_t>() + g * W, 1, n, bits);
      LMF_CHECK(v < maxq, kBadFile,
                "{}.qzeros: group {} column {} stores {}, which checkpoint_format \"gptq\" (zero - 1) cannot hold "
                "at {} bits",
                what, g, n, v, bits);
      quant::write_packed(out.mutable_data_as<int32_t>() + g * W, 1, n, bits, v + 1);
    }
  return out;
}

// The attributes of quantized module `module` with K inputs and N outputs, checked
// against its tensors' shapes and dtypes; adds qweight, scales, qzeros to `ins`.
std::map<std::string, Attr> quantized(HfFolder& f, Graph& g, const std::string& module, int64_t K, int64_t N,
                                      std::vector<int>& ins) {
  const bool fresh_zeros = g.find(module + ".qzeros") < 0;  // a tied head reuses the embedding's
  const int q = raw_weight(f, g, module + ".qweight"), s = raw_weight(f, g, module + ".scales"),
            z = raw_weight(f, g, module + ".qzeros");
  const Tensor& qt = g.value(q).data;
  const Tensor& st = g.value(s).data;
  const Tensor& zt = g.value(z).data;
  const std::string where = f.dir() + ": " + module;
  LMF_CHECK(qt.dtype() == DType::kI32 && qt.rank() == 2 && qt.dim(1) == N && qt.dim(0) > 0 && (qt.dim(0) * 32) % K == 0,
            kBadFile, "{}.qweight: {} {} is not (K*bits/32, {}) int32 for {} inputs", where, dtype_name(qt.dtype()),
            shape_str(qt.shape()), N, K);
  const int bits = static_cast<int>(qt.dim(0) * 32 / K);
  LMF_CHECK(bits == 3 || bits == 4 || bits == 8, kUnsupported,
            "{}.qweight: {} rows for {} inputs means {}-bit values, not supported (3, 4 or 8 bits)", where, qt.dim(0), K,
            bits);
  LMF_CHECK((st.dtype() == DType::kF16 || st.dtype() == DType::kF32) && st.rank() == 2 && st.dim(1) == N &&
                st.dim(0) > 0 && K % st.dim(0) == 0,
            kBadFile, "{}.scales: {} {} is not (K/G, {}) float16 or float32", where, dtype_name(st.dtype()),
            shape_str(st.shape()), N);
  const int64_t G = K / st.dim(0);
  LMF_CHECK((G * bits) % 32 == 0, kBadFile, "{}: group size {} does not start groups on a word at {} bits", where, G,
            bits);
  LMF_CHECK(zt.dtype() == DType::kI32 && zt.shape() == Shape({K / G, quant::packed_cols(N, bits)}), kBadFile,
            "{}.qzeros: {} {} is not ({}, {}) int32", where, dtype_name(zt.dtype()), shape_str(zt.shape()), K / G,
            quant::packed_cols(N, bits));
  if (fresh_zeros && gptq_v1_zeros(f, module))
    g.values()[static_cast<size_t>(z)].data = zeros_from_v1(zt, N, bits, where);
  if (f.has(module + ".g_idx")) {  // GPTQ's act-order map: only the identity grouping k / G is supported
    Tensor gi = f.take(module + ".g_idx");
    bool plain = gi.dtype() == DType::kI32 && gi.shape() == Shape({K});
    for (int64_t k = 0; plain && k < K; ++k) plain = gi.data_as<int32_t>()[k] == k / G;
    LMF_CHECK(plain, kUnsupported, "{}.g_idx: act-order group indices are not supported (only k / group_size)", where);
  }
  // Activations quantized at run time (int8-dynamic), as config.json records per module.
  std::string act = "float";
  const auto& c = f.config();
  if (c.contains("quantization_config") && c["quantization_config"].is_object()) {
    static const nlohmann::json kNone;
    const auto& q = c["quantization_config"];  // lmforge.modules, where lmforge is an object (any JSON may stand there)
    const nlohmann::json& mods =
        q.contains("lmforge") && q["lmforge"].is_object() && q["lmforge"].contains("modules") ? q["lmforge"]["modules"] : kNone;
    if (mods.is_object() && mods.contains(module) && mods[module].is_object() && mods[module].contains("act"))
      act = mods[module]["act"].is_string() ? mods[module]["act"].get<std::string>() : "?";
  }
  LMF_CHECK(act == "float" || act == "int8" || act == "int8_block32", kBadFile,
            "{}: quantization_config module '{}': act '{}' is not float, int8 or int8_block32", f.config_path(), module,
            act);
  LMF_CHECK(act != "int8_block32" || (K % 32 == 0 && G % 32 == 0), kBadFile,
            "{}: int8_block32 activations need inputs and groups in multiples of 32, not {} inputs in groups of {}",
            where, K, G);
  LMF_CHECK(act != "int8" || (bits == 8 && G == K), kBadFile,
            "{}: int8 activations need 8-bit per-channel weights (group size = {} inputs), not {}-bit group {}", where, K,
            bits, G);
  ins.insert(ins.end(), {q, s, z});
  return {{"bits", int64_t{bits}}, {"group_size", G}, {"in_features", K}, {"out_features", N},
          {"layout", std::string("gptq")}, {"act", act}};
}

}  // namespace

int linear(HfFolder& f, Graph& g, int x, const std::string& module, int64_t K, int64_t N, bool nk, bool bias,
           const std::string& out_name) {
  std::vector<int> ins{x};
  int node;
  if (f.has(module + ".qweight")) {
    auto attrs = quantized(f, g, module, K, N, ins);
    if (bias) ins.push_back(weight(f, g, module + ".bias", {N}));
    node = g.add("linear_q", ins, attrs, out_name);
  } else {
    ins.push_back(weight(f, g, module + ".weight", nk ? Shape{N, K} : Shape{K, N}));
    if (bias) ins.push_back(weight(f, g, module + ".bias", {N}));
    node = g.add("linear", ins, {{"layout", std::string(nk ? "nk" : "kn")}}, out_name);
  }
  return node;
}

int embedding(HfFolder& f, Graph& g, const std::string& module, int64_t V, int64_t C, int ids) {
  if (!f.has(module + ".qweight")) return g.add("embedding", {weight(f, g, module + ".weight", {V, C}), ids});
  std::vector<int> ins;
  auto attrs = quantized(f, g, module, C, V, ins);
  attrs["act"] = std::string("float");  // a lookup has no activations to quantize
  ins.push_back(ids);
  return g.add("embedding_q", ins, attrs);
}

StepInputs add_step_inputs(Graph& g, const BuildOptions& o) {
  StepInputs s;
  if (o.training()) {
    const int64_t rows = o.train_batch * o.train_seq;
    s.tokens = g.add_input("tokens", DType::kI32, {rows});
    s.positions = g.add_input("positions", DType::kI32, {rows});
    s.slots = s.logit_rows = -1;
    return s;
  }
  s.tokens = g.add_input("tokens", DType::kI32, {"N"});
  s.positions = g.add_input("positions", DType::kI32, {"N"});
  s.slots = g.add_input("slots", DType::kI32, {"N"});
  s.logit_rows = g.add_input("logit_rows", DType::kI32, {"M"});
  return s;
}

int add_attention(Graph& g, const BuildOptions& o, const ModelInfo& info, int64_t l, int q, int k, int v,
                  const StepInputs& in) {
  std::map<std::string, Attr> attrs = {{"heads", info.heads},
                                       {"kv_heads", info.kv_heads},
                                       {"head_dim", info.head_dim},
                                       {"scale", 1.0 / std::sqrt(static_cast<double>(info.head_dim))}};
  if (o.training()) {
    // attention_causal has no window: equal to it while a sequence fits in the window.
    LMF_CHECK(info.sliding_window == 0 || o.train_seq <= info.sliding_window, kUnsupported,
              "training with sliding-window attention needs sequences within the window ({} tokens), not {}",
              info.sliding_window, o.train_seq);
    attrs["batch"] = o.train_batch;
    attrs["seq"] = o.train_seq;
    return g.add_n("attention_causal", {q, k, v}, attrs)[0];
  }
  if (info.sliding_window > 0) attrs["window"] = info.sliding_window;
  const SymShape cache = {"SLOTS", info.kv_heads, "S", info.head_dim};
  const bool i8 = info.kv_cache == "int8";
  int kc = g.add_state(fmt::format("cache.{}.k", l), i8 ? DType::kI8 : DType::kF32, cache);
  int vc = g.add_state(fmt::format("cache.{}.v", l), i8 ? DType::kI8 : DType::kF32, cache);
  if (!i8) return g.add("attention", {q, k, v, kc, vc, in.slots, in.positions}, attrs);
  const SymShape scales = {"SLOTS", info.kv_heads, "S"};
  int ks = g.add_state(fmt::format("cache.{}.k_scale", l), DType::kF32, scales);
  int vs = g.add_state(fmt::format("cache.{}.v_scale", l), DType::kF32, scales);
  attrs["kv"] = std::string("int8");
  return g.add("attention", {q, k, v, kc, vc, in.slots, in.positions, ks, vs}, attrs);
}

std::string kv_cache_of(const HfFolder& f) {
  const auto& c = f.config();
  if (!c.contains("quantization_config") || !c["quantization_config"].is_object()) return "f32";
  const auto& q = c["quantization_config"];
  if (!q.contains("lmforge") || !q["lmforge"].is_object() || !q["lmforge"].contains("kv_cache")) return "f32";
  const auto& kv = q["lmforge"]["kv_cache"];
  LMF_CHECK(kv.is_string() && (kv == "f32" || kv == "int8"), kBadFile,
            "{}: quantization_config.lmforge.kv_cache must be \"f32\" or \"int8\", not {}", f.config_path(), kv.dump());
  return kv.get<std::string>();
}

void skip_to_logit_rows(Graph& g, const BuildOptions& o, const StepInputs& in, int& attn_out, int& residual) {
  if (o.training()) return;
  attn_out = g.add("gather_rows", {attn_out, in.logit_rows});
  residual = g.add("gather_rows", {residual, in.logit_rows});
}

void read_common_ids(const HfFolder& f, ModelInfo& info) {
  const auto& c = f.config();
  if (c.contains("bos_token_id") && c["bos_token_id"].is_number_integer())
    info.bos_id = c["bos_token_id"].get<int64_t>();
  if (c.contains("eos_token_id") && c["eos_token_id"].is_number_integer())
    info.eos_id = c["eos_token_id"].get<int64_t>();
}

}  // namespace detail

Model load_model(const std::string& dir, const BuildOptions& opts) {
  HfFolder f = HfFolder::open(dir);
  Model m = detail::build_model(f, opts);
  m.dir = dir;
  return m;
}

namespace detail {

Model build_model(HfFolder& f, const BuildOptions& opts) {
  LMF_CHECK(opts.train_batch >= 0 && (opts.train_batch == 0 || opts.train_seq > 0), kInvalidArgument,
            "training graph: batch {} and sequence length {} must be positive", opts.train_batch, opts.train_seq);
  const std::string& dir = f.dir();
  const auto& c = f.config();
  LMF_CHECK(c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty() &&
                c["architectures"][0].is_string(),
            kBadFile, "{}: missing field 'architectures'", f.config_path());
  std::string arch = c["architectures"][0].get<std::string>();
  Model m;
  if (arch == "GPT2LMHeadModel") {
    m = detail::build_gpt2(f, opts);
  } else if (arch == "LlamaForCausalLM") {
    m = detail::build_llama(f, LlamaFamily::kLlama, opts);
  } else if (arch == "Qwen2ForCausalLM") {
    m = detail::build_llama(f, LlamaFamily::kQwen2, opts);
  } else if (arch == "MistralForCausalLM") {
    m = detail::build_llama(f, LlamaFamily::kMistral, opts);
  } else if (arch == "Qwen3ForCausalLM") {
    m = detail::build_llama(f, LlamaFamily::kQwen3, opts);
  } else {
    fail(ErrorCode::kUnsupported,
         "{}: architecture '{}' is not supported (supported: GPT2LMHeadModel, LlamaForCausalLM, "
         "MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)",
         f.config_path(), arch);
  }
  std::vector<std::string> unused = f.unused();
  if (!unused.empty()) {
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) list += (i ? ", " : "") + unused[i];
    if (unused.size() > 5) list += fmt::format(" and {} more", unused.size() - 5);
    fail(ErrorCode::kBadFile, "{}: unexpected tensors for {}: {}", dir, arch, list);
  }
  m.dir = dir;
  m.build = opts;
  m.config = c;
  m.info.architecture = arch;
  m.info.dtype = f.main_dtype();
  m.info.weight_bytes = f.weight_bytes();
  m.info.params = m.graph.parameter_count();
  {
    std::map<std::string, int> kinds;  // "w4 g128" -> linear_q nodes
    for (const Node& n : m.graph.nodes())
      if (n.op == "linear_q")
        ++kinds[n.attr_str("act") == "int8"
                    ? std::string("int8-dynamic")
                    : fmt::format("w{} g{}{}", n.attr_int("bits"), n.attr_int("group_size"),
                                  n.attr_str("act") == "int8_block32" ? " a8" : "")];
    for (const auto& [k, count] : kinds)
      m.info.quantization += fmt::format("{}{} x {}", m.info.quantization.empty() ? "" : ", ", k, count);
    if (!kinds.empty()) m.info.quantization += " (gptq layout)";
  }
  detail::read_common_ids(f, m.info);
  if (opts.training()) {
    for (const Node& n : m.graph.nodes())
      LMF_CHECK(n.op != "linear_q" && n.op != "embedding_q", kUnsupported,
                "{}: the model is quantized; training and distillation need a float checkpoint", dir);
    LMF_CHECK(opts.train_seq <= m.info.context, kInvalidArgument, "training sequence length {} exceeds {}'s context of {}",
              opts.train_seq, dir, m.info.context);
    for (Value& v : m.graph.values()) {  // owned, writable float32 copies
      if (v.kind != ValueKind::kWeight) continue;
      Tensor src = v.data.to_f32();
      Tensor t = Tensor::empty(DType::kF32, src.shape());
      std::memcpy(t.mutable_data(), src.data(), src.nbytes());
      v.data = std::move(t);
    }
  }
  m.graph.verify();
  return m;
}

}  // namespace detail

}  // namespace lmf

// LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM and Qwen3ForCausalLM: RMSNorm,
// rotary positions (Hugging Face's rotate-half convention, rope_theta, rope_scaling:
// models/rope.cpp), SwiGLU MLP, grouped-query attention, explicit head_dim, tied or
// untied head. Llama: attention_bias (q, k, v, o) and mlp_bias (gate, up, down); Qwen2:
// biases on q, k and v; Mistral: sliding_window attention; Qwen3: RMSNorm of each head
// of q and k (q_norm, k_norm over head_dim) before RoPE, attention_bias as Llama's.
#include <fmt/format.h>

#include <cmath>

#include "core/checked.h"
#include "core/error.h"
#include "models/model.h"

namespace lmf::detail {

Model build_llama(HfFolder& f, LlamaFamily family, const BuildOptions& o) {
  Model m;
  ModelInfo& info = m.info;
  info.layers = f.cfg_positive_int("num_hidden_layers");
  info.hidden = f.cfg_positive_int("hidden_size");
  info.heads = f.cfg_positive_int("num_attention_heads");
  info.kv_heads = f.cfg_int("num_key_value_heads", info.heads);
  info.inner = f.cfg_positive_int("intermediate_size");
  info.vocab = f.cfg_positive_int("vocab_size");
  info.context = f.cfg_positive_int("max_position_embeddings");
  LMF_CHECK(info.kv_heads > 0 && info.heads % info.kv_heads == 0, kBadFile,
            "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", f.config_path(),
            info.heads, info.kv_heads);
  info.head_dim = f.cfg_int("head_dim", info.hidden / info.heads);
  LMF_CHECK(info.head_dim > 0 && info.head_dim % 2 == 0, kBadFile, "{}: head_dim {} must be even and positive",
            f.config_path(), info.head_dim);
  // Biases: Llama's attention_bias (q, k, v and o) and mlp_bias; Qwen2's q, k, v always;
  // Qwen3's attention_bias as Llama's (Mistral has none).
  const bool llama_like = family == LlamaFamily::kLlama || family == LlamaFamily::kQwen3;
  const bool attn_bias = llama_like && f.cfg_bool("attention_bias", false);
  const bool qkv_bias = family == LlamaFamily::kQwen2 || attn_bias;
  const bool mlp_bias = family == LlamaFamily::kLlama && f.cfg_bool("mlp_bias", false);
  const bool qk_norm = family == LlamaFamily::kQwen3;
  if (family == LlamaFamily::kMistral) {
    info.sliding_window = f.cfg_int("sliding_window", 0);
    const auto& sw = f.config().value("sliding_window", nlohmann::json());
    LMF_CHECK(sw.is_null() || info.sliding_window > 0, kBadFile,
              "{}: sliding_window {} must be positive (or null: no window)", f.config_path(), sw.dump());
  }
  if (family == LlamaFamily::kQwen2 || family == LlamaFamily::kQwen3)
    LMF_CHECK(!f.cfg_bool("use_sliding_window", false), kUnsupported,
              "{}: use_sliding_window true is not supported (sliding-window layers of Qwen)", f.config_path());
  const std::string act = f.cfg_str("hidden_act", "silu");
  LMF_CHECK(act == "silu", kUnsupported, "{}: hidden_act '{}' is not supported (silu)", f.config_path(), act);
  const double eps = f.cfg_float("rms_norm_eps", 1e-6);
  const RopeSpec rope = read_rope(f, info.head_dim, info);
  LMF_CHECK(!o.training() || rope.dynamic_factor == 0 || o.train_seq <= rope.dynamic_max, kUnsupported,
            "{}: training with dynamic rope_scaling needs sequences within max_position_embeddings ({}), not {}",
            f.config_path(), rope.dynamic_max, o.train_seq);
  info.tied_head = f.cfg_bool("tie_word_embeddings", false) && !f.has("lm_head.weight") && !f.has("lm_head.qweight");
  const int64_t C = info.hidden, F = info.inner, V = info.vocab, D = info.head_dim;
  info.kv_cache = kv_cache_of(f);
  const int64_t H = info.heads, Hkv = info.kv_heads;
  checked_mul(H, D, f.config_path() + ": num_attention_heads x head_dim");  // q_proj (C, H*D)

  {  // a head_dim the projections do not have: named as config.json's field, not a tensor's shape
    const std::string qw = "model.layers.0.self_attn.q_proj.weight";
    if (f.has(qw)) {
      const Tensor t = f.take(qw);
      LMF_CHECK(t.rank() != 2 || t.dim(0) == H * D, kBadFile,
                "{}: head_dim {} does not match the projections: num_attention_heads {} x head_dim = {}, but {} "
                "has {} rows",
                f.config_path(), D, H, H * D, qw, t.dim(0));
    }
  }
  Graph& g = m.graph;
  StepInputs in = add_step_inputs(g, o);
  int x = embedding(f, g, "model.embed_tokens", V, C, in.tokens);
  auto proj = [&](int h, const std::string& name, int64_t out, int64_t k, bool bias) {
    return linear(f, g, h, name, k, out, true, bias);
  };
  for (int64_t l = 0; l < info.layers; ++l) {
    const std::string b = fmt::format("model.layers.{}.", l);
    int h = g.add("rms_norm", {x, weight(f, g, b + "input_layernorm.weight", {C})}, {{"eps", eps}});
    int q = proj(h, b + "self_attn.q_proj", H * D, C, qkv_bias);
    int k = proj(h, b + "self_attn.k_proj", Hkv * D, C, qkv_bias);
    int v = proj(h, b + "self_attn.v_proj", Hkv * D, C, qkv_bias);
    if (qk_norm) {  // Qwen3: each head of q and k RMS-normalized over head_dim
      q = g.add("rms_norm", {q, weight(f, g, b + "self_attn.q_norm.weight", {D})}, {{"eps", eps}, {"group", D}});
      k = g.add("rms_norm", {k, weight(f, g, b + "self_attn.k_norm.weight", {D})}, {{"eps", eps}, {"group", D}});
    }
    q = add_rope(g, o, rope, q, H, D, in);
    k = add_rope(g, o, rope, k, Hkv, D, in);
    int a = add_attention(g, o, info, l, q, k, v, in);
    if (l == info.layers - 1) skip_to_logit_rows(g, o, in, a, x);
    x = g.add("add", {x, proj(a, b + "self_attn.o_proj", C, H * D, attn_bias)});
    h = g.add("rms_norm", {x, weight(f, g, b + "post_attention_layernorm.weight", {C})}, {{"eps", eps}});
    int gate = proj(h, b + "mlp.gate_proj", F, C, mlp_bias);
    int up = proj(h, b + "mlp.up_proj", F, C, mlp_bias);
    x = g.add("add", {x, proj(g.add("silu_mul", {gate, up}), b + "mlp.down_proj", C, F, mlp_bias)});
  }
  x = g.add("rms_norm", {x, weight(f, g, "model.norm.weight", {C})}, {{"eps", eps}});
  int logits = linear(f, g, x, info.tied_head ? "model.embed_tokens" : "lm_head", C, V, true, false, "logits");
  g.mark_output(logits);
  return m;
}

}  // namespace lmf::detail

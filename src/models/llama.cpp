// LlamaForCausalLM and Qwen2ForCausalLM: RMSNorm, rotary positions (Hugging Face's
// rotate-half convention, rope_theta), SwiGLU MLP, grouped-query attention, tied or
// untied head. Qwen2 adds biases to the q, k and v projections.
#include <fmt/format.h>

#include <cmath>

#include "core/checked.h"
#include "core/error.h"
#include "models/model.h"

namespace lmf::detail {

Model build_llama(HfFolder& f, bool qkv_bias, const BuildOptions& o) {
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
  const std::string act = f.cfg_str("hidden_act", "silu");
  LMF_CHECK(act == "silu", kUnsupported, "{}: hidden_act '{}' is not supported (silu)", f.config_path(), act);
  const auto& c = f.config();
  LMF_CHECK(!c.contains("rope_scaling") || c["rope_scaling"].is_null(), kUnsupported,
            "{}: rope_scaling is not supported yet", f.config_path());
  const double eps = f.cfg_float("rms_norm_eps", 1e-6);
  const double theta = f.cfg_float("rope_theta", 10000.0);
  info.tied_head = f.cfg_bool("tie_word_embeddings", false) && !f.has("lm_head.weight") && !f.has("lm_head.qweight");
  const int64_t C = info.hidden, F = info.inner, V = info.vocab, D = info.head_dim;
  info.kv_cache = kv_cache_of(f);
  const int64_t H = info.heads, Hkv = info.kv_heads;
  checked_mul(H, D, f.config_path() + ": num_attention_heads x head_dim");  // q_proj (C, H*D)

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
    q = g.add("rope", {q, in.positions}, {{"heads", H}, {"head_dim", D}, {"theta", theta}});
    k = g.add("rope", {k, in.positions}, {{"heads", Hkv}, {"head_dim", D}, {"theta", theta}});
    int a = add_attention(g, o, info, l, q, k, v, in);
    if (l == info.layers - 1) skip_to_logit_rows(g, o, in, a, x);
    x = g.add("add", {x, proj(a, b + "self_attn.o_proj", C, H * D, false)});
    h = g.add("rms_norm", {x, weight(f, g, b + "post_attention_layernorm.weight", {C})}, {{"eps", eps}});
    int gate = proj(h, b + "mlp.gate_proj", F, C, false);
    int up = proj(h, b + "mlp.up_proj", F, C, false);
    x = g.add("add", {x, proj(g.add("silu_mul", {gate, up}), b + "mlp.down_proj", C, F, false)});
  }
  x = g.add("rms_norm", {x, weight(f, g, "model.norm.weight", {C})}, {{"eps", eps}});
  int logits = linear(f, g, x, info.tied_head ? "model.embed_tokens" : "lm_head", C, V, true, false, "logits");
  g.mark_output(logits);
  return m;
}

}  // namespace lmf::detail

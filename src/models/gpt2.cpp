// GPT2LMHeadModel: learned positions, pre-LayerNorm blocks, gelu_new MLP, Conv1D
// weights stored (in, out), head tied to the token embedding. Tensor names with or
// without the `transformer.` prefix; the attention-mask buffers older checkpoints
// carry (attn.bias, attn.masked_bias) are ignored.
#include <fmt/format.h>

#include "core/checked.h"
#include "core/error.h"
#include "models/model.h"

namespace lmf::detail {

Model build_gpt2(HfFolder& f, const BuildOptions& o) {
  Model m;
  ModelInfo& info = m.info;
  info.layers = f.cfg_positive_int("n_layer");
  info.hidden = f.cfg_positive_int("n_embd");
  info.heads = f.cfg_positive_int("n_head");
  info.vocab = f.cfg_positive_int("vocab_size");
  info.context = f.cfg_positive_int("n_positions");
  info.inner = f.cfg_int("n_inner", checked_mul(4, info.hidden, f.config_path() + ": n_embd"));
  const std::string act = f.cfg_str("activation_function", "gelu_new");
  LMF_CHECK(act == "gelu_new" || act == "gelu_pytorch_tanh", kUnsupported,
            "{}: activation_function '{}' is not supported (gelu_new)", f.config_path(), act);
  const double eps = f.cfg_float("layer_norm_epsilon", 1e-5);
  LMF_CHECK(info.hidden % info.heads == 0, kBadFile, "{}: n_embd {} is not a multiple of n_head {}",
            f.config_path(), info.hidden, info.heads);
  info.kv_heads = info.heads;
  info.head_dim = info.hidden / info.heads;
  info.tied_head = true;
  info.kv_cache = kv_cache_of(f);
  const int64_t C = info.hidden, F = info.inner, L = info.layers, V = info.vocab;
  checked_mul(3, C, f.config_path() + ": n_embd");  // the fused q, k, v projection (C, 3C)

  const std::string p = f.has("transformer.wte.weight") || f.has("transformer.wte.qweight") ? "transformer." : "";
  Graph& g = m.graph;
  StepInputs in = add_step_inputs(g, o);
  int x = g.add("add", {embedding(f, g, p + "wte", V, C, in.tokens), embedding(f, g, p + "wpe", info.context, C, in.positions)});
  for (int64_t l = 0; l < L; ++l) {
    const std::string b = fmt::format("{}h.{}.", p, l);
    f.ignore(b + "attn.bias");
    f.ignore(b + "attn.masked_bias");
    int h = g.add("layer_norm", {x, weight(f, g, b + "ln_1.weight", {C}), weight(f, g, b + "ln_1.bias", {C})},
                  {{"eps", eps}});
    int qkv = linear(f, g, h, b + "attn.c_attn", C, 3 * C, false, true);
    int q = g.add("split_cols", {qkv}, {{"begin", int64_t{0}}, {"end", C}});
    int k = g.add("split_cols", {qkv}, {{"begin", C}, {"end", 2 * C}});
    int v = g.add("split_cols", {qkv}, {{"begin", 2 * C}, {"end", 3 * C}});
    int a = add_attention(g, o, info, l, q, k, v, in);
    if (l == L - 1) skip_to_logit_rows(g, o, in, a, x);
    a = linear(f, g, a, b + "attn.c_proj", C, C, false, true);
    x = g.add("add", {x, a});
    h = g.add("layer_norm", {x, weight(f, g, b + "ln_2.weight", {C}), weight(f, g, b + "ln_2.bias", {C})},
              {{"eps", eps}});
    h = linear(f, g, h, b + "mlp.c_fc", C, F, false, true);
    h = g.add("gelu_tanh", {h});
    h = linear(f, g, h, b + "mlp.c_proj", F, C, false, true);
    x = g.add("add", {x, h});
  }
  x = g.add("layer_norm", {x, weight(f, g, p + "ln_f.weight", {C}), weight(f, g, p + "ln_f.bias", {C})},
            {{"eps", eps}});
  // The head is tied to wte; a checkpoint may still carry an identical lm_head.weight.
  f.ignore("lm_head.weight");
  int logits = linear(f, g, x, p + "wte", C, V, true, false, "logits");
  g.mark_output(logits);
  return m;
}

}  // namespace lmf::detail

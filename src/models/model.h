// lmforge models: turning a Hugging Face checkpoint into a Graph.
//
// load_model() opens a model folder, reads config.json's `architectures`, and
// hands it to that family's builder (gpt2.cpp, llama.cpp). Every builder emits the
// same step interface, so nothing downstream knows the family:
//   inputs  tokens (N) i32, positions (N) i32, slots (N) i32, logit_rows (M) i32
//   state   cache.{l}.k, cache.{l}.v  (SLOTS, Hkv, S, D) f32
//   output  logits (M, V) f32
// N tokens of one step may belong to several sequences (slots); logit_rows picks
// the rows whose logits are computed. Hugging Face tensor names appear only here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "formats/hf_folder.h"
#include "ir/graph.h"

namespace lmf {

struct ModelInfo {
  std::string architecture;  // e.g. "GPT2LMHeadModel"
  int64_t layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, inner = 0;
  int64_t vocab = 0, context = 0;
  bool tied_head = false;
  DType dtype = DType::kF32;  // of the checkpoint
  size_t weight_bytes = 0;    // bytes of tensors in the checkpoint files
  int64_t params = 0;         // parameters in the graph (tied weights once)
  std::optional<int64_t> bos_id, eos_id;
  // Quantized weights, e.g. "w4 g128 x 48, w8 g128 x 1 (gptq layout)"; empty when none.
  std::string quantization;
  // The KV cache's element type: "f32", or "int8" (config.json
  // quantization_config.lmforge.kv_cache; rows scaled per position and head).
  std::string kv_cache = "f32";
  // config.json's rope_scaling, e.g. "llama3 x8" (empty: none), and Mistral's
  // sliding_window (keys within that many positions of the query; 0: none).
  std::string rope_scaling;
  int64_t sliding_window = 0;
};

// How the graph is built. Default: for inference (the step interface above). With
// train_batch > 0: for training on B = train_batch sequences of T = train_seq tokens at
// once: inputs tokens (R) and positions (R) with R = B*T (concrete shapes), causal
// attention without a cache (attention_causal), logits (R, V) for every row, and every
// weight an owned float32 copy that a trainer may update in place.
struct BuildOptions {
  int64_t train_batch = 0, train_seq = 0;
  bool training() const { return train_batch > 0; }
};

struct Model {
  std::string dir;
  ModelInfo info;
  Graph graph;
  BuildOptions build;  // how graph was built
  nlohmann::json config;  // config.json as read
};

// Loads DIR (config.json + safetensors). Throws lmf::Error naming the file,
// field or tensor on any problem, including tensors the model does not use.
Model load_model(const std::string& dir, const BuildOptions& opts = {});

// A new model from a config.json alone (architecture and sizes), with random weights
// initialized as Hugging Face's _init_weights does: every matrix N(0, initializer_range
// = 0.02 by default), GPT-2's residual output projections (c_proj) N(0, 0.02 /
// sqrt(2 n_layer)), biases 0, norm weights 1. Each tensor's values depend only on
// `seed` and its name. dir() of the result is the config file's folder.
Model init_model(const std::string& config_file, uint64_t seed, const BuildOptions& opts = {});

// A student initialized from a teacher, as DistilBERT was: `layers` of the teacher's
// blocks (block j of the student is block j * k of the teacher, k = teacher layers /
// layers; layers <= 0: half the teacher's) and all of its other tensors (embeddings,
// final norm, head), with the teacher's config.json but the layer count. Throws
// kInvalidArgument when layers exceeds the teacher's.
Model init_student_from_teacher(const std::string& teacher_dir, int64_t layers, const BuildOptions& opts = {});

// Writes `m` (its config and the current value of every weight of `graph`, which must
// keep the checkpoint's names and layouts: a graph built for training, or the model's
// own graph before any plan) as a Hugging Face folder OUT: config.json and
// model.safetensors, each written atomically; tokenizer files are the caller's.
// `extra` tensors are written too (e.g. GPTQ's g_idx, which no op reads).
void save_model(const Model& m, const Graph& graph, const std::string& out_dir,
                const std::map<std::string, Tensor>& extra = {});

// Shared by the family builders.
namespace detail {
// Adds the checkpoint tensor `name` (checked against `shape`) as a float32 graph weight.
int weight(HfFolder& f, Graph& g, const std::string& name, const Shape& shape);
// A linear layer `module` with K inputs and N outputs applied to x: float (the tensor
// module.weight, (N, K) when `nk` as torch.nn.Linear stores it, else (K, N) as GPT-2's
// Conv1D) or quantized when the checkpoint has module.qweight (GPTQ layout, core/quant.h:
// bits and group size follow from the shapes) -> linear_q. Adds module.bias when `bias`.
int linear(HfFolder& f, Graph& g, int x, const std::string& module, int64_t K, int64_t N, bool nk, bool bias,
           const std::string& out_name = "");
// Token embedding `module` (V rows of C) for ids: module.weight (V, C), or, when the
// checkpoint holds it quantized (a tied head's weight: qweight (C/P, V)), embedding_q.
int embedding(HfFolder& f, Graph& g, const std::string& module, int64_t V, int64_t C, int ids);
// config.json's quantization_config.lmforge.kv_cache ("f32" when absent); throws
// kBadFile naming config.json for anything but f32 or int8.
std::string kv_cache_of(const HfFolder& f);
// Declares the step inputs and returns their ids {tokens, positions, slots, logit_rows}
// (slots and logit_rows are -1 in a training graph).
struct StepInputs { int tokens, positions, slots, logit_rows; };
StepInputs add_step_inputs(Graph& g, const BuildOptions& o);
// Layer l's attention of q (N, H*D), k and v (N, Hkv*D): over the KV cache (its state
// values are declared here) or, for training, causal over whole sequences.
int add_attention(Graph& g, const BuildOptions& o, const ModelInfo& info, int64_t l, int q, int k, int v,
                  const StepInputs& in);
// RoPE as config.json gives it (rope_theta, rope_scaling; models/rope.cpp): the attributes
// of the rope op. read_rope throws kBadFile / kUnsupported naming config.json and the field;
// it sets info.rope_scaling and, for dynamic NTK, extends info.context (read from
// max_position_embeddings before) to factor times it.
struct RopeSpec {
  double theta = 10000.0;
  std::string type;      // linear, dynamic, yarn, llama3; empty: plain
  std::string inv_freq;  // the frequencies (rope op attr inv_freq); empty: theta's
  double scale = 1.0;    // yarn's attention factor
  double dynamic_factor = 0;
  int64_t dynamic_max = 0;
};
RopeSpec read_rope(const HfFolder& f, int64_t head_dim, ModelInfo& info);
// rope of x (N, heads * head_dim) at the step's positions.
int add_rope(Graph& g, const BuildOptions& o, const RopeSpec& r, int x, int64_t heads, int64_t head_dim,
             const StepInputs& in);
// After the last layer's attention (its keys and values are in the cache: every row's
// work for later steps is done), the attention output and the residual stream are cut to
// the logit rows (gather_rows), so the rest of that layer, the final norm and the head run
// on those rows only, as llama.cpp does; a training graph keeps every row.
void skip_to_logit_rows(Graph& g, const BuildOptions& o, const StepInputs& in, int& attn_out, int& residual);
void read_common_ids(const HfFolder& f, ModelInfo& info);
Model build_gpt2(HfFolder& f, const BuildOptions& o);
// The family's builder for f's architecture, then the checks load_model() does.
Model build_model(HfFolder& f, const BuildOptions& o);
// The Llama-like families (llama.cpp).
enum class LlamaFamily { kLlama, kQwen2, kMistral, kQwen3 };
Model build_llama(HfFolder& f, LlamaFamily family, const BuildOptions& o);
}  // namespace detail

}  // namespace lmf

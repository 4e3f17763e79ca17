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
};

struct Model {
  std::string dir;
  ModelInfo info;
  Graph graph;
};

// Loads DIR (config.json + safetensors). Throws lmf::Error naming the file,
// field or tensor on any problem, including tensors the model does not use.
Model load_model(const std::string& dir);

// Shared by the family builders.
namespace detail {
// Adds the checkpoint tensor `name` (checked against `shape`) as a float32 graph weight.
int weight(HfFolder& f, Graph& g, const std::string& name, const Shape& shape);
// Declares the step inputs and returns their ids {tokens, positions, slots, logit_rows}.
struct StepInputs { int tokens, positions, slots, logit_rows; };
StepInputs add_step_inputs(Graph& g);
void read_common_ids(const HfFolder& f, ModelInfo& info);
Model build_gpt2(HfFolder& f);
Model build_llama(HfFolder& f, bool qkv_bias);
}  // namespace detail

}  // namespace lmf

// lmforge runtime: a Session runs one model for a batch of sequences.
//
// It owns the executor (plan, arena, KV cache) and where each sequence (slot)
// stands. step() feeds new tokens of any subset of the slots in ONE forward pass
// and returns logits: every token's row, or each sequence's last row only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "models/model.h"
#include "runtime/executor.h"

namespace lmf {

struct SessionOptions {
  int64_t max_batch = 1;    // sequences at once
  int64_t max_context = 0;  // positions per sequence at most; 0 = the model's context length
  // Positions the KV cache holds from the start; 0: max_context when given, else
  // min(the model's context, kDefaultReserve). The cache grows (doubling, up to the
  // context) when a step needs more; generate() reserves prompt + new tokens up front,
  // so its decode loop never grows it.
  int64_t reserve_context = 0;
  int64_t max_step_tokens = 256;  // tokens per forward pass (longer prompts go in chunks)
  int threads = 1;
  cpu::KernelOptions kernels;  // kernel choices (backend/cpu/kernel_options.h)
};

struct SeqChunk {
  int slot = 0;
  std::span<const int32_t> tokens;
  // Tokens [logits_from, size) of this chunk get logit rows; -1: only the last
  // token (generation), 0: every token (scoring).
  int64_t logits_from = -1;
};

// KV-cache bytes one position of one sequence takes in `graph` (every state value's
// bytes per (slot, position): all layers, keys and values, int8 scales included).
int64_t kv_bytes_per_position(const Graph& graph);

class Session {
 public:
  static constexpr int64_t kDefaultReserve = 256;

  Session(const Model& model, const SessionOptions& opts);

  // One forward pass over chunks (total tokens <= max_step_tokens, each slot at most
  // once). Rows come in chunk order: each chunk's tokens from its logits_from on
  // (all_logits forces every token). Returns the (rows, vocab) logits, valid until
  // the next step. Throws lmf::Error if a sequence would outgrow the context.
  // Allocates nothing unless the KV cache must grow (see reserve()).
  std::span<const float> step(std::span<const SeqChunk> chunks, bool all_logits = false);

  int64_t length(int slot) const { return lengths_.at(static_cast<size_t>(slot)); }
  void reset(int slot) { lengths_.at(static_cast<size_t>(slot)) = 0; }
  void reset_all();
  int64_t vocab() const { return model_.info.vocab; }
  // The most positions a sequence may reach (the model's or the caller's limit).
  int64_t context() const { return context_; }
  // Positions the KV cache holds now (<= context()).
  int64_t capacity() const { return capacity_; }
  // Makes the cache hold at least `positions` (capped at context()); allocates when it grows.
  void reserve(int64_t positions);
  // KV-cache bytes one position of one sequence takes (all layers, keys and values).
  int64_t kv_bytes_per_token() const;
  const SessionOptions& options() const { return opts_; }
  const Model& model() const { return model_; }
  const Executor& executor() const { return *exec_; }
  Executor& executor() { return *exec_; }

 private:
  const Model& model_;
  SessionOptions opts_;
  int64_t context_ = 0;   // limit
  int64_t capacity_ = 0;  // allocated positions
  std::unique_ptr<Executor> exec_;
  std::vector<int64_t> lengths_;
  int32_t *tokens_, *positions_, *slots_, *rows_;
};

}  // namespace lmf

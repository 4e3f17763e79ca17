#include "runtime/session.h"

#include <algorithm>

#include "core/error.h"

namespace lmf {

Session::Session(const Model& model, const SessionOptions& opts) : model_(model), opts_(opts) {
  LMF_CHECK(opts.max_batch > 0, kInvalidArgument, "batch size must be positive, got {}", opts.max_batch);
  LMF_CHECK(opts.threads > 0, kInvalidArgument, "threads must be positive, got {}", opts.threads);
  LMF_CHECK(opts.max_step_tokens > 0, kInvalidArgument, "step tokens must be positive");
  context_ = opts.max_context > 0 ? std::min(opts.max_context, model.info.context) : model.info.context;
  PlanOptions p;
  p.max_tokens = opts.max_step_tokens;
  p.max_rows = opts.max_step_tokens;
  p.slots = opts.max_batch;
  const int64_t want = opts.reserve_context > 0 ? opts.reserve_context
                       : opts.max_context > 0   ? opts.max_context
                                                : kDefaultReserve;
  capacity_ = std::min(context_, want);
  p.cache_len = capacity_;
  p.threads = opts.threads;
  p.kernels = opts.kernels;
  exec_ = std::make_unique<Executor>(model.graph, p);
  lengths_.assign(static_cast<size_t>(opts.max_batch), 0);
  tokens_ = exec_->input_i32("tokens");
  positions_ = exec_->input_i32("positions");
  slots_ = exec_->input_i32("slots");
  rows_ = exec_->input_i32("logit_rows");
}

void Session::reset_all() { std::fill(lengths_.begin(), lengths_.end(), 0); }

void Session::reserve(int64_t positions) {
  positions = std::min(positions, context_);
  if (positions <= capacity_) return;
  exec_->grow_cache(positions, *std::max_element(lengths_.begin(), lengths_.end()));
  capacity_ = positions;
}

int64_t kv_bytes_per_position(const Graph& graph) {
  int64_t total = 0;
  for (const Value& v : graph.values()) {
    if (v.kind != ValueKind::kState) continue;
    int64_t n = static_cast<int64_t>(dtype_size(v.dtype));
    for (const Dim& d : v.shape)
      if (!d.symbolic()) n *= d.n;
    total += n;
  }
  return total;
}

int64_t Session::kv_bytes_per_token() const { return kv_bytes_per_position(model_.graph); }

std::span<const float> Session::step(std::span<const SeqChunk> chunks, bool all_logits) {
  int64_t n = 0, m = 0;
  for (const SeqChunk& c : chunks) {
    LMF_CHECK(c.slot >= 0 && c.slot < opts_.max_batch, kInvalidArgument, "slot {} is outside the batch of {}",
              c.slot, opts_.max_batch);
    const int64_t len = lengths_[static_cast<size_t>(c.slot)];
    LMF_CHECK(len + static_cast<int64_t>(c.tokens.size()) <= context_, kOutOfRange,
              "sequence {} would reach {} tokens, more than the context of {}", c.slot,
              len + static_cast<int64_t>(c.tokens.size()), context_);
    for (int32_t id : c.tokens)
      LMF_CHECK(id >= 0 && id < model_.info.vocab, kOutOfRange, "token id {} is outside the vocabulary of {}", id,
                model_.info.vocab);
    n += static_cast<int64_t>(c.tokens.size());
  }
  LMF_CHECK(n <= opts_.max_step_tokens, kInvalidArgument, "step of {} tokens exceeds the plan's {}", n,
            opts_.max_step_tokens);
  if (n == 0) return {};
  int64_t need = 0;
  for (const SeqChunk& c : chunks)
    need = std::max(need, lengths_[static_cast<size_t>(c.slot)] + static_cast<int64_t>(c.tokens.size()));
  if (need > capacity_) reserve(std::max(need, 2 * capacity_));
  int64_t t = 0;
  for (const SeqChunk& c : chunks) {
    int64_t& len = lengths_[static_cast<size_t>(c.slot)];
    const int64_t size = static_cast<int64_t>(c.tokens.size());
    const int64_t from = all_logits ? 0 : (c.logits_from < 0 ? size - 1 : std::min(c.logits_from, size));
    for (int64_t i = 0; i < size; ++i, ++t) {
      tokens_[t] = c.tokens[static_cast<size_t>(i)];
      positions_[t] = static_cast<int32_t>(len + i);
      slots_[t] = c.slot;
      if (i >= from) rows_[m++] = static_cast<int32_t>(t);
    }
    len += static_cast<int64_t>(c.tokens.size());
  }
  exec_->run(n, m);
  return {exec_->output(), static_cast<size_t>(m * model_.info.vocab)};
}

}  // namespace lmf

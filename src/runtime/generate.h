// lmforge runtime: the generation loop for a batch of prompts.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "runtime/sampler.h"
#include "runtime/session.h"

namespace lmf {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  SamplingOptions sampling;
  // Stop a sequence when it produces one of these (the end-of-sequence ids; kept as the
  // sequence's last token).
  std::vector<int32_t> stop;
};

struct GenerateStats {
  int64_t prompt_tokens = 0, new_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// Prefills all prompts (batched, in chunks of the session's step size), then
// decodes every unfinished sequence together, one forward pass per step.
// on_token(sequence, token) is called as each token is chosen. Returns the new
// tokens of each prompt. The session is reset first; prompts.size() <= max_batch.
std::vector<std::vector<int32_t>> generate(Session& session, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerateOptions& opts,
                                           const std::function<void(size_t, int32_t)>& on_token,
                                           GenerateStats* stats = nullptr);

// The cache positions a generate() call on these prompts needs: the longest prompt plus
// max_new_tokens (callers size SessionOptions::reserve_context with it).
int64_t positions_needed(const std::vector<std::vector<int32_t>>& prompts, int64_t max_new_tokens);

// Throws lmf::Error unless there are at most max_batch prompts, each non-empty and no
// longer than the session's context (generate() checks this first; callers that print
// before generating check it earlier, so that nothing is half-written).
void check_prompts(const Session& session, const std::vector<std::vector<int32_t>>& prompts);

// Feeds all prompts through the model in as few forward passes as the step size
// allows; returns, for each prompt, its last token's logits copied into `last`
// (prompts.size() x vocab). Used by generate and by benchmarks.
void prefill(Session& session, const std::vector<std::vector<int32_t>>& prompts, std::vector<float>& last);

}  // namespace lmf

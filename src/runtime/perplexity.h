// lmforge runtime: perplexity and token-by-token comparison of two models.
//
// Windows: the token stream is cut into windows of `ctx` tokens that start every
// `stride` tokens (stride <= ctx). The first window scores every position it can
// (tokens 1..ctx-1: token 0 has no context); each later window scores only its
// last `stride` tokens, which no earlier window scored, so every token after the
// first is scored exactly once and always with at least ctx - stride tokens of
// context. stride == ctx gives non-overlapping windows: a window's first token has
// no context and is not scored (as in Hugging Face's perplexity guide);
// stride == ctx / 2 is llama-perplexity's "score the second half" rule. Perplexity = exp(mean NLL); its standard error comes from the
// NLL's sample standard deviation (delta method: ppl * sd / sqrt(n)).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/session.h"

namespace lmf {

struct Window {
  int64_t begin = 0, end = 0;  // tokens [begin, end) are fed
  int64_t score_from = 0;      // tokens [score_from, end) are scored (predicted from what precedes)
};

// The windows over n tokens; throws lmf::Error naming --ctx / --stride when bad.
std::vector<Window> make_windows(int64_t n, int64_t ctx, int64_t stride);

struct PerplexityResult {
  int64_t tokens = 0;     // scored tokens
  double nll_sum = 0;     // sum of -log p(token)
  double nll_sq_sum = 0;  // sum of squares, for the standard error
  double seconds = 0;
  double ppl() const;
  double ppl_stderr() const;
};

struct CompareResult {
  int64_t tokens = 0;
  double kl_mean = 0, kl_p99 = 0, kl_max = 0;
  double same_top = 0;  // fraction of positions where both models' argmax agree
  PerplexityResult base, variant;
};

// Progress callback: windows done, windows total.
using Progress = std::function<void(int64_t, int64_t)>;

// Perplexity of the session's model on `tokens`, `batch` windows per forward pass.
// The session needs max_batch >= batch and max_step_tokens >= batch * ctx.
PerplexityResult perplexity(Session& s, std::span<const int32_t> tokens, int64_t ctx, int64_t stride,
                            int64_t batch, const Progress& progress = nullptr);

// Runs base and variant over the same windows: KL(base || variant) per scored
// token (mean, 99th percentile, max), same-top-token rate, and both perplexities.
CompareResult compare_models(Session& base, Session& variant, std::span<const int32_t> tokens, int64_t ctx,
                             int64_t stride, int64_t batch, const Progress& progress = nullptr);

}  // namespace lmf

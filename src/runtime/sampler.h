// lmforge runtime: choosing the next token from logits.
//
// Greedy when temperature is 0; otherwise softmax(logits / temperature) restricted
// to the top-k tokens and then to the smallest set whose probability reaches top-p
// (Hugging Face's order: temperature, top-k, top-p). Buffers are sized once, so
// sampling allocates nothing and never throws.
//
// Non-finite logits (e.g. from NaN weights): a NaN counts as -inf, so it is never
// sampled and never breaks the sort; when some logits are +inf, the +inf ones share
// all the probability equally (softmax's limit); when no logit is above -inf (every
// one NaN or -inf), sampling returns greedy's pick (cpu::argmax: the first non-NaN
// maximum, or 0 when all are NaN). Greedy likewise skips NaNs.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace lmf {

struct SamplingOptions {
  float temperature = 0.0f;  // 0 = greedy
  int top_k = 0;             // 0 = all
  float top_p = 1.0f;
  uint64_t seed = 0;
};

class Sampler {
 public:
  Sampler(const SamplingOptions& opts, int64_t vocab, uint64_t stream = 0);
  int32_t sample(const float* logits);

 private:
  SamplingOptions opts_;
  int64_t vocab_;
  std::mt19937_64 rng_;
  std::vector<int32_t> idx_;
  std::vector<float> logit_;  // (V) the logits with NaN as -inf
  std::vector<float> prob_;
};

// Validates user options; throws lmf::Error naming the flag.
void check_sampling(const SamplingOptions& o);

}  // namespace lmf

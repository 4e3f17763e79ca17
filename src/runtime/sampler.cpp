#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels.h"
#include "core/error.h"

namespace lmf {

void check_sampling(const SamplingOptions& o) {
  LMF_CHECK(std::isfinite(o.temperature) && o.temperature >= 0, kInvalidArgument,
            "--temperature must be >= 0, got {}", o.temperature);
  LMF_CHECK(o.top_k >= 0, kInvalidArgument, "--top-k must be >= 0, got {}", o.top_k);
  LMF_CHECK(o.top_p > 0 && o.top_p <= 1, kInvalidArgument, "--top-p must be in (0, 1], got {}", o.top_p);
}

Sampler::Sampler(const SamplingOptions& opts, int64_t vocab, uint64_t stream)
    : opts_(opts), vocab_(vocab), rng_(opts.seed * 0x9E3779B97F4A7C15ull + stream) {
  check_sampling(opts);
  idx_.resize(static_cast<size_t>(vocab));
  logit_.resize(static_cast<size_t>(vocab));
  prob_.resize(static_cast<size_t>(vocab));
}

int32_t Sampler::sample(const float* logits) {
  if (opts_.temperature == 0.0f) return static_cast<int32_t>(cpu::argmax(logits, vocab_));
  const float* l = logit_.data();  // (V), NaN -> -inf: a total order for the sort
  for (int64_t i = 0; i < vocab_; ++i) {
    logit_[static_cast<size_t>(i)] = std::isnan(logits[i]) ? -HUGE_VALF : logits[i];
    idx_[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  }
  int64_t k = opts_.top_k > 0 ? std::min<int64_t>(opts_.top_k, vocab_) : vocab_;
  auto by_logit = [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
  const bool sorted = k < vocab_ || opts_.top_p < 1.0f;
  if (sorted) {
    if (k < vocab_) std::partial_sort(idx_.begin(), idx_.begin() + k, idx_.end(), by_logit);
    else std::sort(idx_.begin(), idx_.end(), by_logit);
  }
  const float top = sorted ? l[idx_[0]] : l[cpu::argmax(l, vocab_)];
  if (top == -HUGE_VALF) return static_cast<int32_t>(cpu::argmax(logits, vocab_));  // nothing above -inf
  const float inv_t = 1.0f / opts_.temperature;
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    const float x = l[idx_[static_cast<size_t>(i)]];
    // exp((x - top) / T) without NaN: the maximum (+inf or not) is 1, even when 1/T is inf;
    // below a +inf maximum everything is 0 (softmax's limit); -inf gives 0
    const float p = x == top ? 1.0f : top == HUGE_VALF ? 0.0f : std::exp((x - top) * inv_t);
    prob_[static_cast<size_t>(i)] = p;
    sum += p;
  }
  if (opts_.top_p < 1.0f) {  // keep the smallest prefix reaching top_p
    double acc = 0;
    int64_t keep = k;
    for (int64_t i = 0; i < k; ++i) {
      acc += prob_[static_cast<size_t>(i)] / sum;
      if (acc >= opts_.top_p) {
        keep = i + 1;
        break;
      }
    }
    k = keep;
    sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += prob_[static_cast<size_t>(i)];
  }
  std::uniform_real_distribution<double> u(0.0, sum);
  double r = u(rng_), acc = 0;
  int64_t last = 0;  // the last token with p > 0, if rounding puts r at sum
  for (int64_t i = 0; i < k; ++i) {
    const float p = prob_[static_cast<size_t>(i)];
    acc += p;
    if (p > 0) last = i;
    if (r < acc) return idx_[static_cast<size_t>(i)];
  }
  return idx_[static_cast<size_t>(last)];
}

}  // namespace lmf

#include "runtime/perplexity.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels_grad.h"
#include "core/clock.h"
#include "core/checked.h"
#include "core/error.h"

namespace lmf {

namespace {

// Feeds windows [w0, w1) as one batch; calls row(window, position, logits) for each scored position.
template <typename RowFn>
void run_batch(Session& s, std::span<const int32_t> tokens, const std::vector<Window>& windows, size_t w0,
               size_t w1, std::vector<SeqChunk>& chunks, RowFn&& row) {
  s.reset_all();
  chunks.clear();
  for (size_t w = w0; w < w1; ++w) {
    const Window& win = windows[w];
    // Row i of the window predicts token begin + i + 1: scored tokens [score_from, end)
    // come from rows [score_from - 1 - begin, end - 1 - begin); the window's last token
    // is fed only to keep positions simple (its row is not requested).
    chunks.push_back({static_cast<int>(w - w0), tokens.subspan(static_cast<size_t>(win.begin),
                                                               static_cast<size_t>(win.end - 1 - win.begin)),
                      win.score_from - 1 - win.begin});
  }
  std::span<const float> logits = s.step(chunks, false);
  const int64_t V = s.vocab();
  int64_t r = 0;
  for (size_t w = w0; w < w1; ++w)
    for (int64_t t = windows[w].score_from; t < windows[w].end; ++t, ++r) row(w, t, logits.data() + r * V);
}

}  // namespace

std::vector<Window> make_windows(int64_t n, int64_t ctx, int64_t stride) {
  LMF_CHECK(ctx >= 2, kInvalidArgument, "--ctx must be at least 2, got {}", ctx);
  LMF_CHECK(stride >= 1 && stride <= ctx, kInvalidArgument, "--stride must be in [1, --ctx={}], got {}", ctx, stride);
  LMF_CHECK(n >= 2, kInvalidArgument, "need at least 2 tokens to measure perplexity, got {}", n);
  std::vector<Window> w;
  w.push_back({0, std::min(ctx, n), 1});
  while (w.back().end < n) {
    const int64_t end = std::min(w.back().end + stride, n);
    const int64_t begin = std::max<int64_t>(0, end - ctx);
    w.push_back({begin, end, std::max(w.back().end, begin + 1)});
  }
  return w;
}

double PerplexityResult::ppl() const { return tokens ? std::exp(nll_sum / static_cast<double>(tokens)) : NAN; }

double PerplexityResult::ppl_stderr() const {
  if (tokens < 2) return NAN;
  const double n = static_cast<double>(tokens), mean = nll_sum / n;
  const double var = std::max(0.0, (nll_sq_sum - n * mean * mean) / (n - 1));
  return ppl() * std::sqrt(var / n);
}

PerplexityResult perplexity(Session& s, std::span<const int32_t> tokens, int64_t ctx, int64_t stride,
                            int64_t batch, const Progress& progress) {
  LMF_CHECK(batch >= 1, kInvalidArgument, "-b must be positive, got {}", batch);
  check_token_ids(tokens, s.vocab(), "perplexity");  // the targets index the logits
  const std::vector<Window> windows = make_windows(static_cast<int64_t>(tokens.size()), ctx, stride);
  PerplexityResult res;
  std::vector<SeqChunk> chunks;
  const double t0 = now_seconds();
  const int64_t V = s.vocab();
  for (size_t w0 = 0; w0 < windows.size(); w0 += static_cast<size_t>(batch)) {
    const size_t w1 = std::min(windows.size(), w0 + static_cast<size_t>(batch));
    run_batch(s, tokens, windows, w0, w1, chunks, [&](size_t, int64_t t, const float* row) {
      const double nll = cpu::log_sum_exp(row, V) - row[tokens[static_cast<size_t>(t)]];
      res.nll_sum += nll;
      res.nll_sq_sum += nll * nll;
      ++res.tokens;
    });
    if (progress) progress(static_cast<int64_t>(w1), static_cast<int64_t>(windows.size()));
  }
  res.seconds = now_seconds() - t0;
  return res;
}

CompareResult compare_models(Session& base, Session& variant, std::span<const int32_t> tokens, int64_t ctx,
                             int64_t stride, int64_t batch, const Progress& progress) {
  LMF_CHECK(base.vocab() == variant.vocab(), kInvalidArgument, "the models' vocabularies differ ({} vs {})",
            base.vocab(), variant.vocab());
  LMF_CHECK(batch >= 1, kInvalidArgument, "-b must be positive, got {}", batch);
  check_token_ids(tokens, base.vocab(), "compare");
  const std::vector<Window> windows = make_windows(static_cast<int64_t>(tokens.size()), ctx, stride);
  const int64_t V = base.vocab();
  CompareResult res;
  std::vector<double> kls;
  std::vector<float> base_rows;
  std::vector<SeqChunk> chunks;
  int64_t same = 0;
  const double t0 = now_seconds();
  for (size_t w0 = 0; w0 < windows.size(); w0 += static_cast<size_t>(batch)) {
    const size_t w1 = std::min(windows.size(), w0 + static_cast<size_t>(batch));
    base_rows.clear();
    run_batch(base, tokens, windows, w0, w1, chunks, [&](size_t, int64_t t, const float* row) {
      base_rows.insert(base_rows.end(), row, row + V);
      const double nll = cpu::log_sum_exp(row, V) - row[tokens[static_cast<size_t>(t)]];
      res.base.nll_sum += nll, res.base.nll_sq_sum += nll * nll, ++res.base.tokens;
    });
    int64_t r = 0;
    run_batch(variant, tokens, windows, w0, w1, chunks, [&](size_t, int64_t t, const float* q) {
      const float* p = base_rows.data() + r * V;
      ++r;
      int64_t ap = 0, aq = 0;
      kls.push_back(cpu::kl_divergence(p, q, V, &ap, &aq));
      same += ap == aq;
      const double nll = cpu::log_sum_exp(q, V) - q[tokens[static_cast<size_t>(t)]];
      res.variant.nll_sum += nll, res.variant.nll_sq_sum += nll * nll, ++res.variant.tokens;
    });
    if (progress) progress(static_cast<int64_t>(w1), static_cast<int64_t>(windows.size()));
  }
  res.base.seconds = res.variant.seconds = now_seconds() - t0;
  res.tokens = static_cast<int64_t>(kls.size());
  if (!kls.empty()) {
    double sum = 0;
    for (double k : kls) sum += k;
    res.kl_mean = sum / static_cast<double>(kls.size());
    std::sort(kls.begin(), kls.end());
    res.kl_max = kls.back();
    // 99th percentile: nearest rank.
    const size_t rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(kls.size())));
    res.kl_p99 = kls[std::max<size_t>(rank, 1) - 1];
    res.same_top = static_cast<double>(same) / static_cast<double>(kls.size());
  }
  return res;
}

}  // namespace lmf

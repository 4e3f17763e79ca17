#include "runtime/generate.h"

#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/error.h"

namespace lmf {

void prefill(Session& session, const std::vector<std::vector<int32_t>>& prompts, std::vector<float>& last) {
  const int64_t V = session.vocab(), cap = session.options().max_step_tokens;
  last.assign(prompts.size() * static_cast<size_t>(V), 0.0f);
  std::vector<size_t> done(prompts.size(), 0);  // tokens of each prompt already fed
  std::vector<SeqChunk> chunks;
  std::vector<size_t> owner;
  for (;;) {
    chunks.clear();
    owner.clear();
    int64_t budget = cap;
    for (size_t i = 0; i < prompts.size() && budget > 0; ++i) {
      const size_t left = prompts[i].size() - done[i];
      if (left == 0) continue;
      const size_t take = std::min<size_t>(left, static_cast<size_t>(budget));
      chunks.push_back({static_cast<int>(i), std::span<const int32_t>(prompts[i]).subspan(done[i], take)});
      owner.push_back(i);
      done[i] += take;
      budget -= static_cast<int64_t>(take);
    }
    if (chunks.empty()) break;
    std::span<const float> logits = session.step(chunks, false);
    for (size_t c = 0; c < chunks.size(); ++c)
      if (done[owner[c]] == prompts[owner[c]].size())
        std::memcpy(last.data() + owner[c] * static_cast<size_t>(V), logits.data() + c * static_cast<size_t>(V),
                    static_cast<size_t>(V) * 4);
  }
}

int64_t positions_needed(const std::vector<std::vector<int32_t>>& prompts, int64_t max_new_tokens) {
  size_t longest = 0;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  return static_cast<int64_t>(longest) + max_new_tokens;
}

void check_prompts(const Session& session, const std::vector<std::vector<int32_t>>& prompts) {
  LMF_CHECK(static_cast<int64_t>(prompts.size()) <= session.options().max_batch, kInvalidArgument,
            "{} prompts exceed the batch size {}", prompts.size(), session.options().max_batch);
  for (size_t i = 0; i < prompts.size(); ++i) {
    LMF_CHECK(!prompts[i].empty(), kInvalidArgument, "prompt {} is empty", i + 1);
    LMF_CHECK(static_cast<int64_t>(prompts[i].size()) <= session.context(), kOutOfRange,
              "prompt {} has {} tokens, more than the context of {}", i + 1, prompts[i].size(), session.context());
  }
}

std::vector<std::vector<int32_t>> generate(Session& session, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerateOptions& opts,
                                           const std::function<void(size_t, int32_t)>& on_token,
                                           GenerateStats* stats) {
  const size_t B = prompts.size();
  check_prompts(session, prompts);
  LMF_CHECK(opts.max_new_tokens >= 0, kInvalidArgument, "-n must be >= 0, got {}", opts.max_new_tokens);
  session.reset_all();
  session.reserve(positions_needed(prompts, opts.max_new_tokens));  // the decode loop never grows the cache
  const int64_t V = session.vocab();
  std::vector<Sampler> samplers;
  for (size_t i = 0; i < B; ++i) samplers.emplace_back(opts.sampling, V, i);
  std::vector<std::vector<int32_t>> out(B);
  for (auto& o : out) o.reserve(static_cast<size_t>(opts.max_new_tokens));

  double t0 = now_seconds();
  std::vector<float> last;
  prefill(session, prompts, last);
  double t1 = now_seconds();
  if (stats) {
    stats->prompt_tokens = 0;
    for (const auto& p : prompts) stats->prompt_tokens += static_cast<int64_t>(p.size());
    stats->prefill_seconds = t1 - t0;
  }

  std::vector<int32_t> next(B);
  std::vector<bool> live(B, opts.max_new_tokens > 0);
  std::vector<SeqChunk> chunks;
  chunks.reserve(B);
  std::vector<size_t> owner;
  owner.reserve(B);
  auto choose = [&](size_t i, const float* logits) {
    int32_t tok = samplers[i].sample(logits);
    out[i].push_back(tok);
    next[i] = tok;
    if (on_token) on_token(i, tok);
    const bool stop = std::find(opts.stop.begin(), opts.stop.end(), tok) != opts.stop.end() ||
                      static_cast<int64_t>(out[i].size()) >= opts.max_new_tokens ||
                      session.length(static_cast<int>(i)) >= session.context();
    if (stop) live[i] = false;
  };
  for (size_t i = 0; i < B; ++i)
    if (live[i]) choose(i, last.data() + i * static_cast<size_t>(V));
  for (;;) {
    chunks.clear();
    owner.clear();
    for (size_t i = 0; i < B; ++i)
      if (live[i]) {
        chunks.push_back({static_cast<int>(i), std::span<const int32_t>(&next[i], 1)});
        owner.push_back(i);
      }
    if (chunks.empty()) break;
    std::span<const float> logits = session.step(chunks, false);
    for (size_t c = 0; c < owner.size(); ++c) choose(owner[c], logits.data() + c * static_cast<size_t>(V));
  }
  if (stats) {
    stats->decode_seconds = now_seconds() - t1;
    stats->new_tokens = 0;
    for (const auto& o : out) stats->new_tokens += static_cast<int64_t>(o.size());
  }
  return out;
}

}  // namespace lmf

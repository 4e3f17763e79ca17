#include "runtime/bench.h"

#include <algorithm>
#include <random>

#include "core/clock.h"
#include "core/error.h"
#include "runtime/generate.h"
#include "runtime/probe.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace lmf {

namespace {

void check_options(const Model& m, const BenchOptions& o) {
  LMF_CHECK(o.prompt >= 0 && o.gen >= 0 && (o.prompt > 0 || o.gen > 0), kInvalidArgument,
            "-p and -n must be >= 0, not both 0");
  LMF_CHECK(o.reps > 0, kInvalidArgument, "-r must be positive, got {}", o.reps);
  LMF_CHECK(o.prompt <= m.info.context && o.gen + 1 <= m.info.context, kOutOfRange,
            "-p {} / -n {} exceed the model's context of {}", o.prompt, o.gen, m.info.context);
}

// The executor's per-op times since the last clear_profile(), largest first.
OpProfile take_profile(const Session& s) {
  OpProfile p(s.executor().profile().begin(), s.executor().profile().end());
  std::sort(p.begin(), p.end(), [](const auto& x, const auto& y) { return x.second.seconds > y.second.seconds; });
  return p;
}

// One prefill of `prompt` from an empty cache; returns its tokens/s.
double time_prefill(Session& s, const std::vector<int32_t>& prompt, bool profile, OpProfile& prof) {
  std::vector<float> last;
  s.reset_all();
  if (profile) s.executor().clear_profile(), s.executor().set_profiling(true);
  const double t0 = now_seconds();
  prefill(s, {prompt}, last);
  const double tps = static_cast<double>(prompt.size()) / (now_seconds() - t0);
  s.executor().set_profiling(false);
  if (profile) prof = take_profile(s);
  return tps;
}

// `n` greedy decode steps after one untimed step of `first`; returns their tokens/s.
double time_decode(Session& s, int32_t first, int64_t n, Sampler& greedy, bool profile) {
  s.reset_all();
  int32_t t = first;
  SeqChunk c{0, std::span<const int32_t>(&t, 1)};
  s.step(std::span<const SeqChunk>(&c, 1), false);
  if (profile) s.executor().clear_profile(), s.executor().set_profiling(true);
  const double t0 = now_seconds();
  for (int64_t i = 0; i < n; ++i) {
    std::span<const float> lg = s.step(std::span<const SeqChunk>(&c, 1), false);
    t = greedy.sample(lg.data());
  }
  const double tps = static_cast<double>(n) / (now_seconds() - t0);
  s.executor().set_profiling(false);
  return tps;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

BenchResult run_benchmark(const Model& m, const BenchOptions& o) {
  check_options(m, o);
  SessionOptions so;
  so.max_batch = 1;
  so.max_step_tokens = std::max<int64_t>(o.prompt, 1);
  so.max_context = std::max(o.prompt, o.gen + 1);
  so.threads = o.threads;
  so.kernels = o.kernels;
  Session session(m, so);
  std::mt19937 rng(static_cast<std::mt19937::result_type>(o.seed));
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(m.info.vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt));
  for (auto& t : prompt) t = tok(rng);
  const Graph& planned = session.executor().graph();

  BenchResult r;
  Sampler greedy({}, m.info.vocab);  // generate's greedy pick (vectorized argmax)
  for (int rep = 0; rep <= o.reps; ++rep) {  // rep 0 warms up
    if (o.prompt > 0) {
      const double tps = time_prefill(session, prompt, o.profile, r.prefill_profile);
      if (rep > 0) r.prefill_tps.push_back(tps);
    }
    if (o.gen > 0) {
      const bool adjacent = rep > 0 && o.probe;
      const double before = adjacent ? measure_weight_read_bandwidth(planned, o.threads, 2) : 0;
      // The profile is the last repetition's: each decode test clears it.
      const double tps = time_decode(session, tok(rng), o.gen, greedy, o.profile);
      if (rep > 0) r.decode_tps.push_back(tps);
      if (adjacent) r.adjacent_weight_bw.push_back(std::max(before, measure_weight_read_bandwidth(planned, o.threads, 2)));
    }
  }
  if (o.profile && o.gen > 0) r.decode_profile = take_profile(session);
  r.bytes_per_token = static_cast<double>(weight_bytes_per_token(planned));
  if (!r.adjacent_weight_bw.empty()) {
    std::vector<double> f;
    for (size_t i = 0; i < r.decode_tps.size(); ++i)
      f.push_back(r.decode_tps[i] * r.bytes_per_token / r.adjacent_weight_bw[i]);
    r.adjacent_fraction = median(f);
  }
  if (o.probe) {
    r.read_bw = measure_read_bandwidth(o.threads);
    if (o.gen > 0) r.weight_bw = measure_weight_read_bandwidth(planned, o.threads);
    r.sgemm_peak = measure_sgemm_flops(o.threads);
  }
  r.prefill_flops = forward_flops(m.graph, o.prompt, 1, true);
  r.prefill_flops_run = forward_flops(m.graph, o.prompt, 1);
  return r;
}

}  // namespace lmf

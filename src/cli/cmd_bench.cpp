// `lmforge bench MODEL`: prefill and decode speed, shaped like llama-bench's table,
// with the machine's memory bandwidth and matmul peak as yardsticks.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/common.h"
#include "core/clock.h"
#include "core/error.h"
#include "runtime/generate.h"
#include "runtime/probe.h"
#include "runtime/sampler.h"

#if __has_include("lmf_git_rev.h")
#include "lmf_git_rev.h"  // generated at build time (cmake/git_rev.cmake)
#endif
#ifndef LMF_GIT_REV
#define LMF_GIT_REV "unknown"
#endif

namespace lmf::cli {

namespace {

struct BenchArgs {
  std::string model;
  int64_t p = 128, n = 128;
  int reps = 5, threads = 1;
  bool json = false, no_probe = false, profile = false;
};

struct Stat { double mean = 0, sd = 0; };
Stat stats(const std::vector<double>& xs) {
  Stat s;
  for (double x : xs) s.mean += x;
  s.mean /= static_cast<double>(xs.size());
  for (double x : xs) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = xs.size() > 1 ? std::sqrt(s.sd / static_cast<double>(xs.size() - 1)) : 0;
  return s;
}

void run_bench(const BenchArgs& a) {
  LMF_CHECK(a.p >= 0 && a.n >= 0 && (a.p > 0 || a.n > 0), kInvalidArgument, "-p and -n must be >= 0, not both 0");
  LMF_CHECK(a.reps > 0, kInvalidArgument, "-r must be positive, got {}", a.reps);
  Model m = load_model(a.model);
  LMF_CHECK(a.p <= m.info.context && a.n + 1 <= m.info.context, kOutOfRange,
            "-p {} / -n {} exceed the model's context of {}", a.p, a.n, m.info.context);
  SessionOptions so;
  so.max_batch = 1;
  so.max_step_tokens = std::max<int64_t>(a.p, 1);
  so.max_context = std::max(a.p, a.n + 1);
  so.threads = a.threads;
  so.kernels = kernel_options_from_env();
  Session session(m, so);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(m.info.vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(a.p));
  for (auto& t : prompt) t = tok(rng);

  using Profile = std::vector<std::pair<std::string, Executor::OpTime>>;
  // The executor's per-op times since the last clear_profile(), largest first.
  auto take_profile = [&session] {
    Profile p(session.executor().profile().begin(), session.executor().profile().end());
    std::sort(p.begin(), p.end(), [](const auto& x, const auto& y) { return x.second.seconds > y.second.seconds; });
    return p;
  };
  std::vector<double> pp, tg, adjacent_bw;
  Sampler greedy({}, m.info.vocab);  // generate's greedy pick (vectorized argmax)
  std::vector<float> last;
  Profile prof_pp;
  for (int r = 0; r <= a.reps; ++r) {  // rep 0 warms up
    if (a.p > 0) {
      session.reset_all();
      if (a.profile) session.executor().clear_profile(), session.executor().set_profiling(true);
      const double t0 = now_seconds();
      prefill(session, {prompt}, last);
      if (r > 0) pp.push_back(static_cast<double>(a.p) / (now_seconds() - t0));
      session.executor().set_profiling(false);
      if (a.profile) prof_pp = take_profile();
    }
    if (a.n > 0) {
      session.reset_all();
      int32_t t = tok(rng);
      SeqChunk c{0, std::span<const int32_t>(&t, 1)};
      session.step(std::span<const SeqChunk>(&c, 1), false);
      if (a.profile) session.executor().clear_profile(), session.executor().set_profiling(true);
      // The weights read right before and after each timed repetition: this VM's bandwidth
      // changes within seconds, so a single probe per run may catch another regime.
      const bool adjacent = r > 0 && !a.no_probe;
      const double before = adjacent ? measure_weight_read_bandwidth(session.executor().graph(), a.threads, 2) : 0;
      const double t0 = now_seconds();
      for (int64_t i = 0; i < a.n; ++i) {
        std::span<const float> lg = session.step(std::span<const SeqChunk>(&c, 1), false);
        t = greedy.sample(lg.data());
      }
      if (r > 0) tg.push_back(static_cast<double>(a.n) / (now_seconds() - t0));
      if (adjacent)
        adjacent_bw.push_back(
            std::max(before, measure_weight_read_bandwidth(session.executor().graph(), a.threads, 2)));
      session.executor().set_profiling(false);
    }
  }
  // Per-op decode time of the last repetition.
  const Profile prof = a.n > 0 && a.profile ? take_profile() : Profile{};
  const double step_s = tg.empty() ? 0 : 1.0 / tg.back();
  const Stat spp = pp.empty() ? Stat{} : stats(pp), stg = tg.empty() ? Stat{} : stats(tg);
  // Bytes the kernels read: the planned graph's weights (pre-packed, e.g. quantized strips).
  const double bytes_tok = static_cast<double>(weight_bytes_per_token(session.executor().graph()));
  // Per timed repetition: its tokens/s x bytes per token over its adjacent weight read.
  double adjacent_fraction = 0;
  if (!adjacent_bw.empty()) {
    std::vector<double> f;
    for (size_t i = 0; i < tg.size(); ++i) f.push_back(tg[i] * bytes_tok / adjacent_bw[i]);
    std::sort(f.begin(), f.end());
    adjacent_fraction = f.size() % 2 ? f[f.size() / 2] : 0.5 * (f[f.size() / 2 - 1] + f[f.size() / 2]);
  }
  double bw = 0, peak = 0, wbw = 0;
  if (!a.no_probe) {
    bw = measure_read_bandwidth(a.threads);
    if (a.n > 0) wbw = measure_weight_read_bandwidth(session.executor().graph(), a.threads);
    peak = measure_sgemm_flops(a.threads);
  }
  // Prefill FLOPs: of the pass an engine runs with every layer on every prompt row (the
  // yardstick peers are measured with too) and of the pass lmforge runs (its last layer
  // past the attention on the logit row only).
  const double flops_pp = forward_flops(m.graph, a.p, 1, true), flops_pp_run = forward_flops(m.graph, a.p, 1);
  const std::string name = fmt::format("{} {}", m.info.architecture, human_count(static_cast<double>(m.info.params)));
  const std::string size = human_bytes(static_cast<double>(m.info.weight_bytes));
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);

  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"architecture", m.info.architecture}, {"params", m.info.params},
                        {"size_bytes", m.info.weight_bytes}, {"dtype", dtype_name(m.info.dtype)},
                        {"backend", "CPU"}, {"threads", a.threads}, {"reps", a.reps},
                        {"git_rev", LMF_GIT_REV}, {"host", host}, {"cpu", cpu_description()}, {"tests", nlohmann::json::array()}};
    if (a.p > 0) {
      nlohmann::json t = {{"test", fmt::format("pp{}", a.p)}, {"tokens_per_s", spp.mean}, {"sd", spp.sd}, {"samples", pp}};
      if (peak > 0) {
        t["gflops"] = flops_pp * spp.mean / a.p / 1e9, t["fraction_of_matmul_peak"] = flops_pp * spp.mean / a.p / peak;
        t["executed_gflops"] = flops_pp_run * spp.mean / a.p / 1e9;
        t["executed_fraction_of_matmul_peak"] = flops_pp_run * spp.mean / a.p / peak;
      }
      j["tests"].push_back(t);
    }
    if (a.n > 0) {
      nlohmann::json t = {{"test", fmt::format("tg{}", a.n)}, {"tokens_per_s", stg.mean}, {"sd", stg.sd}, {"samples", tg}};
      if (bw > 0) t["fraction_of_bandwidth_bound"] = stg.mean * bytes_tok / bw;
      if (wbw > 0) t["fraction_of_weight_read"] = stg.mean * bytes_tok / wbw;
      if (!adjacent_bw.empty()) {
        t["fraction_of_adjacent_weight_read"] = adjacent_fraction;
        t["adjacent_weight_read_bytes_per_s"] = adjacent_bw;
      }
      j["tests"].push_back(t);
    }
    if (a.profile && a.n > 0) {
      nlohmann::json p = nlohmann::json::array();
      for (const auto& [op, t] : prof)
        p.push_back({{"op", op}, {"calls_per_token", static_cast<double>(t.calls) / static_cast<double>(a.n)},
                     {"ms_per_token", 1e3 * t.seconds / static_cast<double>(a.n)}});
      j["decode_profile"] = p;
    }
    if (a.profile && a.p > 0) {
      nlohmann::json p = nlohmann::json::array();
      for (const auto& [op, t] : prof_pp) p.push_back({{"op", op}, {"calls", t.calls}, {"ms", 1e3 * t.seconds}});
      j["prefill_profile"] = p;
    }
    j["weight_bytes_per_token"] = bytes_tok;
    if (bw > 0) j["read_bandwidth_bytes_per_s"] = bw, j["sgemm_flops_per_s"] = peak;
    if (wbw > 0) j["weight_read_bandwidth_bytes_per_s"] = wbw;
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("| {:<28} | {:>10} | {:>9} | {:<7} | {:>7} | {:>6} | {:>20} |\n", "model", "size", "params", "backend",
             "threads", "test", "t/s");
  fmt::print("| {:-<28} | {:->10} | {:->9} | {:-<7} | {:->7} | {:->6} | {:->20} |\n", "", "", "", "", "", "", "");
  auto row = [&](const std::string& test, Stat s) {
    fmt::print("| {:<28} | {:>10} | {:>9} | {:<7} | {:>7} | {:>6} | {:>20} |\n", name, size,
               human_count(static_cast<double>(m.info.params)), "CPU", a.threads, test,
               fmt::format("{:.2f} ± {:.2f}", s.mean, s.sd));
  };
  if (a.p > 0) row(fmt::format("pp{}", a.p), spp);
  if (a.n > 0) row(fmt::format("tg{}", a.n), stg);
  fmt::print("\n{}; lmforge git {}\n", cpu_description(), LMF_GIT_REV);
  if (!a.no_probe) {
    fmt::print("read bandwidth {:.2f} GB/s; decode reads {} per token -> bound {:.2f} t/s", bw / 1e9,
               human_bytes(bytes_tok), bw / bytes_tok);
    if (a.n > 0) fmt::print("; tg{} at {:.1f}% of it", a.n, 100.0 * stg.mean * bytes_tok / bw);
    if (wbw > 0)
      fmt::print("\nreading the weights themselves {:.2f} GB/s; tg{} at {:.1f}% of that", wbw / 1e9, a.n,
                 100.0 * stg.mean * bytes_tok / wbw);
    if (!adjacent_bw.empty())
      fmt::print("\nthe weights read right before and after each repetition (the faster of the two): tg{} at "
                 "{:.1f}% of it (median over repetitions)",
                 a.n, 100.0 * adjacent_fraction);
    fmt::print("\nsgemm peak {:.1f} GFLOP/s", peak / 1e9);
    if (a.p > 0)
      fmt::print("; pp{} at {:.1f} GFLOP/s of a full pass's linear and attention matmuls = {:.1f}% of it, "
                 "{:.1f} GFLOP/s of those run (the last layer past its attention on the logit row) = {:.1f}%",
                 a.p, flops_pp * spp.mean / a.p / 1e9, 100.0 * flops_pp * spp.mean / a.p / peak,
                 flops_pp_run * spp.mean / a.p / 1e9, 100.0 * flops_pp_run * spp.mean / a.p / peak);
    fmt::print("\n");
  }
  // One table per profile: ms per unit (a prompt, or a decode token), calls per unit.
  auto print_profile = [](const std::string& title, const Profile& prof, double unit_s, double units) {
    fmt::print("\n{}: {:.3f} ms\n", title, 1e3 * unit_s);
    fmt::print("| {:<22} | {:>6} | {:>9} | {:>7} |\n", "op", "calls", "ms", "share");
    fmt::print("| {:-<22} | {:->6} | {:->9} | {:->7} |\n", "", "", "", "");
    double in_ops = 0;
    for (const auto& [op, t] : prof) {
      const double ms = 1e3 * t.seconds / units;
      in_ops += ms;
      fmt::print("| {:<22} | {:>6.1f} | {:>9.3f} | {:>6.1f}% |\n", op, static_cast<double>(t.calls) / units, ms,
                 100.0 * ms / (1e3 * unit_s));
    }
    const double rest = 1e3 * unit_s - in_ops;
    fmt::print("| {:<22} | {:>6} | {:>9.3f} | {:>6.1f}% |\n", "(outside the graph)", "", rest, 100.0 * rest / (1e3 * unit_s));
  };
  if (a.profile && !prof_pp.empty())
    print_profile(fmt::format("prefill profile (last repetition), pp{}", a.p), prof_pp,
                  static_cast<double>(a.p) / pp.back(), 1.0);
  if (a.profile && !prof.empty())
    print_profile("decode profile (last repetition), per token", prof, step_s, static_cast<double>(a.n));
}

}  // namespace

void register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prefill (pp) and decode (tg) speed, like llama-bench");
  cmd->add_option("model", a->model, "Hugging Face model folder")->required();
  cmd->add_option("-p,--n-prompt", a->p, "Prompt tokens for the prefill test (default 128; 0 skips)");
  cmd->add_option("-n,--n-gen", a->n, "Tokens for the decode test (default 128; 0 skips)");
  cmd->add_option("-r,--repetitions", a->reps, "Repetitions (default 5)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->add_flag("--no-probe", a->no_probe, "Skip the bandwidth and matmul-peak probes");
  cmd->add_flag("--profile", a->profile, "Also print the prefill and decode time per op (last repetition)");
  add_threads_flag(cmd, &a->threads);
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace lmf::cli

// `lmforge bench MODEL`: prefill and decode speed, shaped like llama-bench's table,
// with the machine's memory bandwidth and matmul peak as yardsticks.
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "runtime/bench.h"
#include "runtime/probe.h"

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

// Mean and sample standard deviation of each test's repetitions.
Stat stats_or_zero(const std::vector<double>& xs) { return xs.empty() ? Stat{} : stats(xs); }

nlohmann::json to_json(const BenchArgs& a, const Model& m, const BenchResult& r) {
  const Stat spp = stats_or_zero(r.prefill_tps), stg = stats_or_zero(r.decode_tps);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  nlohmann::json j = {{"model", a.model}, {"architecture", m.info.architecture}, {"params", m.info.params},
                      {"size_bytes", m.info.weight_bytes}, {"dtype", dtype_name(m.info.dtype)},
                      {"backend", "CPU"}, {"threads", a.threads}, {"reps", a.reps},
                      {"git_rev", LMF_GIT_REV}, {"host", host}, {"cpu", cpu_description()}, {"tests", nlohmann::json::array()}};
  if (a.p > 0) {
    nlohmann::json t = {{"test", fmt::format("pp{}", a.p)}, {"tokens_per_s", spp.mean}, {"sd", spp.sd}, {"samples", r.prefill_tps}};
    if (r.sgemm_peak > 0) {
      const double per_token = spp.mean / static_cast<double>(a.p);
      t["gflops"] = r.prefill_flops * per_token / 1e9, t["fraction_of_matmul_peak"] = r.prefill_flops * per_token / r.sgemm_peak;
      t["executed_gflops"] = r.prefill_flops_run * per_token / 1e9;
      t["executed_fraction_of_matmul_peak"] = r.prefill_flops_run * per_token / r.sgemm_peak;
    }
    j["tests"].push_back(t);
  }
  if (a.n > 0) {
    nlohmann::json t = {{"test", fmt::format("tg{}", a.n)}, {"tokens_per_s", stg.mean}, {"sd", stg.sd}, {"samples", r.decode_tps}};
    if (r.read_bw > 0) t["fraction_of_bandwidth_bound"] = stg.mean * r.bytes_per_token / r.read_bw;
    if (r.weight_bw > 0) t["fraction_of_weight_read"] = stg.mean * r.bytes_per_token / r.weight_bw;
    if (!r.adjacent_weight_bw.empty()) {
      t["fraction_of_adjacent_weight_read"] = r.adjacent_fraction;
      t["adjacent_weight_read_bytes_per_s"] = r.adjacent_weight_bw;
    }
    j["tests"].push_back(t);
  }
  if (a.profile && a.n > 0) {
    nlohmann::json p = nlohmann::json::array();
    for (const auto& [op, t] : r.decode_profile)
      p.push_back({{"op", op}, {"calls_per_token", static_cast<double>(t.calls) / static_cast<double>(a.n)},
                   {"ms_per_token", 1e3 * t.seconds / static_cast<double>(a.n)}});
    j["decode_profile"] = p;
  }
  if (a.profile && a.p > 0) {
    nlohmann::json p = nlohmann::json::array();
    for (const auto& [op, t] : r.prefill_profile) p.push_back({{"op", op}, {"calls", t.calls}, {"ms", 1e3 * t.seconds}});
    j["prefill_profile"] = p;
  }
  j["weight_bytes_per_token"] = r.bytes_per_token;
  if (r.read_bw > 0) j["read_bandwidth_bytes_per_s"] = r.read_bw, j["sgemm_flops_per_s"] = r.sgemm_peak;
  if (r.weight_bw > 0) j["weight_read_bandwidth_bytes_per_s"] = r.weight_bw;
  return j;
}

// llama-bench's table, then the yardsticks.
void print_table(const BenchArgs& a, const Model& m, const BenchResult& r) {
  const std::string name = fmt::format("{} {}", m.info.architecture, human_count(static_cast<double>(m.info.params)));
  const std::string size = human_bytes(static_cast<double>(m.info.weight_bytes));
  const Stat spp = stats_or_zero(r.prefill_tps), stg = stats_or_zero(r.decode_tps);
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
  if (a.no_probe) return;
  const double bytes_tok = r.bytes_per_token, bw = r.read_bw, wbw = r.weight_bw, peak = r.sgemm_peak;
  fmt::print("read bandwidth {:.2f} GB/s; decode reads {} per token -> bound {:.2f} t/s", bw / 1e9,
             human_bytes(bytes_tok), bw / bytes_tok);
  if (a.n > 0) fmt::print("; tg{} at {:.1f}% of it", a.n, 100.0 * stg.mean * bytes_tok / bw);
  if (wbw > 0)
    fmt::print("\nreading the weights themselves {:.2f} GB/s; tg{} at {:.1f}% of that", wbw / 1e9, a.n,
               100.0 * stg.mean * bytes_tok / wbw);
  if (!r.adjacent_weight_bw.empty())
    fmt::print("\nthe weights read right before and after each repetition (the faster of the two): tg{} at "
               "{:.1f}% of it (median over repetitions)",
               a.n, 100.0 * r.adjacent_fraction);
  fmt::print("\nsgemm peak {:.1f} GFLOP/s", peak / 1e9);
  if (a.p > 0) {
    const double per_token = spp.mean / static_cast<double>(a.p);
    fmt::print("; pp{} at {:.1f} GFLOP/s of a full pass's linear and attention matmuls = {:.1f}% of it, "
               "{:.1f} GFLOP/s of those run (the last layer past its attention on the logit row) = {:.1f}%",
               a.p, r.prefill_flops * per_token / 1e9, 100.0 * r.prefill_flops * per_token / peak,
               r.prefill_flops_run * per_token / 1e9, 100.0 * r.prefill_flops_run * per_token / peak);
  }
  fmt::print("\n");
}

// One table per profile: ms per unit (a prompt, or a decode token), calls per unit.
void print_profile(const std::string& title, const OpProfile& prof, double unit_s, double units) {
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
}

void run_bench(const BenchArgs& a) {
  BenchOptions o;
  o.prompt = a.p, o.gen = a.n, o.reps = a.reps, o.threads = a.threads;
  o.probe = !a.no_probe, o.profile = a.profile;
  o.kernels = kernel_options_from_env();
  const Model m = load_model(a.model);
  const BenchResult r = run_benchmark(m, o);
  if (a.json) {
    fmt::print("{}\n", to_json(a, m, r).dump(2));
    return;
  }
  print_table(a, m, r);
  if (a.profile && !r.prefill_profile.empty())
    print_profile(fmt::format("prefill profile (last repetition), pp{}", a.p), r.prefill_profile,
                  static_cast<double>(a.p) / r.prefill_tps.back(), 1.0);
  if (a.profile && !r.decode_profile.empty())
    print_profile("decode profile (last repetition), per token", r.decode_profile, 1.0 / r.decode_tps.back(),
                  static_cast<double>(a.n));
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

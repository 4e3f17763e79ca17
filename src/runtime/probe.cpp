#include "runtime/probe.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <fstream>
#include <hwy/targets.h>
#include <thread>
#include <cstring>
#include <set>
#include <vector>

#include "backend/cpu/matmul.h"
#include "core/error.h"
#include "core/clock.h"
#include "core/tensor.h"

namespace lmf {

double measure_read_bandwidth(int threads, double seconds, bool huge_pages) {
  const size_t bytes = size_t{512} << 20;  // 512 MiB: far beyond any cache
  const int64_t n = static_cast<int64_t>(bytes / 4);
  auto* buf = static_cast<float*>(alloc_aligned(bytes));
  if (huge_pages) madvise(buf, bytes, MADV_HUGEPAGE);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) buf[i] = 1.0f;
  volatile float sink = 0;
  double best = 0;
  const double t_end = now_seconds() + seconds;
  int reps = 0;
  while (reps < 3 || now_seconds() < t_end) {
    const double t0 = now_seconds();
    float total = 0;
    // Each thread reads its own contiguous part, as four SIMD streams.
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const int64_t t = omp_get_thread_num(), per = n / omp_get_num_threads();
      total += cpu::sum_streams(buf + t * per, per);
    }
    const double dt = now_seconds() - t0;
    sink = sink + total;
    best = std::max(best, static_cast<double>(bytes) / dt);
    ++reps;
  }
  free_aligned(buf);
  return best;
}

double measure_sgemm_flops(int threads, double seconds) {
  const int64_t s = 1024;
  std::vector<float> a(static_cast<size_t>(s * s), 0.5f), b(static_cast<size_t>(s * s), 0.25f),
      c(static_cast<size_t>(s * s));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto once = [&] { return cpu::linear(a.data(), b.data(), nullptr, c.data(), s, s, s, true); };
  bool ok = once();  // warm-up
  double best = 0;
  const double t_end = now_seconds() + seconds;
  int reps = 0;
  while (ok && (reps < 3 || now_seconds() < t_end)) {
    const double t0 = now_seconds();
    ok = once();
    best = std::max(best, 2.0 * s * s * s / (now_seconds() - t0));
    ++reps;
  }
  omp_set_num_threads(saved);
  LMF_CHECK(ok, kInternal, "sgemm probe: oneDNN sgemm ({} x {} x {}) failed", s, s, s);
  return best;
}

std::string cpu_description() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, name = "unknown CPU", family, model;
  auto value = [&] { return line.substr(line.find(':') + 2); };
  while (std::getline(f, line) && (family.empty() || model.empty() || name == "unknown CPU")) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) name = value();
    else if (line.rfind("cpu family", 0) == 0 && line.find(':') != std::string::npos) family = value();
    else if (line.rfind("model\t", 0) == 0 && line.find(':') != std::string::npos) model = value();
  }
  std::string out = name;
  if (!family.empty()) out += " (family " + family + (model.empty() ? "" : ", model " + model) + ")";
  out += ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs";
  const int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
  if (targets != 0) out += std::string(", ") + hwy::TargetName(targets & -targets);  // the best: lowest bit
  return out;
}

namespace {
// The weights a decode step reads: every weight an op other than an embedding lookup
// consumes, each once, in node order.
std::vector<const Tensor*> decode_weights(const Graph& g) {
  std::set<int> seen;
  std::vector<const Tensor*> out;
  for (const Node& n : g.nodes()) {
    if (n.op == "embedding" || n.op == "embedding_q") continue;
    for (int i : n.inputs) {
      const Value& v = g.value(i);
      if (v.kind == ValueKind::kWeight && seen.insert(i).second) out.push_back(&v.data);
    }
  }
  return out;
}
}  // namespace

int64_t weight_bytes_per_token(const Graph& g) {
  int64_t total = 0;
  for (const Tensor* t : decode_weights(g)) total += static_cast<int64_t>(t->nbytes());
  return total;
}

double measure_weight_read_bandwidth(const Graph& g, int threads, int sweeps) {
  std::vector<std::pair<const float*, int64_t>> parts;  // (start, floats)
  double bytes = 0;
  for (const Tensor* t : decode_weights(g)) {
    parts.emplace_back(static_cast<const float*>(t->data()), static_cast<int64_t>(t->nbytes() / 4));
    bytes += static_cast<double>(t->nbytes());
  }
  volatile float sink = 0;
  double best = 0;
  for (int r = 0; r < sweeps; ++r) {
    const double t0 = now_seconds();
    float total = 0;
    for (const auto& [p, n] : parts) {
      if (n < 4096) {  // biases, norms: not worth a parallel region
        total += cpu::sum_streams(p, n);
        continue;
      }
#pragma omp parallel num_threads(threads) reduction(+ : total)
      {
        const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
        const int64_t a = n * t / team, b = n * (t + 1) / team;
        total += cpu::sum_streams(p + a, b - a);
      }
    }
    sink = sink + total;
    best = std::max(best, bytes / (now_seconds() - t0));
  }
  return best;
}

double forward_flops(const Graph& g, int64_t tokens, int64_t logit_rows, bool every_row) {
  const std::vector<int>& outs = g.outputs();
  double flops = 0;
  for (const Node& n : g.nodes()) {
    if (n.op == "attention") {
      // Scores q . k and the weighted sum of v: 2 x 2 x head_dim FLOPs per (query, key)
      // pair and query head; a prompt from position 0 has tokens (tokens + 1) / 2 causal pairs.
      const double pairs = static_cast<double>(tokens) * static_cast<double>(tokens + 1) / 2.0;
      flops += 4.0 * static_cast<double>(n.attr_int("heads") * n.attr_int("head_dim")) * pairs;
      continue;
    }
    if (n.op != "linear" && n.op != "linear_q") continue;
    const double kn = n.op == "linear_q"
                          ? static_cast<double>(n.attr_int("in_features") * n.attr_int("out_features"))
                          : static_cast<double>(g.value(n.inputs[1]).data.numel());
    const Value& x = g.value(n.inputs[0]);
    const bool head = std::find(outs.begin(), outs.end(), n.outputs[0]) != outs.end();
    const int64_t rows = x.shape[0].sym == "M" && (head || !every_row) ? logit_rows : tokens;
    flops += 2.0 * kn * static_cast<double>(rows);
  }
  return flops;
}

}  // namespace lmf

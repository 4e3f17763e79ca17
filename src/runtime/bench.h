// lmforge runtime: the prefill and decode benchmark `lmforge bench` runs, as a library
// function: timed repetitions on one session, the per-op profile, and the machine's
// yardsticks (memory read bandwidth, the weights' own read speed, the matmul peak).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/kernel_options.h"
#include "models/model.h"
#include "runtime/executor.h"

namespace lmf {

struct BenchOptions {
  int64_t prompt = 128;  // tokens of the prefill test (0 skips it)
  int64_t gen = 128;     // tokens of the decode test (0 skips it)
  int reps = 5;          // timed repetitions (one more, untimed, warms up)
  int threads = 1;
  bool probe = true;     // measure the yardsticks
  bool profile = false;  // per-op times of the last repetition
  cpu::KernelOptions kernels;
  uint64_t seed = 1234;  // of the random prompt and first decode token
};

// Op name and its time, largest first.
using OpProfile = std::vector<std::pair<std::string, Executor::OpTime>>;

struct BenchResult {
  std::vector<double> prefill_tps, decode_tps;  // tokens/s of each timed repetition
  // Per decode repetition (with probe): the weights' read speed right before or after it,
  // the faster of the two (this VM's bandwidth changes within seconds).
  std::vector<double> adjacent_weight_bw;
  // Median over repetitions of decode tokens/s x bytes per token / adjacent_weight_bw.
  double adjacent_fraction = 0;
  OpProfile prefill_profile, decode_profile;  // with profile
  double bytes_per_token = 0;  // weight bytes a decode step reads (the planned graph's)
  // Yardsticks (with probe; 0 otherwise): fresh-buffer read bandwidth, the weights' own
  // read bandwidth (with a decode test), float32 matmul peak FLOP/s.
  double read_bw = 0, weight_bw = 0, sgemm_peak = 0;
  // Prefill FLOPs of a pass with every layer on every prompt row (the yardstick peers are
  // measured with) and of the pass lmforge runs (the last layer past its attention on the
  // logit row only).
  double prefill_flops = 0, prefill_flops_run = 0;
};

// Runs the benchmark on `m`. Throws lmf::Error (kInvalidArgument, kOutOfRange) for
// options the model cannot take.
BenchResult run_benchmark(const Model& m, const BenchOptions& o);

}  // namespace lmf

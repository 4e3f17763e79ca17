// Decode streaming against the read probe, interleaved in one process: the 49 float32
// matmuls of one GPT-2 small decode step (12 x {768x2304, 768x768, 768x3072, 3072x768}
// in (K, N), the 768 x 50257 head in (N, K)) run through lmforge's few-row kernels, and
// the same bytes read by the probe's four-stream reader (one parallel region per matrix,
// as the kernels have). Each round prints the best of 5 of each, in GB/s, and the
// kernels' fraction of the probe; the last line gives medians. A fraction well under
// 100% means the kernels do not draw the bandwidth the machine gives (it showed GCC -O2
// keeping their accumulators on the stack: ~67%; -O3: 96-100%).
//
//   build/bench/decode_stream [-t THREADS] [--rounds R]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/cpu/matmul.h"
#include "core/tensor.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Mat {
  float* p;
  int64_t K, N;
  bool nk;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, rounds = 8;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-t") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [-t THREADS] [--rounds R]\n", argv[0]);
      return 2;
    }
  }
  if (threads < 1 || rounds < 1) {
    std::fprintf(stderr, "decode_stream: -t and --rounds must be positive\n");
    return 2;
  }
  omp_set_num_threads(threads);
  std::vector<Mat> ms;
  auto add = [&](int64_t K, int64_t N, bool nk) {
    auto* p = static_cast<float*>(lmf::alloc_aligned(static_cast<size_t>(K * N) * sizeof(float)));
    for (int64_t i = 0; i < K * N; ++i) p[i] = 0.001f * static_cast<float>(i % 97);
    ms.push_back({p, K, N, nk});
  };
  for (int l = 0; l < 12; ++l) add(768, 2304, false), add(768, 768, false), add(768, 3072, false), add(3072, 768, false);
  add(768, 50257, true);
  double bytes = 0;
  for (const Mat& m : ms) bytes += static_cast<double>(m.K * m.N) * sizeof(float);
  std::vector<float> x(3072, 0.5f), y(50257), scratch(static_cast<size_t>(lmf::cpu::few_rows_kn_scratch(3072, 3072)));
  volatile float sink = 0;
  auto best_of = [&](auto&& fn) {
    double best = 0;
    for (int r = 0; r < 5; ++r) {
      const double t0 = now();
      fn();
      best = std::max(best, bytes / (now() - t0));
    }
    return best / 1e9;
  };
  std::printf("%d threads, %.1f MiB of weights per step\n", threads, bytes / (1 << 20));
  std::vector<double> kern, probe, frac;
  for (int round = 0; round < rounds; ++round) {
    const double k = best_of([&] {
      for (const Mat& m : ms) {
        if (m.nk)
          lmf::cpu::linear_few_rows(x.data(), m.p, nullptr, y.data(), 1, m.K, m.N);
        else
          lmf::cpu::linear_few_rows_kn(x.data(), m.p, nullptr, y.data(), 1, m.K, m.N, scratch.data());
      }
    });
    const double p = best_of([&] {
      float total = 0;
      for (const Mat& m : ms) {
#pragma omp parallel reduction(+ : total)
        {
          const int64_t n = m.K * m.N, per = n / omp_get_num_threads();
          total += lmf::cpu::sum_streams(m.p + omp_get_thread_num() * per, per);
        }
      }
      sink = sink + total;
    });
    kern.push_back(k), probe.push_back(p), frac.push_back(k / p);
    std::printf("round %d: kernels %.1f GB/s, probe %.1f GB/s, %.1f%%\n", round + 1, k, p, 100 * k / p);
  }
  std::printf("median: kernels %.1f GB/s, probe %.1f GB/s, %.1f%% of the probe\n", median(kern), median(probe),
              100 * median(frac));
  for (const Mat& m : ms) lmf::free_aligned(m.p);
  return 0;
}

// Decode streaming against the read probe, interleaved in one process: the 49 float32
// matmuls of one GPT-2 small decode step (12 x {768x2304, 768x768, 768x3072, 3072x768}
// in (K, N), the 768 x 50257 head in (N, K)) run through lmforge's few-row kernels, and
// the same bytes read by the probe's four-stream reader (one parallel region per matrix,
// as the kernels have). Each round prints the best of 5 of each, in GB/s, and the
// kernels' fraction of the probe; the last line gives medians. A fraction well under
// 100% means the kernels do not draw the bandwidth the machine gives (it showed GCC -O2
// keeping their accumulators on the stack: ~67%; -O3: 96-100%).
// --bits 4|8: the same 49 matmuls quantized (group 128) in the plan's strip layout
// (backend/cpu/qmatmul.h; random words), the 48 layers in BITS and the head in 8 bits, as
// `lmforge quantize --method w4|w8` lays them out, through linear_q; the probe then reads
// the strips and their scales. --act int8 (with --bits): the same strips through
// linear_q_a8 (activations rounded to int8 per 32 inputs, integer dot products).
// --narrow: 16-column strips (the float kernel) even where the plan would lay 4-bit
// weights out wide for the bf16 kernel.
//
// --mmap FILE (float32 only): the same matrices also written to FILE (each at a 64-byte
// offset, as a safetensors file holds them) and memory-mapped read-only, as a loaded
// model's weights are; each round then also times the kernels on the mapped copy.
//
//   build/bench/decode_stream [-t THREADS] [--rounds R] [--bits 4|8 [--act int8]] [--mmap FILE]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"
#include "core/mapped_file.h"
#include "core/tensor.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Mat {
  float* p;
  int64_t K, N;
  bool nk;
};

// A quantized matrix in strips: q, s and zs in one allocation (the probe reads it whole).
struct QMat {
  float* p;
  size_t bytes;
  lmf::cpu::QWeight w;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, rounds = 8, bits = 0;
  bool act8 = false, narrow = false;
  const char* mmap_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-t") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--bits") && i + 1 < argc) {
      bits = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--act") && i + 1 < argc && !std::strcmp(argv[i + 1], "int8")) {
      act8 = true, ++i;
    } else if (!std::strcmp(argv[i], "--narrow")) {
      narrow = true;
    } else if (!std::strcmp(argv[i], "--mmap") && i + 1 < argc) {
      mmap_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [-t THREADS] [--rounds R] [--bits 4|8 [--act int8] [--narrow]] [--mmap FILE]\n", argv[0]);
      return 2;
    }
  }
  if (threads < 1 || rounds < 1 || (bits != 0 && bits != 4 && bits != 8) || (act8 && !bits) || (mmap_path && bits)) {
    std::fprintf(stderr, "decode_stream: -t and --rounds must be positive, --bits 4 or 8, --act int8 needs --bits, --mmap is float32 only\n");
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
  std::vector<Mat> mapped;
  std::shared_ptr<lmf::MappedFile> file;
  if (mmap_path) {
    std::FILE* f = std::fopen(mmap_path, "wb");
    if (!f) {
      std::fprintf(stderr, "decode_stream: --mmap %s: cannot write\n", mmap_path);
      return 2;
    }
    std::vector<size_t> offsets;
    size_t off = 64;  // a header, as safetensors files have
    const std::vector<char> pad(64, 0);
    std::fwrite(pad.data(), 1, 64, f);
    for (const Mat& m : ms) {
      offsets.push_back(off);
      const size_t b = static_cast<size_t>(m.K * m.N) * sizeof(float);
      std::fwrite(m.p, 1, b, f);
      off += b;
    }
    std::fclose(f);
    file = lmf::MappedFile::open(mmap_path);
    for (size_t i = 0; i < ms.size(); ++i)
      mapped.push_back({reinterpret_cast<float*>(const_cast<unsigned char*>(file->data() + offsets[i])), ms[i].K, ms[i].N,
                        ms[i].nk});
  }
  std::vector<QMat> qs;
  auto addq = [&](int64_t K, int64_t N, int b) {
    const int64_t G = 128, W = act8 || narrow ? lmf::cpu::kQStrip : lmf::cpu::q_strip_cols(b, G, true),
                  st = lmf::cpu::q_strips(N, W), words = st * K / (32 / b) * W, scales = st * K / G * W;
    const size_t bytes = static_cast<size_t>(words + 2 * scales) * 4;
    auto* p = static_cast<float*>(lmf::alloc_aligned(bytes));
    auto* q = reinterpret_cast<int32_t*>(p);
    for (int64_t i = 0; i < words; ++i) q[i] = static_cast<int32_t>(static_cast<uint32_t>(i) * 2654435761u);
    for (int64_t i = 0; i < 2 * scales; ++i) p[words + i] = 0.01f;
    qs.push_back({p, bytes, {q, p + words, p + words + scales, K, N, G, b, W}});
  };
  if (bits) {
    for (int l = 0; l < 12; ++l)
      addq(768, 2304, bits), addq(768, 768, bits), addq(768, 3072, bits), addq(3072, 768, bits);
    addq(768, 50257, 8);
  }
  double bytes = 0;
  for (const Mat& m : ms) bytes += static_cast<double>(m.K * m.N) * sizeof(float);
  if (bits) {
    bytes = 0;
    for (const QMat& m : qs) bytes += static_cast<double>(m.bytes);
  }
  std::vector<float> x(3072, 0.5f), y(50257), scratch(static_cast<size_t>(lmf::cpu::few_rows_kn_scratch(3072, 3072))),
      qscratch(static_cast<size_t>(std::max(lmf::cpu::linear_q_scratch(3072, 50257, 128, 1),
                                            lmf::cpu::linear_q_a8_scratch(3072, 50257, 128, 1))));
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
  std::printf("%d threads, %s%s, %.1f MiB of weights per step\n", threads,
              bits == 4 ? "w4 strips (head w8)" : bits == 8 ? "w8 strips" : "float32",
              act8 ? ", int8 activations per 32" : "", bytes / (1 << 20));
  std::vector<double> kern, probe, frac, kmap, fmap;
  auto float_step = [&](const std::vector<Mat>& mats) {
    for (const Mat& m : mats) {
      if (m.nk)
        lmf::cpu::linear_few_rows(x.data(), m.p, nullptr, y.data(), 1, m.K, m.N);
      else
        lmf::cpu::linear_few_rows_kn(x.data(), m.p, nullptr, y.data(), 1, m.K, m.N, scratch.data());
    }
  };
  for (int round = 0; round < rounds; ++round) {
    const double k = bits ? best_of([&] {
      for (const QMat& m : qs)
        (act8 ? lmf::cpu::linear_q_a8 : lmf::cpu::linear_q)(x.data(), m.w, nullptr, y.data(), 1, qscratch.data(), lmf::cpu::kDefaultKernels);
    }) : best_of([&] { float_step(ms); });
    const double km = mapped.empty() ? 0 : best_of([&] { float_step(mapped); });
    const double p = best_of([&] {
      float total = 0;
      auto read = [&](const float* p, int64_t n) {
#pragma omp parallel reduction(+ : total)
        {
          const int64_t per = n / omp_get_num_threads();
          total += lmf::cpu::sum_streams(p + omp_get_thread_num() * per, per);
        }
      };
      if (bits)
        for (const QMat& m : qs) read(m.p, static_cast<int64_t>(m.bytes / 4));
      else
        for (const Mat& m : ms) read(m.p, m.K * m.N);
      sink = sink + total;
    });
    kern.push_back(k), probe.push_back(p), frac.push_back(k / p);
    std::printf("round %d: kernels %.1f GB/s, probe %.1f GB/s, %.1f%%", round + 1, k, p, 100 * k / p);
    if (!mapped.empty()) kmap.push_back(km), fmap.push_back(km / p), std::printf("; mapped %.1f GB/s, %.1f%%", km, 100 * km / p);
    std::printf("\n");
  }
  std::printf("median: kernels %.1f GB/s, probe %.1f GB/s, %.1f%% of the probe", median(kern), median(probe),
              100 * median(frac));
  if (!mapped.empty()) std::printf("; mapped %.1f GB/s, %.1f%%", median(kmap), 100 * median(fmap));
  std::printf("\n");
  file.reset();
  if (mmap_path) std::remove(mmap_path);
  for (const Mat& m : ms) lmf::free_aligned(m.p);
  for (const QMat& m : qs) lmf::free_aligned(m.p);
  return 0;
}

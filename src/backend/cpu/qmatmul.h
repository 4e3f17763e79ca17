// lmforge CPU backend: matmul with group-wise quantized weights (4 or 8 bits; the
// format of core/quant.h) and float32 activations.
//
// The plan re-lays each quantized weight in strips of kQStrip = 16 output columns
// (q_tile): a strip holds, for all K/P packed rows, its 16 int32 words, then the strip
// after it, so decode reads every weight once as one sequential stream per thread; the
// scales s and the scaled zeros zs = z·s are float32 strips (K/G, 16) the same way, so
// an element is q·s - zs. Columns past N in the last strip are zero.
//  - Few rows (M <= kFewRows, decode): per strip and group, acc = Σ_k x[k]·q[k] over the
//    group's rows, then y += s·acc - zs·Σ_k x[k]; threads own whole strips, so the result
//    does not depend on the thread count.
//  - Many rows (prefill): blocks of strips are dequantized to float32 (K, 256) in the
//    scratch and multiplied by oneDNN's sgemm.
#pragma once

#include <cstdint>

namespace lmf::cpu {

constexpr int64_t kQStrip = 16;

struct QWeight {
  const int32_t* q = nullptr;  // (strips, K / P, 16)
  const float* s = nullptr;    // (strips, K / G, 16)
  const float* zs = nullptr;   // (strips, K / G, 16)
  int64_t K = 0, N = 0, group = 0;
  int bits = 4;
};

inline int64_t q_strips(int64_t N) { return (N + kQStrip - 1) / kQStrip; }

// GPTQ tensors (qweight (K/P, N) i32, scales (K/G, N) f16, qzeros (K/G, ceil(N/P)) i32)
// -> strips: q (strips, K/P, 16), s and zs (strips, K/G, 16).
void q_tile(const int32_t* qweight, const uint16_t* scales, const int32_t* qzeros, int64_t K, int64_t N, int bits,
            int64_t group, int32_t* q, float* s, float* zs);

// y (M, N) = x (M, K) · W + bias (bias may be null). scratch: linear_q_scratch floats.
void linear_q(const float* x, const QWeight& w, const float* bias, float* y, int64_t M, float* scratch);
int64_t linear_q_scratch(int64_t K, int64_t N, int64_t group, int64_t max_rows);

// Column v of W for each id (a tied embedding table stored as the head's weight): out (n, K).
void embedding_q(const QWeight& w, const int32_t* ids, int64_t n, float* out);

// W's columns [c0, c1) as float32 (K, c1 - c0) at out (row stride ldo); c0 a multiple of 16.
void q_dequantize_cols(const QWeight& w, int64_t c0, int64_t c1, float* out, int64_t ldo);

}  // namespace lmf::cpu

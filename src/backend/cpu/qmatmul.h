// lmforge CPU backend: matmul with group-wise quantized weights (4 or 8 bits; the
// format of core/quant.h) and float32 activations.
//
// The plan re-lays each quantized weight in strips of kQStrip = 16 output columns
// (q_tile): a strip holds, for all K/P packed rows, its 16 int32 words, then the strip
// after it, so decode reads every weight once as one sequential stream per thread; the
// scales s and the scaled zeros zs = z·s are float32 strips (K/G, 16) the same way, so
// an element is q·s - zs. Columns past N in the last strip are zero. On CPUs with
// AVX-512 BF16, 4-bit weights with float activations get wide strips of kQStripWide = 64
// columns instead (rows of 64 words; q_strip_cols), for the bf16 kernel (qgemv_bf16.cpp).
//  - Up to kQStripRows rows (decode, short prompts): per strip and group, acc =
//    Σ_k x[k]·q[k] over the group's rows, then y += s·acc - zs·Σ_k x[k], four rows of x
//    per pass over a strip (it stays in L1 for the next four); threads own whole strips,
//    so the result does not depend on the thread count.
//  - More rows (long prompts): blocks of strips are dequantized to float32 in the scratch,
//    into 64-column strips for gemm_strips (matmul.h) where the plan chose that layout
//    (QWeight::dequant_strips), else (K, 256) for oneDNN's sgemm.
#pragma once

#include <cstdint>

#include "backend/cpu/kernel_options.h"
#include "backend/cpu/strip_ranges.h"

namespace lmf::cpu {

constexpr int64_t kQStrip = 16;
constexpr int64_t kQStripWide = 64;
// Rows up to which linear_q runs the strip kernels rather than dequantize +
// sgemm: GPT-2 small w4 on 2 threads, prompts of 16 / 32 tokens ran 810 -> 1300 and
// 950-1170 -> 1400-1490 t/s, 64 about even, 128 better through sgemm.
constexpr int64_t kQStripRows = 64;
// Columns a prefill dequantizes at a time into 64-column strips (QWeight::dequant_strips):
// a multiple of kStripCols.
constexpr int64_t kDequantStripCols = 512;
// Decode kernels prefetch their strip stream this many 64-byte rows ahead (8 KiB): one
// sequential stream per thread does not draw the bandwidth four do, and the hardware
// prefetchers alone ran too close (bench/decode_stream --bits 4, one thread: 26-29 -> 38-40
// GB/s; 64 rows ahead 34, 256 or 512 no better than 128).
constexpr int64_t kQPrefetchRows = 128;

struct QWeight {
  const int32_t* q = nullptr;  // (strips, K / P, strip)
  const float* s = nullptr;    // (strips, K / G, strip)
  const float* zs = nullptr;   // (strips, K / G, strip)
  int64_t K = 0, N = 0, group = 0;
  int bits = 4;
  int64_t strip = kQStrip;  // columns per strip: kQStrip, or kQStripWide (4-bit, bf16 kernel)
  // Prefill (past kQStripRows rows) dequantizes into 64-column float strips for
  // gemm_strips, not (K, cols) for sgemm: set at plan time where Backend::strips_fast(K,
  // kDequantStripCols) (AVX-512 CPUs).
  bool dequant_strips = false;
};

inline int64_t q_strips(int64_t N, int64_t strip = kQStrip) { return (N + strip - 1) / strip; }

// The quantized kernels' split (strip_ranges.h): parallel from 8 strips, kParallelMinColumns
// of kQStrip columns, whatever the strip width.
template <class F>
void for_strip_ranges(int64_t strips, F&& f) {
  for_strip_ranges(strips, kParallelMinColumns / kQStrip, f);
}

// The bits of the strips for weights of `bits` bits: 3-bit weights are held as 4-bit
// strips (the kernels unpack 4 or 8 bits; the file keeps 3).
inline int strip_bits(int bits) { return bits == 3 ? 4 : bits; }
// GPTQ tensors (qweight (K*bits/32, N) i32, scales (K/G, N) f16 or f32 (scales_f32),
// qzeros (K/G, ceil(N*bits/32)) i32) -> strips of strip_bits(bits): q (strips, K/P, W)
// with P = 32 / strip_bits(bits), s and zs (strips, K/G, W), W = `strip` columns.
void q_tile(const int32_t* qweight, const void* scales, bool scales_f32, const int32_t* qzeros, int64_t K, int64_t N,
            int bits, int64_t group, int32_t* q, float* s, float* zs, int64_t strip = kQStrip);
// The strip width the plan gives a weight of `bits` bits and group `group`: kQStripWide
// for 4-bit strips, float activations and groups of 16k on CPUs with AVX-512 BF16 (unless
// !ko.bf16) where the pair kernel does not take them (q_pair_takes: with VNNI or AVX2,
// groups of 32k take 16-column strips), else kQStrip.
int64_t q_strip_cols(int bits, int64_t group, bool float_act, const KernelOptions& ko = kDefaultKernels);
// Whether one row of wide strips goes to the bf16 kernel: ko.bf16 and AVX-512 BF16.
bool q_bf16_cpu(const KernelOptions& ko = kDefaultKernels);

// int8-dynamic (8-bit per-channel weights, zero 128, activations quantized per row at run
// time): strips of signed bytes q (strips, K/4, 16) (4 consecutive k per int32, as
// vpdpbusd reads them), s (strips, 1, 16) the weight scales, colsum (strips, 1, 16) i32
// the columns' sums of signed weights.
struct QWeightI8 {
  const int32_t* q = nullptr;
  const float* s = nullptr;
  const int32_t* colsum = nullptr;
  int64_t K = 0, N = 0;
};
void q_tile_i8(const int32_t* qweight, const void* scales, bool scales_f32, int64_t K, int64_t N, int32_t* q,
               float* s, int32_t* colsum);
// y (M, N) = x · W + bias with each row of x quantized to int8 (quantize_int8_sym) and
// exact integer dot products (qgemv_i8.cpp: AVX-512 VNNI vpdpbusd on Highway's AVX3_DL
// target and on AVX3 where the CPU has VNNI, vpmaddubsw on other x86 targets, pairwise
// 16-bit products on the others, scalar code with ko.i8_isa kPortable:
// the same result on every CPU and path).
// scratch: linear_q_i8_scratch floats.
void linear_q_i8(const float* x, const QWeightI8& w, const float* bias, float* y, int64_t M, float* scratch,
                 const KernelOptions& ko = kDefaultKernels);
int64_t linear_q_i8_scratch(int64_t K, int64_t max_rows);
// The integer code linear_q_i8, linear_q_a8 and linear_q_pair use: the best the Highway
// target in use has on this CPU (kDot on AVX3_DL, and on AVX3 with AVX512_VNNI; kWiden
// elsewhere), at most ko.i8_isa (tests run each
// path, on each target).
QI8Isa q_i8_isa(const KernelOptions& ko = kDefaultKernels);
// The Highway targets (HWY_AVX3_DL, HWY_AVX3, ...) compiled into the quantized kernels
// (qgemv_a8.cpp, qgemv_i8.cpp, qgemv_bf16.cpp: AVX3_DL too, unlike kernels.h's set).
int64_t q_simd_targets();

// q[k] = x[k] / s rounded to nearest (even) and clamped to [-127, 127], s = max|x|/127
// (all zero when x is); returns s. The activation rounding of linear_q_i8, linear_q_a8
// (per block of kActBlock), the pair kernel and the int8 KV cache: one rule (qdot-inl.h's
// RoundSym), the same bytes on every Highway target.
float quantize_int8_sym(const float* x, int64_t n, int8_t* q);

// Group-wise strips (QWeight, 4 or 8 bits) with activations rounded to int8 per block of
// kActBlock inputs at run time (config act "int8_block32"; llama.cpp's Q8_0 blocks):
// x̂ = sx_b · round(x / sx_b) with sx_b = max|x_b|/127 per row and block, and
// y = x̂ · W + bias. With the integer code (q_i8_isa not kPortable; any number of rows):
// integer dot products per block, y += s · Σ_b sx_b · dot_b - zs · Σ_k x̂_k per group;
// otherwise x̂ in float through linear_q (the same x̂ · W to float rounding). Needs
// q_a8_supported(K, group, bits). scratch: linear_q_a8_scratch floats. Returns false
// where the float path's sgemm failed (linear_q).
constexpr int64_t kActBlock = 32;
bool q_a8_supported(int64_t K, int64_t group, int bits);
bool linear_q_a8(const float* x, const QWeight& w, const float* bias, float* y, int64_t M, float* scratch,
                 const KernelOptions& ko = kDefaultKernels);
int64_t linear_q_a8_scratch(int64_t K, int64_t N, int64_t group, int64_t max_rows, const KernelOptions& ko = kDefaultKernels);

// The pair kernel (16-column strips, one row, float activations, q_a8_supported shapes;
// 4 bits with the integer code, 8 bits with kWiden, i.e. without VNNI): linear_q's decode on
// such CPUs, x held as 16-bit fixed point per block of 32 inputs (x̃ within max|x_b| / 64516 of
// x, about 1.6e-5 of the block's largest value) and integer dot products:
//  - 4 bits: x̃ = sx (hi + lo / 254), sx = max|x_b| / 127, two int8 parts through
//    linear_q_a8's strips (vpdpbusd with VNNI, pairwise 16-bit products elsewhere) as two
//    rows of x, whose results add up to x̃ · W;
//  - 8 bits: x̃ = sx · x16, sx = max|x_b| / 32767, int16, pairwise products (vpmaddwd on
//    x86) of the weight bytes widened to 16 bits.
// The float kernels spend a shift or widening, a conversion and a multiply-add per 8 or 16
// values. One core, 768 x 768 in L2: Zen 1 4 bits 3.2 -> 5.7 GB/s of strips, 8 bits 5.1 ->
// 9.9; an Intel Xeon with AMX (Sapphire Rapids class, AVX-512) 4 bits 16.7 -> 29.4. There
// 8 bits stay on the float kernel: it keeps up with memory (28 GB/s per core in L2), and
// the two-part int8 form (2.2x in L2) read a 38 MB head ~10% slower from L3 and memory.
// q_pair_takes(K, group, bits): whether linear_q sends such a row to the pair kernel.
// Off with !ko.i8_pair.
bool q_pair_cpu(const KernelOptions& ko = kDefaultKernels);
bool q_pair_takes(int64_t K, int64_t group, int bits, const KernelOptions& ko = kDefaultKernels);
int64_t linear_q_pair_scratch(int64_t K, int64_t group);
void linear_q_pair(const float* x, const QWeight& w, const float* bias, float* y, float* scratch, const KernelOptions& ko = kDefaultKernels);

// y (M, N) = x (M, K) · W + bias (bias may be null). scratch: linear_q_scratch floats.
// Returns false where oneDNN's sgemm failed (y undefined), true otherwise; never throws.
// On wide strips one row (decode) computes with x held as two bf16 parts (16 significant
// bits: |x̃ - x| <= 2^-16 |x|) and bf16 dot products (qgemv_bf16.cpp); on 16-column strips
// where q_pair_cpu(), one row goes through linear_q_pair; elsewhere x stays float32. Past
// kQStripRows rows (prefill) W is dequantized a chunk of columns at a time, into 64-column
// strips for gemm_strips where w.dequant_strips (matmul.h), else (K, cols) for sgemm.
bool linear_q(const float* x, const QWeight& w, const float* bias, float* y, int64_t M, float* scratch,
              const KernelOptions& ko = kDefaultKernels);
int64_t linear_q_scratch(int64_t K, int64_t N, int64_t group, int64_t max_rows, const KernelOptions& ko = kDefaultKernels);

// The bf16 kernel (qgemv_bf16.cpp), one row, wide strips: x (K) -> parts (K) bf16 pairs
// and xsum (K / G); then y = parts · wide strips [s0, s1) + bias.
void q_bf16_split(const float* x, int64_t K, int64_t G, uint32_t* parts, float* xsum);
void q_bf16_strips(const uint32_t* parts, const QWeight& w, const float* xsum, const float* bias, float* y, int64_t s0,
                   int64_t s1);

// Column v of W for each id (a tied embedding table stored as the head's weight): out (n, K).
void embedding_q(const QWeight& w, const int32_t* ids, int64_t n, float* out);

// W's columns [c0, c1) as float32 (K, c1 - c0) at out (row stride ldo); c0 a multiple of
// the strip width.
void q_dequantize_cols(const QWeight& w, int64_t c0, int64_t c1, float* out, int64_t ldo);

}  // namespace lmf::cpu

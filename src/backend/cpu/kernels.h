// lmforge CPU backend: float32 kernels for the transformer decode and prefill loops.
//
// Plain functions on raw pointers, called by the runtime once shapes are checked at the
// op's front door. They never throw, allocate or log. SIMD goes through Highway's
// run-time dispatch (kernels.cpp, kernels_attention.cpp compile one copy per target:
// AVX-512, AVX2, SSE4, SSSE3, portable EMU128 on x86) so one binary uses the best
// instructions the CPU has. Row-wise and elementwise kernels split large work over the
// OpenMP threads of the current team in fixed blocks, one thread per row or block, so
// the result is bit-identical whatever the thread count. attention_head and argmax are
// single-threaded: the caller parallelizes over batch and heads. Results may differ in
// the last bits between SIMD targets (different lane counts give different summation
// orders), never between runs or thread counts on one machine.
#pragma once

#include <cstdint>
#include <vector>

namespace lmf::cpu {

// x, y: (rows, cols). y = (x - mean) / sqrt(var + eps) * g + b per row (biased variance).
// g, b: (cols). y may alias x.
void layer_norm(const float* x, const float* g, const float* b, float* y, int64_t rows,
                int64_t cols, float eps);

// x, y: (rows, cols); g: (cols). y = x / sqrt(mean(x^2) + eps) * g per row. y may alias x.
void rms_norm(const float* x, const float* g, float* y, int64_t rows, int64_t cols, float eps);

// y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (GPT-2's gelu_new). y may alias x.
// Computed as x / (1 + exp(-2u)), the same function without the cancellation of 1 + tanh
// for negative x.
void gelu_tanh(const float* x, float* y, int64_t n);

// y = silu(gate) * up = gate / (1 + exp(-gate)) * up. y may alias gate or up.
void silu_mul(const float* gate, const float* up, float* y, int64_t n);

// y = a + b elementwise. y may alias a or b.
void add(const float* a, const float* b, float* y, int64_t n);

// y: (rows, cols); bias: (cols). y[r, c] += bias[c].
void add_bias(float* y, const float* bias, int64_t rows, int64_t cols);

// In-place numerically stable softmax over each row of x: (rows, cols). A row whose
// largest element is -inf or +inf, or that holds a NaN, gives NaNs.
void softmax(float* x, int64_t rows, int64_t cols);

// RoPE's frequencies: pair i of a head turns by position * inv_freq[i] (D/2 values), and
// cos and sin are multiplied by `scale` (1, or the attention factor of yarn, which Hugging
// Face applies to its cos and sin tables). Plain RoPE: rope_inv_freq(theta, D); the
// rope_scaling variants (models/rope.h) compute their own.
struct RopeFreqs {
  const double* inv_freq = nullptr;
  double scale = 1.0;
};
// theta^(-2i/D) for i in [0, D/2), in double.
std::vector<double> rope_inv_freq(float theta, int64_t D);

// RoPE in Hugging Face's rotate-half convention, in place. D even.
// x: T tokens, token t starts at x + t*tok_stride and holds nheads heads of D floats each
// (contiguous). For pair i in [0, D/2): angle = positions[t] * inv_freq[i];
// x1 = x[i], x2 = x[i + D/2]; x[i] = (x1*cos - x2*sin) * scale; x[i + D/2] = (x2*cos + x1*sin) * scale.
// The angle and its cos/sin are computed in double, then rounded to float (Hugging Face
// computes the angle in float32, which differs by up to ~position * 6e-8 radians).
void rope(float* x, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D,
          const int32_t* positions, const RopeFreqs& freqs);
// The same with rope_inv_freq(theta, D), scale 1.
void rope(float* x, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D,
          const int32_t* positions, float theta);
// rope()'s cos and sin for T tokens, computed once for every rope of a step that shares
// positions and frequencies (q and k of every layer): table row t (D floats) holds the
// cos of pairs [0, D/2) at positions[t], then their sin (both times the scale),
// bit-identical to rope()'s.
void rope_table(const int32_t* positions, int64_t T, int64_t D, const RopeFreqs& freqs, float* table);
void rope_table(const int32_t* positions, int64_t T, int64_t D, float theta, float* table);
// rope() of x into y (the same layout; y may be x) with the angles from such a table (T rows of D).
void rope_with_table(const float* x, float* y, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D,
                     const float* table);

// Fused causal attention for ONE sequence and ONE query head (the caller parallelizes
// over batch and heads). q: T query rows of D floats, row t at q + t*q_stride.
// k, v: (pos0 + T, D) contiguous, the cached keys/values of the matching kv head.
// Query t sits at position pos0 + t and attends to rows 0..pos0+t inclusive.
// out row t at out + t*out_stride = sum_s softmax_s(scale * q_t . k_s) v_s.
// scratch: at least attention_head_scratch(pos0 + T, D) floats, caller-owned. out may
// be q itself (same base and stride: row t of q is read completely before row t of out
// is written); out must not overlap k, v or scratch.
void attention_head(const float* q, int64_t q_stride, const float* k, const float* v,
                    float* out, int64_t out_stride, int64_t T, int64_t D, int64_t pos0,
                    float scale, float* scratch);
// Prompts of T >= kAttentionBlockMin rows are done a vector of rows at a time (the scores
// as vectors over rows: no horizontal sums), which needs (D + n) x the widest vector's
// lanes of scratch; fewer rows, one row at a time, n floats.
constexpr int64_t kAttentionBlockMin = 4;
int64_t attention_head_scratch(int64_t n, int64_t D);

// The same over an int8 cache: k and v rows (pos0 + T, D) int8 with one scale per row
// (ks, vs: (pos0 + T)); row s stands for ks[s] * k[s] (vs[s] * v[s]). out must not be q.
void attention_head_i8(const float* q, int64_t q_stride, const int8_t* k, const float* ks, const int8_t* v,
                       const float* vs, float* out, int64_t out_stride, int64_t T, int64_t D, int64_t pos0, float scale,
                       float* scratch);

// out[i] = exp(x[i]) for x[i] <= 0, the exp the prompt attention's softmax uses (within a
// few float ulps of std::exp; 0 below -87.7, where a float's normal range ends; -inf
// gives 0, NaN gives NaN; x > 0 is outside its contract). out may be x.
void exp_nonpositive(const float* x, float* out, int64_t n);

// Index of the largest element of x: (n), the first on ties. NaNs are skipped; returns 0
// when every element is NaN and -1 when n <= 0.
int64_t argmax(const float* x, int64_t n);

// Highway target bits (HWY_AVX3, HWY_AVX2, ...) compiled into these kernels. Which one
// runs is the best of them that hwy::SupportedTargets() reports.
int64_t kernel_simd_targets();

}  // namespace lmf::cpu

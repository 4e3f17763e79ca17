// lmforge core: group-wise integer quantization of a weight matrix, in the tensor
// layout of GPTQ checkpoints (AutoGPTQ / Hugging Face "gptq", checkpoint format v2).
//
// A linear weight with K inputs and N outputs, seen as W (K, N), is cut along K into
// groups of G rows (G = K: one group, i.e. per output channel). Each (group, column)
// has a scale s and an integer zero z; an element is stored as the unsigned integer
//   q = clamp(round(w / s) + z, 0, 2^bits - 1)   and read back as   (q - z) * s.
// Parameters are chosen as GPTQ's quantizer does: symmetric: s = 2·max|w| / (2^bits - 1),
// z = 2^(bits-1); asymmetric: the range [min(w, 0), max(w, 0)] in 2^bits - 1 steps,
// z = round(-min / s). s is stored as float16, rounded up (so the range still fits in
// the steps: GPTQ rounds to nearest), and q is computed with the stored value, so
// |w - (q - z)·s| <= s/2 for every element (the bound the tests check).
// Tensors (names are the module's, e.g. "model.layers.0.mlp.up_proj"):
//   qweight I32 (K·bits/32, N)      each column's K values as one little-endian bit
//                                   stream: value k at bits [k·bits, (k+1)·bits) of the
//                                   column's words (P = 32/bits per int32 at 4 and 8 bits;
//                                   at 3 bits, 32 values in 3 words, some across two)
//   scales  F16 (K / G, N)           (F32 for PyTorch-compatible int8, below)
//   qzeros  I32 (K / G, ceil(N·bits/32)) the zeros as a bit stream along N (v2: true
//                                   zeros; GPTQ v1 files store z - 1)
// bits is 3, 4 or 8.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace lmf::quant {

struct Spec {
  int bits = 4;
  int64_t group = 128;  // rows of W (K, N) per group; K means per output channel
  bool sym = true;
};

// Rows of qweight for K inputs, words of a qzeros row for N outputs.
inline int64_t packed_rows(int64_t K, int bits) { return K * bits / 32; }
inline int64_t packed_cols(int64_t N, int bits) { return (N * bits + 31) / 32; }
// Value `index` of a bit stream of `bits`-bit values in the words base[0], base[stride], ...
uint32_t read_packed(const int32_t* base, int64_t stride, int64_t index, int bits);
void write_packed(int32_t* base, int64_t stride, int64_t index, int bits, uint32_t value);

struct Packed {
  Tensor qweight, scales, qzeros;
};

// Checks that `spec` can quantize a (K, N) weight: bits 3, 4 or 8, G > 0 dividing K, and
// G·bits a multiple of 32 (groups start on a word). Throws kInvalidArgument naming `what` (e.g. the tensor) otherwise.
void check_spec(const Spec& spec, int64_t K, int64_t N, const std::string& what);

// The group size a (K, N) weight gets when `requested` is asked for (<= 0: per output
// channel, i.e. K; above K: K): the largest G <= requested that divides K, starts groups on
// a word at `bits` bits and is a multiple of `multiple`; 0 when none does (then not even
// K does: K·bits is not a multiple of 32, or K not a multiple of `multiple`).
int64_t fit_group(int64_t requested, int64_t K, int bits, int64_t multiple = 1);

// Scale (rounded to float16, returned as float) and zero for the values w[0..n) at
// stride `stride` (one group of one column).
void choose_params(const float* w, int64_t n, int64_t stride, const Spec& spec, float* scale, int32_t* zero);
inline int32_t quantize_value(float w, float scale, int32_t zero, int bits) {
  const float maxq = static_cast<float>((1 << bits) - 1);
  float q = scale > 0 ? __builtin_nearbyintf(w / scale) + static_cast<float>(zero) : static_cast<float>(zero);
  q = q < 0 ? 0 : (q > maxq ? maxq : q);
  return static_cast<int32_t>(q);
}

// An empty Packed for (K, N) under spec (qweight, scales, qzeros allocated, zeroed).
Packed make_packed(int64_t K, int64_t N, const Spec& spec);
// Stores q (0..2^bits-1) for element (k, n), or the zero of (group, n).
void set_q(Packed& p, int bits, int64_t k, int64_t n, int32_t q);
void set_zero(Packed& p, int bits, int64_t group, int64_t n, int32_t z);
void set_scale(Packed& p, int64_t group, int64_t n, float s);
int32_t get_q(const Packed& p, int bits, int64_t k, int64_t n);
int32_t get_zero(const Packed& p, int bits, int64_t group, int64_t n);
float get_scale(const Packed& p, int64_t group, int64_t n);

// PyTorch's per-channel symmetric int8 (quantize_dynamic with per_channel_dynamic_qconfig):
// one group per column, s = max|w| / 127.5 in float32 (stored F32, not rounded),
// q = clamp(round(w · (1/s)), -128, 127) stored as q + 128 (zero 128), as GPTQ 8-bit.
Packed quantize_per_channel_int8(const float* w_kn, int64_t K, int64_t N);

// Round-to-nearest quantization of W (K, N) (row-major float32).
Packed quantize_rtn(const float* w_kn, int64_t K, int64_t N, const Spec& spec);
// The bits and group size a Packed of K inputs holds (from its tensors' shapes).
Spec spec_of(const Packed& p, int64_t K, bool sym);
// W (K, N) float32 = (q - z) * s.
Tensor dequantize(const Packed& p, int64_t K, int bits);

}  // namespace lmf::quant

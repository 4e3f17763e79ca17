// lmforge CPU backend: float32 kernels for training: the backward of each forward
// kernel in kernels.h, causal attention over whole sequences (no KV cache) with its
// backward, the fused losses (cross-entropy and distillation over the vocabulary, never
// materializing probabilities twice) and the AdamW update.
//
// Plain functions on raw, contiguous, row-major pointers, like kernels.h: they never
// throw, allocate or log (scratch comes from the caller where needed). Every output is
// written, not accumulated into, unless its comment says "+=". Results are
// bit-identical whatever the OpenMP thread count: reductions over rows (the parameter
// gradients of the norms, the embedding's scatter, loss sums) run in a fixed order.
// Shapes in comments: R rows (tokens of a batch, B sequences of T tokens), C columns
// (model dim), V vocabulary, H heads, Hkv kv heads, D head dim.
#pragma once

#include <cstdint>

#include "backend/cpu/kernels.h"

namespace lmf::cpu {

// ---- norms and activations ---------------------------------------------------------

// Backward of layer_norm: x (R, C), g (C), dy (R, C) -> dx (R, C), dg (C), db (C).
// xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps) (biased variance):
//   dx = rstd * (dy*g - mean_c(dy*g) - xhat * mean_c(dy*g*xhat))
//   dg = sum_r dy * xhat,  db = sum_r dy.
// dg or db may be null (not wanted). dx may alias dy.
void layer_norm_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, float* db,
                         int64_t rows, int64_t cols, float eps);

// Backward of rms_norm: x (R, C), g (C), dy (R, C) -> dx (R, C), dg (C).
// rstd = 1 / sqrt(mean_c(x^2) + eps):  dx = rstd * (dy*g - x * rstd^2 * mean_c(dy*g*x)),
// dg = sum_r dy * x * rstd. dg may be null. dx may alias dy.
void rms_norm_backward(const float* x, const float* g, const float* dy, float* dx, float* dg, int64_t rows,
                       int64_t cols, float eps);

// Backward of gelu_tanh (GPT-2's gelu_new): dx = dy * d/dx gelu_tanh(x). dx may alias dy.
// Below x = -10.4 (where |gelu'| < 1e-32) dx is 0.
void gelu_tanh_backward(const float* x, const float* dy, float* dx, int64_t n);

// Backward of silu_mul (y = silu(gate) * up): dgate = dy * up * silu'(gate),
// dup = dy * silu(gate). Outputs may alias dy. Below gate = -80 (where silu and silu' are
// under 1e-32) both are 0.
void silu_mul_backward(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t n);

// Backward of rope (same arguments as rope() in kernels.h): rotates each pair by the
// negative angle (times the same scale), in place: rope's transpose (a rotation's is its
// inverse; the scale is symmetric).
void rope_backward(float* dx, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D, const int32_t* positions,
                   float theta);
void rope_backward(float* dx, int64_t T, int64_t tok_stride, int64_t nheads, int64_t D, const int32_t* positions,
                   const RopeFreqs& freqs);

// Backward of the embedding lookup: dtable (V, C) = 0, then for every token i in order
// dtable[ids[i]] += dy[i] (dy (N, C)). Ids are in [0, V).
void embedding_backward(const int32_t* ids, const float* dy, float* dtable, int64_t n, int64_t V, int64_t C);

// ---- causal attention over whole sequences ------------------------------------------

// B sequences of T tokens, rows ordered (b, t). q (B*T, H*D), k and v (B*T, Hkv*D);
// query head h uses kv head h / (H / Hkv). Token t attends to tokens 0..t of its own
// sequence: out (B*T, H*D) = softmax(scale * q k^T) v per (b, h). lse (B, H, T) gets each
// row's log-sum-exp of the scaled scores, for the backward. scratch: at least
// threads * T floats (threads = omp_get_max_threads()). Parallel over (b, h); not to be
// called from inside a parallel region (the scratch row is picked by thread number).
void attention_causal_forward(const float* q, const float* k, const float* v, float* out, float* lse, int64_t B,
                              int64_t T, int64_t H, int64_t Hkv, int64_t D, float scale, float* scratch);

// Its backward, from the forward's inputs, out and lse, and dout (B*T, H*D):
// dq (B*T, H*D), dk and dv (B*T, Hkv*D) (kv heads shared by several query heads get the
// sum over those heads, in head order: parallel over (b, kv head)). scratch:
// attention_causal_backward_scratch() floats (2 T per thread). Same caveat as the forward.
void attention_causal_backward(const float* q, const float* k, const float* v, const float* out, const float* lse,
                               const float* dout, float* dq, float* dk, float* dv, int64_t B, int64_t T, int64_t H,
                               int64_t Hkv, int64_t D, float scale, float* scratch);
// Floats of scratch attention_causal_backward needs for `threads` threads.
int64_t attention_causal_backward_scratch(int64_t B, int64_t T, int64_t H, int64_t Hkv, int64_t D, int threads);

// ---- losses ---------------------------------------------------------------------------

// log(sum_i exp(x_i)) of one row x (V >= 1, finite): the max, then the exponentials of
// x - max summed in float vectors flushed into a double, the log taken in double. The same
// two passes as cross_entropy's, so a perplexity from log_sum_exp(row) - row[target] and
// a validation loss from cross_entropy agree on the same rows.
double log_sum_exp(const float* x, int64_t V);

// KL(p || q) of one pair of logit rows p, q (V >= 1, finite), with p = softmax(p_logits),
// q = softmax(q_logits): sum_i p_i (log p_i - log q_i), in double over log_sum_exp's
// normalizers, clamped at 0 (rounding may make an identical pair slightly negative). The
// KL that compare reports; distill_loss's soft term at T = 1 is the same quantity (its
// test checks they agree). Also sets *argmax_p and *argmax_q (first index of the max) when
// not null.
double kl_divergence(const float* p_logits, const float* q_logits, int64_t V, int64_t* argmax_p = nullptr,
                     int64_t* argmax_q = nullptr);

// Mean cross-entropy of logits (R, V) against targets (R); a target < 0 (e.g. -100)
// marks a row that is not scored. Returns the mean over scored rows (0 when none) and
// writes dlogits (R, V) = scale * (softmax(logits) - onehot(target)) / scored for
// scored rows, 0 for the others. dlogits may alias logits. Per row, one pass finds the
// max, one sums the exponentials, one writes the gradient (the row stays in cache).
// Logits must be finite.
double cross_entropy(const float* logits, const int32_t* targets, float* dlogits, int64_t rows, int64_t V,
                     float scale);

// Distillation loss (Hinton et al. 2015) of student logits s (R, V) against teacher logits
// t (R, V) at temperature T, mixed with the hard-label cross-entropy:
//   loss = alpha * T^2 * soft + (1 - alpha) * hard
//   soft = (1/R) sum_r KL(p_t || p_s)  with p = softmax(logits / T)  ("batchmean" over
//          all R rows, as torch.nn.KLDivLoss(reduction="batchmean") on (R, V) inputs);
//          with reverse = true, KL(p_s || p_t) instead;
//   hard = cross_entropy(s, targets) as above (mean over scored rows; rows with a
//          negative target still count in soft).
// Returns the loss and writes ds (R, V) = d loss / d s (times scale). ds may alias s.
// temperature > 0; logits must be finite.
double distill_loss(const float* s, const float* t, const int32_t* targets, float* ds, int64_t rows, int64_t V,
                    float temperature, float alpha, bool reverse, float scale);

// ---- optimizer ------------------------------------------------------------------------

// Sum of squares of x (n), in double, in a fixed order (for gradient-norm clipping).
double sum_squares(const float* x, int64_t n);

// One AdamW step on w (n) with gradient g, moments m and v, exactly as torch.optim.AdamW
// (PyTorch 1.13, foreach=False, amsgrad=False, maximize=False) computes it in float32,
// bit for bit (its CPU kernels fuse the multiply-adds marked fma):
//   w = w * (1 - lr * weight_decay)
//   m = fma(g, 1 - beta1, m * beta1)       (torch's m.mul_(beta1).add_(g, alpha=1 - beta1))
//   v = fma(g * (1 - beta2), g, v * beta2) (torch's v.mul_(beta2).addcmul_(g, g, 1 - beta2))
//   w = w + (-(lr / (1 - beta1^step)) * m) / (sqrt(v) / sqrt(1 - beta2^step) + eps)
// The scalar coefficients are computed in double from the float arguments and rounded
// to float, as Python computes them from its floats (so torch given the same, float-
// representable, hyperparameters gives the same bits). step counts from 1. g is
// multiplied by grad_scale first (clipping, accumulation).
void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t step, float grad_scale);

}  // namespace lmf::cpu

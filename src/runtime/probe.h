// lmforge runtime: machine probes that give benchmark figures their yardstick:
// the memory read bandwidth (bounds decode speed: every weight is read once per
// token) and the float32 matmul peak (bounds prefill speed).
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace lmf {

// Bytes per second read from a buffer much larger than the caches, `threads` threads.
double measure_read_bandwidth(int threads, double seconds = 0.5, bool huge_pages = false);
// Float32 matmul FLOP/s of the dense-matmul library at a large square shape.
double measure_sgemm_flops(int threads, double seconds = 0.5);

// The CPU for benchmark stamps: /proc/cpuinfo's model name, family and model, the number
// of logical CPUs, and the SIMD target Highway dispatches to (e.g. "AMD EPYC (family 26,
// model 2), 2 CPUs, AVX3_ZEN4"); "unknown" parts where Linux does not say.
std::string cpu_description();

// Bytes of weights a decode step reads (every weight consumed by an op other than an
// embedding lookup, each once).
int64_t weight_bytes_per_token(const Graph& g);
// Bytes per second read from the weights themselves, where they live (the tensors
// weight_bytes_per_token counts, in node order, one parallel region per tensor as the
// kernels have; best of `sweeps` sweeps): the same memory a decode step reads, whatever
// its placement, next to measure_read_bandwidth's fresh buffer.
double measure_weight_read_bandwidth(const Graph& g, int threads, int sweeps = 5);
// Matmul FLOPs of a forward pass over a prompt of `tokens` tokens (from position 0) with
// `logit_rows` head rows: the linear layers' 2 K N per row, and attention's scores and
// weighted values, 4 head_dim per causal (query, key) pair and query head. The rows are
// the graph's: `tokens` for a linear on N rows, `logit_rows` for one on M rows (the head,
// and the last layer's after its attention: models/model.h skip_to_logit_rows). With
// `every_row`, every linear but the head counts `tokens` rows: the pass of an engine that
// runs each layer on every prompt row, the count `lmforge bench` measures peers with.
double forward_flops(const Graph& g, int64_t tokens, int64_t logit_rows, bool every_row = false);

}  // namespace lmf

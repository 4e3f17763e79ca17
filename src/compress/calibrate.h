// lmforge compress: calibration data and statistics of the linear layers' inputs, for the
// methods that look at activations (GPTQ's Hessians, SmoothQuant's channel maxima).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "models/model.h"

namespace lmf::compress {

// `samples` windows of `seq` tokens at evenly spaced offsets of the train split of the
// prepared data `dir` (errors name --calib, --calib-samples, --calib-seq).
std::vector<std::vector<int32_t>> calibration_samples(const std::string& dir, int64_t samples, int64_t seq,
                                                      int64_t vocab);
// The same for model m, with seq 0 meaning min(512, m's context); a seq beyond the
// context is an error naming --calib-seq.
std::vector<std::vector<int32_t>> calibration_samples(const Model& m, const std::string& dir, int64_t samples,
                                                      int64_t seq);

// Runs the float model over the samples (one sequence per step, every row's logits, so
// the head sees every token) and calls f once per step for each distinct input of the
// graph's linear nodes (q, k and v share theirs) with that input x (rows, K).
using InputFn = std::function<void(int value, const float* x, int64_t rows, int64_t K)>;
void observe_linear_inputs(const Model& m, const std::vector<std::vector<int32_t>>& samples, int threads,
                           const InputFn& f);

// max over calibration tokens of |x_j| for each linear input (keyed by value id).
std::map<int, std::vector<float>> collect_absmax(const Model& m, const std::vector<std::vector<int32_t>>& samples,
                                                 int threads);

}  // namespace lmf::compress

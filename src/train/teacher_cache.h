// lmforge train: a teacher's top-k logits cached on disk, so that a distillation runs the
// teacher once for any number of student epochs.
//
// The cache holds, for every window of `seq` tokens at multiples of seq in the train
// split (the windows a run with TrainConfig::aligned_windows draws), the teacher's k
// largest logits at each position and their token ids: a safetensors file with
//   ids     I32 (windows * seq, k)   largest first
//   logits  F32 (windows * seq, k)
// and metadata naming the teacher, the data, seq and k, checked when the file is opened
// again. At train time each position's teacher distribution is the softmax over its k
// cached logits (the rest of the vocabulary gets -1e9, i.e. probability 0): with
// k = vocabulary it is the teacher's exact distribution. Written to a temporary name and
// renamed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "formats/safetensors.h"

namespace lmf {

class TeacherCache {
 public:
  // The teacher's logits (rows, V) for `rows / seq` windows of tokens, in order.
  using LogitsFn = std::function<const float*(std::span<const int32_t> tokens)>;
  // Runs `teacher` over every aligned window of `train`, `batch` windows per call, and
  // writes the cache to `path`; `meta` (strings) is stored and must match on open().
  // `progress` (may be null) gets windows done and the total.
  static void build(const std::string& path, const std::vector<int32_t>& train, int64_t seq, int64_t k, int64_t vocab,
                    double temperature, int64_t batch, const LogitsFn& teacher,
                    const std::map<std::string, std::string>& meta,
                    const std::function<void(int64_t, int64_t)>& progress = nullptr);
  // Opens a cache; throws kInvalidArgument naming the file and the first metadata field
  // that differs from `meta` (another teacher, data, seq or k).
  static TeacherCache open(const std::string& path, const std::map<std::string, std::string>& meta);

  int64_t k() const { return k_; }
  int64_t windows() const { return windows_; }
  // out (starts.size() * seq, V): the cached top-k logits of each position of the windows
  // starting at `starts` (multiples of seq), the position's tail logit elsewhere.
  void fill(std::span<const int64_t> starts, int64_t V, float* out) const;

 private:
  std::shared_ptr<SafetensorsFile> file_;
  Tensor ids_, logits_, tail_;
  int64_t seq_ = 0, k_ = 0, windows_ = 0;
  std::string path_;
};

}  // namespace lmf

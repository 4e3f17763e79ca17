#include "train/teacher_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/checked.h"
#include "core/error.h"

namespace lmf {

void TeacherCache::build(const std::string& path, const std::vector<int32_t>& train, int64_t seq, int64_t k,
                         int64_t vocab, double temperature, int64_t batch, const LogitsFn& teacher,
                         const std::map<std::string, std::string>& meta,
                         const std::function<void(int64_t, int64_t)>& progress) {
  LMF_CHECK(k >= 1 && k <= vocab, kInvalidArgument, "--top-k {}: must be in 1..{} (the vocabulary)", k, vocab);
  const int64_t windows = (static_cast<int64_t>(train.size()) - 1) / seq;
  LMF_CHECK(windows >= 1, kInvalidArgument, "teacher cache: {} train tokens, too few for one window of {}", train.size(),
            seq);
  Tensor ids = Tensor::empty(DType::kI32, {windows * seq, k});
  Tensor logits = Tensor::empty(DType::kF32, {windows * seq, k});
  Tensor tail = Tensor::empty(DType::kF32, {windows * seq});
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  for (int64_t w0 = 0; w0 < windows; w0 += batch) {
    const int64_t nb = std::min(batch, windows - w0);
    std::span<const int32_t> tokens(train.data() + w0 * seq, static_cast<size_t>(nb * seq));
    const float* l = teacher(tokens);
    for (int64_t r = 0; r < nb * seq; ++r) {
      const float* row = l + r * vocab;
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [row](int32_t a, int32_t b) {
        return row[a] > row[b] || (row[a] == row[b] && a < b);
      });
      double lse = 0, top = 0;  // at temperature T, relative to the row's max
      const double mx = row[order[0]] / temperature;
      for (int64_t v = 0; v < vocab; ++v) lse += std::exp(row[v] / temperature - mx);
      for (int64_t j = 0; j < k; ++j) {
        ids.mutable_data_as<int32_t>()[(w0 * seq + r) * k + j] = order[static_cast<size_t>(j)];
        logits.mutable_data_as<float>()[(w0 * seq + r) * k + j] = row[order[static_cast<size_t>(j)]];
        top += std::exp(row[order[static_cast<size_t>(j)]] / temperature - mx);
      }
      const double rest = std::max(1.0 - top / lse, 1e-30);  // the mass outside the top k
      tail.mutable_data_as<float>()[w0 * seq + r] =
          k == vocab ? -1e9f
                     : static_cast<float>(temperature * (std::log(rest / static_cast<double>(vocab - k)) + mx + std::log(lse)));
    }
    if (progress) progress(w0 + nb, windows);
  }
  std::map<std::string, std::string> m = meta;
  m["seq"] = std::to_string(seq);
  m["k"] = std::to_string(k);
  m["vocab"] = std::to_string(vocab);
  m["temperature"] = fmt::format("{}", temperature);
  write_safetensors(path, {{"ids", ids}, {"logits", logits}, {"tail", tail}}, m);
}

TeacherCache TeacherCache::open(const std::string& path, const std::map<std::string, std::string>& meta) {
  TeacherCache c;
  c.path_ = path;
  c.file_ = std::make_shared<SafetensorsFile>(SafetensorsFile::open(path));
  const auto& have = c.file_->metadata();
  for (const auto& [key, want] : meta) {
    auto it = have.find(key);
    LMF_CHECK(it != have.end() && it->second == want, kInvalidArgument,
              "--teacher-cache {}: built for {} {}, not {} (remove the file to rebuild it)", path, key,
              it == have.end() ? "(none)" : it->second, want);
  }
  LMF_CHECK(c.file_->has("ids") && c.file_->has("logits") && c.file_->has("tail") && have.count("seq") &&
                have.count("k"),
            kBadFile, "--teacher-cache {}: not a teacher cache (tensors ids, logits, tail and metadata seq, k expected)",
            path);
  c.ids_ = c.file_->tensor("ids");
  c.logits_ = c.file_->tensor("logits");
  c.tail_ = c.file_->tensor("tail");
  c.seq_ = parse_int64(have.at("seq"), "--teacher-cache " + path + ": metadata 'seq'");
  c.k_ = parse_int64(have.at("k"), "--teacher-cache " + path + ": metadata 'k'");
  LMF_CHECK(c.ids_.dtype() == DType::kI32 && c.logits_.dtype() == DType::kF32 && c.ids_.shape() == c.logits_.shape() &&
                c.ids_.rank() == 2 && c.ids_.dim(1) == c.k_ && c.seq_ > 0 && c.ids_.dim(0) % c.seq_ == 0 &&
                c.tail_.dtype() == DType::kF32 && c.tail_.shape() == Shape({c.ids_.dim(0)}),
            kBadFile, "--teacher-cache {}: tensors ids/logits do not match its metadata", path);
  c.windows_ = c.ids_.dim(0) / c.seq_;
  return c;
}

void TeacherCache::fill(std::span<const int64_t> starts, int64_t V, float* out) const {
  for (size_t b = 0; b < starts.size(); ++b) {
    const int64_t w = starts[b] / seq_;
    LMF_CHECK(starts[b] % seq_ == 0 && w < windows_, kInternal, "teacher cache: window at {} is not cached", starts[b]);
    for (int64_t t = 0; t < seq_; ++t) {
      const int64_t src = (w * seq_ + t) * k_;
      float* row = out + (static_cast<int64_t>(b) * seq_ + t) * V;
      std::fill(row, row + V, tail_.data_as<float>()[w * seq_ + t]);
      for (int64_t j = 0; j < k_; ++j) {
        const int32_t id = ids_.data_as<int32_t>()[src + j];
        LMF_CHECK(id >= 0 && id < V, kBadFile, "--teacher-cache {}: token id {} outside the vocabulary of {}", path_, id, V);
        row[id] = logits_.data_as<float>()[src + j];
      }
    }
  }
}

}  // namespace lmf

// lmforge tokenizer (internal): the BPE merge table and the merge loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmf::tok {

// Open-addressing hash map (left id, right id) -> (rank, merged id).
class MergeTable {
 public:
  struct Merge {
    int32_t rank;  // lower merges first
    int32_t id;    // the merged token
  };
  static constexpr int32_t kNoRank = INT32_MAX;

  // A pair given twice keeps the later rank (as Hugging Face and OpenAI do).
  void reserve(size_t n);
  void insert(int32_t left, int32_t right, Merge merge);
  // rank kNoRank when the pair does not merge (or an id is negative, i.e. unknown).
  Merge find(int32_t left, int32_t right) const {
    if ((left | right) < 0 || keys_.empty()) return {kNoRank, -1};
    const uint64_t key = pack(left, right);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return values_[i];
      if (keys_[i] == kEmpty) return {kNoRank, -1};
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(int32_t a, int32_t b) {
    return (uint64_t{static_cast<uint32_t>(a)} << 32) | static_cast<uint32_t>(b);
  }
  size_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void grow();

  std::vector<uint64_t> keys_;
  std::vector<Merge> values_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

// Merges ids in place, lowest rank first and leftmost first among equal ranks (HF's
// order). Short words scan for the best pair; long words use a heap (O(n log n)).
void bpe_merge(const MergeTable& merges, std::vector<int32_t>& ids);
// The two strategies, exposed for tests.
void bpe_merge_scan(const MergeTable& merges, std::vector<int32_t>& ids);
void bpe_merge_heap(const MergeTable& merges, std::vector<int32_t>& ids);

}  // namespace lmf::tok

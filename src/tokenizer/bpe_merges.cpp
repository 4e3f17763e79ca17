// lmforge tokenizer (internal): the BPE merge table and the merge loop.
#include "tokenizer/bpe_merges.h"

#include <queue>

namespace lmf::tok {

void MergeTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  if (cap <= keys_.size()) return;
  std::vector<uint64_t> old_keys = std::move(keys_);
  std::vector<Merge> old_values = std::move(values_);
  keys_.assign(cap, kEmpty);
  values_.assign(cap, Merge{kNoRank, -1});
  mask_ = cap - 1;
  shift_ = 64 - __builtin_ctzll(cap);
  size_ = 0;
  for (size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] == kEmpty) continue;
    insert(static_cast<int32_t>(old_keys[i] >> 32), static_cast<int32_t>(old_keys[i] & 0xFFFFFFFFu),
           old_values[i]);
  }
}

void MergeTable::grow() { reserve(keys_.empty() ? 8 : keys_.size()); }

void MergeTable::insert(int32_t left, int32_t right, Merge merge) {
  if (2 * (size_ + 1) > keys_.size()) grow();
  const uint64_t key = pack(left, right);
  for (size_t i = slot(key);; i = (i + 1) & mask_) {
    if (keys_[i] == key) {
      values_[i] = merge;
      return;
    }
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      values_[i] = merge;
      ++size_;
      return;
    }
  }
}

void bpe_merge_scan(const MergeTable& merges, std::vector<int32_t>& ids) {
  size_t n = ids.size();
  if (n < 2) return;
  // pair[i] is the merge of (ids[i], ids[i + 1]).
  std::vector<MergeTable::Merge> pair(n - 1);
  for (size_t i = 0; i + 1 < n; ++i) pair[i] = merges.find(ids[i], ids[i + 1]);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (pair[i].rank < pair[best].rank) best = i;
    }
    if (pair[best].rank == MergeTable::kNoRank) break;
    ids[best] = pair[best].id;
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    pair.erase(pair.begin() + static_cast<std::ptrdiff_t>(best));
    --n;
    if (best > 0) pair[best - 1] = merges.find(ids[best - 1], ids[best]);
    if (best + 1 < n) pair[best] = merges.find(ids[best], ids[best + 1]);
  }
}

void bpe_merge_heap(const MergeTable& merges, std::vector<int32_t>& ids) {
  const size_t n = ids.size();
  if (n < 2) return;
  // Doubly linked symbols; a merged-away symbol gets id kGone.
  constexpr int32_t kGone = INT32_MIN;
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Candidate {
    int32_t rank, pos, left, right;  // the pair (left, right) starting at symbol pos
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](int32_t pos) {
    const int32_t nx = next[pos];
    if (nx < 0) return;
    const MergeTable::Merge m = merges.find(ids[pos], ids[nx]);
    if (m.rank != MergeTable::kNoRank) heap.push({m.rank, pos, ids[pos], ids[nx]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int32_t nx = next[c.pos];
    if (ids[c.pos] != c.left || nx < 0 || ids[nx] != c.right) continue;  // stale
    ids[c.pos] = merges.find(c.left, c.right).id;
    ids[nx] = kGone;
    next[c.pos] = next[nx];
    if (next[nx] >= 0) prev[next[nx]] = c.pos;
    if (prev[c.pos] >= 0) push(prev[c.pos]);
    push(c.pos);
  }
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] != kGone) ids[k++] = ids[i];
  }
  ids.resize(k);
}

void bpe_merge(const MergeTable& merges, std::vector<int32_t>& ids) {
  if (ids.size() <= 128) {
    bpe_merge_scan(merges, ids);
  } else {
    bpe_merge_heap(merges, ids);
  }
}

}  // namespace lmf::tok

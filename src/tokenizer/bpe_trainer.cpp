// lmforge tokenizer: the byte-level BPE trainer (see bpe_trainer.h).
#include "tokenizer/bpe_trainer.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <queue>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/bpe_tokenizer_impl.h"
#include "tokenizer/pre_tokenizer.h"

namespace lmf {
namespace {

namespace fs = std::filesystem;

uint64_t pack(int32_t a, int32_t b) {
  return (uint64_t{static_cast<uint32_t>(a)} << 32) | static_cast<uint32_t>(b);
}
int32_t left_of(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t right_of(uint64_t key) { return static_cast<int32_t>(key & 0xFFFFFFFFu); }

// Files under a folder whose names end with ext, recursively, in path order.
std::vector<std::string> files_in(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ext) out.push_back(it->path().string());
  }
  LMF_CHECK(!ec, kIo, "{}: cannot list the folder: {}", dir, ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// The state of the merge loop: words as symbol ids, pair counts, pair -> words index.
struct MergeState {
  struct Word {
    std::vector<int32_t> symbols;
    int64_t count;
  };
  struct Entry {
    int64_t count;
    uint64_t pair;
    // Max-heap order: higher count first, then the smaller pair (left id, then right id).
    bool operator<(const Entry& o) const { return count != o.count ? count < o.count : pair > o.pair; }
  };

  std::vector<Word> words;
  std::unordered_map<uint64_t, int64_t> counts;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where;
  std::priority_queue<Entry> heap;
  std::vector<uint64_t> touched;  // pairs whose count grew in the current merge

  void add(uint64_t pair, int64_t delta, uint32_t w) {
    counts[pair] += delta;
    if (delta > 0) {
      std::vector<uint32_t>& list = where[pair];
      if (list.empty() || list.back() != w) list.push_back(w);
      touched.push_back(pair);
    }
  }

  void index_all() {
    for (uint32_t w = 0; w < words.size(); ++w) {
      const auto& s = words[w].symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) add(pack(s[i], s[i + 1]), words[w].count, w);
    }
    for (const auto& [pair, count] : counts) heap.push({count, pair});
    touched.clear();
  }

  // The next pair to merge and its count; {0, 0} when none is left.
  Entry pop_best() {
    while (!heap.empty()) {
      const Entry e = heap.top();
      heap.pop();
      auto it = counts.find(e.pair);
      const int64_t now = it == counts.end() ? 0 : it->second;
      if (now == e.count) return e;
      if (now > 0 && now < e.count) heap.push({now, e.pair});  // stale: a count only falls
    }
    return {0, 0};
  }

  // Replaces every (a, b) in the words that hold it with id, updating counts and index.
  void merge(uint64_t pair, int32_t id) {
    const int32_t a = left_of(pair), b = right_of(pair);
    std::vector<uint32_t> list = std::move(where[pair]);
    where.erase(pair);
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    touched.clear();
    for (uint32_t w : list) {
      std::vector<int32_t>& s = words[w].symbols;
      const int64_t c = words[w].count;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != a || s[i + 1] != b) continue;
        if (i > 0) {
          add(pack(s[i - 1], a), -c, w);
          add(pack(s[i - 1], id), c, w);
        }
        add(pair, -c, w);
        if (i + 2 < s.size()) {
          add(pack(b, s[i + 2]), -c, w);
          add(pack(id, s[i + 2]), c, w);
        }
        s[i] = id;
        s.erase(s.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      }
    }
    counts.erase(pair);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t p : touched) {
      auto it = counts.find(p);
      if (it != counts.end() && it->second > 0) heap.push({it->second, p});
    }
  }
};

}  // namespace

BpeTrainer::BpeTrainer(BpeTrainerOptions options) : options_(std::move(options)) {
  const auto& specials = options_.special_tokens;
  for (size_t i = 0; i < specials.size(); ++i) {
    LMF_CHECK(!specials[i].empty(), kInvalidArgument, "--special: a special token is empty");
    for (size_t k = 0; k < specials[i].size();) {
      const tok::Utf8Char c = tok::decode_utf8(specials[i], k);
      LMF_CHECK(c.cp != tok::kInvalidCp, kInvalidArgument, "--special: '{}' is not valid UTF-8", specials[i]);
      k += c.len;
    }
    LMF_CHECK(specials[i].size() > 1, kInvalidArgument,
              "--special: '{}' is a single byte, which is already a token of the byte alphabet", specials[i]);
    for (size_t j = 0; j < i; ++j) {
      LMF_CHECK(specials[i] != specials[j], kInvalidArgument, "--special: '{}' is given twice", specials[i]);
    }
  }
  const int64_t base = 256 + static_cast<int64_t>(specials.size());
  LMF_CHECK(options_.vocab_size >= base && options_.vocab_size <= (int32_t{1} << 24), kInvalidArgument,
            "--vocab-size: {} is outside [{}, {}] (special tokens + 256 byte symbols at least)",
            options_.vocab_size, base, int32_t{1} << 24);
  LMF_CHECK(options_.min_frequency >= 1, kInvalidArgument, "--min-frequency: {} is below 1",
            options_.min_frequency);
}

void BpeTrainer::count_words(std::string_view text) {
  std::vector<tok::Piece> pieces;
  pieces.reserve(text.size() / 4 + 1);
  tok::gpt2_split(text, pieces);
  for (const tok::Piece& p : pieces) {
    const std::string_view word = text.substr(p.offset, p.length);
    auto it = counts_.find(word);
    if (it == counts_.end()) it = counts_.emplace(std::string(word), 0).first;
    ++it->second;
  }
  words_ += static_cast<int64_t>(pieces.size());
}

void BpeTrainer::add_text(std::string_view text) {
  LMF_CHECK(text.size() < (size_t{1} << 32), kInvalidArgument, "training text of {} bytes exceeds 4 GiB",
            text.size());
  bytes_ += static_cast<int64_t>(text.size());
  // Cut at the special tokens: leftmost occurrence first, the longest on a tie.
  const auto& specials = options_.special_tokens;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    for (const std::string& s : specials) {
      const size_t at = text.find(s, begin);
      if (at < best || (at == best && at != std::string_view::npos && s.size() > best_len)) {
        best = at;
        best_len = s.size();
      }
    }
    if (best == std::string_view::npos) {
      count_words(text.substr(begin));
      break;
    }
    count_words(text.substr(begin, best - begin));
    begin = best + best_len;
  }
}

void BpeTrainer::add_file(const std::string& path, bool jsonl) {
  const std::string text = read_text_file(path);
  ++files_;
  size_t line_no = 0;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    end = end == std::string::npos ? text.size() : end + 1;
    const std::string_view line = std::string_view(text).substr(begin, end - begin);
    begin = end;
    ++line_no;
    if (!jsonl) {
      add_text(line);
      continue;
    }
    if (line.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    LMF_CHECK(!j.is_discarded(), kBadFile, "{}:{}: not valid JSON", path, line_no);
    LMF_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), kBadFile,
              "{}:{}: no string field \"text\"", path, line_no);
    add_text(j["text"].get_ref<const std::string&>());
  }
}

void BpeTrainer::add_path(const std::string& path, bool jsonl) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const std::string ext = jsonl ? ".jsonl" : ".txt";
    const std::vector<std::string> files = files_in(path, ext);
    LMF_CHECK(!files.empty(), kBadFile, "{}: no *{} files in the folder", path, ext);
    for (const std::string& f : files) add_file(f, jsonl);
    return;
  }
  LMF_CHECK(fs::is_regular_file(path, ec), kBadFile, "{}: no such file or folder", path);
  add_file(path, jsonl);
}

TrainedBpe BpeTrainer::train() const {
  LMF_CHECK(!counts_.empty(), kInvalidArgument, "tokenizer train: no training text (the inputs are empty)");
  TrainedBpe out;
  tok::StringMap<int32_t> by_string;
  auto add_token = [&](std::string s) {
    const auto id = static_cast<int32_t>(out.tokens.size());
    by_string.emplace(s, id);
    out.tokens.push_back(std::move(s));
    return id;
  };
  for (const std::string& s : options_.special_tokens) add_token(s);
  out.num_special = out.tokens.size();

  // The byte symbols in code point order of their byte-level characters (GPT-2's order).
  std::array<std::pair<uint32_t, int>, 256> order;
  for (int b = 0; b < 256; ++b) {
    const std::string sym = tok::byte_level_encode(std::string(1, static_cast<char>(b)));
    order[b] = {tok::decode_utf8(sym, 0).cp, b};
  }
  std::sort(order.begin(), order.end());
  std::array<int32_t, 256> byte_id{};
  for (const auto& [cp, b] : order) {
    std::string sym = tok::byte_level_encode(std::string(1, static_cast<char>(b)));
    LMF_CHECK(!by_string.contains(sym), kInvalidArgument, "--special: '{}' is a byte symbol", sym);
    byte_id[b] = add_token(std::move(sym));
  }

  // Words in byte order, so that nothing depends on hash-table order.
  std::vector<const std::pair<const std::string, int64_t>*> sorted;
  sorted.reserve(counts_.size());
  for (const auto& kv : counts_) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* x, auto* y) { return x->first < y->first; });
  MergeState st;
  st.words.reserve(sorted.size());
  for (const auto* kv : sorted) {
    MergeState::Word w{{}, kv->second};
    w.symbols.reserve(kv->first.size());
    for (unsigned char c : kv->first) w.symbols.push_back(byte_id[c]);
    st.words.push_back(std::move(w));
  }
  st.index_all();

  const int32_t target = options_.vocab_size;
  while (static_cast<int32_t>(out.tokens.size()) < target) {
    const MergeState::Entry best = st.pop_best();
    if (best.count < std::max<int64_t>(1, options_.min_frequency)) break;
    const int32_t a = left_of(best.pair), b = right_of(best.pair);
    std::string merged = out.tokens[a] + out.tokens[b];
    auto it = by_string.find(merged);
    const int32_t id = it != by_string.end() ? it->second : add_token(merged);
    out.merges.emplace_back(out.tokens[a], out.tokens[b]);
    st.merge(best.pair, id);
    if (options_.on_progress && out.merges.size() % 256 == 0) {
      options_.on_progress(static_cast<int32_t>(out.tokens.size()), target);
    }
  }
  if (options_.on_progress) options_.on_progress(static_cast<int32_t>(out.tokens.size()), target);
  return out;
}

std::string TrainedBpe::to_json() const {
  using oj = nlohmann::ordered_json;
  oj added = oj::array();
  for (size_t i = 0; i < num_special; ++i) {
    added.push_back(oj{{"id", i},           {"content", tokens[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false},   {"normalized", false},  {"special", true}});
  }
  oj vocab = oj::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  oj merge_list = oj::array();
  for (const auto& [a, b] : merges) merge_list.push_back(a + " " + b);
  auto byte_level = [](bool prefix, bool trim) {
    return oj{{"type", "ByteLevel"}, {"add_prefix_space", prefix}, {"trim_offsets", trim}, {"use_regex", true}};
  };
  oj model = {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},
              {"byte_fallback", false},
              {"ignore_merges", false},
              {"vocab", std::move(vocab)},
              {"merges", std::move(merge_list)}};
  oj root = {{"version", "1.0"},
             {"truncation", nullptr},
             {"padding", nullptr},
             {"added_tokens", std::move(added)},
             {"normalizer", nullptr},
             {"pre_tokenizer", byte_level(false, true)},
             {"post_processor", byte_level(true, false)},
             {"decoder", byte_level(true, true)},
             {"model", std::move(model)}};
  return root.dump(2, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::strict) + "\n";
}

}  // namespace lmf

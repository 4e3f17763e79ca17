// lmforge tokenizer: training a byte-level BPE tokenizer (GPT-2 style) from text.
//
// The trainer does what Hugging Face tokenizers' BpeTrainer does for a ByteLevel
// tokenizer: each training sequence (a line of a text file, or a JSONL record's "text") is
// cut at the special tokens, split with GPT-2's pre-tokenizer pattern (pre_tokenizer.h)
// and its words counted. The vocabulary starts with the special tokens (ids 0..k-1) and
// the 256 byte symbols (in GPT-2's order, "!" first); then, until the vocabulary has
// vocab_size tokens, the most frequent adjacent pair of symbols over all words (weighted
// by word count) is merged into a new token. Ties go to the pair of smallest ids (left,
// then right), so training is deterministic: the same text and options give the same
// tokenizer.json, byte for byte. Training stops early when no pair occurs at least
// min_frequency times. A merge whose string already is a token reuses that token (as HF
// does), so there may be more merges than new tokens.
//
// Efficiency: pair counts are updated incrementally; an index from each pair to the words
// that contain it means a merge only touches the words it changes, and a lazy max-heap
// finds the next pair. A 5 MB corpus trains to 8k tokens in about a second.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lmf {

struct BpeTrainerOptions {
  int32_t vocab_size = 8192;  // special tokens + 256 byte symbols + merged tokens
  int64_t min_frequency = 2;  // a pair seen fewer times is never merged
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
  // Called now and then during train() with (tokens so far, vocab_size).
  std::function<void(int32_t, int32_t)> on_progress;
};

// The result of training.
struct TrainedBpe {
  std::vector<std::string> tokens;  // by id, in tokenizer.json form ("Ġthe"); specials as written
  size_t num_special = 0;           // tokens[0 .. num_special) are the special tokens
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order, tokenizer.json form

  // A Hugging Face tokenizer.json: model BPE (vocab, merges as "a b"), ByteLevel
  // pre-tokenizer (add_prefix_space false), post-processor and decoder, the special tokens
  // as added tokens. Deterministic.
  std::string to_json() const;
};

class BpeTrainer {
 public:
  // Throws lmf::Error(kInvalidArgument) for options that cannot work (a vocab_size below
  // specials + 256, an empty or repeated special token, a single-byte special).
  explicit BpeTrainer(BpeTrainerOptions options);

  // Counts the words of one training sequence.
  void add_text(std::string_view text);
  // A text file (each line, with its line ending, is a sequence) or a folder of *.txt
  // files (recursively, in name order); with jsonl, a JSON Lines file (or a folder of
  // *.jsonl) whose every non-blank line is an object with a string "text". Throws
  // lmf::Error naming the file (and line) for a missing path, an empty folder or a bad
  // JSONL line.
  void add_path(const std::string& path, bool jsonl = false);

  int64_t bytes() const { return bytes_; }          // text bytes counted so far
  int64_t files() const { return files_; }          // files read by add_path
  int64_t words() const { return words_; }          // pre-tokenized words, with repeats
  int64_t distinct_words() const { return static_cast<int64_t>(counts_.size()); }

  // Learns the merges. Throws lmf::Error(kInvalidArgument) when no text was added.
  TrainedBpe train() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void add_file(const std::string& path, bool jsonl);
  void count_words(std::string_view text);

  BpeTrainerOptions options_;
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> counts_;
  int64_t bytes_ = 0, files_ = 0, words_ = 0;
};

}  // namespace lmf

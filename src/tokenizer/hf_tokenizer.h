// lmforge tokenizer: any Hugging Face tokenizer.json, as a pipeline of components.
//
// HfTokenizer reads a tokenizer.json the way Hugging Face `tokenizers` does and runs its
// pipeline: added tokens are cut out of the raw text first (leftmost-longest; lstrip,
// rstrip, single_word; `normalized: false` ones on the raw text, the others on the
// normalized text), then each remaining piece goes through the normalizer, the
// pre-tokenizer and the model; the post-processor runs only when special tokens are asked
// for (encode(text, true)); decode() runs the decoder. Each component is a small class built
// from its JSON object:
//   normalizers     NFC NFD NFKC NFKD (utf8proc), Lowercase, Strip, Replace (String or
//                   Regex), Prepend, BertNormalizer, Sequence
//   pre-tokenizers  ByteLevel (use_regex, add_prefix_space), Split (String or Regex; Removed,
//                   Isolated, MergedWithPrevious, MergedWithNext, Contiguous; invert),
//                   Metaspace (replacement, prepend_scheme first/always/never, split),
//                   Digits, Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer, Sequence
//   model           BPE (byte_fallback, ignore_merges, unk_token, fuse_unk,
//                   continuing_subword_prefix, end_of_word_suffix; merges "a b" or [a, b])
//   post-processors TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence
//   decoders        ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, Sequence
// Regexes go through PCRE2 (UTF + UCP, JIT). A component of another type, a regex that does
// not compile or a malformed field is an lmf::Error naming the file and the field, e.g.
// "tokenizer.json: pre_tokenizer.pretokenizers[1].type 'Foo' is not supported".
// Text that is not valid UTF-8 is first made valid as Rust's from_utf8_lossy does (each
// maximal invalid subsequence becomes U+FFFD). Thread-safe (a word cache behind a lock).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lmf {

class HfTokenizer final : public Tokenizer {
 public:
  static HfTokenizer from_file(const std::string& tokenizer_json_path);
  // From the text of a tokenizer.json; `name` stands for the path in messages.
  static HfTokenizer from_json_text(const std::string& json_text, const std::string& name);

  const char* kind() const override { return "tokenizer.json"; }
  // Hugging Face's encode(text, add_special_tokens=false).
  std::vector<int32_t> encode(std::string_view text) const override { return encode(text, false); }
  // add_special: also run the post-processor (TemplateProcessing adds BOS, ...).
  std::vector<int32_t> encode(std::string_view text, bool add_special) const;
  std::vector<int32_t> encode_with_special(std::string_view text) const override { return encode(text, true); }
  // Hugging Face's decode(ids, skip_special_tokens=false).
  std::string decode(const std::vector<int32_t>& ids) const override;
  // The bytes one token stands for (ByteLevel bytes, <0xNN> byte, "▁" as a space).
  std::string token_text(int32_t id) const override;
  std::string token_piece(int32_t id) const override;
  std::optional<int32_t> token_id(std::string_view piece) const override;
  int32_t vocab_size() const override;
  bool is_special(int32_t id) const;
  // tokenizer_config.json's eos_token beside the file when known, else the first known of
  // "<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>".
  std::optional<int32_t> eos_id() const override { return eos_id_; }
  void set_eos_id(std::optional<int32_t> id) override;
  // tokenizer_config.json's bos_token when known, else "<s>", "<bos>", "<|begin_of_text|>".
  std::optional<int32_t> bos_id() const override { return bos_id_; }
  // FNV-1a 64 of the file's JSON (re-serialized, so formatting does not matter).
  std::string hash() const override;
  const std::string& path() const override;

  struct Impl;

 private:
  explicit HfTokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
  std::optional<int32_t> eos_id_, bos_id_;
};

namespace tok {
// Rust's String::from_utf8_lossy: valid UTF-8 unchanged, each maximal invalid subsequence
// replaced by U+FFFD.
std::string utf8_lossy(std::string_view bytes);
}  // namespace tok

}  // namespace lmf

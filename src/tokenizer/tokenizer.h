// lmforge tokenizer: the common interface of the tokenizers a model may come with.
//
// Three kinds implement it: BpeTokenizer (a Hugging Face tokenizer.json with byte-level BPE,
// GPT-2 and its descendants: a fast path), HfTokenizer (any other tokenizer.json: the
// component pipeline of hf_tokenizer.h) and SentencePieceTokenizer (a SentencePiece tokenizer.model,
// Llama-2 style, through libsentencepiece). Code that only needs to turn text into ids and
// back holds a std::unique_ptr<Tokenizer> from open_tokenizer() or
// load_tokenizer_for_model(), and does not care which kind it got.
//
// Conventions shared by both kinds: encode() never adds BOS/EOS; decode() throws
// lmf::Error(kOutOfRange) for an id outside the vocabulary; all const methods may be
// called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lmf {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // "bpe", "tokenizer.json" (HfTokenizer) or "sentencepiece".
  virtual const char* kind() const = 0;
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // encode() plus the special tokens the tokenizer adds around a text (Hugging Face's
  // add_special_tokens=True: a tokenizer.json's post_processor). By default encode():
  // BpeTokenizer's files add none, and SentencePiece's BOS is the caller's choice (bos_id()).
  virtual std::vector<int32_t> encode_with_special(std::string_view text) const { return encode(text); }
  // The text of the ids, as the tokenizer's own decoder produces it.
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // The bytes one token stands for (possibly a partial UTF-8 sequence), for streaming:
  // concatenating token_text() of each id gives decode() of the whole, except that
  // SentencePiece's decode() drops the space of the first piece's "▁" and control tokens.
  virtual std::string token_text(int32_t id) const = 0;
  // The token as written in the tokenizer file: "Ġthe" (byte-level BPE), "▁the"
  // (SentencePiece), "<|endoftext|>", "<0x0A>". For display.
  virtual std::string token_piece(int32_t id) const = 0;
  // Id of a token as written in the file (see token_piece), if it exists.
  virtual std::optional<int32_t> token_id(std::string_view piece) const = 0;
  // Ids are 0 .. vocab_size() - 1 (some may be unused by byte-level BPE files with gaps).
  virtual int32_t vocab_size() const = 0;
  // End-of-sequence id, if the tokenizer has one (see each kind for the rule).
  virtual std::optional<int32_t> eos_id() const = 0;
  // Overrides eos_id() (e.g. with a model config's eos_token_id); throws for an unknown id.
  virtual void set_eos_id(std::optional<int32_t> id) = 0;
  // Begin-of-sequence id, if the tokenizer defines one (SentencePiece's <s>).
  virtual std::optional<int32_t> bos_id() const { return std::nullopt; }
  // 16 hex digits identifying the tokenizer's contents (vocabulary, merges or model),
  // for manifests: equal tokenizers give equal hashes.
  virtual std::string hash() const = 0;
  // The file it was loaded from.
  virtual const std::string& path() const = 0;

 protected:
  Tokenizer() = default;
  Tokenizer(const Tokenizer&) = default;
  Tokenizer& operator=(const Tokenizer&) = default;
};

// Loads a tokenizer file: a tokenizer.json (BpeTokenizer when it is GPT-2-style byte-level
// BPE, else HfTokenizer) or a SentencePiece model
// (tokenizer.model, *.model), or a model folder (see load_tokenizer_for_model). Throws
// lmf::Error naming the path when it is missing or of an unsupported kind.
std::unique_ptr<Tokenizer> open_tokenizer(const std::string& path);

// The tokenizer of a Hugging Face model folder: tokenizer.json when present (as open_tokenizer
// reads it), else tokenizer.model (SentencePiece). eos_id() is the folder's config.json
// "eos_token_id" (the first, if a list) when it is a valid id, else the kind's own rule.
// Throws lmf::Error naming the folder when it has neither file.
std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::string& model_dir);

namespace tok {
// Helpers shared by the tokenizer kinds.
// The content of `key` ("eos_token", "bos_token"; a string or {"content": ...}) in the
// tokenizer_config.json beside tokenizer_file, if any (the one reader of that file; one
// that is there but not JSON is an lmf::Error naming it).
std::optional<std::string> configured_token(const std::string& tokenizer_file, const char* key);
}  // namespace tok

}  // namespace lmf

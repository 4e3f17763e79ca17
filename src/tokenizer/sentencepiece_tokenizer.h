// lmforge tokenizer: SentencePiece models (tokenizer.model of Llama-2, Mistral, T5, ...).
//
// A thin layer over Debian's libsentencepiece, so ids are exactly those of SentencePiece's
// own tools (spm_encode --output_format=id): any model type (BPE, unigram, char, word),
// with its normalizer, dummy prefix and byte fallback, as the model file says. encode()
// adds no BOS/EOS (as spm_encode by default); decode() is SentencePiece's, which drops
// control tokens (<s>, </s>) and the space of a leading "▁". Thread-safe for const use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace lmf {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Loads a SentencePiece model file; throws lmf::Error(kBadFile) naming the path when it
  // is missing or not a SentencePiece model. eos_id() is the "eos_token" of a
  // tokenizer_config.json beside it when that names a piece, else the model's eos piece.
  static SentencePieceTokenizer from_file(const std::string& model_path);

  const char* kind() const override { return "sentencepiece"; }
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  // "▁" becomes a space, a byte piece (<0x0A>) its byte, a control piece (<s>) nothing,
  // the unknown piece SentencePiece's " ⁇ ".
  std::string token_text(int32_t id) const override;
  std::string token_piece(int32_t id) const override;
  std::optional<int32_t> token_id(std::string_view piece) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> eos_id() const override { return eos_id_; }
  void set_eos_id(std::optional<int32_t> id) override;
  std::optional<int32_t> bos_id() const override { return bos_id_; }
  // FNV-1a 64 of the serialized model.
  std::string hash() const override { return digest_; }
  const std::string& path() const override { return path_; }

 private:
  SentencePieceTokenizer() = default;
  void check_id(int32_t id) const;

  std::shared_ptr<const sentencepiece::SentencePieceProcessor> sp_;
  std::string path_;
  std::string digest_;
  std::optional<int32_t> eos_id_, bos_id_;
};

}  // namespace lmf

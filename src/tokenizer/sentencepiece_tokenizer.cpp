// lmforge tokenizer: SentencePiece models through libsentencepiece (see the header).
#include "tokenizer/sentencepiece_tokenizer.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>

#include <filesystem>

#include "core/error.h"
#include "core/hash.h"

namespace lmf {

SentencePieceTokenizer SentencePieceTokenizer::from_file(const std::string& path) {
  std::error_code ec;
  LMF_CHECK(std::filesystem::is_regular_file(path, ec), kBadFile, "{}: no such file", path);
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status status;
  try {  // the library may throw besides returning a status (Darts: a piece "\0" is a zero-length key)
    status = sp->Load(path);
  } catch (const std::exception& e) {
    fail(ErrorCode::kBadFile, "{}: not a SentencePiece model ({})", path, e.what());
  }
  LMF_CHECK(status.ok(), kBadFile, "{}: not a SentencePiece model ({})", path, status.ToString());
  LMF_CHECK(sp->GetPieceSize() > 0, kBadFile, "{}: SentencePiece model without pieces", path);
  SentencePieceTokenizer t;
  t.path_ = path;
  t.digest_ = fnv1a64_hex(sp->serialized_model_proto());
  if (sp->eos_id() >= 0) t.eos_id_ = sp->eos_id();
  if (sp->bos_id() >= 0) t.bos_id_ = sp->bos_id();
  t.sp_ = std::move(sp);
  if (auto eos = tok::configured_token(path, "eos_token")) {
    if (auto id = t.token_id(*eos)) t.eos_id_ = id;
  }
  if (auto bos = tok::configured_token(path, "bos_token")) {
    if (auto id = t.token_id(*bos)) t.bos_id_ = id;
  }
  return t;
}

void SentencePieceTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    fail(ErrorCode::kOutOfRange, "{}: token id {} is not in the vocabulary (ids 0..{})", path_, id,
         vocab_size() - 1);
  }
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const sentencepiece::util::Status status = sp_->Encode(text, &ids);
  LMF_CHECK(status.ok(), kInvalidArgument, "{}: encode failed: {}", path_, status.ToString());
  return {ids.begin(), ids.end()};
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  for (int32_t id : ids) check_id(id);
  std::string out;
  const sentencepiece::util::Status status = sp_->Decode(std::vector<int>(ids.begin(), ids.end()), &out);
  LMF_CHECK(status.ok(), kInvalidArgument, "{}: decode failed: {}", path_, status.ToString());
  return out;
}

std::string SentencePieceTokenizer::token_text(int32_t id) const {
  check_id(id);
  if (sp_->IsControl(id)) return "";
  const std::string& piece = sp_->IdToPiece(id);
  if (sp_->IsByte(id)) {  // "<0xAB>"
    auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
    const bool ok = piece.size() == 6 && piece.starts_with("<0x") && piece[5] == '>' && hex(piece[3]) >= 0 &&
                    hex(piece[4]) >= 0;
    LMF_CHECK(ok, kBadFile, "{}: byte piece {} ('{}') is not <0xXX>", path_, id, piece);
    return std::string(1, static_cast<char>(hex(piece[3]) * 16 + hex(piece[4])));
  }
  if (sp_->IsUnknown(id)) return " \xE2\x81\x87 ";  // SentencePiece's default unk_surface " ⁇ "
  std::string out;
  out.reserve(piece.size());
  constexpr std::string_view kSpace = "\xE2\x96\x81";  // "▁"
  for (size_t i = 0; i < piece.size();) {
    if (std::string_view(piece).substr(i, 3) == kSpace) {
      out += ' ';
      i += 3;
    } else {
      out += piece[i++];
    }
  }
  return out;
}

std::string SentencePieceTokenizer::token_piece(int32_t id) const {
  check_id(id);
  return sp_->IdToPiece(id);
}

std::optional<int32_t> SentencePieceTokenizer::token_id(std::string_view piece) const {
  const int id = sp_->PieceToId(piece);  // the unknown id for an unknown piece
  if (id < 0 || sp_->IdToPiece(id) != piece) return std::nullopt;
  return id;
}

int32_t SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }

void SentencePieceTokenizer::set_eos_id(std::optional<int32_t> id) {
  if (id) check_id(*id);
  eos_id_ = id;
}

}  // namespace lmf

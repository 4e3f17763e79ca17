// lmforge data: reading a prepared split back (for perplexity and training).
//
// TokenDataset::open(DIR, split) reads DIR/manifest.json (written by `data prepare`),
// memory-maps the split's shards and its document index, and checks that every file
// has the size the manifest gives. The tokens are not copied: shard(k) views a mapped
// file, and at()/read() convert ids to int32 on the fly. Document i is the token range
// document(i) of the split's stream (its trailing EOS included when the manifest's
// tokenizer had one); document_id(i) names it ("ca01", "notes/a.txt", "data.jsonl:17").
// verify() recomputes the shards' FNV-1a checksums.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"
#include "data/document.h"

namespace lmf::data {

class TokenDataset {
 public:
  // Throws lmf::Error naming the file that is missing, malformed or of the wrong size,
  // and the manifest field that is missing or of the wrong type.
  static TokenDataset open(const std::string& dir, Split split);
  static TokenDataset open(const std::string& dir, const std::string& split) {
    return open(dir, parse_split(split));
  }

  int64_t size() const { return tokens_; }   // tokens in the split
  int token_bytes() const { return token_bytes_; }  // 2 (uint16) or 4 (uint32)
  int32_t at(int64_t i) const;               // token i of the split's stream
  // Copies tokens [begin, begin + out.size()) into out; throws kOutOfRange past the end.
  void read(int64_t begin, std::span<int32_t> out) const;
  std::vector<int32_t> read_all() const;     // the whole split as int32 (a copy)

  // One shard: `tokens` little-endian ids of token_bytes() each at `data`, starting at
  // token `begin` of the split.
  struct ShardView {
    const unsigned char* data;
    int64_t begin, tokens;
  };
  size_t shard_count() const { return shards_.size(); }
  ShardView shard(size_t k) const;

  int64_t documents() const { return documents_; }
  // Tokens [first, second) of document i.
  std::pair<int64_t, int64_t> document(int64_t i) const;
  const std::string& document_id(int64_t i) const;

  std::optional<int32_t> eos_id() const { return eos_id_; }
  const std::string& tokenizer_hash() const { return tokenizer_hash_; }
  const std::string& tokenizer_path() const { return tokenizer_path_; }  // the manifest's tokenizer.path
  const nlohmann::json& manifest() const { return *manifest_; }
  // Recomputes each shard's checksum; throws kBadFile naming the first that differs.
  void verify() const;

 private:
  struct Shard {
    std::shared_ptr<MappedFile> file;
    int64_t begin = 0, tokens = 0;
    std::string checksum;
  };
  size_t shard_of(int64_t token) const;

  std::string dir_;
  std::shared_ptr<const nlohmann::json> manifest_;
  std::vector<Shard> shards_;
  std::shared_ptr<MappedFile> index_;
  std::shared_ptr<const std::vector<std::string>> doc_ids_;
  int64_t tokens_ = 0, documents_ = 0;
  int token_bytes_ = 2;
  std::optional<int32_t> eos_id_;
  std::string tokenizer_hash_, tokenizer_path_;
};

}  // namespace lmf::data

#include "data/token_dataset.h"

#include <algorithm>
#include <filesystem>

#include "core/checked.h"
#include "core/error.h"
#include "data/prepare.h"

namespace lmf::data {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The manifest's field `key` of `obj` (at `where`, e.g. "splits.train"), checked for type.
const json& member(const json& obj, const std::string& key, const std::string& where, const std::string& path) {
  const std::string name = where.empty() ? key : where + "." + key;
  LMF_CHECK(obj.is_object() && obj.contains(key), kBadFile, "{}: missing field '{}'", path, name);
  return obj[key];
}
int64_t int_member(const json& obj, const std::string& key, const std::string& where, const std::string& path) {
  const json& v = member(obj, key, where, path);
  LMF_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0, kBadFile, "{}: field '{}{}' must be an integer >= 0", path,
            where.empty() ? "" : where + ".", key);
  return v.get<int64_t>();
}
std::string str_member(const json& obj, const std::string& key, const std::string& where, const std::string& path) {
  const json& v = member(obj, key, where, path);
  LMF_CHECK(v.is_string(), kBadFile, "{}: field '{}{}' must be a string", path, where.empty() ? "" : where + ".", key);
  return v.get<std::string>();
}
// A file name inside the dataset folder (no folders, nothing hidden).
std::string file_member(const json& obj, const std::string& key, const std::string& where, const std::string& path) {
  std::string f = str_member(obj, key, where, path);
  LMF_CHECK(!f.empty() && f.find('/') == std::string::npos && f[0] != '.', kBadFile,
            "{}: field '{}.{}' is not a file name in the dataset folder: '{}'", path, where, key, f);
  return f;
}

uint64_t load_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int b = 0; b < bytes; ++b) v |= static_cast<uint64_t>(p[b]) << (8 * b);
  return v;
}

}  // namespace

TokenDataset TokenDataset::open(const std::string& dir, Split split) {
  const std::string mpath = (fs::path(dir) / "manifest.json").string();
  std::error_code ec;
  LMF_CHECK(fs::is_regular_file(mpath, ec), kBadFile, "{}: missing (run `lmforge data prepare` first)", mpath);
  const std::string mtext = read_text_file(mpath);
  check_json_depth(mtext, mpath);
  auto j = std::make_shared<json>(json::parse(mtext, nullptr, false));
  LMF_CHECK(!j->is_discarded() && j->is_object(), kBadFile, "{}: not valid JSON", mpath);
  const std::string format = str_member(*j, "format", "", mpath);
  LMF_CHECK(format == "lmforge-tokens", kBadFile, "{}: format '{}' is not 'lmforge-tokens'", mpath, format);
  const int64_t version = int_member(*j, "version", "", mpath);
  LMF_CHECK(version == kManifestVersion, kUnsupported, "{}: version {} is not supported (this lmforge reads {})", mpath,
            version, kManifestVersion);
  TokenDataset d;
  d.dir_ = dir;
  const std::string dtype = str_member(*j, "dtype", "", mpath);
  LMF_CHECK(dtype == "uint16" || dtype == "uint32", kBadFile, "{}: dtype '{}' is not uint16 or uint32", mpath, dtype);
  d.token_bytes_ = dtype == "uint16" ? 2 : 4;
  const json& tok = member(*j, "tokenizer", "", mpath);
  d.tokenizer_hash_ = str_member(tok, "hash", "tokenizer", mpath);
  d.tokenizer_path_ = str_member(tok, "path", "tokenizer", mpath);
  const json& eos = member(tok, "eos_id", "tokenizer", mpath);
  LMF_CHECK(eos.is_null() || (eos.is_number_integer() && eos.get<int64_t>() >= 0 && eos.get<int64_t>() <= INT32_MAX),
            kBadFile, "{}: field 'tokenizer.eos_id' must be null or a token id (an integer in [0, 2^31))", mpath);
  if (!eos.is_null()) d.eos_id_ = static_cast<int32_t>(eos.get<int64_t>());

  const std::string where = std::string("splits.") + split_name(split);
  const json& s = member(member(*j, "splits", "", mpath), split_name(split), "splits", mpath);
  d.tokens_ = int_member(s, "tokens", where, mpath);
  d.documents_ = int_member(s, "documents", where, mpath);
  const json& shards = member(s, "shards", where, mpath);
  LMF_CHECK(shards.is_array(), kBadFile, "{}: field '{}.shards' must be an array", mpath, where);
  int64_t begin = 0;
  for (size_t k = 0; k < shards.size(); ++k) {
    const std::string w = fmt::format("{}.shards[{}]", where, k);
    Shard sh;
    const std::string file = file_member(shards[k], "file", w, mpath);
    sh.tokens = int_member(shards[k], "tokens", w, mpath);
    sh.checksum = str_member(shards[k], "fnv1a64", w, mpath);
    sh.begin = begin;
    sh.file = MappedFile::open((fs::path(dir) / file).string());
    const auto want = static_cast<uint64_t>(checked_mul(sh.tokens, d.token_bytes_, mpath + ": field '" + w + ".tokens'"));
    LMF_CHECK(sh.file->size() == want, kBadFile, "{}: {} bytes, but the manifest gives {} tokens of {} ({} bytes)",
              sh.file->path(), sh.file->size(), sh.tokens, dtype, want);
    begin = checked_add(begin, sh.tokens, mpath + ": field '" + where + ".shards'");
    d.shards_.push_back(std::move(sh));
  }
  LMF_CHECK(begin == d.tokens_, kBadFile, "{}: the shards of '{}' hold {} tokens, but its 'tokens' is {}", mpath,
            split_name(split), begin, d.tokens_);

  const json& index = member(s, "index", where, mpath);
  d.index_ = MappedFile::open((fs::path(dir) / file_member(index, "file", where + ".index", mpath)).string());
  const std::string& ipath = d.index_->path();
  const int64_t index_bytes =
      checked_mul(checked_add(d.documents_, 1, mpath + ": field '" + where + ".documents'"), 8, mpath);
  LMF_CHECK(d.index_->size() == static_cast<uint64_t>(index_bytes), kBadFile,
            "{}: {} bytes, but {} documents need {} offsets of 8 bytes", ipath, d.index_->size(), d.documents_,
            d.documents_ + 1);
  uint64_t prev = 0;
  for (int64_t i = 0; i <= d.documents_; ++i) {
    const uint64_t off = load_le(d.index_->data() + i * 8, 8);
    LMF_CHECK(off >= prev && off <= static_cast<uint64_t>(d.tokens_) && (i > 0 || off == 0), kBadFile,
              "{}: offset {} ({}) is out of order or past the {} tokens", ipath, i, off, d.tokens_);
    prev = off;
  }
  LMF_CHECK(prev == static_cast<uint64_t>(d.tokens_), kBadFile, "{}: the last offset {} is not the {} tokens", ipath,
            prev, d.tokens_);

  const std::string ids_path = (fs::path(dir) / file_member(s, "document_ids", where, mpath)).string();
  auto ids = std::make_shared<std::vector<std::string>>();
  const std::string text = read_text_file(ids_path);
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ids->push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  LMF_CHECK(static_cast<int64_t>(ids->size()) == d.documents_, kBadFile, "{}: {} ids, but {} documents", ids_path,
            ids->size(), d.documents_);
  d.doc_ids_ = std::move(ids);
  d.manifest_ = std::move(j);
  return d;
}

size_t TokenDataset::shard_of(int64_t token) const {
  auto it = std::upper_bound(shards_.begin(), shards_.end(), token,
                             [](int64_t t, const Shard& s) { return t < s.begin; });
  return static_cast<size_t>(it - shards_.begin()) - 1;
}

int32_t TokenDataset::at(int64_t i) const {
  LMF_CHECK(i >= 0 && i < tokens_, kOutOfRange, "token {} is outside the {} tokens of {}", i, tokens_, dir_);
  const Shard& s = shards_[shard_of(i)];
  return static_cast<int32_t>(load_le(s.file->data() + (i - s.begin) * token_bytes_, token_bytes_));
}

void TokenDataset::read(int64_t begin, std::span<int32_t> out) const {
  const auto n = static_cast<int64_t>(out.size());
  LMF_CHECK(begin >= 0 && n >= 0 && begin + n <= tokens_, kOutOfRange, "tokens [{}, {}) are outside the {} tokens of {}",
            begin, begin + n, tokens_, dir_);
  if (n == 0) return;
  int64_t done = 0;
  for (size_t k = shard_of(begin); done < n; ++k) {
    const Shard& s = shards_[k];
    const int64_t from = begin + done - s.begin;
    const int64_t take = std::min(n - done, s.tokens - from);
    const unsigned char* p = s.file->data() + from * token_bytes_;
    if (token_bytes_ == 2) {
      for (int64_t i = 0; i < take; ++i) out[done + i] = static_cast<int32_t>(p[2 * i] | (p[2 * i + 1] << 8));
    } else {
      for (int64_t i = 0; i < take; ++i) out[done + i] = static_cast<int32_t>(load_le(p + 4 * i, 4));
    }
    done += take;
  }
}

std::vector<int32_t> TokenDataset::read_all() const {
  std::vector<int32_t> v(static_cast<size_t>(tokens_));
  read(0, v);
  return v;
}

TokenDataset::ShardView TokenDataset::shard(size_t k) const {
  LMF_CHECK(k < shards_.size(), kOutOfRange, "shard {} of {}: there are {}", k, dir_, shards_.size());
  return {shards_[k].file->data(), shards_[k].begin, shards_[k].tokens};
}

std::pair<int64_t, int64_t> TokenDataset::document(int64_t i) const {
  LMF_CHECK(i >= 0 && i < documents_, kOutOfRange, "document {} of {}: there are {}", i, dir_, documents_);
  return {static_cast<int64_t>(load_le(index_->data() + i * 8, 8)),
          static_cast<int64_t>(load_le(index_->data() + (i + 1) * 8, 8))};
}

const std::string& TokenDataset::document_id(int64_t i) const {
  LMF_CHECK(i >= 0 && i < documents_, kOutOfRange, "document {} of {}: there are {}", i, dir_, documents_);
  return (*doc_ids_)[static_cast<size_t>(i)];
}

void TokenDataset::verify() const {
  for (const Shard& s : shards_) {
    Fnv1a64 h;
    h.update(s.file->data(), s.file->size());
    LMF_CHECK(h.hex() == s.checksum, kBadFile, "{}: checksum {} differs from the manifest's {}", s.file->path(), h.hex(),
              s.checksum);
  }
}

}  // namespace lmf::data

#include "data/prepare.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "core/checked.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf::data {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBatchBytes = 4u << 20;  // text per parallel tokenization batch
constexpr size_t kBatchDocs = 4096;

// Files written under temporary names: commit() renames them into place; otherwise the
// destructor removes them.
class PendingFiles {
 public:
  explicit PendingFiles(fs::path dir) : dir_(std::move(dir)) {}
  ~PendingFiles() {
    for (const auto& f : files_) std::remove(f.first.c_str());
  }
  PendingFiles(const PendingFiles&) = delete;
  PendingFiles& operator=(const PendingFiles&) = delete;

  // The temporary path to write `name` to.
  std::string add(const std::string& name) {
    const std::string final_path = (dir_ / name).string();
    files_.emplace_back(temp_path_for(final_path), final_path);
    return files_.back().first;
  }
  void commit() {
    for (const auto& [tmp, final_path] : files_) rename_into_place(tmp, final_path);
    files_.clear();
  }

 private:
  fs::path dir_;
  std::vector<std::pair<std::string, std::string>> files_;  // temporary, final
};

void write_or_fail(std::ofstream& out, const std::string& bytes, const std::string& path) {
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  LMF_CHECK(out.good(), kIo, "{}: write failed (disk full?)", path);
}

void write_pending(PendingFiles& pending, const std::string& name, const std::string& bytes) {
  const std::string tmp = pending.add(name);
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  LMF_CHECK(out.good(), kIo, "{}: cannot write: {}", tmp, std::strerror(errno));
  write_or_fail(out, bytes, tmp);
  out.close();
  LMF_CHECK(!out.fail(), kIo, "{}: write failed (disk full?)", tmp);
}

struct ShardInfo {
  std::string file;
  int64_t tokens = 0;
  std::string checksum;
};

// Appends one split's documents to its shards, index and id list.
class SplitWriter {
 public:
  SplitWriter(Split split, int token_bytes, int64_t shard_tokens, PendingFiles& pending)
      : name_(split_name(split)), token_bytes_(token_bytes), shard_tokens_(shard_tokens), pending_(pending) {}

  void add(const Document& doc, std::span<const int32_t> ids, std::optional<int32_t> eos) {
    write_tokens(ids);
    if (eos) write_tokens(std::span<const int32_t>(&*eos, 1));
    offsets_.push_back(static_cast<uint64_t>(tokens_));
    for (char c : doc.id) doc_ids_ += (c == '\n' || c == '\r') ? '?' : c;
    doc_ids_ += '\n';
    text_bytes_ += doc.text.size();
  }

  // Closes the last shard and writes the index and the id list.
  void finish() {
    close_shard();
    std::string idx(offsets_.size() * 8, '\0');
    for (size_t i = 0; i < offsets_.size(); ++i)
      for (int b = 0; b < 8; ++b) idx[i * 8 + b] = static_cast<char>((offsets_[i] >> (8 * b)) & 0xFF);
    Fnv1a64 h;
    h.update(idx);
    idx_checksum_ = h.hex();
    write_pending(pending_, name_ + ".idx", idx);
    write_pending(pending_, name_ + ".docs.txt", doc_ids_);
  }

  nlohmann::ordered_json summary() const {
    nlohmann::ordered_json s;
    s["documents"] = static_cast<int64_t>(offsets_.size() - 1);
    s["tokens"] = tokens_;
    s["text_bytes"] = text_bytes_;
    s["shards"] = nlohmann::ordered_json::array();
    for (const ShardInfo& sh : shards_)
      s["shards"].push_back({{"file", sh.file}, {"tokens", sh.tokens}, {"fnv1a64", sh.checksum}});
    s["index"] = {{"file", name_ + ".idx"}, {"fnv1a64", idx_checksum_}};
    s["document_ids"] = name_ + ".docs.txt";
    return s;
  }
  const std::vector<ShardInfo>& shards() const { return shards_; }

 private:
  void write_tokens(std::span<const int32_t> ids) {
    while (!ids.empty()) {
      if (!out_.is_open()) open_shard();
      const size_t take = std::min(ids.size(), static_cast<size_t>(shard_tokens_ - shard_.tokens));
      buf_.resize(take * token_bytes_);
      for (size_t i = 0; i < take; ++i) {
        const auto v = static_cast<uint32_t>(ids[i]);
        for (int b = 0; b < token_bytes_; ++b) buf_[i * token_bytes_ + b] = static_cast<char>((v >> (8 * b)) & 0xFF);
      }
      write_or_fail(out_, buf_, shard_path_);
      hash_.update(buf_);
      shard_.tokens += static_cast<int64_t>(take);
      tokens_ += static_cast<int64_t>(take);
      ids = ids.subspan(take);
      if (shard_.tokens == shard_tokens_) close_shard();
    }
  }
  void open_shard() {
    shard_ = ShardInfo{fmt::format("{}-{:05d}.bin", name_, shards_.size()), 0, {}};
    shard_path_ = pending_.add(shard_.file);
    out_.open(shard_path_, std::ios::binary | std::ios::trunc);
    LMF_CHECK(out_.good(), kIo, "{}: cannot write: {}", shard_path_, std::strerror(errno));
    hash_ = Fnv1a64{};
  }
  void close_shard() {
    if (!out_.is_open()) return;
    out_.close();
    LMF_CHECK(!out_.fail(), kIo, "{}: write failed (disk full?)", shard_path_);
    shard_.checksum = hash_.hex();
    shards_.push_back(shard_);
  }

  std::string name_;
  int token_bytes_;
  int64_t shard_tokens_;
  PendingFiles& pending_;
  std::vector<ShardInfo> shards_;
  ShardInfo shard_;
  std::string shard_path_, buf_, doc_ids_, idx_checksum_;
  std::ofstream out_;
  Fnv1a64 hash_;
  std::vector<uint64_t> offsets_{0};
  int64_t tokens_ = 0, text_bytes_ = 0;
};

// Token ids of each document, encoded in parallel; out[i] belongs to docs[i].
void encode_batch(const Tokenizer& tok, const std::vector<Document>& docs, std::vector<std::vector<int32_t>>& out,
                  int threads) {
  out.assign(docs.size(), {});
  std::exception_ptr error;
  const auto n = static_cast<int64_t>(docs.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    try {
      out[i] = tok.encode(docs[i].text);
    } catch (...) {
#pragma omp critical(lmf_data_encode_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// The files an earlier manifest in dir lists (plain names only), to remove stale ones.
std::set<std::string> files_of_manifest(const fs::path& path) {
  std::set<std::string> files;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return files;
  const std::string text = read_text_file(path.string());
  if (!json_depth_ok(text)) return files;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("splits") || !j["splits"].is_object()) return files;
  auto plain = [&](const nlohmann::json& f) {
    if (f.is_string() && f.get<std::string>().find('/') == std::string::npos && !f.get<std::string>().starts_with("."))
      files.insert(f.get<std::string>());
  };
  for (const auto& [name, s] : j["splits"].items()) {
    if (!s.is_object()) continue;
    if (s.contains("shards") && s["shards"].is_array())
      for (const auto& sh : s["shards"])
        if (sh.is_object() && sh.contains("file")) plain(sh["file"]);
    if (s.contains("index") && s["index"].is_object() && s["index"].contains("file")) plain(s["index"]["file"]);
    if (s.contains("document_ids")) plain(s["document_ids"]);
  }
  return files;
}

std::string skipped_note(const SkipCounts& s) {
  if (s.total() == 0) return "";
  return fmt::format(" ({} skipped: {} empty, {} binary, {} invalid UTF-8, {} not JSON, {} without \"text\")", s.total(),
                     s.empty, s.binary, s.invalid_utf8, s.bad_json, s.no_text);
}

}  // namespace

nlohmann::ordered_json prepare_dataset(DocumentSource& source, const Tokenizer& tokenizer,
                                       const PrepareOptions& opt, const PrepareCallback& progress) {
  LMF_CHECK(opt.shard_tokens > 0, kInvalidArgument, "--shard-tokens must be > 0, got {}", opt.shard_tokens);
  LMF_CHECK(opt.threads >= 1, kInvalidArgument, "--threads must be >= 1, got {}", opt.threads);
  LMF_CHECK(!opt.out_dir.empty(), kInvalidArgument, "-o/--output: missing output folder");
  const fs::path dir(opt.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  LMF_CHECK(fs::is_directory(dir), kIo, "-o {}: cannot create the folder{}", opt.out_dir,
            ec ? ": " + ec.message() : std::string(": a file is in the way"));
  const int token_bytes = tokenizer.vocab_size() <= 65536 ? 2 : 4;
  const std::optional<int32_t> eos = tokenizer.eos_id();
  const std::set<std::string> old_files = files_of_manifest(dir / "manifest.json");

  PendingFiles pending(dir);
  std::vector<SplitWriter> writers;
  for (int s = 0; s < 3; ++s) writers.emplace_back(static_cast<Split>(s), token_bytes, opt.shard_tokens, pending);

  PrepareProgress prog;
  prog.bytes_total = source.bytes_total();
  std::vector<Document> batch;
  std::vector<std::vector<int32_t>> ids;
  size_t batch_bytes = 0;
  auto flush = [&] {
    encode_batch(tokenizer, batch, ids, opt.threads);
    for (size_t i = 0; i < batch.size(); ++i) {
      writers[static_cast<int>(split_of(batch[i].bucket, opt.split))].add(batch[i], ids[i], eos);
      prog.documents += 1;
      prog.tokens += static_cast<int64_t>(ids[i].size()) + (eos ? 1 : 0);
    }
    batch.clear();
    batch_bytes = 0;
    prog.bytes_read = source.bytes_read();
    if (progress) progress(prog);
  };
  for (Document d; source.next(d); d = Document{}) {
    batch_bytes += d.text.size();
    batch.push_back(std::move(d));
    if (batch_bytes >= kBatchBytes || batch.size() >= kBatchDocs) flush();
  }
  if (!batch.empty()) flush();
  LMF_CHECK(prog.documents > 0, kBadFile, "{}: no documents{}", source.path(), skipped_note(source.skipped()));
  for (SplitWriter& w : writers) w.finish();

  const SkipCounts& sk = source.skipped();
  nlohmann::ordered_json m;
  m["format"] = "lmforge-tokens";
  m["version"] = kManifestVersion;
  m["corpus"] = source.corpus();
  m["source"] = source.path();
  m["split"] = {{"rule", source.split_rule() + fmt::format("; bucket < {} train, < {} valid, else test",
                                                         opt.split.train, opt.split.train + opt.split.valid)},
                {"percent", {opt.split.train, opt.split.valid, opt.split.test}}};
  m["tokenizer"] = {{"path", std::filesystem::absolute(tokenizer.path()).string()},  // usable from any folder
                    {"hash", tokenizer.hash()},
                    {"vocab_size", tokenizer.vocab_size()},
                    {"eos_id", eos ? nlohmann::ordered_json(*eos) : nlohmann::ordered_json(nullptr)}};
  m["document_separator"] = eos ? "eos after every document" : "none (the tokenizer has no EOS token)";
  m["dtype"] = token_bytes == 2 ? "uint16" : "uint32";
  m["byte_order"] = "little";
  m["shard_tokens"] = opt.shard_tokens;
  m["skipped"] = {{"empty", sk.empty},       {"binary", sk.binary},   {"invalid_utf8", sk.invalid_utf8},
                  {"bad_json", sk.bad_json}, {"no_text", sk.no_text}, {"ignored_files", sk.ignored_files}};
  m["splits"] = nlohmann::ordered_json::object();
  std::set<std::string> new_files = {"manifest.json"};
  for (int s = 0; s < 3; ++s) {
    m["splits"][kSplitNames[s]] = writers[s].summary();
    for (const ShardInfo& sh : writers[s].shards()) new_files.insert(sh.file);
    new_files.insert(std::string(kSplitNames[s]) + ".idx");
    new_files.insert(std::string(kSplitNames[s]) + ".docs.txt");
  }
  pending.commit();
  write_file_atomic((dir / "manifest.json").string(), m.dump(2) + "\n");
  for (const std::string& f : old_files)
    if (!new_files.count(f)) fs::remove(dir / f, ec);
  return m;
}

}  // namespace lmf::data

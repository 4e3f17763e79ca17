// Fuzz targets: a prepared dataset folder (data/token_dataset.cpp: manifest.json, token
// shards, document index, document ids) and the text a dataset is made from
// (data/text_source.cpp: a text file, JSON Lines; data/brown_corpus.cpp: tagged Brown).
#include <algorithm>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/brown_corpus.h"
#include "data/prepare.h"
#include "data/text_source.h"
#include "data/token_dataset.h"
#include "fuzz/fuzz_support.h"
#include "tokenizer/bpe_trainer.h"

namespace lmf::fuzz {

namespace {

namespace fs = std::filesystem;

void exercise(const data::TokenDataset& d) {
  LMF_FUZZ_ASSERT(d.size() >= 0 && d.documents() >= 0, "negative sizes");
  const std::vector<int32_t> all = d.read_all();
  LMF_FUZZ_ASSERT(static_cast<int64_t>(all.size()) == d.size(), "read_all gave another size");
  for (int64_t i = 0; i < d.size(); i += 7) LMF_FUZZ_ASSERT(d.at(i) == all[static_cast<size_t>(i)], "at() != read_all()");
  for (int64_t i = 0; i < d.documents() && i < 10000; ++i) {
    const auto [b, e] = d.document(i);
    LMF_FUZZ_ASSERT(0 <= b && b <= e && e <= d.size(), "a document outside the split");
    d.document_id(i);
  }
  for (size_t k = 0; k < d.shard_count(); ++k) d.shard(k);
  d.verify();
}

std::string prepared(const std::string& text, int64_t shard_tokens) {
  const std::string dir = case_dir("seed");
  BpeTrainerOptions o;
  o.vocab_size = 256 + 1 + 8;
  BpeTrainer t(o);
  t.add_text(text);
  write_bytes(dir + "/tokenizer.json", t.train().to_json());
  write_bytes(dir + "/corpus.txt", text);
  auto tok = open_tokenizer(dir + "/tokenizer.json");
  auto src = data::open_text(dir + "/corpus.txt", false);
  data::PrepareOptions po;
  po.out_dir = dir + "/ds";
  po.shard_tokens = shard_tokens;
  po.split = {60, 20, 20};
  data::prepare_dataset(*src, *tok, po);
  std::vector<std::pair<std::string, std::string>> files;
  files.emplace_back("manifest.json", read_bytes(po.out_dir + "/manifest.json"));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(po.out_dir))
    if (e.path().filename() != "manifest.json") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) files.emplace_back(n, read_bytes(po.out_dir + "/" + n));
  return join_files(files);
}

}  // namespace

void run_token_dataset(std::string_view input) {
  const std::string dir = case_dir("token_dataset");
  write_parts(dir, split_files(input));
  int opened = 0;
  for (const char* split : {"train", "valid", "test"}) {
    try {
      exercise(data::TokenDataset::open(dir, split));
      ++opened;
    } catch (const Error&) {
      if (split == std::string_view("test") && !opened) throw;
    }
  }
}

std::vector<std::string> seeds_token_dataset() {
  std::string text;
  for (int i = 0; i < 12; ++i) text += fmt::format("document {} says the cat sat on mat {}\n\n", i, i * 7);
  return {prepared(text, 1000), prepared(text, 16)};
}

namespace {

// Reads every document of `path` as the source `open` makes (strict, then --skip-bad);
// rethrows the strict reader's error.
template <typename Open>
void read_all_documents(const std::string& path, size_t file_bytes, Open open) {
  std::optional<Error> strict;
  for (const bool skip_bad : {false, true}) {
    try {
      auto src = open(path, skip_bad);
      data::Document doc;
      for (int n = 0; n < 100000 && src->next(doc); ++n) {
        LMF_FUZZ_ASSERT(data::check_text(doc.text).kind == data::TextProblem::kNone, "a document that is not UTF-8");
        LMF_FUZZ_ASSERT(doc.bucket >= 0 && doc.bucket < 100, "a bucket outside 0..99");
      }
      LMF_FUZZ_ASSERT(src->bytes_read() <= file_bytes + 1, "read more bytes than the file has");
    } catch (const Error& e) {
      if (!skip_bad) strict = e;
    }
  }
  if (strict) throw *strict;
}

}  // namespace

void run_jsonl(std::string_view input) {
  const std::string path = case_dir("jsonl") + "/data.jsonl";
  write_bytes(path, input);
  read_all_documents(path, input.size(), data::open_jsonl);
}

std::vector<std::string> seeds_jsonl() {
  return {"{\"text\": \"the first document\"}\n{\"text\": \"caf\\u00e9 \\ud83d\\ude00\"}\n\n{\"id\": 3, \"text\": \"x\"}\n",
          "{\"text\": \"a\\nb\", \"meta\": {\"k\": [1, 2.5, null]}}\r\n{\"text\": \"  \"}\n"};
}

void run_text(std::string_view input) {
  const std::string path = case_dir("text") + "/corpus.txt";
  write_bytes(path, input);
  data::brown_detag(input);
  read_all_documents(path, input.size(), data::open_text);
}

std::vector<std::string> seeds_text() {
  return {"A plain paragraph.\nIts second line.\n\nThe next document.\n",
          "\n\n\tThe/at Fulton/np-tl County/nn-tl said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n\tHe/pps ran/vbd ;/. ;/.\n",
          "caf\xC3\xA9 \xF0\x9F\x98\x80\r\n\r\n\xE2\x96\x81x\n"};
}

}  // namespace lmf::fuzz

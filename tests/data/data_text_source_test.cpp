// The user's own text (--text FILE|DIR, --jsonl FILE): documents, ids, split buckets and
// the bad-input policy (docs/data.md): blank documents skipped and counted; NUL bytes,
// invalid UTF-8, JSONL lines that are not JSON or have no "text" an error naming the file
// and line, or skipped and counted with skip_bad.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/document.h"
#include "data/text_source.h"

namespace lmf::data {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

class TextSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lmf_text_source_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
  fs::path dir_;
};

std::vector<Document> all(DocumentSource& s) {
  std::vector<Document> docs;
  for (Document d; s.next(d);) docs.push_back(d);
  return docs;
}

// The message of the lmf::Error that f throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Fnv1a, KnownValues) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(SplitPercentFlag, ParsesAndRejects) {
  const SplitPercent p = parse_split_percent("80,10,10", "--split");
  EXPECT_EQ(p.train, 80);
  EXPECT_EQ(split_of(79, p), Split::kTrain);
  EXPECT_EQ(split_of(80, p), Split::kValid);
  EXPECT_EQ(split_of(90, p), Split::kTest);
  EXPECT_NE(error_of([] { parse_split_percent("90,5", "--split"); }).find("--split: '90,5' is not three"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_split_percent("90,5,6", "--split"); }).find("must sum to 100"), std::string::npos);
  EXPECT_NE(error_of([] { parse_split_percent("90,5,5,", "--split"); }), "");
  EXPECT_EQ(parse_split("validation"), Split::kValid);
}

TEST_F(TextSourceTest, FolderIsOneDocumentPerTxtFile) {
  write("b.txt", "second\n");
  write("a.txt", "\xEF\xBB\xBF" "first file\n\nstill first\n");
  write("sub/c.txt", "third");
  write("empty.txt", " \n\n");
  write("notes.md", "not text");
  write(".hidden.txt", "hidden");
  auto src = open_text(dir_.string(), false);
  const std::vector<Document> docs = all(*src);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].id, "a.txt");
  EXPECT_EQ(docs[0].text, "first file\n\nstill first\n");  // verbatim, BOM dropped
  EXPECT_EQ(docs[1].id, "b.txt");
  EXPECT_EQ(docs[2].id, "sub/c.txt");
  EXPECT_EQ(docs[2].bucket, static_cast<int>(fnv1a64("third") % 100));
  EXPECT_EQ(src->skipped().empty, 1);
  EXPECT_EQ(src->skipped().ignored_files, 1);
  EXPECT_EQ(src->corpus(), "text");
}

TEST_F(TextSourceTest, FileIsBlankLineSeparatedBlocks) {
  const std::string f = write("f.txt", "one\r\ntwo\n\n \n\nthree\n  four\n\n");
  auto src = open_text(f, false);
  const std::vector<Document> docs = all(*src);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].id, "f.txt:1");
  EXPECT_EQ(docs[0].text, "one\ntwo");
  EXPECT_EQ(docs[1].id, "f.txt:6");
  EXPECT_EQ(docs[1].text, "three\n  four");
  EXPECT_EQ(src->bytes_read(), src->bytes_total());
}

TEST_F(TextSourceTest, NulBytesAreAnErrorOrSkipped) {
  const std::string f = write("bin.txt", "fine\n\nok\nbad\0byte\n\nlast\n"s);
  const std::string msg = error_of([&] { all(*open_text(f, false)); });
  EXPECT_NE(msg.find("bin.txt: line 4: NUL byte"), std::string::npos) << msg;
  auto src = open_text(f, true);
  const std::vector<Document> docs = all(*src);
  ASSERT_EQ(docs.size(), 2u);  // the whole block "ok\nbad..." is skipped
  EXPECT_EQ(docs[1].text, "last");
  EXPECT_EQ(src->skipped().binary, 1);
}

TEST_F(TextSourceTest, InvalidUtf8IsAnErrorOrSkipped) {
  write("good.txt", "caf\xC3\xA9");
  write("latin1.txt", "line\ncaf\xE9\n");
  const std::string msg = error_of([&] { all(*open_text(dir_.string(), false)); });
  EXPECT_NE(msg.find("latin1.txt: line 2: invalid UTF-8"), std::string::npos) << msg;
  auto src = open_text(dir_.string(), true);
  EXPECT_EQ(all(*src).size(), 1u);
  EXPECT_EQ(src->skipped().invalid_utf8, 1);
  // Overlong forms and surrogates are invalid too.
  EXPECT_EQ(check_text("\xC0\xAF").kind, TextProblem::kInvalidUtf8);
  EXPECT_EQ(check_text("\xED\xA0\x80").kind, TextProblem::kInvalidUtf8);
  EXPECT_EQ(check_text("ok \xF0\x9F\x98\x80").kind, TextProblem::kNone);
}

TEST_F(TextSourceTest, EmptyInput) {
  const std::string f = write("empty.txt", "");
  EXPECT_TRUE(all(*open_text(f, false)).empty());  // prepare_dataset turns this into "no documents"
  fs::create_directories(dir_ / "nothing");
  EXPECT_NE(error_of([&] { open_text((dir_ / "nothing").string(), false); }).find("no .txt files"),
            std::string::npos);
  EXPECT_NE(error_of([&] { open_text((dir_ / "missing").string(), false); }).find("no such file or folder"),
            std::string::npos);
}

TEST_F(TextSourceTest, Jsonl) {
  const std::string f = write("d.jsonl",
                              "{\"text\": \"hello\", \"id\": 7}\n"
                              "\n"
                              "{\"text\": \"caf\\u00e9\\nline\"}\r\n"
                              "{\"text\": \"  \"}\n");
  auto src = open_jsonl(f, false);
  EXPECT_EQ(src->corpus(), "jsonl");
  const std::vector<Document> docs = all(*src);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].id, "d.jsonl:1");
  EXPECT_EQ(docs[0].text, "hello");
  EXPECT_EQ(docs[1].id, "d.jsonl:3");
  EXPECT_EQ(docs[1].text, "caf\xC3\xA9\nline");
  EXPECT_EQ(src->skipped().empty, 1);
}

TEST_F(TextSourceTest, JsonlBadLines) {
  const std::string f = write("bad.jsonl",
                              "{\"text\": \"ok\"}\n"
                              "{\"text\": \"unterminated\n"
                              "{\"title\": \"no text\"}\n"
                              "[\"an\", \"array\"]\n"
                              "{\"text\": 42}\n"
                              "{\"text\": \"bad \xFF byte\"}\n"
                              "{\"text\": \"nul \\u0000 escape\"}\n");
  std::string msg = error_of([&] { all(*open_jsonl(f, false)); });
  EXPECT_NE(msg.find("bad.jsonl: line 2: not valid JSON"), std::string::npos) << msg;
  auto src = open_jsonl(f, true);
  EXPECT_EQ(all(*src).size(), 1u);
  EXPECT_EQ(src->skipped().bad_json, 1);
  EXPECT_EQ(src->skipped().no_text, 3);
  EXPECT_EQ(src->skipped().invalid_utf8, 1);
  EXPECT_EQ(src->skipped().binary, 1);

  const std::string g = write("notext.jsonl", "{\"text\": \"ok\"}\n{\"title\": \"x\"}\n");
  msg = error_of([&] { all(*open_jsonl(g, false)); });
  EXPECT_NE(msg.find("notext.jsonl: line 2: no \"text\" string field"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { open_jsonl((dir_ / "nope.jsonl").string(), false); }).find("--jsonl"), std::string::npos);
}

}  // namespace
}  // namespace lmf::data

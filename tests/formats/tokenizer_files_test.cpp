// formats/tokenizer_files: the files an output model folder takes from its source.
#include "formats/tokenizer_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/mapped_file.h"

namespace lmf {
namespace {

namespace fs = std::filesystem;

class TokenizerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("lmf_tokfiles_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "src");
    fs::create_directories(root_ / "dst");
    for (const char* name : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "config.json", "notes.txt"})
      write_file_atomic((root_ / "src" / name).string(), std::string("content of ") + name);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(TokenizerFiles, AFolderGivesItsTokenizerFilesAndChatTemplate) {
  std::vector<std::string> got = copy_tokenizer_files((root_ / "src").string(), (root_ / "dst").string());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"chat_template.jinja", "tokenizer.json", "tokenizer_config.json"}));
  for (const auto& name : got)
    EXPECT_EQ(read_text_file((root_ / "dst" / name).string()), "content of " + name) << name;
  EXPECT_FALSE(fs::exists(root_ / "dst" / "config.json"));  // not a tokenizer file
  EXPECT_FALSE(fs::exists(root_ / "dst" / "notes.txt"));
}

TEST_F(TokenizerFiles, ATokenizerFileBringsTheFilesBesideIt) {
  std::vector<std::string> got =
      copy_tokenizer_files((root_ / "src" / "tokenizer.json").string(), (root_ / "dst").string());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"chat_template.jinja", "tokenizer.json", "tokenizer_config.json"}));
}

}  // namespace
}  // namespace lmf

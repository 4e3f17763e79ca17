#include "formats/tokenizer_files.h"

#include <filesystem>
#include <utility>

#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf {

namespace fs = std::filesystem;

namespace {
bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
}  // namespace

std::vector<std::string> copy_tokenizer_files(const std::string& from, const std::string& to) {
  std::vector<std::pair<fs::path, std::string>> files;  // source, name in `to`
  std::error_code ec;
  if (fs::is_directory(from, ec)) {
    for (const char* name : kTokenizerFiles) files.emplace_back(fs::path(from) / name, name);
  } else {
    LMF_CHECK(is_file(from), kBadFile, "{}: no such file or folder", from);
    files.emplace_back(from, fs::path(from).extension() == ".json" ? "tokenizer.json" : "tokenizer.model");
    for (const char* name : {"tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "chat_template.jinja"})
      files.emplace_back(fs::path(from).parent_path() / name, name);
  }
  std::vector<std::string> written;
  for (const auto& [src, name] : files) {
    const fs::path dst = fs::path(to) / name;
    if (!is_file(src) || fs::weakly_canonical(src, ec) == fs::weakly_canonical(dst, ec)) continue;
    write_file_atomic(dst.string(), read_text_file(src.string()));
    written.push_back(name);
  }
  return written;
}

}  // namespace lmf

#include "compress/output_folder.h"

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/tokenizer_files.h"

namespace lmf::compress {

namespace fs = std::filesystem;

fs::path output_folder(const std::string& path) {
  LMF_CHECK(!path.empty(), kInvalidArgument, "-o: an output folder is required");
  std::error_code ec;
  LMF_CHECK(!fs::is_symlink(fs::symlink_status(path, ec)) || fs::exists(path, ec), kInvalidArgument,
            "-o {}: a symbolic link to {}, which does not exist", path, fs::read_symlink(path, ec).string());
  LMF_CHECK(!fs::exists(path, ec) || (fs::is_directory(path, ec) && fs::is_empty(path, ec)), kInvalidArgument,
            "-o {}: exists and is not an empty folder", path);
  fs::path out = fs::absolute(path).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  return out;
}

void write_output_folder(const fs::path& out, const std::string& source,
                         const std::function<void(const fs::path& tmp)>& write) {
  std::error_code ec;
  const fs::path tmp = out.parent_path() / (out.filename().string() + ".partial");
  fs::remove_all(tmp, ec);
  try {
    fs::create_directories(tmp);
    write(tmp);
    copy_tokenizer_files(source, tmp.string());
    if (const fs::path gen = fs::path(source) / "generation_config.json"; fs::exists(gen))
      write_file_atomic((tmp / gen.filename()).string(), read_text_file(gen.string()));
    if (fs::exists(out)) fs::remove(out);
    fs::rename(tmp, out);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace lmf::compress

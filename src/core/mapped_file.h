// lmforge core: read-only memory-mapped files.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace lmf {

class MappedFile {
 public:
  // Maps the whole file read-only; throws lmf::Error naming the path on failure.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

// Drops this process's pages of the whole pages inside [p, p + bytes) of a read-only file
// mapping (MADV_DONTNEED): they leave the resident set and are read from the file again if
// touched. Only for memory a MappedFile maps (Tensor::mapped()).
void release_mapped_pages(const void* p, size_t bytes);

// Reads a whole (small) text file; throws lmf::Error naming the path on failure.
std::string read_text_file(const std::string& path);
// Output files are written to a temporary name beside them and renamed into place, so a
// failure never leaves half a file. temp_path_for names the temporary file ("PATH.tmp.PID");
// rename_into_place renames it onto path, removing it and throwing lmf::Error on failure.
std::string temp_path_for(const std::string& path);
void rename_into_place(const std::string& tmp, const std::string& path);
// Writes `contents` to path atomically: temp_path_for(path), then rename_into_place.
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace lmf

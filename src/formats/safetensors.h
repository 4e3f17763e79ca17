// lmforge formats: safetensors files, read by memory-mapping.
//
// The header is validated before any tensor is handed out: its length must fit
// the file, every dtype must be known, every shape × dtype size must equal its
// byte range, ranges must lie inside the data section and must not overlap.
// Tensors borrow the mapped memory (no copy).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace lmf {

struct SafetensorsEntry {
  DType dtype;
  Shape shape;
  size_t begin = 0;  // byte offsets relative to the data section
  size_t end = 0;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::map<std::string, SafetensorsEntry>& entries() const { return entries_; }
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  // The tensor `name`, borrowing the mapped file. Throws if absent.
  Tensor tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::shared_ptr<MappedFile> file_;
  size_t data_start_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (name -> tensor) as a safetensors file, atomically.
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lmf

#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/checked.h"
#include "core/error.h"

namespace lmf {

namespace {

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
  }
  return "?";
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name,
                             const nlohmann::json& j, size_t data_size) {
  LMF_CHECK(j.is_object(), kBadFile, "{}: tensor '{}': header entry is not an object", path, name);
  LMF_CHECK(j.contains("dtype") && j["dtype"].is_string(), kBadFile,
            "{}: tensor '{}': missing dtype", path, name);
  SafetensorsEntry e;
  std::string dt = j["dtype"].get<std::string>();
  LMF_CHECK(dtype_from_safetensors(dt, &e.dtype), kBadFile, "{}: tensor '{}': unknown dtype '{}'",
            path, name, dt);
  LMF_CHECK(j.contains("shape") && j["shape"].is_array(), kBadFile,
            "{}: tensor '{}': missing shape", path, name);
  for (const auto& d : j["shape"]) {
    LMF_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, kBadFile,
              "{}: tensor '{}': shape has a bad dimension", path, name);
    e.shape.push_back(d.get<int64_t>());
  }
  const auto& off = j.contains("data_offsets") ? j["data_offsets"] : nlohmann::json();
  LMF_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() &&
                off[1].is_number_unsigned(),
            kBadFile, "{}: tensor '{}': data_offsets must be two non-negative integers", path, name);
  e.begin = off[0].get<size_t>();
  e.end = off[1].get<size_t>();
  LMF_CHECK(e.begin <= e.end, kBadFile, "{}: tensor '{}': data_offsets [{}, {}] are reversed", path,
            name, e.begin, e.end);
  LMF_CHECK(e.end <= data_size, kBadFile,
            "{}: tensor '{}': data_offsets [{}, {}] run past the end of the data ({} bytes)", path,
            name, e.begin, e.end, data_size);
  const std::string what = fmt::format("{}: tensor '{}'", path, name);
  const int64_t bytes = checked_mul(checked_numel(e.shape, what), static_cast<int64_t>(dtype_size(e.dtype)), what);
  LMF_CHECK(static_cast<uint64_t>(bytes) == e.end - e.begin, kBadFile,
            "{}: shape {} of {} needs {} bytes but data_offsets give {}", what, shape_str(e.shape), dt, bytes,
            e.end - e.begin);
  return e;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.file_ = MappedFile::open(path);
  const size_t size = f.file_->size();
  LMF_CHECK(size >= 8, kBadFile, "{}: too short to be a safetensors file ({} bytes)", path, size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, f.file_->data(), 8);
  LMF_CHECK(header_len <= size - 8, kBadFile,
            "{}: header length {} runs past the end of the file ({} bytes)", path, header_len, size);
  f.data_start_ = 8 + header_len;
  const size_t data_size = size - f.data_start_;
  check_json_depth({reinterpret_cast<const char*>(f.file_->data()) + 8, header_len}, path + ": header");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(f.file_->data() + 8, f.file_->data() + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kBadFile, "{}: header is not valid JSON: {}", path, e.what());
  }
  LMF_CHECK(header.is_object(), kBadFile, "{}: header is not a JSON object", path);
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it.value().is_object()) {
        for (auto m = it.value().begin(); m != it.value().end(); ++m)
          if (m.value().is_string()) f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    f.entries_[it.key()] = parse_entry(path, it.key(), it.value(), data_size);
  }
  // No two tensors may share bytes.
  std::vector<std::pair<size_t, const std::string*>> order;
  for (const auto& [name, e] : f.entries_)
    if (e.end > e.begin) order.emplace_back(e.begin, &name);
  std::sort(order.begin(), order.end());
  for (size_t i = 1; i < order.size(); ++i) {
    const auto& prev = f.entries_[*order[i - 1].second];
    LMF_CHECK(prev.end <= order[i].first, kBadFile, "{}: tensors '{}' and '{}' overlap", path,
              *order[i - 1].second, *order[i].second);
  }
  return f;
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
  auto it = entries_.find(name);
  LMF_CHECK(it != entries_.end(), kBadFile, "{}: no tensor '{}'", path(), name);
  const auto& e = it->second;
  void* p = const_cast<unsigned char*>(file_->data() + data_start_ + e.begin);
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(e.dtype) != 0) {
    // A header whose length is not a multiple of 8 (writers pad it; a few old files do
    // not) leaves the data misaligned for its type: such a tensor is copied, not borrowed.
    Tensor t = Tensor::empty(e.dtype, e.shape);
    std::memcpy(t.mutable_data(), p, e.end - e.begin);
    return t;
  }
  return Tensor::borrow(e.dtype, e.shape, p, file_, true);
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", safetensors_dtype(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t len = h.size();
  out.append(reinterpret_cast<const char*>(&len), 8);
  out += h;
  for (const auto& [name, t] : tensors) out.append(static_cast<const char*>(t.data()), t.nbytes());
  write_file_atomic(path, out);
}

}  // namespace lmf

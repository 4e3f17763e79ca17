#include "formats/gguf.h"

#include <algorithm>
#include <cstring>

#include "core/checked.h"
#include "core/error.h"

namespace lmf {

namespace {

constexpr GgmlTypeTraits kTraits[] = {
    /* 0 F32 */ {"F32", 1, 4, true},      /* 1 F16 */ {"F16", 1, 2, true},
    /* 2 Q4_0 */ {"Q4_0", 32, 18, true},  /* 3 Q4_1 */ {"Q4_1", 32, 20, true},
    /* 4 */ {nullptr, 0, 0, false},       /* 5 */ {nullptr, 0, 0, false},
    /* 6 Q5_0 */ {"Q5_0", 32, 22, true},  /* 7 Q5_1 */ {"Q5_1", 32, 24, true},
    /* 8 Q8_0 */ {"Q8_0", 32, 34, true},  /* 9 Q8_1 */ {"Q8_1", 32, 36, false},
    /* 10 Q2_K */ {"Q2_K", 256, 84, true}, /* 11 Q3_K */ {"Q3_K", 256, 110, true},
    /* 12 Q4_K */ {"Q4_K", 256, 144, true}, /* 13 Q5_K */ {"Q5_K", 256, 176, true},
    /* 14 Q6_K */ {"Q6_K", 256, 210, true}, /* 15 Q8_K */ {"Q8_K", 256, 292, false},
    /* 16 IQ2_XXS */ {"IQ2_XXS", 256, 66, false}, /* 17 IQ2_XS */ {"IQ2_XS", 256, 74, false},
    /* 18 IQ3_XXS */ {"IQ3_XXS", 256, 98, false}, /* 19 IQ1_S */ {"IQ1_S", 256, 50, false},
    /* 20 IQ4_NL */ {"IQ4_NL", 32, 18, false},    /* 21 IQ3_S */ {"IQ3_S", 256, 110, false},
    /* 22 IQ2_S */ {"IQ2_S", 256, 82, false},     /* 23 IQ4_XS */ {"IQ4_XS", 256, 136, false},
    /* 24 I8 */ {"I8", 1, 1, false},   /* 25 I16 */ {"I16", 1, 2, false},
    /* 26 I32 */ {"I32", 1, 4, false}, /* 27 I64 */ {"I64", 1, 8, false},
    /* 28 F64 */ {"F64", 1, 8, false}, /* 29 IQ1_M */ {"IQ1_M", 256, 56, false},
    /* 30 BF16 */ {"BF16", 1, 2, true},
};

// A bounds-checked little-endian reader over the mapped bytes.
class Reader {
 public:
  Reader(const unsigned char* p, uint64_t size, const std::string& path) : p_(p), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  void need(uint64_t n, const std::string& what) const {
    LMF_CHECK(n <= left(), kBadFile, "{}: truncated: {} needs {} bytes at offset {}, {} left", path_, what, n, pos_,
              left());
  }
  template <class T>
  T get(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const std::string& what) {
    const uint64_t n = get<uint64_t>(what + " (length)");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }

 private:
  const unsigned char* p_;
  uint64_t size_, pos_ = 0;
  const std::string& path_;
};

constexpr int kMaxArrayDepth = 8;

nlohmann::json read_value(Reader& r, GgufType type, const std::string& what, const std::string& path, int depth,
                          GgufType* elem_type = nullptr) {
  switch (type) {
    case GgufType::kU8: return r.get<uint8_t>(what);
    case GgufType::kI8: return r.get<int8_t>(what);
    case GgufType::kU16: return r.get<uint16_t>(what);
    case GgufType::kI16: return r.get<int16_t>(what);
    case GgufType::kU32: return r.get<uint32_t>(what);
    case GgufType::kI32: return r.get<int32_t>(what);
    case GgufType::kF32: return r.get<float>(what);
    case GgufType::kU64: return r.get<uint64_t>(what);
    case GgufType::kI64: return r.get<int64_t>(what);
    case GgufType::kF64: return r.get<double>(what);
    case GgufType::kBool: {
      const uint8_t b = r.get<uint8_t>(what);
      LMF_CHECK(b <= 1, kBadFile, "{}: {}: a bool of value {}", path, what, b);
      return b != 0;
    }
    case GgufType::kString: return r.str(what);
    case GgufType::kArray: {
      LMF_CHECK(depth < kMaxArrayDepth, kBadFile, "{}: {}: arrays nested deeper than {}", path, what, kMaxArrayDepth);
      const uint32_t et = r.get<uint32_t>(what + " (element type)");
      LMF_CHECK(et <= static_cast<uint32_t>(GgufType::kF64), kBadFile, "{}: {}: unknown array element type {}", path,
                what, et);
      const uint64_t n = r.get<uint64_t>(what + " (count)");
      // Every element takes at least one byte: a count past the bytes left is a lie.
      LMF_CHECK(n <= r.left(), kBadFile, "{}: {}: {} elements, more than the {} bytes left", path, what, n, r.left());
      if (elem_type) *elem_type = static_cast<GgufType>(et);
      nlohmann::json a = nlohmann::json::array();
      a.get_ref<nlohmann::json::array_t&>().reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) a.push_back(read_value(r, static_cast<GgufType>(et), what, path, depth + 1));
      return a;
    }
  }
  fail(ErrorCode::kBadFile, "{}: {}: unknown value type {}", path, what, static_cast<uint32_t>(type));
}

}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t t) {
  if (t >= std::size(kTraits) || kTraits[t].name == nullptr) return nullptr;
  return &kTraits[t];
}

const char* gguf_type_name(GgufType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(names) ? names[i] : "?";
}

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

GgufFile GgufFile::open(const std::string& path) {
  GgufFile f;
  f.file_ = MappedFile::open(path);
  Reader r(f.file_->data(), f.file_->size(), path);
  LMF_CHECK(f.file_->size() >= 4 && std::memcmp(f.file_->data(), "GGUF", 4) == 0, kBadFile,
            "{}: not a GGUF file (no 'GGUF' magic)", path);
  r.get<uint32_t>("magic");
  f.version_ = r.get<uint32_t>("version");
  LMF_CHECK(f.version_ != 0x02000000 && f.version_ != 0x03000000, kBadFile,
            "{}: a big-endian GGUF file (version bytes {:#010x}); only little-endian files are supported", path,
            f.version_);
  LMF_CHECK(f.version_ == 2 || f.version_ == 3, kBadFile, "{}: GGUF version {} is not supported (2 or 3)", path,
            f.version_);
  const uint64_t n_tensors = r.get<uint64_t>("tensor count"), n_kv = r.get<uint64_t>("metadata count");
  // A key/value pair takes at least 8 + 4 + 1 bytes and a tensor info 8 + 4 + 4 + 8.
  LMF_CHECK(n_kv <= r.left() / 13, kBadFile, "{}: {} metadata entries cannot fit in the file", path, n_kv);
  LMF_CHECK(n_tensors <= r.left() / 24, kBadFile, "{}: {} tensors cannot fit in the file", path, n_tensors);
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.str(fmt::format("metadata key {}", i));
    LMF_CHECK(!f.kv_index_.count(key), kBadFile, "{}: metadata key '{}' appears twice", path, key);
    const uint32_t type = r.get<uint32_t>("type of " + key);
    LMF_CHECK(type <= static_cast<uint32_t>(GgufType::kF64), kBadFile, "{}: metadata '{}': unknown value type {}", path,
              key, type);
    GgufValue v;
    v.type = static_cast<GgufType>(type);
    v.value = read_value(r, v.type, "metadata '" + key + "'", path, 0, &v.elem_type);
    f.kv_index_[key] = f.kv_.size();
    f.kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const GgufValue* a = f.find("general.alignment")) {
    LMF_CHECK(a->type == GgufType::kU32, kBadFile, "{}: metadata 'general.alignment' must be a u32, not {}", path,
              gguf_type_name(a->type));
    const uint64_t al = a->value.get<uint64_t>();
    LMF_CHECK(al > 0 && (al & (al - 1)) == 0, kBadFile, "{}: general.alignment {} is not a power of two", path, al);
    f.alignment_ = al;
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = r.str(fmt::format("tensor {} name", i));
    LMF_CHECK(!f.tensor_index_.count(t.name), kBadFile, "{}: tensor '{}' appears twice", path, t.name);
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t nd = r.get<uint32_t>(what + " n_dims");
    LMF_CHECK(nd >= 1 && nd <= 4, kBadFile, "{}: {}: {} dimensions (1 to 4)", path, what, nd);
    int64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t ne = r.get<uint64_t>(what + " dims");
      LMF_CHECK(ne >= 1 && ne <= static_cast<uint64_t>(INT64_MAX), kBadFile, "{}: {}: dimension {} is {}", path, what,
                d, ne);
      t.dims.push_back(static_cast<int64_t>(ne));
      numel = checked_mul(numel, static_cast<int64_t>(ne), path + ": " + what + " dims");
    }
    const uint32_t type = r.get<uint32_t>(what + " type");
    const GgmlTypeTraits* tr = ggml_type_traits(type);
    LMF_CHECK(tr != nullptr, kBadFile, "{}: {}: unknown ggml type {}", path, what, type);
    t.type = static_cast<GgmlType>(type);
    LMF_CHECK(t.dims[0] % tr->block == 0, kBadFile, "{}: {}: rows of {} values are not whole {}-element {} blocks",
              path, what, t.dims[0], tr->block, tr->name);
    t.nbytes = static_cast<uint64_t>(checked_mul(numel / tr->block, tr->block_bytes, path + ": " + what + " bytes"));
    t.offset = r.get<uint64_t>(what + " offset");
    f.tensor_index_[t.name] = f.tensors_.size();
    f.tensors_.push_back(std::move(t));
  }
  const uint64_t end_of_infos = r.pos();
  f.data_start_ = (end_of_infos + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  const uint64_t size = f.file_->size();
  LMF_CHECK(f.tensors_.empty() || f.data_start_ <= size, kBadFile, "{}: truncated before the tensor data", path);
  const uint64_t data_size = size >= f.data_start_ ? size - f.data_start_ : 0;
  std::vector<const GgufTensor*> order;
  for (const GgufTensor& t : f.tensors_) {
    LMF_CHECK(t.offset % f.alignment_ == 0, kBadFile, "{}: tensor '{}': data offset {} is not a multiple of the alignment {}",
              path, t.name, t.offset, f.alignment_);
    LMF_CHECK(t.offset <= data_size && t.nbytes <= data_size - t.offset, kBadFile,
              "{}: tensor '{}': {} bytes at data offset {} run past the end of the file ({} bytes of data)", path,
              t.name, t.nbytes, t.offset, data_size);
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(), [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i)
    LMF_CHECK(order[i - 1]->offset + order[i - 1]->nbytes <= order[i]->offset, kBadFile,
              "{}: tensors '{}' and '{}' overlap", path, order[i - 1]->name, order[i]->name);
  return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::vector<float> gguf_dequantize(const GgufFile& f, const GgufTensor& t) {
  const GgmlTypeTraits* tr = ggml_type_traits(static_cast<uint32_t>(t.type));
  LMF_CHECK(tr && tr->dequantize, kUnsupported, "{}: tensor '{}': type {} cannot be decoded yet", f.path(), t.name,
            tr ? tr->name : "?");
  std::vector<float> out(static_cast<size_t>(t.numel()));
  gguf_dequantize_row(t.type, f.tensor_data(t), t.numel(), out.data());
  return out;
}

}  // namespace lmf

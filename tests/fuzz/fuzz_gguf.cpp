// Fuzz target: GGUF files (formats/gguf.cpp): the header, metadata of every value type,
// tensor infos and the decoders of every type lmforge decodes.
#include <cstring>

#include "core/error.h"
#include "formats/gguf.h"
#include "fuzz/fuzz_support.h"

namespace lmf::fuzz {

namespace {

// A GGUF v3 file: metadata (a string, a u32 alignment, a string array, a nested array)
// and one tensor per (type, elements) of `tensors`, filled with patterned bytes.
std::string gguf_seed(const std::vector<std::pair<GgmlType, int64_t>>& tensors) {
  std::string b;
  auto put = [&b](auto v) { b.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  auto str = [&](const std::string& s) { put(uint64_t{s.size()}), b += s; };
  b = "GGUF";
  put(uint32_t{3}), put(uint64_t{tensors.size()}), put(uint64_t{4});
  str("general.architecture"), put(uint32_t{8}), str("llama");
  str("general.alignment"), put(uint32_t{4}), put(uint32_t{32});
  str("tokenizer.ggml.tokens"), put(uint32_t{9}), put(uint32_t{8}), put(uint64_t{2}), str("a"), str("<s>");
  str("x.nested"), put(uint32_t{9}), put(uint32_t{9}), put(uint64_t{1}), put(uint32_t{5}), put(uint64_t{2}),
      put(int32_t{-1}), put(int32_t{7});
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [type, n] = tensors[i];
    const GgmlTypeTraits* tr = ggml_type_traits(static_cast<uint32_t>(type));
    str("t" + std::to_string(i)), put(uint32_t{1}), put(uint64_t(n)), put(static_cast<uint32_t>(type)), put(offset);
    sizes.push_back(static_cast<uint64_t>(n / tr->block * tr->block_bytes));
    offset += (sizes.back() + 31) / 32 * 32;
  }
  b.resize((b.size() + 31) / 32 * 32, '\0');
  for (uint64_t s : sizes) {
    for (uint64_t j = 0; j < s; ++j) b += static_cast<char>((j * 29 + 3) & 0x3B);  // small f16 scales
    b.resize((b.size() + 31) / 32 * 32, '\0');
  }
  return b;
}

}  // namespace

void run_gguf(std::string_view input) {
  const std::string path = case_dir("gguf") + "/model.gguf";
  write_bytes(path, input);
  const GgufFile f = GgufFile::open(path);
  for (const GgufTensor& t : f.tensors()) {
    LMF_FUZZ_ASSERT(f.data_offset() + t.offset + t.nbytes <= input.size(), "a tensor ends past the end of the file");
    const GgmlTypeTraits* tr = ggml_type_traits(static_cast<uint32_t>(t.type));
    LMF_FUZZ_ASSERT(tr != nullptr, "a tensor of an unknown type was accepted");
    if (!tr->dequantize || t.numel() > (int64_t{1} << 22)) continue;
    const std::vector<float> v = gguf_dequantize(f, t);
    LMF_FUZZ_ASSERT(static_cast<int64_t>(v.size()) == t.numel(), "dequantize gave another element count");
  }
  for (const auto& [k, v] : f.metadata()) (void)v.value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> seeds_gguf() {
  return {gguf_seed({{GgmlType::kF32, 8}, {GgmlType::kQ4_0, 32}, {GgmlType::kQ8_0, 64}}),
          gguf_seed({{GgmlType::kQ4_K, 256}, {GgmlType::kQ6_K, 256}, {GgmlType::kBF16, 4}, {GgmlType::kQ5_1, 32}}),
          gguf_seed({})};
}

}  // namespace lmf::fuzz

// Fuzz targets: safetensors files (formats/safetensors.cpp) and the teacher cache
// (train/teacher_cache.cpp), a safetensors file with metadata.
#include <cmath>
#include <cstring>

#include "core/checked.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "fuzz/fuzz_support.h"
#include "train/teacher_cache.h"

namespace lmf::fuzz {

namespace {

Tensor filled(DType t, Shape shape) {
  Tensor x = Tensor::empty(t, std::move(shape), true);
  auto* p = static_cast<unsigned char*>(x.mutable_data());
  for (size_t i = 0; i < x.nbytes(); ++i) p[i] = static_cast<unsigned char>(i * 37 + 11);
  return x;
}

std::string write_and_read(const std::map<std::string, Tensor>& tensors, const std::map<std::string, std::string>& meta) {
  const std::string path = case_dir("seed") + "/seed.safetensors";
  write_safetensors(path, tensors, meta);
  return read_bytes(path);
}

}  // namespace

void run_safetensors(std::string_view input) {
  const std::string path = case_dir("safetensors") + "/model.safetensors";
  write_bytes(path, input);
  const SafetensorsFile f = SafetensorsFile::open(path);
  for (const auto& [name, e] : f.entries()) {
    const Tensor t = f.tensor(name);
    LMF_FUZZ_ASSERT(t.nbytes() == e.end - e.begin, "tensor bytes differ from its data_offsets");
    LMF_FUZZ_ASSERT(8 + e.end <= input.size(), "a tensor ends past the end of the file");
    uint64_t sum = 0;  // touch every byte: a range outside the mapping faults
    const auto* p = static_cast<const unsigned char*>(t.data());
    for (size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
    (void)sum;
    if (t.dtype() == DType::kF32 || t.dtype() == DType::kF16 || t.dtype() == DType::kBF16) {
      const Tensor x = t.to_f32();
      LMF_FUZZ_ASSERT(x.numel() == t.numel(), "to_f32 changed the element count");
    }
  }
}

std::vector<std::string> seeds_safetensors() {
  std::vector<std::string> s;
  s.push_back(write_and_read({{"w", filled(DType::kF32, {2, 3})}}, {}));
  s.push_back(write_and_read({{"a", filled(DType::kF16, {4})},
                              {"b", filled(DType::kBF16, {2, 2})},
                              {"c", filled(DType::kI8, {3})},
                              {"d", filled(DType::kU8, {1, 1, 2})},
                              {"e", filled(DType::kI32, {2})},
                              {"f", filled(DType::kI64, {1})},
                              {"z", filled(DType::kF32, {0, 4})}},
                             {{"format", "pt"}, {"note", "seed"}}));
  s.push_back(write_and_read({}, {{"only", "metadata"}}));
  return s;
}

void run_teacher_cache(std::string_view input) {
  const std::string path = case_dir("teacher_cache") + "/teacher.safetensors";
  write_bytes(path, input);
  const TeacherCache c = TeacherCache::open(path, {});
  LMF_FUZZ_ASSERT(c.k() >= 0 && c.windows() >= 0, "negative k or window count");
  if (c.windows() == 0) return;
  // One window; the vocabulary a run would pass (enough for the seeds' ids).
  const int64_t V = 16;
  const int64_t seq = parse_int64(SafetensorsFile::open(path).metadata().at("seq"), "seq");
  LMF_FUZZ_ASSERT(seq > 0 && seq <= static_cast<int64_t>(input.size()), "seq is larger than the file could hold");
  std::vector<float> out(static_cast<size_t>(seq * V));
  const int64_t start = (c.windows() - 1) * seq;
  c.fill({&start, 1}, V, out.data());
}

std::vector<std::string> seeds_teacher_cache() {
  // What TeacherCache::build writes: 2 windows of seq 2, top-3 of a 16-token vocabulary.
  const int64_t seq = 2, k = 3, V = 16;
  std::vector<int32_t> train(2 * seq + 1);
  for (size_t i = 0; i < train.size(); ++i) train[i] = static_cast<int32_t>(i % V);
  std::vector<float> logits;
  const auto teacher = [&](std::span<const int32_t> tokens) {
    logits.assign(tokens.size() * V, 0.0f);
    for (size_t r = 0; r < tokens.size(); ++r)
      for (int64_t v = 0; v < V; ++v) logits[r * V + v] = std::sin(static_cast<float>(r * V + v));
    return logits.data();
  };
  const std::string path = case_dir("seed") + "/teacher.safetensors";
  TeacherCache::build(path, train, seq, k, V, 1.0, 1, teacher, {{"teacher", "t"}, {"data", "d"}});
  return {read_bytes(path)};
}

}  // namespace lmf::fuzz

// Tensor const-correctness: reads go through const access (data(), data_as<T>()), writes
// through mutable_data(), which an owned tensor grants and a read-only mapping of a file
// (a safetensors tensor used in place) refuses with lmf::Error naming its dtype and
// shape; a copy of the mapping is writable and leaves the file as it was.
#include "core/tensor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <type_traits>

#include "core/error.h"
#include "formats/safetensors.h"

namespace lmf {
namespace {

static_assert(std::is_same_v<decltype(std::declval<const Tensor&>().data()), const void*>);
static_assert(std::is_same_v<decltype(std::declval<const Tensor&>().data_as<float>()), const float*>);

TEST(Tensor, OwnedTensorIsWritable) {
  Tensor t = Tensor::empty(DType::kF32, {2, 3}, true);
  EXPECT_FALSE(t.mapped());
  t.mutable_data_as<float>()[4] = 7.5f;
  EXPECT_EQ(t.data_as<float>()[4], 7.5f);
  EXPECT_EQ(t.mutable_data(), t.data());
}

TEST(Tensor, WritingThroughAMappedTensorIsRefused) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("lmf_tensor_" + std::to_string(::getpid()) + ".safetensors")).string();
  Tensor w = Tensor::empty(DType::kF32, {3, 4}, true);
  for (int i = 0; i < 12; ++i) w.mutable_data_as<float>()[i] = static_cast<float>(i);
  write_safetensors(path, {{"w", w}}, {});
  {
    SafetensorsFile f = SafetensorsFile::open(path);
    Tensor m = f.tensor("w");
    ASSERT_TRUE(m.mapped());
    EXPECT_EQ(m.data_as<float>()[5], 5.0f);  // reading is fine
    try {
      m.mutable_data_as<float>()[5] = -1.0f;
      FAIL() << "a read-only mapping was handed out as writable memory";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("read-only mapping"), std::string::npos) << msg;
      EXPECT_NE(msg.find("(3, 4)"), std::string::npos) << msg;
    }
    EXPECT_THROW(m.reshaped({12}).mutable_data(), Error);  // a view of the mapping stays read-only
    EXPECT_THROW(m.to_f32().mutable_data(), Error);        // float32 already: the same mapping
    Tensor copy = Tensor::empty(m.dtype(), m.shape());
    std::memcpy(copy.mutable_data(), m.data(), m.nbytes());
    copy.mutable_data_as<float>()[5] = -1.0f;
    EXPECT_EQ(m.data_as<float>()[5], 5.0f);
  }
  std::filesystem::remove(path);
  Tensor b = Tensor::borrow(DType::kF32, {2}, w.mutable_data(), nullptr, /*mapped=*/true);
  EXPECT_THROW(b.mutable_data(), Error);
  EXPECT_NO_THROW(Tensor::borrow(DType::kF32, {2}, w.mutable_data(), nullptr).mutable_data());
}

}  // namespace
}  // namespace lmf

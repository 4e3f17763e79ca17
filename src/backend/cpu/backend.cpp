#include "backend/cpu/backend.h"

#include <oneapi/dnnl/dnnl.hpp>

#include "core/error.h"

namespace lmf::cpu {

struct Backend::Impl {
  dnnl::engine engine;
};

Backend::Backend() {
  try {
    impl_ = std::make_unique<Impl>(Impl{dnnl::engine(dnnl::engine::kind::cpu, 0)});
  } catch (const dnnl::error& e) {
    fail(ErrorCode::kInternal, "oneDNN: no CPU engine: {}", e.what());
  }
}

Backend::~Backend() = default;

bool Backend::strips_fast(int64_t K, int64_t N, const KernelOptions& ko) const {
  if (!ko.strips || K <= 0 || N <= 0 || K % 16 != 0) return false;
  using dnnl::memory;
  try {
    // The primitive for 128 rows with a bias, its weights' layout left to oneDNN.
    const memory::desc x({128, K}, memory::data_type::f32, memory::format_tag::ab);
    const memory::desc w({K, N}, memory::data_type::f32, memory::format_tag::any);
    const memory::desc b({1, N}, memory::data_type::f32, memory::format_tag::ab);
    const memory::desc y({128, N}, memory::data_type::f32, memory::format_tag::ab);
    const memory::desc strips({K, N}, memory::data_type::f32, memory::format_tag::BA16a64b);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(x, w, b, y), impl_->engine);
    return pd.weights_desc() == strips;
  } catch (const dnnl::error&) {
    return false;
  }
}

}  // namespace lmf::cpu

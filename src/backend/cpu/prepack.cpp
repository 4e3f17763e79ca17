#include "backend/cpu/prepack.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace lmf {

namespace {

// dst (K, N) = src (N, K) transposed, in cache-sized blocks.
void transpose(const float* src, float* dst, int64_t N, int64_t K) {
  constexpr int64_t kB = 32;
#pragma omp parallel for schedule(static)
  for (int64_t n0 = 0; n0 < N; n0 += kB)
    for (int64_t k0 = 0; k0 < K; k0 += kB)
      for (int64_t n = n0; n < std::min(N, n0 + kB); ++n)
        for (int64_t k = k0; k < std::min(K, k0 + kB); ++k) dst[k * N + n] = src[n * K + k];
}

}  // namespace

int prepack_for_cpu(Graph& g) {
  std::map<int, int> done;  // (N, K) weight -> its (K, N) transpose
  int count = 0;
  for (Node& n : g.mutable_nodes()) {
    if (n.op != "linear" || n.attr_str("layout") != "nk") continue;
    const int w = n.inputs[1];
    auto it = done.find(w);
    if (it == done.end()) {
      const Value& v = g.value(w);
      LMF_CHECK(v.kind == ValueKind::kWeight && v.dtype == DType::kF32, kInternal,
                "prepack: {} is not a float32 weight", v.name);
      const int64_t N = v.data.dim(0), K = v.data.dim(1);
      Tensor t = Tensor::empty(DType::kF32, {K, N});
      transpose(v.data.data_as<float>(), t.data_as<float>(), N, K);
      const std::string name = v.name;
      it = done.emplace(w, g.add_weight(name + ".T", std::move(t))).first;
      ++count;
    }
    n.inputs[1] = it->second;
    n.attrs["layout"] = std::string("kn");
  }
  g.remove_unused_values();
  return count;
}

}  // namespace lmf

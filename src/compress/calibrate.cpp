#include "compress/calibrate.h"

#include <algorithm>
#include <cmath>

#include "core/checked.h"
#include "core/error.h"
#include "data/token_dataset.h"
#include "runtime/session.h"

namespace lmf::compress {

std::vector<std::vector<int32_t>> calibration_samples(const std::string& dir, int64_t samples, int64_t seq,
                                                      int64_t vocab) {
  LMF_CHECK(!dir.empty(), kInvalidArgument, "--calib DATA is required for this method (a `data prepare` folder)");
  LMF_CHECK(samples > 0 && seq > 1, kInvalidArgument, "--calib-samples {} / --calib-seq {}: must be positive", samples,
            seq);
  data::TokenDataset ds = data::TokenDataset::open(dir, "train");
  LMF_CHECK(ds.size() > 0, kInvalidArgument, "--calib {}: the train split is empty", dir);
  seq = std::min(seq, ds.size());
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(samples), std::vector<int32_t>(static_cast<size_t>(seq)));
  for (int64_t i = 0; i < samples; ++i) {
    ds.read((ds.size() - seq) * i / samples, out[static_cast<size_t>(i)]);
    check_token_ids(out[static_cast<size_t>(i)], vocab, "--calib " + dir);
  }
  return out;
}

std::vector<std::vector<int32_t>> calibration_samples(const Model& m, const std::string& dir, int64_t samples,
                                                      int64_t seq) {
  if (seq <= 0) seq = std::min<int64_t>(512, m.info.context);
  LMF_CHECK(seq <= m.info.context, kInvalidArgument, "--calib-seq {} exceeds the model's context of {}", seq,
            m.info.context);
  return calibration_samples(dir, samples, seq, m.info.vocab);
}

void observe_linear_inputs(const Model& m, const std::vector<std::vector<int32_t>>& samples, int threads,
                           const InputFn& f) {
  LMF_CHECK(!samples.empty(), kInvalidArgument, "calibration: no samples");
  int64_t longest = 0;
  for (const auto& s : samples) longest = std::max<int64_t>(longest, static_cast<int64_t>(s.size()));
  Session s(m, {.max_batch = 1, .max_context = longest, .max_step_tokens = longest, .threads = threads, .kernels = {}});
  // The plan's first linear node reading each distinct input, by the input's name: the
  // plan renumbers values and may fuse nodes away (prepack.h), names stay.
  std::map<std::string, int> ids;  // m.graph's linear inputs by name
  for (const Node& n : m.graph.nodes())
    if (n.op == "linear") ids.emplace(m.graph.value(n.inputs[0]).name, n.inputs[0]);
  const Graph& plan = s.executor().graph();
  std::map<size_t, int> first_reader;  // plan node -> m.graph's value id of its input
  std::map<int, bool> seen;
  for (size_t i = 0; i < plan.nodes().size(); ++i) {
    const Node& n = plan.nodes()[i];
    if (n.op != "linear") continue;
    auto it = ids.find(plan.value(n.inputs[0]).name);
    if (it != ids.end() && !seen[it->second]) first_reader[i] = it->second, seen[it->second] = true;
  }
  LMF_CHECK(first_reader.size() == ids.size(), kInternal, "calibration: {} of {} linear inputs found in the plan",
            first_reader.size(), ids.size());
  s.executor().set_observer([&](size_t node, const TensorView* const* in, const TensorView* const*) {
    auto it = first_reader.find(node);
    if (it != first_reader.end()) f(it->second, in[0]->f32(), in[0]->dims[0], in[0]->dims[1]);
  });
  for (const auto& sample : samples) {
    s.reset_all();
    SeqChunk c{0, sample};
    s.step(std::span<const SeqChunk>(&c, 1), true);
  }
  s.executor().set_observer(nullptr);
}

std::map<int, std::vector<float>> collect_absmax(const Model& m, const std::vector<std::vector<int32_t>>& samples,
                                                 int threads) {
  std::map<int, std::vector<float>> out;
  observe_linear_inputs(m, samples, threads, [&](int v, const float* x, int64_t rows, int64_t K) {
    std::vector<float>& a = out[v];
    a.resize(static_cast<size_t>(K), 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < K; ++k) a[k] = std::max(a[k], std::fabs(x[r * K + k]));
  });
  return out;
}

}  // namespace lmf::compress

// Tests for SmoothQuant's smoothing (passes/smooth.h): it leaves the float model's logits
// unchanged (1e-5 of the largest logit) and smooths the expected norms (GPT-2: ln_1, ln_2;
// Llama: input_layernorm, post_attention_layernorm; the final norm too when the head is
// untied), and moves them (the norms and the linears reading them change); and on a
// model with an outlier activation channel (one LayerNorm weight x50, the weights reading
// it /50: the float model is unchanged), int8-dynamic after smoothing is much closer to
// the float model than int8-dynamic alone.
#include "passes/smooth.h"

#include <gtest/gtest.h>

#include <cstring>

#include "compress/calibrate.h"
#include "models/model.h"
#include "passes/quantize.h"
#include "runtime/session.h"
#include "support/golden.h"

namespace lmf {
namespace {

std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& ids) {
  Session s(m, {.max_batch = 1, .max_context = 0, .max_step_tokens = 64, .threads = 2});
  SeqChunk c{0, ids};
  auto l = s.step(std::span<const SeqChunk>(&c, 1), true);
  return {l.begin(), l.end()};
}

std::vector<std::vector<int32_t>> random_samples(int64_t vocab) {
  std::vector<std::vector<int32_t>> out(4, std::vector<int32_t>(24));
  uint32_t x = 7;
  for (auto& s : out)
    for (auto& t : s) t = static_cast<int32_t>((x = x * 1664525u + 1013904223u) >> 8) % static_cast<int32_t>(vocab);
  return out;
}

class Smooth : public ::testing::TestWithParam<std::pair<std::string, int>> {};

TEST_P(Smooth, PreservesTheFloatModel) {
  const auto [name, norms_per_layer_plus] = GetParam();
  const std::string dir = test::golden_dir(name);
  const test::Expected exp = test::load_expected(dir);
  Model m = load_model(dir);
  const auto before = logits_of(m, exp.prompts[0]);
  const auto weights_before = test::weights_of(m.graph);
  const int n = passes::smooth_norm_inputs(m.graph, compress::collect_absmax(m, random_samples(m.info.vocab), 2), 0.5);
  EXPECT_EQ(n, 2 * m.info.layers + norms_per_layer_plus);
  // Smoothing moved something: each smoothed norm's weight and the linears reading it
  // (GPT-2 one or two, Llama three or two) changed by more than 1e-3 of their largest
  // |value|, so at least 2 weights per smoothed norm; a no-op would leave them identical.
  const std::vector<std::string> changed = test::weights_moved(m.graph, weights_before, 1e-3);
  int norms_moved = 0;
  for (const std::string& w : changed) norms_moved += w.find("ln") != std::string::npos || w.find("norm") != std::string::npos;
  EXPECT_GE(norms_moved, n);
  EXPECT_GE(static_cast<int>(changed.size()), 2 * n);
  const auto after = logits_of(m, exp.prompts[0]);
  const double kept = test::rel_error(after.data(), before.data(), static_cast<int64_t>(before.size()));
  EXPECT_LT(kept, 1e-5);  // measured 4-6e-7 of the largest logit
  std::printf("    %s: %d norms smoothed, %zu weights moved (%d norm weights), logits kept to %.2e\n", name.c_str(), n,
              changed.size(), norms_moved, kept);
}

INSTANTIATE_TEST_SUITE_P(Golden, Smooth,
                         ::testing::Values(std::make_pair(std::string("gpt2"), 0), std::make_pair(std::string("llama"), 0),
                                           std::make_pair(std::string("llama_untied_sharded"), 1)));

TEST(SmoothOutlier, SmoothingRescuesInt8DynamicFromAnOutlierChannel) {
  const std::string dir = test::golden_dir("gpt2");
  const test::Expected exp = test::load_expected(dir);
  auto outlier_model = [&] {
    Model m = load_model(dir);
    for (const char* suffix : {"ln_1.weight", "ln_1.bias"}) {  // channel 3 of every block's ln_1: x50
      for (int64_t l = 0; l < m.info.layers; ++l) {
        Value& v = m.graph.values()[static_cast<size_t>(m.graph.find("transformer.h." + std::to_string(l) + "." + suffix))];
        Tensor t = Tensor::empty(DType::kF32, v.data.shape());
        std::memcpy(t.mutable_data(), v.data.data(), v.data.nbytes());
        t.mutable_data_as<float>()[3] *= 50.0f;
        v.data = t;
      }
    }
    for (int64_t l = 0; l < m.info.layers; ++l) {  // c_attn row 3 (K, N): /50
      Value& v = m.graph.values()[static_cast<size_t>(m.graph.find("transformer.h." + std::to_string(l) + ".attn.c_attn.weight"))];
      Tensor t = Tensor::empty(DType::kF32, v.data.shape());
      std::memcpy(t.mutable_data(), v.data.data(), v.data.nbytes());
      for (int64_t c = 0; c < t.dim(1); ++c) t.mutable_data_as<float>()[3 * t.dim(1) + c] /= 50.0f;
      v.data = t;
    }
    return m;
  };
  Model f = outlier_model();
  const auto ref = logits_of(f, exp.prompts[0]);
  const auto n = static_cast<int64_t>(ref.size());
  ASSERT_LT(test::rel_error(logits_of(load_model(dir), exp.prompts[0]).data(), ref.data(), n), 1e-4);  // same float model
  passes::QuantizeOptions o;
  o.int8_dynamic = o.head_int8_dynamic = true;
  o.head_spec = quant::Spec{8, 0, true};
  Model plain = outlier_model();
  passes::quantize_weights(plain.graph, o);
  Model smooth = outlier_model();
  passes::smooth_norm_inputs(smooth.graph, compress::collect_absmax(smooth, random_samples(smooth.info.vocab), 2), 0.5);
  passes::quantize_weights(smooth.graph, o);
  const double e_plain = test::rel_error(logits_of(plain, exp.prompts[0]).data(), ref.data(), n);
  const double e_smooth = test::rel_error(logits_of(smooth, exp.prompts[0]).data(), ref.data(), n);
  std::printf("    int8-dynamic vs float: %.4f alone, %.4f after smoothing\n", e_plain, e_smooth);
  EXPECT_LT(e_smooth, 0.5 * e_plain);
}

}  // namespace
}  // namespace lmf

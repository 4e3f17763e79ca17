// forward_flops (src/runtime/probe.h), the FLOP count behind `lmforge bench`'s prefill
// yardstick: linear layers 2 K N per row (prompt rows for N-row inputs, logit rows for
// M-row ones, or prompt rows for all but the head with every_row) and attention's 4
// head_dim per causal (query, key) pair and query head.
#include "runtime/probe.h"

#include <gtest/gtest.h>

#include "ir/graph.h"

namespace lmf {
namespace {

TEST(ForwardFlops, CountsLinearsPerRowAndCausalAttentionPairs) {
  const int64_t H = 2, D = 4, C = H * D;
  Graph g;
  const int x = g.add_input("x", DType::kF32, {"N", C});
  const int h = g.add_input("h", DType::kF32, {"M", C});
  const int slots = g.add_input("slots", DType::kI32, {"N"});
  const int pos = g.add_input("positions", DType::kI32, {"N"});
  const int w = g.add_weight("w", Tensor::empty(DType::kF32, {C, C}));
  const int kc = g.add_state("k", DType::kF32, {"SLOTS", H, "S", D});
  const int vc = g.add_state("v", DType::kF32, {"SLOTS", H, "S", D});
  const int q = g.add("linear", {x, w}, {{"layout", std::string("kn")}});
  const int a = g.add("attention", {q, q, q, kc, vc, slots, pos},
                      {{"heads", H}, {"kv_heads", H}, {"head_dim", D}, {"scale", 0.5}});
  g.mark_output(a);
  const int h2 = g.add("linear", {h, w}, {{"layout", std::string("kn")}});  // a layer on the logit rows
  g.mark_output(g.add("linear", {h2, w}, {{"layout", std::string("kn")}}));  // the head
  g.verify();
  // 10 prompt rows through the first linear, 3 logit rows through the other two, and
  // 10 * 11 / 2 = 55 causal pairs per head.
  EXPECT_DOUBLE_EQ(forward_flops(g, 10, 3), 2.0 * C * C * 10 + 2 * 2.0 * C * C * 3 + 4.0 * H * D * 55);
  EXPECT_DOUBLE_EQ(forward_flops(g, 1, 1), 2.0 * C * C * 3 + 4.0 * H * D);
  // every_row: the layer on logit rows counts the 10 prompt rows, the head still 3.
  EXPECT_DOUBLE_EQ(forward_flops(g, 10, 3, true), 2 * 2.0 * C * C * 10 + 2.0 * C * C * 3 + 4.0 * H * D * 55);
}

}  // namespace
}  // namespace lmf

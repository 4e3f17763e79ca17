// The CPU kernels as a plan holds them (src/backend/cpu/op_kernels.h): cpu_prepare reads a
// node's attributes once into typed parameters, checks what sgemm would refuse, and the
// prepared kernel then runs from those parameters alone (here after the node's attributes
// are gone); a failed sgemm is reported in ExecContext::failed, not thrown or dropped.
// Plus cpu::sgemm / sgemm_or_throw (matmul.h), which return or throw oneDNN's status.
#include "backend/cpu/op_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/backend.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/qmatmul.h"
#include "core/error.h"

namespace lmf {
namespace {

TensorView view(std::vector<float>& v, std::initializer_list<int64_t> dims) {
  TensorView t;
  t.data = v.data();
  t.rank = static_cast<int>(dims.size());
  int i = 0;
  for (int64_t d : dims) t.dims[i++] = d;
  return t;
}

std::vector<float> ramp(size_t n, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<float>(i) * step);
  return v;
}

Node node(const std::string& op, size_t inputs, std::map<std::string, Attr> attrs) {
  Node n;
  n.op = op;
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back(static_cast<int>(i));
  n.outputs = {static_cast<int>(inputs)};
  n.attrs = std::move(attrs);
  return n;
}

// The code prepare throws for n, or -1 if it prepares.
int prepare_error(const Node& n, const std::vector<const TensorView*>& in, const std::vector<TensorView*>& out) {
  const cpu::Backend backend;
  try {
    cpu_prepare(PrepareContext{n, in.data(), out.data(), cpu::kDefaultKernels, backend});
  } catch (const Error& e) {
    return static_cast<int>(e.code());
  }
  return -1;
}
constexpr int code(ErrorCode c) { return static_cast<int>(c); }

// layer_norm's eps is read at plan time: the prepared kernel holds it, and runs the same
// after the node's attributes are cleared (a kernel that looked eps up per step would throw).
TEST(PrepareKernel, LayerNormKeepsEpsFromThePlan) {
  const int64_t R = 3, C = 40;
  std::vector<float> x = ramp(R * C, 0.37f), g = ramp(C, 0.11f), b = ramp(C, 0.07f), y(R * C), ref(R * C);
  TensorView xv = view(x, {R, C}), gv = view(g, {C}), bv = view(b, {C}), yv = view(y, {R, C});
  const std::vector<const TensorView*> in = {&xv, &gv, &bv};
  const std::vector<TensorView*> out = {&yv};
  Node n = node("layer_norm", 3, {{"eps", 0.25}});
  const cpu::Backend backend;
  const PreparedKernel k = cpu_prepare(PrepareContext{n, in.data(), out.data(), cpu::kDefaultKernels, backend});
  ASSERT_NE(k.params_as<NormParams>(), nullptr);
  EXPECT_EQ(k.params_as<NormParams>()->eps, 0.25f);
  EXPECT_EQ(k.params_as<LinearParams>(), nullptr);
  n.attrs.clear();
  n.op = "gone";
  ExecContext ctx;
  k.run(in.data(), out.data(), ctx);
  cpu::layer_norm(x.data(), g.data(), b.data(), ref.data(), R, C, 0.25f);
  EXPECT_EQ(y, ref);
  EXPECT_EQ(ctx.failed, nullptr);
}

// linear: layout, N (from W's shape), the bias and the fused gelu resolved at plan time;
// many rows (sgemm) and few (the streaming kernel) give x · Wᵀ + b, then gelu.
TEST(PrepareKernel, LinearResolvesLayoutBiasAndGelu) {
  const int64_t K = 24, N = 10;
  std::vector<float> w = ramp(N * K, 0.13f), bias = ramp(N, 0.5f);
  for (int64_t M : {3, 20}) {
    std::vector<float> x = ramp(M * K, 0.29f), y(M * N);
    TensorView xv = view(x, {M, K}), wv = view(w, {N, K}), bv = view(bias, {N}), yv = view(y, {M, N});
    const std::vector<const TensorView*> in = {&xv, &wv, &bv};
    const std::vector<TensorView*> out = {&yv};
    Node n = node("linear", 3, {{"layout", std::string("nk")}, {"fused_act", std::string("gelu_tanh")}});
    const cpu::Backend backend;
    const PreparedKernel k = cpu_prepare(PrepareContext{n, in.data(), out.data(), cpu::kDefaultKernels, backend});
    const LinearParams* p = k.params_as<LinearParams>();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->layout, LinearParams::Layout::kNK);
    EXPECT_EQ(p->N, N);
    EXPECT_TRUE(p->bias);
    EXPECT_TRUE(p->gelu);
    n.attrs.clear();
    ExecContext ctx;
    k.run(in.data(), out.data(), ctx);
    ASSERT_EQ(ctx.failed, nullptr);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < N; ++j) {
        double acc = bias[j];
        for (int64_t i = 0; i < K; ++i) acc += static_cast<double>(x[m * K + i]) * w[j * K + i];
        const double ref = 0.5 * acc * (1 + std::tanh(0.7978845608028654 * (acc + 0.044715 * acc * acc * acc)));
        EXPECT_NEAR(y[m * N + j], ref, 1e-5 * (1 + std::fabs(ref))) << "M " << M << " at " << m << "," << j;
      }
  }
}

// What prepare refuses, at plan time: an unknown op, a layout no kernel has, a missing
// attribute, a column range outside its input.
TEST(PrepareKernel, BadNodesAreRefusedAtPlanTime) {
  std::vector<float> x(4 * 8), w(8 * 8), y(4 * 8);
  TensorView xv = view(x, {4, 8}), wv = view(w, {8, 8}), yv = view(y, {4, 8});
  const std::vector<const TensorView*> in = {&xv, &wv};
  const std::vector<TensorView*> out = {&yv};
  EXPECT_EQ(prepare_error(node("no_such_op", 2, {}), in, out), code(ErrorCode::kUnsupported));
  EXPECT_EQ(prepare_error(node("linear", 2, {{"layout", std::string("nkk")}}), in, out), code(ErrorCode::kInvalidArgument));
  EXPECT_EQ(prepare_error(node("linear", 2, {}), in, out), code(ErrorCode::kInternal));
  EXPECT_EQ(prepare_error(node("rms_norm", 2, {}), in, out), code(ErrorCode::kInternal));
  EXPECT_EQ(prepare_error(node("split_cols", 1, {{"begin", int64_t{2}}, {"end", int64_t{9}}}), in, out),
            code(ErrorCode::kInvalidArgument));
  EXPECT_EQ(prepare_error(node("linear_grad_x", 2, {{"layout", std::string("strips")}}), in, out),
            code(ErrorCode::kInvalidArgument));
  EXPECT_EQ(prepare_error(node("split_cols", 1, {{"begin", int64_t{2}}, {"end", int64_t{8}}}), in, out), -1);
}

// linear_q's prefill path is the plan's: dequantized into strips exactly where the backend
// says 64-column strips are taken (the float weights' rule), decided once.
TEST(PrepareKernel, LinearQPrefillPathIsDecidedAtPlanTime) {
  const int64_t K = 256, N = 48;
  std::vector<float> x(4 * K), y(4 * N), dummy(16);
  TensorView xv = view(x, {4, K}), dv = view(dummy, {16}), yv = view(y, {4, N});
  const std::vector<const TensorView*> in = {&xv, &dv, &dv, &dv};
  const std::vector<TensorView*> out = {&yv};
  const Node n = node("linear_q", 4,
                      {{"in_features", K}, {"out_features", N}, {"group_size", int64_t{128}}, {"bits", int64_t{4}}});
  const cpu::Backend backend;
  for (bool strips : {true, false}) {
    cpu::KernelOptions ko;
    ko.strips = strips;
    const PreparedKernel k = cpu_prepare(PrepareContext{n, in.data(), out.data(), ko, backend});
    const LinearQParams* p = k.params_as<LinearQParams>();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->act, LinearQParams::Act::kFloat);
    EXPECT_EQ(p->w.K, K);
    EXPECT_EQ(p->w.N, N);
    EXPECT_EQ(p->w.group, 128);
    EXPECT_EQ(p->w.dequant_strips, backend.strips_fast(K, cpu::kDequantStripCols, ko));
    if (!strips) EXPECT_FALSE(p->w.dequant_strips);
  }
}

// A failed sgemm in a kernel: the kernel returns normally and names the failure in the
// context (the executor throws it after the node). Here x's K is 0 at the step, so
// sgemm's leading dimension 0 is below its minimum of 1 and oneDNN refuses.
TEST(PrepareKernel, FailedSgemmIsReportedInTheContext) {
  const int64_t M = 20, K = 16, N = 12;
  std::vector<float> x(M * K), w(K * N), y(M * N);
  TensorView xv = view(x, {M, K}), wv = view(w, {K, N}), yv = view(y, {M, N});
  const std::vector<const TensorView*> in = {&xv, &wv};
  const std::vector<TensorView*> out = {&yv};
  const Node n = node("linear", 2, {{"layout", std::string("kn")}});
  const cpu::Backend backend;
  const PreparedKernel k = cpu_prepare(PrepareContext{n, in.data(), out.data(), cpu::kDefaultKernels, backend});
  ExecContext ctx;
  k.run(in.data(), out.data(), ctx);
  EXPECT_EQ(ctx.failed, nullptr);
  xv.dims[1] = 0;
  k.run(in.data(), out.data(), ctx);
  ASSERT_NE(ctx.failed, nullptr);
  EXPECT_STREQ(ctx.failed, "oneDNN sgemm");
}

TEST(Sgemm, ReturnsOneDnnStatus) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {1, 0, 0, 1, 1, 1};  // A (2, 3), B (3, 2)
  std::vector<float> c(4, -1.0f);
  ASSERT_TRUE(cpu::sgemm('N', 'N', 2, 2, 3, 1.0f, a.data(), 3, b.data(), 2, 0.0f, c.data(), 2));
  EXPECT_EQ(c, (std::vector<float>{4, 5, 10, 11}));
  EXPECT_FALSE(cpu::sgemm('N', 'N', 2, 2, 3, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2))
      << "lda 2 < K 3 was accepted";
  EXPECT_FALSE(cpu::sgemm('N', 'N', -1, 2, 3, 1.0f, a.data(), 3, b.data(), 2, 0.0f, c.data(), 2));
  try {
    cpu::sgemm_or_throw("gptq: Hessian", 'N', 'N', 2, 2, 3, 1.0f, a.data(), 3, b.data(), 2, 0.0f, c.data(), 1);
    FAIL() << "ldc 1 < N 2 did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_NE(std::string(e.what()).find("gptq: Hessian: oneDNN sgemm"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lmf

// Tests for the training kernels of src/backend/cpu/kernels_grad.h (attention is in
// kernels_grad_attention_test.cpp, the PyTorch comparisons of distill_loss and
// adamw_update in kernels_grad_parity_test.cpp), on every Highway target compiled in and
// supported by this CPU (each TEST_P runs once per target), plus thread-count invariance.
//
// Each backward is checked against central finite differences of a double-precision
// scalar reference of the forward it differentiates (the forwards of kernels.h): with a
// random upstream gradient dy, L(x) = sum dy * f(x) and dL/dx_i ~ (L(x + h e_i) -
// L(x - h e_i)) / 2h in double (h = 1e-4 relative, so the finite difference itself is
// good to ~1e-8). Errors are measured relative to the scale of the gradient: the
// largest |reference| of the tensor (norms), or the per-element magnitude of the terms
// (activations). Each test prints its measured maximum ("[ error ] ..."); the figures
// measured on an AMD EPYC (AVX-512) are noted next to each tolerance.
#include "support/cpu_test.h"
#include "backend/cpu/kernels_grad.h"

#include <gtest/gtest.h>
#include <hwy/targets.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"

namespace lmf::cpu {
namespace {

using test::randn;
using test::target_name;
using test::targets_to_test;
using test::uniform;
using test::with_threads;

const std::vector<int64_t> kRows = {1, 3, 17};
const std::vector<int64_t> kCols = {1, 7, 65, 769};



struct MaxErr {
  double max = 0.0;
  std::string where;
  void add(double got, double ref, double scale, const std::string& at = "") {
    const double err = scale > 0 ? std::fabs(got - ref) / scale : std::fabs(got - ref);
    if (!(err <= max)) {
      max = err;
      where = at;
    }
  }
};


void report(const char* kernel, const MaxErr& e, double tol) {
  std::printf("[ error ] %-18s %-7s max %.3g (tolerance %.0e)%s%s\n", kernel, target_name().c_str(), e.max, tol,
              e.where.empty() ? "" : " at ", e.where.c_str());
}


class KernelsGrad : public test::PerTarget {};

INSTANTIATE_TEST_SUITE_P(Targets, KernelsGrad, ::testing::ValuesIn(test::targets_to_test()), test::target_param_name);

// Central difference of f at x along coordinate i (x is restored).
double fd(std::vector<double>& x, size_t i, const std::function<double()>& f) {
  const double x0 = x[i], h = 1e-4 * std::max(1.0, std::fabs(x0));
  x[i] = x0 + h;
  const double fp = f();
  x[i] = x0 - h;
  const double fm = f();
  x[i] = x0;
  return (fp - fm) / (2 * h);
}

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// ---- norms ---------------------------------------------------------------------------

// sum_c dy[c] * layer_norm(x)[c] of one row, in double (b contributes a constant).
double ln_row_loss(const double* x, const double* g, const double* b, const double* dy, int64_t C, double eps) {
  double mean = 0, var = 0;
  for (int64_t c = 0; c < C; ++c) mean += x[c];
  mean /= C;
  for (int64_t c = 0; c < C; ++c) var += (x[c] - mean) * (x[c] - mean);
  const double rstd = 1.0 / std::sqrt(var / C + eps);
  double l = 0;
  for (int64_t c = 0; c < C; ++c) l += dy[c] * ((x[c] - mean) * rstd * g[c] + b[c]);
  return l;
}

double rms_row_loss(const double* x, const double* g, const double* dy, int64_t C, double eps) {
  double ms = 0;
  for (int64_t c = 0; c < C; ++c) ms += x[c] * x[c];
  const double rstd = 1.0 / std::sqrt(ms / C + eps);
  double l = 0;
  for (int64_t c = 0; c < C; ++c) l += dy[c] * x[c] * rstd * g[c];
  return l;
}

// Finite-difference gradients of sum_r row_loss(r) w.r.t. x (per row) and g, b.
struct NormRef {
  std::vector<double> dx, dg, db;
  double dx_scale = 0;  // max_r,c rstd_r |dy g|: the size of the terms that make up dx
};
NormRef norm_reference(bool rms, const std::vector<float>& xf, const std::vector<float>& gf,
                       const std::vector<float>& dyf, int64_t R, int64_t C, double eps) {
  auto x = to_double(xf), g = to_double(gf), dy = to_double(dyf);
  std::vector<double> b(C, 0.25);
  const auto row = [&](int64_t r) {
    return rms ? rms_row_loss(&x[r * C], g.data(), &dy[r * C], C, eps)
               : ln_row_loss(&x[r * C], g.data(), b.data(), &dy[r * C], C, eps);
  };
  const auto total = [&] {
    double l = 0;
    for (int64_t r = 0; r < R; ++r) l += row(r);
    return l;
  };
  NormRef ref;
  ref.dx.resize(R * C);
  for (int64_t r = 0; r < R; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mean += rms ? 0.0 : x[r * C + c] / C;
    for (int64_t c = 0; c < C; ++c) var += (x[r * C + c] - mean) * (x[r * C + c] - mean) / C;
    for (int64_t c = 0; c < C; ++c) {
      ref.dx_scale = std::max(ref.dx_scale, std::fabs(dy[r * C + c] * g[c]) / std::sqrt(var + eps));
    }
    for (int64_t c = 0; c < C; ++c) ref.dx[r * C + c] = fd(x, r * C + c, [&] { return row(r); });
  }
  ref.dg.resize(C);
  ref.db.resize(C);
  for (int64_t c = 0; c < C; ++c) {
    ref.dg[c] = fd(g, c, total);
    if (!rms) ref.db[c] = fd(b, c, total);
  }
  return ref;
}

void check_norm_backward(bool rms, double tol) {
  MaxErr edx, edg, edb;
  const float eps = 1e-5f;
  for (int64_t R : kRows) {
    for (int64_t C : kCols) {
      const std::string at = std::to_string(R) + "x" + std::to_string(C);
      const auto x = randn(R * C, 11 + C, 0.5f, 2.0f), g = randn(C, 12, 1.0f, 0.5f), dy = randn(R * C, 13 + R);
      const NormRef ref = norm_reference(rms, x, g, dy, R, C, eps);
      std::vector<float> dx(R * C), dg(C, 7.0f), db(C, 7.0f);
      if (rms) {
        rms_norm_backward(x.data(), g.data(), dy.data(), dx.data(), dg.data(), R, C, eps);
      } else {
        layer_norm_backward(x.data(), g.data(), dy.data(), dx.data(), dg.data(), db.data(), R, C, eps);
      }
      const double sx = ref.dx_scale, sg = max_abs(ref.dg), sb = max_abs(ref.db);
      for (int64_t i = 0; i < R * C; ++i) edx.add(dx[i], ref.dx[i], sx, at);
      for (int64_t c = 0; c < C; ++c) {
        edg.add(dg[c], ref.dg[c], sg, at);
        if (!rms) edb.add(db[c], ref.db[c], sb, at);
      }
      // dx may alias dy; null parameter gradients are skipped; results are the same bits.
      auto inplace = dy;
      if (rms) {
        rms_norm_backward(x.data(), g.data(), inplace.data(), inplace.data(), nullptr, R, C, eps);
      } else {
        layer_norm_backward(x.data(), g.data(), inplace.data(), inplace.data(), nullptr, nullptr, R, C, eps);
      }
      ASSERT_EQ(0, std::memcmp(inplace.data(), dx.data(), dx.size() * sizeof(float))) << at;
    }
  }
  const char* name = rms ? "rms_norm" : "layer_norm";
  report((std::string(name) + " dx").c_str(), edx, tol);
  report((std::string(name) + " dg").c_str(), edg, tol);
  EXPECT_LE(edx.max, tol);
  EXPECT_LE(edg.max, tol);
  if (!rms) {
    report("layer_norm db", edb, tol);
    EXPECT_LE(edb.max, tol);
  }
}

// dx relative to the largest term rstd |dy g| (a row of one column has dx = 0 from the
// cancellation of two such terms), dg and db to their largest |reference|.
// Measured 1.5e-7 on every target (AVX3 ... SCALAR), layer_norm and rms_norm.
TEST_P(KernelsGrad, LayerNormBackwardMatchesFiniteDifferences) { check_norm_backward(false, 1e-6); }
TEST_P(KernelsGrad, RmsNormBackwardMatchesFiniteDifferences) { check_norm_backward(true, 1e-6); }

// ---- activations ---------------------------------------------------------------------

// 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)); the second form has no cancellation for x < 0.
double gelu_ref(double x) {
  const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}
double silu_ref(double g) { return g / (1.0 + std::exp(-g)); }

std::vector<float> activation_inputs() {
  std::vector<float> x = uniform(20003, 5, -12.0f, 12.0f);
  const auto y = randn(1001, 6, 0.0f, 3.0f);
  x.insert(x.end(), y.begin(), y.end());
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, -20.0f, 100.0f, -100.0f, 1e10f, -1e10f}) x.push_back(v);
  return x;
}

// Central difference of a scalar function at x (h relative to |x|).
double fd1(double x, double (*f)(double)) {
  const double h = 1e-5 * std::max(1.0, std::fabs(x));
  return (f(x + h) - f(x - h)) / (2 * h);
}

// gelu' = s + x s (1 - s) 2u' with s = sigmoid(2u): its two terms cancel near x = -0.75
// (where gelu' = 0), so the error is measured relative to |dy| (|s| + |x s (1 - s) 2u'|),
// times max(1, |2u|): for x < 0 the value is proportional to exp(2u), and the float
// rounding of 2u (a few ulp of |2u|, in any float32 evaluation) moves it by |2u| ulp
// relative (kernels_test's gelu test scales by the same condition number). Floored at
// |dy| 1e-26: below x = -10.4 (-2u > 80) the kernel flushes gelu' (< 1e-32) to 0.
// Measured: 1.6e-7 (AVX3), 1.6e-7 (SCALAR).
TEST_P(KernelsGrad, GeluTanhBackwardMatchesFiniteDifferences) {
  const auto x = activation_inputs();
  const int64_t n = static_cast<int64_t>(x.size());
  const auto dy = randn(n, 21);
  std::vector<float> dx(n);
  gelu_tanh_backward(x.data(), dy.data(), dx.data(), n);
  MaxErr e;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(std::isfinite(dx[i])) << x[i];
    const double d = fd1(x[i], gelu_ref), xd = x[i];
    const double z = std::sqrt(8.0 / M_PI) * (xd + 0.044715 * xd * xd * xd);  // 2u
    const double sg = 1.0 / (1.0 + std::exp(-z));
    const double terms = sg + std::fabs(xd * sg * (1 - sg) * std::sqrt(8.0 / M_PI) * (1 + 3 * 0.044715 * xd * xd));
    e.add(dx[i], dy[i] * d, std::fabs(dy[i]) * std::max(terms, 1e-26) * std::max(1.0, std::fabs(z)),
          "x=" + std::to_string(x[i]));
  }
  report("gelu_tanh dx", e, 1e-6);
  EXPECT_LE(e.max, 1e-6);
  for (int64_t m : {1, 7, 65, 769}) {  // odd sizes and in place give the same bits
    std::vector<float> part(dy.begin(), dy.begin() + m);
    gelu_tanh_backward(x.data(), part.data(), part.data(), m);
    ASSERT_EQ(0, std::memcmp(part.data(), dx.data(), m * sizeof(float))) << m;
  }
}

// silu' = s + g s (1 - s) (s = sigmoid(g)), whose terms cancel near g = -1.28: dgate
// relative to |dy up| (|s| + |g s (1 - s)|), dup relative to |dy| max(|silu|, 1e-30).
// Measured: 2.2e-7 / 1.9e-7 (AVX3), 2.5e-7 / 1.9e-7 (SCALAR).
TEST_P(KernelsGrad, SiluMulBackwardMatchesFiniteDifferences) {
  const auto g = activation_inputs();
  const int64_t n = static_cast<int64_t>(g.size());
  const auto up = randn(n, 22), dy = randn(n, 23);
  std::vector<float> dg(n), du(n);
  silu_mul_backward(g.data(), up.data(), dy.data(), dg.data(), du.data(), n);
  MaxErr eg, eu;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(std::isfinite(dg[i]) && std::isfinite(du[i])) << g[i];
    const double ds = fd1(g[i], silu_ref), s = silu_ref(g[i]), sg = 1.0 / (1.0 + std::exp(-double{g[i]}));
    const double terms = sg + std::fabs(g[i] * sg * (1 - sg));
    const std::string at = "g=" + std::to_string(g[i]);
    eg.add(dg[i], dy[i] * up[i] * ds, std::fabs(dy[i] * up[i]) * std::max(terms, 1e-30), at);
    eu.add(du[i], dy[i] * s, std::fabs(dy[i]) * std::max(std::fabs(s), 1e-30), at);
  }
  report("silu_mul dgate", eg, 1e-6);
  report("silu_mul dup", eu, 1e-6);
  EXPECT_LE(eg.max, 1e-6);
  EXPECT_LE(eu.max, 1e-6);
  for (int64_t m : {1, 7, 65, 769}) {  // in place (dgate = dy) gives the same bits
    std::vector<float> a(dy.begin(), dy.begin() + m), b(m);
    silu_mul_backward(g.data(), up.data(), a.data(), a.data(), b.data(), m);
    ASSERT_EQ(0, std::memcmp(a.data(), dg.data(), m * sizeof(float))) << m;
    ASSERT_EQ(0, std::memcmp(b.data(), du.data(), m * sizeof(float))) << m;
  }
}

// ---- RoPE ----------------------------------------------------------------------------

// rope's forward in double with cos/sin rounded to float (kernels.h), applied to x.
std::vector<double> rope_ref(const std::vector<double>& x, int64_t T, int64_t stride, int64_t H, int64_t D,
                             const std::vector<int32_t>& pos, float theta) {
  std::vector<double> y = x;
  const int64_t half = D / 2;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = pos[t] * std::pow(static_cast<double>(theta), -2.0 * i / D);
      const double c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
      for (int64_t h = 0; h < H; ++h) {
        const int64_t o = t * stride + h * D + i;
        y[o] = x[o] * c - x[o + half] * s;
        y[o + half] = x[o + half] * c + x[o] * s;
      }
    }
  }
  return y;
}

// rope is linear, so dL/dx_i = sum dy * rope(e_i) exactly; the finite difference with
// h = 1 is that. Error relative to the largest |dy|. Measured: 5.5e-8 (every target).
TEST_P(KernelsGrad, RopeBackwardIsTheTransposeOfRope) {
  MaxErr e;
  for (int64_t D : {2, 6, 64, 258}) {  // 258: more pairs than one cos/sin chunk
    const int64_t T = 5, H = 3, stride = H * D + 3;
    const std::vector<int32_t> pos = {0, 1, 7, 300, 4000};
    const auto dyf = randn(T * stride, 31 + D);
    std::vector<float> dx = dyf;
    rope_backward(dx.data(), T, stride, H, D, pos.data(), 10000.0f);
    const auto dy = to_double(dyf);
    std::vector<double> x(T * stride, 0.0);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t j = 0; j < H * D; ++j) {
        const int64_t i = t * stride + j;
        x[i] = 1.0;
        const auto y = rope_ref(x, T, stride, H, D, pos, 10000.0f);
        x[i] = 0.0;
        double ref = 0;
        for (int64_t k = 0; k < T * stride; ++k) ref += dy[k] * (k % stride < H * D ? y[k] : 0.0);
        e.add(dx[i], ref, 4.0, "D=" + std::to_string(D));
      }
      for (int64_t j = H * D; j < stride; ++j) ASSERT_EQ(dx[t * stride + j], dyf[t * stride + j]);  // untouched
    }
    // The inverse: backward(forward(x)) = x up to rounding.
    auto y = dyf;
    rope(y.data(), T, stride, H, D, pos.data(), 10000.0f);
    rope_backward(y.data(), T, stride, H, D, pos.data(), 10000.0f);
    for (int64_t i = 0; i < T * stride; ++i) ASSERT_NEAR(y[i], dyf[i], 1e-5) << D;
  }
  report("rope_backward", e, 1e-6);
  EXPECT_LE(e.max, 1e-6);
}

// ---- embedding -----------------------------------------------------------------------

// Exactly the float sums of the contract, in token order: bit-identical.
TEST_P(KernelsGrad, EmbeddingBackwardIsExact) {
  for (int64_t V : {1, 7, 70, 300}) {
    for (int64_t C : kCols) {
      const int64_t n = 257;
      std::mt19937 rng(static_cast<uint32_t>(V * 1000 + C));
      std::vector<int32_t> ids(n);
      for (auto& id : ids) id = static_cast<int32_t>(rng() % std::min<int64_t>(V, 9));  // many repeats
      ids[5] = static_cast<int32_t>(V - 1);
      const auto dy = randn(n * C, 41);
      std::vector<float> ref(V * C, 0.0f), got(V * C, 123.0f);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t c = 0; c < C; ++c) ref[ids[i] * C + c] += dy[i * C + c];
      }
      embedding_backward(ids.data(), dy.data(), got.data(), n, V, C);
      ASSERT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float))) << V << "x" << C;
    }
  }
}

// ---- cross-entropy -------------------------------------------------------------------

// Loss (mean over scored rows) and its gradient in double.
double ce_ref(const std::vector<float>& x, const std::vector<int32_t>& tg, int64_t R, int64_t V, double scale,
              std::vector<double>* grad) {
  int64_t scored = 0;
  for (int32_t t : tg) scored += t >= 0;
  grad->assign(R * V, 0.0);
  double loss = 0;
  for (int64_t r = 0; r < R; ++r) {
    if (tg[r] < 0) continue;
    const float* xr = &x[r * V];
    double m = -INFINITY, s = 0;
    for (int64_t v = 0; v < V; ++v) m = std::max(m, static_cast<double>(xr[v]));
    for (int64_t v = 0; v < V; ++v) s += std::exp(xr[v] - m);
    const double lse = m + std::log(s);
    loss += lse - xr[tg[r]];
    for (int64_t v = 0; v < V; ++v) (*grad)[r * V + v] = scale * std::exp(xr[v] - lse) / scored;
    (*grad)[r * V + tg[r]] -= scale / scored;
  }
  return scored ? loss / scored : 0.0;
}

// Loss relative to max(1, |loss|); gradient relative to scale / scored (its largest
// possible magnitude). Measured: loss 4.4e-8, grad 1.4e-7 (AVX3); 9.3e-8, 1.9e-7 (SCALAR).
TEST_P(KernelsGrad, CrossEntropyMatchesReference) {
  MaxErr el, eg;
  for (int64_t R : kRows) {
    for (int64_t V : {1, 7, 65, 769, 5003}) {
      for (float range : {4.0f, 80.0f}) {  // 80: exp(80) would overflow without the max
        const std::string at = std::to_string(R) + "x" + std::to_string(V) + " range " + std::to_string(range);
        auto x = uniform(R * V, 51 + V, -range, range);
        std::mt19937 rng(static_cast<uint32_t>(R + V));
        std::vector<int32_t> tg(R);
        for (auto& t : tg) t = static_cast<int32_t>(rng() % V);
        if (R > 1) tg[1] = -100;
        x[tg[0]] = range;  // the target also at the top of the range
        std::vector<double> ref_g;
        const double ref = ce_ref(x, tg, R, V, 2.0, &ref_g);
        std::vector<float> g(R * V, 9.0f);
        const double loss = cross_entropy(x.data(), tg.data(), g.data(), R, V, 2.0f);
        int64_t scored = 0;
        for (int32_t t : tg) scored += t >= 0;
        el.add(loss, ref, std::max(1.0, std::fabs(ref)), at);
        for (int64_t i = 0; i < R * V; ++i) {
          ASSERT_TRUE(std::isfinite(g[i])) << at;
          eg.add(g[i], ref_g[i], 2.0 / scored, at);
        }
        auto inplace = x;  // dlogits may alias logits
        ASSERT_EQ(loss, cross_entropy(inplace.data(), tg.data(), inplace.data(), R, V, 2.0f));
        ASSERT_EQ(0, std::memcmp(inplace.data(), g.data(), g.size() * sizeof(float))) << at;
      }
    }
  }
  report("cross_entropy loss", el, 1e-6);
  report("cross_entropy grad", eg, 1e-6);
  EXPECT_LE(el.max, 1e-6);
  EXPECT_LE(eg.max, 1e-6);
  // No scored row: loss 0, gradient 0.
  std::vector<float> x = randn(3 * 7, 1), g(3 * 7, 5.0f);
  std::vector<int32_t> none = {-100, -1, -100};
  EXPECT_EQ(cross_entropy(x.data(), none.data(), g.data(), 3, 7, 1.0f), 0.0);
  for (float v : g) ASSERT_EQ(v, 0.0f);
}

// ---- optimizer -----------------------------------------------------------------------

// Exactly the double sum: every square is exact in double; only the order of the double
// additions differs from the serial sum. Measured: 2e-16 relative.
TEST_P(KernelsGrad, SumSquaresMatchesDouble) {
  for (int64_t n : {0, 1, 7, 65, 769, 100003, (1 << 20) + 3}) {
    const auto x = randn(n, 61, 0.1f, 3.0f);
    long double ref = 0;
    for (float v : x) ref += static_cast<long double>(v) * v;
    const double got = sum_squares(x.data(), n);
    EXPECT_NEAR(got, static_cast<double>(ref), 1e-13 * static_cast<double>(ref)) << n;
  }
}

// The kernel's contract written out with std::fma, element by element: bit-identical on
// every target (the comparison with torch itself is in kernels_grad_parity_test.cpp).
TEST_P(KernelsGrad, AdamWMatchesScalarFormula) {
  const int64_t n = 70001;
  auto w = randn(n, 71), m = randn(n, 72, 0.0f, 0.01f), v = uniform(n, 73, 0.0f, 1e-4f);
  auto rw = w, rm = m, rv = v;
  const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f, gs = 0.5f;
  for (int64_t step = 1; step <= 3; ++step) {
    const auto g = randn(n, 74 + step, 0.0f, 0.1f);
    adamw_update(w.data(), g.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, step, gs);
    const float decay = static_cast<float>(1.0 - static_cast<double>(lr) * wd);
    const float c1 = static_cast<float>(1.0 - static_cast<double>(b1));
    const float c2 = static_cast<float>(1.0 - static_cast<double>(b2));
    const float nss = static_cast<float>(-(lr / (1.0 - std::pow(static_cast<double>(b1), step))));
    const float bc2 = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(b2), step)));
    for (int64_t i = 0; i < n; ++i) {
      const float gi = g[i] * gs;
      const volatile float wdec = rw[i] * decay;  // volatile: no fused multiply-add here
      rm[i] = std::fma(gi, c1, rm[i] * b1);
      rv[i] = std::fma(gi * c2, gi, rv[i] * b2);
      const volatile float q = (nss * rm[i]) / (std::sqrt(rv[i]) / bc2 + eps);
      rw[i] = wdec + q;
    }
    ASSERT_EQ(0, std::memcmp(m.data(), rm.data(), n * sizeof(float))) << step;
    ASSERT_EQ(0, std::memcmp(v.data(), rv.data(), n * sizeof(float))) << step;
    ASSERT_EQ(0, std::memcmp(w.data(), rw.data(), n * sizeof(float))) << step;
  }
}

// ---- threads -------------------------------------------------------------------------

// Runs every threaded kernel of this file on shapes above the parallel thresholds (and
// more rows than one statistics chunk) and returns all their outputs.
std::vector<float> run_threaded(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  const int64_t R = 601, C = 769, n = R * C;
  const auto x = randn(n, 80), g = randn(C, 81), dy = randn(n, 82), u = randn(n, 83);
  std::vector<float> all, a(n), b(n), dg(C), db(C);
  const auto keep = [&](const std::vector<float>& v) { all.insert(all.end(), v.begin(), v.end()); };
  layer_norm_backward(x.data(), g.data(), dy.data(), a.data(), dg.data(), db.data(), R, C, 1e-5f);
  keep(a), keep(dg), keep(db);
  rms_norm_backward(x.data(), g.data(), dy.data(), a.data(), dg.data(), R, C, 1e-6f);
  keep(a), keep(dg);
  gelu_tanh_backward(x.data(), dy.data(), a.data(), n);
  keep(a);
  silu_mul_backward(x.data(), u.data(), dy.data(), a.data(), b.data(), n);
  keep(a), keep(b);
  std::vector<int32_t> pos(R);
  for (int64_t t = 0; t < R; ++t) pos[t] = static_cast<int32_t>(3 * t);
  a = dy;
  rope_backward(a.data(), R, C, 6, 128, pos.data(), 10000.0f);
  keep(a);
  const int64_t V = 1000;
  std::vector<int32_t> ids(R);
  for (int64_t i = 0; i < R; ++i) ids[i] = static_cast<int32_t>((i * 37) % V / 3);
  std::vector<float> table(V * C);
  embedding_backward(ids.data(), dy.data(), table.data(), R, V, C);
  keep(table);
  std::vector<int32_t> tg(R);
  for (int64_t i = 0; i < R; ++i) tg[i] = i % 5 == 0 ? -100 : static_cast<int32_t>((i * 13) % C);
  all.push_back(static_cast<float>(cross_entropy(x.data(), tg.data(), a.data(), R, C, 1.0f)));
  keep(a);
  all.push_back(static_cast<float>(distill_loss(x.data(), u.data(), tg.data(), a.data(), R, C, 2.0f, 0.5f, false, 1.0f)));
  keep(a);
  all.push_back(static_cast<float>(distill_loss(x.data(), u.data(), tg.data(), a.data(), R, C, 2.0f, 0.5f, true, 1.0f)));
  keep(a);
  const double ss = sum_squares(x.data(), n);
  all.push_back(static_cast<float>(ss)), all.push_back(static_cast<float>(ss - static_cast<float>(ss)));
  a = x;
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  adamw_update(a.data(), dy.data(), m.data(), v.data(), n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1, 1.0f);
  keep(a), keep(m), keep(v);
  omp_set_num_threads(saved);
  return all;
}

TEST_P(KernelsGrad, ThreadCountInvariance) {
  const auto one = run_threaded(1);
  const auto two = run_threaded(2);
  const auto three = run_threaded(3);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float)));
}

}  // namespace
}  // namespace lmf::cpu

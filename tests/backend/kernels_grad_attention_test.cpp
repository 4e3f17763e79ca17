// Tests for attention_causal_forward / attention_causal_backward (kernels_grad.h) on
// every Highway target compiled in and supported by this CPU, plus thread-count
// invariance. The forward is compared with a double-precision reference; the backward
// with central finite differences of that reference's L = sum dout * out (computed once
// per shape, in double, h = 1e-4: good to ~1e-8 relative). Shapes: B = 2, T in {1, 5, 17},
// D in {8, 16}, H = 4 with Hkv in {4, 2, 1} (GQA). Errors relative to the scale of each
// tensor (its largest |reference|), printed as "[ error ] ..."; figures measured on an
// AMD EPYC (AVX-512) next to each tolerance.
#include <gtest/gtest.h>
#include <hwy/targets.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "support/cpu_test.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/kernels_grad.h"

namespace lmf::cpu {
namespace {

using test::randn;
using test::target_name;
using test::targets_to_test;
using test::uniform;
using test::with_threads;




class AttentionGrad : public test::PerTarget {};

INSTANTIATE_TEST_SUITE_P(Targets, AttentionGrad, ::testing::ValuesIn(test::targets_to_test()), test::target_param_name);

struct Shape {
  int64_t B, T, H, Hkv, D;
  std::string name() const {
    return "B" + std::to_string(B) + " T" + std::to_string(T) + " H" + std::to_string(H) + " Hkv" +
           std::to_string(Hkv) + " D" + std::to_string(D);
  }
};

// Causal attention in double: out (B*T, H*D) and lse (B, H, T).
void attention_ref(const Shape& s, const std::vector<double>& q, const std::vector<double>& k,
                   const std::vector<double>& v, double scale, std::vector<double>* out, std::vector<double>* lse) {
  out->assign(s.B * s.T * s.H * s.D, 0.0);
  lse->assign(s.B * s.H * s.T, 0.0);
  std::vector<double> p(s.T);
  for (int64_t b = 0; b < s.B; ++b) {
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t g = h / (s.H / s.Hkv);
      for (int64_t t = 0; t < s.T; ++t) {
        const double* qt = &q[((b * s.T + t) * s.H + h) * s.D];
        double m = -INFINITY;
        for (int64_t u = 0; u <= t; ++u) {
          const double* ku = &k[((b * s.T + u) * s.Hkv + g) * s.D];
          double dot = 0;
          for (int64_t j = 0; j < s.D; ++j) dot += qt[j] * ku[j];
          p[u] = dot * scale;
          m = std::max(m, p[u]);
        }
        double sum = 0;
        for (int64_t u = 0; u <= t; ++u) sum += (p[u] = std::exp(p[u] - m));
        (*lse)[(b * s.H + h) * s.T + t] = m + std::log(sum);
        double* ot = &(*out)[((b * s.T + t) * s.H + h) * s.D];
        for (int64_t u = 0; u <= t; ++u) {
          const double* vu = &v[((b * s.T + u) * s.Hkv + g) * s.D];
          for (int64_t j = 0; j < s.D; ++j) ot[j] += p[u] / sum * vu[j];
        }
      }
    }
  }
}

struct Problem {
  std::vector<float> q, k, v, dout;
  std::vector<double> out, lse;     // forward reference
  std::vector<double> dq, dk, dv;   // finite differences of sum dout * out
};

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// The inputs and references of one shape, computed once (they do not depend on the target).
const Problem& problem(const Shape& s, double scale) {
  static std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>, Problem> cache;
  const auto key = std::make_tuple(s.B, s.T, s.H, s.Hkv, s.D);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Problem pr;
  const uint32_t seed = static_cast<uint32_t>(s.T * 100 + s.Hkv * 10 + s.D);
  pr.q = randn(s.B * s.T * s.H * s.D, seed);
  pr.k = randn(s.B * s.T * s.Hkv * s.D, seed + 1);
  pr.v = randn(s.B * s.T * s.Hkv * s.D, seed + 2);
  pr.dout = randn(s.B * s.T * s.H * s.D, seed + 3);
  auto q = to_double(pr.q), k = to_double(pr.k), v = to_double(pr.v);
  const auto dout = to_double(pr.dout);
  attention_ref(s, q, k, v, scale, &pr.out, &pr.lse);
  std::vector<double> o, l;
  const auto loss = [&] {
    attention_ref(s, q, k, v, scale, &o, &l);
    double sum = 0;
    for (size_t i = 0; i < o.size(); ++i) sum += dout[i] * o[i];
    return sum;
  };
  const auto grad = [&](std::vector<double>& x) {
    std::vector<double> g(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i], h = 1e-4;
      x[i] = x0 + h;
      const double lp = loss();
      x[i] = x0 - h;
      const double lm = loss();
      x[i] = x0;
      g[i] = (lp - lm) / (2 * h);
    }
    return g;
  };
  pr.dq = grad(q);
  pr.dk = grad(k);
  pr.dv = grad(v);
  return cache.emplace(key, std::move(pr)).first->second;
}

double max_abs(const std::vector<double>& v) {
  double m = 1e-30;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Largest |got - ref| / max|ref| over one tensor.
double rel_err(const std::vector<float>& got, const std::vector<double>& ref) {
  const double scale = max_abs(ref);
  double e = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(got[i] - ref[i]) / scale;
    e = std::isnan(d) ? INFINITY : std::max(e, d);
  }
  return e;
}

std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (int64_t T : {1, 5, 17}) {
    for (int64_t D : {8, 16}) {
      for (int64_t Hkv : {4, 2, 1}) out.push_back({2, T, 4, Hkv, D});
    }
  }
  return out;
}

// Measured: out 1.3e-7, lse 1.0e-7, dq 2.9e-7, dk 4.8e-7, dv 2.4e-7 (AVX3); out 1.8e-7,
// lse 1.7e-7, dq 3.5e-7, dk 3.8e-7, dv 2.3e-7 (SCALAR). Tolerances 1e-6 (forward), 2e-6
// (gradients).
TEST_P(AttentionGrad, MatchesReferenceAndFiniteDifferences) {
  double eo = 0, el = 0, eq = 0, ek = 0, ev = 0;
  const int threads = omp_get_max_threads();
  for (const Shape& s : shapes()) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.D));
    const Problem& pr = problem(s, scale);
    std::vector<float> out(pr.q.size()), lse(s.B * s.H * s.T), fscratch(threads * s.T);
    attention_causal_forward(pr.q.data(), pr.k.data(), pr.v.data(), out.data(), lse.data(), s.B, s.T, s.H, s.Hkv,
                             s.D, scale, fscratch.data());
    const double lse_scale = max_abs(pr.lse);
    for (size_t i = 0; i < lse.size(); ++i) el = std::max(el, std::fabs(lse[i] - pr.lse[i]) / std::max(1.0, lse_scale));
    eo = std::max(eo, rel_err(out, pr.out));
    std::vector<float> dq(pr.q.size(), 7.0f), dk(pr.k.size(), 7.0f), dv(pr.v.size(), 7.0f);
    std::vector<float> scratch(attention_causal_backward_scratch(s.B, s.T, s.H, s.Hkv, s.D, threads));
    attention_causal_backward(pr.q.data(), pr.k.data(), pr.v.data(), out.data(), lse.data(), pr.dout.data(),
                              dq.data(), dk.data(), dv.data(), s.B, s.T, s.H, s.Hkv, s.D, scale, scratch.data());
    const double a = rel_err(dq, pr.dq), b = rel_err(dk, pr.dk), c = rel_err(dv, pr.dv);
    EXPECT_LE(std::max({a, b, c}), 2e-6) << s.name() << ": dq " << a << " dk " << b << " dv " << c;
    eq = std::max(eq, a), ek = std::max(ek, b), ev = std::max(ev, c);
  }
  std::printf("[ error ] attention %-7s out %.3g lse %.3g dq %.3g dk %.3g dv %.3g (tolerance 1e-06, 2e-06)\n",
              target_name().c_str(), eo, el, eq, ek, ev);
  EXPECT_LE(eo, 1e-6);
  EXPECT_LE(el, 1e-6);
}

// The forward agrees with kernels.h's attention_head (same math, decode-path kernel).
TEST_P(AttentionGrad, ForwardMatchesAttentionHead) {
  const Shape s{2, 17, 4, 2, 16};
  const float scale = 0.25f;
  const Problem& pr = problem(s, scale);
  std::vector<float> out(pr.q.size()), lse(s.B * s.H * s.T), scratch(omp_get_max_threads() * s.T);
  attention_causal_forward(pr.q.data(), pr.k.data(), pr.v.data(), out.data(), lse.data(), s.B, s.T, s.H, s.Hkv, s.D,
                           scale, scratch.data());
  std::vector<float> kc(s.T * s.D), vc(s.T * s.D), o2(s.T * s.D), sc(static_cast<size_t>(attention_head_scratch(s.T, s.D)));
  for (int64_t b = 0; b < s.B; ++b) {
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t g = h / (s.H / s.Hkv);
      for (int64_t t = 0; t < s.T; ++t) {
        std::memcpy(&kc[t * s.D], &pr.k[((b * s.T + t) * s.Hkv + g) * s.D], s.D * sizeof(float));
        std::memcpy(&vc[t * s.D], &pr.v[((b * s.T + t) * s.Hkv + g) * s.D], s.D * sizeof(float));
      }
      attention_head(&pr.q[(b * s.T * s.H + h) * s.D], s.H * s.D, kc.data(), vc.data(), o2.data(), s.D, s.T, s.D, 0,
                     scale, sc.data());
      for (int64_t t = 0; t < s.T; ++t) {
        for (int64_t j = 0; j < s.D; ++j) {
          ASSERT_NEAR(out[((b * s.T + t) * s.H + h) * s.D + j], o2[t * s.D + j], 1e-6) << b << " " << h << " " << t;
        }
      }
    }
  }
}

std::vector<float> run_threaded(int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  const int64_t B = 2, T = 67, H = 4, Hkv = 2, D = 16;
  const auto q = randn(B * T * H * D, 1), k = randn(B * T * Hkv * D, 2), v = randn(B * T * Hkv * D, 3);
  const auto dout = randn(B * T * H * D, 4);
  std::vector<float> out(q.size()), lse(B * H * T), scratch(threads * T * 2 + 1);
  attention_causal_forward(q.data(), k.data(), v.data(), out.data(), lse.data(), B, T, H, Hkv, D, 0.25f,
                           scratch.data());
  std::vector<float> dq(q.size()), dk(k.size()), dv(v.size());
  scratch.resize(attention_causal_backward_scratch(B, T, H, Hkv, D, threads));
  attention_causal_backward(q.data(), k.data(), v.data(), out.data(), lse.data(), dout.data(), dq.data(), dk.data(),
                            dv.data(), B, T, H, Hkv, D, 0.25f, scratch.data());
  std::vector<float> all = out;
  for (const auto* x : {&lse, &dq, &dk, &dv}) all.insert(all.end(), x->begin(), x->end());
  omp_set_num_threads(saved);
  return all;
}

TEST_P(AttentionGrad, ThreadCountInvariance) {
  const auto one = run_threaded(1), two = run_threaded(2), three = run_threaded(3);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float)));
}

}  // namespace
}  // namespace lmf::cpu

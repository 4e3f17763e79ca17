#include "compress/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/matmul.h"
#include "core/error.h"
#include "passes/quantize.h"
#include "passes/smooth.h"

namespace lmf::compress {

namespace {

// out (K, N) = the values W (K, N) is stored as under spec: (q - z) · s per (group, column).
void fake_quant(const float* w, int64_t K, int64_t N, const quant::Spec& spec, float* out) {
  const int64_t G = spec.group;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < K / G; ++g) {
      float s = 0;
      int32_t z = 0;
      quant::choose_params(w + g * G * N + n, G, N, spec, &s, &z);
      for (int64_t k = g * G; k < (g + 1) * G; ++k)
        out[k * N + n] = static_cast<float>(quant::quantize_value(w[k * N + n], s, z, spec.bits) - z) * s;
    }
}

std::vector<float> to_float(const std::vector<double>& H) { return {H.begin(), H.end()}; }

// Per column n of E (K, N): e_nᵀ H e_n, with H (K, K) at stride ldh. he: K·N floats of scratch.
void column_errors(const float* H, int64_t ldh, const float* E, int64_t K, int64_t N, float* he, double* err) {
  cpu::sgemm_or_throw("awq: column errors", 'N', 'N', K, N, K, 1.0f, H, ldh, E, N, 0.0f, he, N);
  for (int64_t n = 0; n < N; ++n) err[n] = 0;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) err[n] += static_cast<double>(E[k * N + n]) * he[k * N + n];
}

double total_error(const float* H, const float* E, int64_t K, int64_t N, std::vector<float>& he,
                   std::vector<double>& err) {
  he.resize(static_cast<size_t>(K * N));
  err.resize(static_cast<size_t>(N));
  column_errors(H, K, E, K, N, he.data(), err.data());
  double t = 0;
  for (double e : err) t += e;
  return t;
}

}  // namespace

double quantization_error(const float* w_kn, int64_t K, int64_t N, const std::vector<double>& H,
                          const quant::Spec& spec) {
  quant::check_spec(spec, K, N, "awq");
  LMF_CHECK(static_cast<int64_t>(H.size()) == K * K, kInternal, "awq: Hessian of {} values for K = {}", H.size(), K);
  std::vector<float> E(static_cast<size_t>(K * N)), he;
  std::vector<double> err;
  fake_quant(w_kn, K, N, spec, E.data());
  for (int64_t i = 0; i < K * N; ++i) E[i] -= w_kn[i];
  return total_error(to_float(H).data(), E.data(), K, N, he, err);
}

AwqScales awq_search_scales(const std::vector<const float*>& w_kn, const std::vector<int64_t>& n, int64_t K,
                            const std::vector<double>& H, const std::vector<float>& xmean, const quant::Spec& spec,
                            int grid) {
  LMF_CHECK(grid >= 1 && w_kn.size() == n.size() && static_cast<int64_t>(xmean.size()) == K &&
                static_cast<int64_t>(H.size()) == K * K,
            kInternal, "awq: inconsistent search inputs");
  for (size_t i = 0; i < n.size(); ++i) quant::check_spec(spec, K, n[i], "awq");
  const std::vector<float> Hf = to_float(H);
  int64_t widest = 0;
  for (int64_t c : n) widest = std::max(widest, c);
  std::vector<float> ws(static_cast<size_t>(K * widest)), q(ws.size()), he;
  std::vector<double> err;
  AwqScales best;
  best.err = std::numeric_limits<double>::infinity();
  std::vector<float> s(static_cast<size_t>(K));
  for (int a = 0; a < grid; ++a) {
    const double alpha = static_cast<double>(a) / grid;
    float lo = std::numeric_limits<float>::max(), hi = 0;
    for (int64_t j = 0; j < K; ++j) {
      s[j] = std::max(static_cast<float>(std::pow(std::max(xmean[j], 0.0f), alpha)), 1e-4f);
      lo = std::min(lo, s[j]), hi = std::max(hi, s[j]);
    }
    const float norm = std::sqrt(lo * hi);
    for (float& v : s) v /= norm;
    double total = 0;
    for (size_t i = 0; i < w_kn.size(); ++i) {
      const int64_t N = n[i];
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = 0; c < N; ++c) ws[k * N + c] = w_kn[i][k * N + c] * s[k];
      fake_quant(ws.data(), K, N, spec, q.data());
      for (int64_t k = 0; k < K; ++k)  // E = Q(W diag s) / s - W
        for (int64_t c = 0; c < N; ++c) q[k * N + c] = q[k * N + c] / s[k] - w_kn[i][k * N + c];
      total += total_error(Hf.data(), q.data(), K, N, he, err);
    }
    if (a == 0) best.err_rtn = total;
    if (total < best.err) best.err = total, best.alpha = alpha, best.s = s;
  }
  return best;
}

void awq_clip(float* w_kn, int64_t K, int64_t N, const std::vector<double>& H, const quant::Spec& spec, int steps) {
  quant::check_spec(spec, K, N, "awq");
  LMF_CHECK(steps >= 2 && static_cast<int64_t>(H.size()) == K * K, kInternal, "awq: bad clip inputs");
  const int64_t G = spec.group;
  std::vector<float> Hg(static_cast<size_t>(G * G)), c(static_cast<size_t>(G * N)), e(c.size()), he(c.size());
  std::vector<float> amax(static_cast<size_t>(N)), best_r(static_cast<size_t>(N));
  std::vector<double> err(static_cast<size_t>(N)), best(static_cast<size_t>(N));
  for (int64_t g = 0; g < K / G; ++g) {
    float* w = w_kn + g * G * N;  // (G, N)
    for (int64_t i = 0; i < G; ++i)
      for (int64_t j = 0; j < G; ++j) Hg[i * G + j] = static_cast<float>(H[(g * G + i) * K + g * G + j]);
    std::fill(amax.begin(), amax.end(), 0.0f);
    for (int64_t k = 0; k < G; ++k)
      for (int64_t n = 0; n < N; ++n) amax[n] = std::max(amax[n], std::fabs(w[k * N + n]));
    std::fill(best.begin(), best.end(), std::numeric_limits<double>::infinity());
    for (int i = 0; i < steps / 2; ++i) {
      const float r = 1.0f - static_cast<float>(i) / static_cast<float>(steps);
      for (int64_t k = 0; k < G; ++k)
        for (int64_t n = 0; n < N; ++n) c[k * N + n] = std::clamp(w[k * N + n], -r * amax[n], r * amax[n]);
      fake_quant(c.data(), G, N, spec, e.data());  // one group of G rows
      for (int64_t k = 0; k < G * N; ++k) e[k] -= w[k];  // the error against the unclipped weights
      column_errors(Hg.data(), G, e.data(), G, N, he.data(), err.data());
      for (int64_t n = 0; n < N; ++n)
        if (err[n] < best[n]) best[n] = err[n], best_r[n] = r;
    }
    for (int64_t k = 0; k < G; ++k)
      for (int64_t n = 0; n < N; ++n) w[k * N + n] = std::clamp(w[k * N + n], -best_r[n] * amax[n], best_r[n] * amax[n]);
  }
}

std::vector<AwqNorm> awq_scale_norms(Graph& g, std::map<int, std::vector<double>>& hessians,
                                     const std::map<int, std::vector<float>>& xmean, quant::Spec spec) {
  std::vector<AwqNorm> out;
  for (const passes::NormLinears& nl : passes::scalable_norms(g)) {
    if (nl.feeds_output || !hessians.count(nl.x) || !xmean.count(nl.x)) continue;
    std::vector<Tensor> kn;
    std::vector<const float*> w;
    std::vector<int64_t> n;
    for (size_t r : nl.linears) {
      kn.push_back(passes::linear_weight_kn(g, g.nodes()[r]));
      w.push_back(kn.back().data_as<float>());
      n.push_back(kn.back().dim(1));
    }
    const int64_t K = kn[0].dim(0);
    // The group these linears will be quantized with (passes::quantize_weights fits it the same way).
    quant::Spec fitted = spec;
    fitted.group = quant::fit_group(spec.group, K, spec.bits);
    if (fitted.group == 0) continue;  // they stay float
    AwqNorm an{g.value(g.nodes()[nl.norm].inputs[1]).name, nl.linears.size(),
               awq_search_scales(w, n, K, hessians.at(nl.x), xmean.at(nl.x), fitted)};
    passes::fold_input_scales(g, nl, an.scales.s);
    std::vector<double>& H = hessians.at(nl.x);
    const std::vector<float>& s = an.scales.s;
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) H[i * K + j] /= static_cast<double>(s[i]) * s[j];
    out.push_back(std::move(an));
  }
  return out;
}

}  // namespace lmf::compress

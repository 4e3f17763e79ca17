#include "compress/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/cpu/matmul.h"
#include "core/error.h"
#include "compress/calibrate.h"

extern "C" {
// LAPACK (OpenBLAS): Cholesky factorization and inverse of a symmetric positive definite matrix.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace lmf::compress {

std::map<int, std::vector<double>> collect_hessians(const Model& m, const std::vector<std::vector<int32_t>>& samples,
                                                    int threads, std::map<int, std::vector<float>>* absmean) {
  std::map<int, std::vector<float>> acc;  // x value -> Σ x xᵀ (K, K)
  std::map<int, std::vector<double>> abs_sum;
  std::map<int, int64_t> tokens;
  observe_linear_inputs(m, samples, threads, [&](int v, const float* x, int64_t rows, int64_t K) {
    std::vector<float>& a = acc[v];
    a.resize(static_cast<size_t>(K * K), 0.0f);
    cpu::sgemm_or_throw("gptq: Hessian", 'T', 'N', K, K, rows, 1.0f, x, K, x, K, 1.0f, a.data(), K);
    tokens[v] += rows;
    if (absmean) {
      std::vector<double>& s = abs_sum[v];
      s.resize(static_cast<size_t>(K), 0.0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < K; ++k) s[k] += std::fabs(x[r * K + k]);
    }
  });
  if (absmean)
    for (const auto& [v, s] : abs_sum) {
      std::vector<float>& o = (*absmean)[v];
      o.resize(s.size());
      for (size_t k = 0; k < s.size(); ++k) o[k] = static_cast<float>(s[k] / static_cast<double>(tokens[v]));
    }
  std::map<int, std::vector<double>> H;
  for (auto& [v, a] : acc) {
    const double scale = 2.0 / static_cast<double>(std::max<int64_t>(1, tokens[v]));
    std::vector<double>& h = H[v];
    h.resize(a.size());
    for (size_t i = 0; i < a.size(); ++i) h[i] = a[i] * scale;
    std::vector<float>().swap(a);
  }
  return H;
}

void inverse_hessian_factor(std::vector<double>& H, int64_t K, double damp, const char* what) {
  double mean = 0;
  for (int64_t k = 0; k < K; ++k) mean += H[k * K + k];
  mean /= static_cast<double>(K);
  for (int64_t k = 0; k < K; ++k) H[k * K + k] += damp * mean;
  // U upper with H⁻¹ = Uᵀ U. LAPACK is column-major: on this symmetric row-major array,
  // 'L' works on what row-major reads as the upper triangle.
  const int n = static_cast<int>(K);
  int info = 0;
  dpotrf_("L", &n, H.data(), &n, &info);
  LMF_CHECK(info == 0, kInvalidArgument, "{}: the Hessian is not positive definite (add calibration data or --damp)",
            what);
  dpotri_("L", &n, H.data(), &n, &info);
  LMF_CHECK(info == 0, kInvalidArgument, "{}: the Hessian is singular", what);
  for (int64_t i = 0; i < K; ++i)  // fill the other triangle: H⁻¹ full
    for (int64_t j = i + 1; j < K; ++j) H[j * K + i] = H[i * K + j];
  dpotrf_("U", &n, H.data(), &n, &info);
  LMF_CHECK(info == 0, kInvalidArgument, "{}: the inverse Hessian is not positive definite (raise --damp)", what);
}

quant::Packed gptq_quantize(const float* w_kn, int64_t K, int64_t N, std::vector<double> H, const quant::Spec& spec,
                            const GptqOptions& o) {
  quant::check_spec(spec, K, N, "gptq");
  const int64_t G = spec.group;
  std::vector<float> W(w_kn, w_kn + K * N);
  for (int64_t k = 0; k < K; ++k)
    if (H[static_cast<size_t>(k * K + k)] == 0) {  // a dead input: its weights cannot matter
      H[static_cast<size_t>(k * K + k)] = 1;
      std::fill(W.begin() + k * N, W.begin() + (k + 1) * N, 0.0f);
    }
  quant::Packed p = quant::make_packed(K, N, spec);
  std::vector<float> scale(static_cast<size_t>((K / G) * N));
  std::vector<int32_t> zero(scale.size());
  auto params = [&](int64_t g, const float* rows) {  // rows: G rows of N
    for (int64_t n = 0; n < N; ++n) {
      quant::choose_params(rows + n, G, N, spec, &scale[g * N + n], &zero[g * N + n]);
      quant::set_scale(p, g, n, scale[g * N + n]);
      quant::set_zero(p, spec.bits, g, n, zero[g * N + n]);
    }
  };
  std::vector<int64_t> perm(static_cast<size_t>(K));
  std::iota(perm.begin(), perm.end(), 0);
  if (o.act_order) {
    for (int64_t g = 0; g < K / G; ++g) params(g, W.data() + g * G * N);  // static groups
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return H[a * K + a] > H[b * K + b]; });
    std::vector<float> Wp(W.size());
    std::vector<double> Hp(H.size());
    for (int64_t i = 0; i < K; ++i) {
      std::copy_n(W.begin() + perm[i] * N, N, Wp.begin() + i * N);
      for (int64_t j = 0; j < K; ++j) Hp[i * K + j] = H[perm[i] * K + perm[j]];
    }
    W.swap(Wp);
    H.swap(Hp);
  }
  inverse_hessian_factor(H, K, o.damp, "gptq");
  // Column-major U(i, j), i <= j, is H[j * K + i].
  auto U = [&](int64_t i, int64_t j) { return H[static_cast<size_t>(j * K + i)]; };

  const int64_t B = std::max<int64_t>(1, o.block);
  std::vector<float> err(static_cast<size_t>(B * N)), a;
  for (int64_t i1 = 0; i1 < K; i1 += B) {
    const int64_t i2 = std::min(K, i1 + B), nb = i2 - i1;
    for (int64_t i = i1; i < i2; ++i) {
      const int64_t k = perm[i], g = k / G;
      if (!o.act_order && i % G == 0) params(g, W.data() + i * N);
      const float d = static_cast<float>(U(i, i));
      float* row = W.data() + i * N;
      float* e = err.data() + (i - i1) * N;
      for (int64_t c = 0; c < N; ++c) {
        const float s = scale[g * N + c];
        const int32_t z = zero[g * N + c];
        const int32_t q = quant::quantize_value(row[c], s, z, spec.bits);
        quant::set_q(p, spec.bits, k, c, q);
        e[c] = (row[c] - static_cast<float>(q - z) * s) / d;
      }
      for (int64_t j = i + 1; j < i2; ++j) {
        const float h = static_cast<float>(U(i, j));
        float* r = W.data() + j * N;
        for (int64_t c = 0; c < N; ++c) r[c] -= h * e[c];
      }
    }
    if (i2 < K) {  // W[i2:] -= U[i1:i2, i2:]ᵀ · err
      a.resize(static_cast<size_t>((K - i2) * nb));
      for (int64_t r = 0; r < K - i2; ++r)
        for (int64_t c = 0; c < nb; ++c) a[r * nb + c] = static_cast<float>(U(i1 + c, i2 + r));
      cpu::sgemm_or_throw("gptq: block update", 'N', 'N', K - i2, N, nb, -1.0f, a.data(), nb, err.data(), N, 1.0f,
                          W.data() + i2 * N, N);
    }
  }
  return p;
}

}  // namespace lmf::compress

#include "compress/prune.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "compress/calibrate.h"
#include "compress/gptq.h"
#include "compress/output_folder.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "passes/quantize.h"

extern "C" {
// BLAS (OpenBLAS): SparseGPT's lazy block update in float64.
void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc);
}

namespace lmf::compress {

namespace fs = std::filesystem;

namespace {

bool parse_nm(const std::string& s, int64_t* n, int64_t* m) {
  const size_t c = s.find(':');
  if (c == std::string::npos || c == 0 || c + 1 == s.size()) return false;
  auto num = [](std::string_view t, int64_t* v) {
    auto r = std::from_chars(t.data(), t.data() + t.size(), *v);
    return r.ec == std::errc() && r.ptr == t.data() + t.size();
  };
  return num(std::string_view(s).substr(0, c), n) && num(std::string_view(s).substr(c + 1), m);
}

// Zeroes the k entries of least score among n (ties: the earlier index first).
template <typename S, typename ScoreFn, typename ZeroFn>
void prune_lowest(int64_t n, int64_t k, const ScoreFn& score, const ZeroFn& zero) {
  if (k <= 0) return;
  std::vector<S> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) s[static_cast<size_t>(i)] = score(i);
  std::vector<S> c = s;
  std::nth_element(c.begin(), c.begin() + (k - 1), c.end());
  const S t = c[static_cast<size_t>(k - 1)];
  std::vector<S>().swap(c);
  int64_t ties = k;  // how many entries equal to t are pruned: k minus those below t
  for (const S v : s) ties -= v < t;
  for (int64_t i = 0; i < n; ++i) {
    const S v = s[static_cast<size_t>(i)];
    if (v < t || (v == t && ties-- > 0)) zero(i);
  }
}

struct Target {
  std::string module;
  int weight = -1, input = -1;  // value ids: the weight, the node's input
  int64_t K = 0, N = 0;
  bool nk = false;  // stored (N, K) (torch.nn.Linear); else (K, N) (GPT-2's Conv1D)
  size_t at(int64_t n, int64_t k) const { return static_cast<size_t>(nk ? n * K + k : k * N + n); }
};

int64_t count_nonzeros(const Tensor& t) {
  if (t.dtype() != DType::kF32) return t.numel();
  const float* p = t.data_as<float>();
  return std::count_if(p, p + t.numel(), [](float v) { return v != 0.0f; });
}

Tensor to_dtype(const Tensor& t, DType dt) {
  if (t.dtype() != DType::kF32 || dt == DType::kF32) return t;
  Tensor o = Tensor::empty(dt, t.shape());
  const float* s = t.data_as<float>();
  uint16_t* d = o.mutable_data_as<uint16_t>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = dt == DType::kBF16 ? f32_to_bf16(s[i]) : f32_to_f16(s[i]);
  return o;
}

}  // namespace

nlohmann::json PruneReport::json() const {
  nlohmann::json l = nlohmann::json::array();
  for (const PruneLayer& p : layers)
    l.push_back({{"module", p.module},
                 {"params", p.params},
                 {"nonzeros", p.nonzeros},
                 {"sparsity", p.params ? 1.0 - static_cast<double>(p.nonzeros) / p.params : 0.0}});
  return {{"method", method},
          {"scope", scope},
          {"target_sparsity", sparsity},
          {"layers", l},
          {"layer_params", layer_params},
          {"layer_nonzeros", layer_nonzeros},
          {"params", params},
          {"nonzeros", nonzeros},
          {"bytes", bytes},
          {"dtype", dtype}};
}

PruneMethod check_prune_options(const PruneOptions& o) {
  PruneMethod pm;
  std::string nm_flag = "--nm", nm = o.nm;
  if (o.method == "wanda") {
    pm.wanda = true;
  } else if (o.method == "sparsegpt") {
    pm.sparsegpt = true;
    LMF_CHECK(o.damp >= 0 && o.damp < 1, kInvalidArgument, "--damp {}: must be in [0, 1)", o.damp);
  } else if (o.method.find(':') != std::string::npos) {
    LMF_CHECK(o.nm.empty(), kInvalidArgument, "--nm {}: --method {} already is N:M (use --method magnitude or wanda with --nm)",
              o.nm, o.method);
    nm_flag = "--method", nm = o.method;
  } else {
    LMF_CHECK(o.method == "magnitude", kInvalidArgument,
              "--method '{}': unknown pruning method (supported: magnitude, wanda, sparsegpt, N:M such as 2:4)", o.method);
  }
  if (!nm.empty()) {
    LMF_CHECK(parse_nm(nm, &pm.n, &pm.m), kInvalidArgument, "{} '{}': expected N:M with integers, such as 2:4", nm_flag,
              nm);
    LMF_CHECK(pm.n >= 1 && pm.n < pm.m, kInvalidArgument, "{} {}: N must be at least 1 and smaller than M", nm_flag,
              nm);
    LMF_CHECK(o.sparsity < 0, kInvalidArgument, "--sparsity {}: {} {} fixes the sparsity at 1 - N/M = {:g}", o.sparsity,
              nm_flag, nm, 1.0 - static_cast<double>(pm.n) / pm.m);
    pm.sparsity = 1.0 - static_cast<double>(pm.n) / pm.m;
    LMF_CHECK(o.scope == "layer", kInvalidArgument, "--scope {}: N:M pruning works within each row's groups (no scope)",
              o.scope);
  } else {
    LMF_CHECK(o.sparsity != -1, kInvalidArgument, "--sparsity S is required for --method {} (a fraction in [0, 1))",
              o.method);
    LMF_CHECK(o.sparsity >= 0 && o.sparsity < 1, kInvalidArgument, "--sparsity {}: must be in [0, 1)", o.sparsity);
    pm.sparsity = o.sparsity;
    LMF_CHECK(o.scope == "layer" || o.scope == "global", kInvalidArgument, "--scope '{}': layer or global", o.scope);
    LMF_CHECK(o.scope == "layer" || !pm.wanda, kInvalidArgument,
              "--scope global: wanda compares weights within each output row (use --scope layer)");
    LMF_CHECK(o.scope == "layer" || !pm.sparsegpt, kInvalidArgument,
              "--scope global: sparsegpt prunes each layer on its own (use --scope layer)");
  }
  LMF_CHECK(!(pm.wanda || pm.sparsegpt) || !o.calib.empty(), kInvalidArgument,
            "--calib DATA is required for --method {} (a `data prepare` folder; its train split)", o.method);
  return pm;
}

std::map<int, std::vector<float>> input_norms(const Model& m, const std::vector<std::vector<int32_t>>& samples,
                                              int threads) {
  std::map<int, std::vector<double>> sq;
  observe_linear_inputs(m, samples, threads, [&](int v, const float* x, int64_t rows, int64_t K) {
    std::vector<double>& a = sq[v];
    a.resize(static_cast<size_t>(K), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < K; ++k) a[k] += static_cast<double>(x[r * K + k]) * x[r * K + k];
  });
  std::map<int, std::vector<float>> out;
  for (const auto& [v, a] : sq) {
    std::vector<float>& o = out[v];
    for (double s : a) o.push_back(static_cast<float>(std::sqrt(s)));
  }
  return out;
}

void sparsegpt_prune(float* w_kn, int64_t K, int64_t N, std::vector<double> H, const SparseGptOptions& o) {
  LMF_CHECK(static_cast<int64_t>(H.size()) == K * K, kInternal, "sparsegpt: H has {} elements for K = {}", H.size(), K);
  std::vector<double> W(w_kn, w_kn + K * N);
  for (int64_t k = 0; k < K; ++k)
    if (H[static_cast<size_t>(k * K + k)] == 0) {  // a dead input: its weights cannot matter
      H[static_cast<size_t>(k * K + k)] = 1;
      std::fill(W.begin() + k * N, W.begin() + (k + 1) * N, 0.0);
    }
  inverse_hessian_factor(H, K, o.damp, "sparsegpt");
  auto U = [&](int64_t i, int64_t j) { return H[static_cast<size_t>(j * K + i)]; };
  int64_t B = std::max<int64_t>(1, o.block);
  if (o.m > 0) B = std::max(o.m, B / o.m * o.m);
  std::vector<double> err(static_cast<size_t>(B * N)), a, s(static_cast<size_t>(std::max<int64_t>(o.m, 1)));
  std::vector<uint8_t> pruned(static_cast<size_t>(B * N));
  std::vector<int64_t> idx(s.size());
  for (int64_t i1 = 0; i1 < K; i1 += B) {
    const int64_t i2 = std::min(K, i1 + B), nb = i2 - i1;
    std::fill(pruned.begin(), pruned.end(), 0);
    if (o.m == 0) {  // the block's int(S · nb · N) least w² / U_kk², in (output, input) order for ties
      const int64_t kp = static_cast<int64_t>(static_cast<double>(nb * N) * o.sparsity);
      prune_lowest<double>(
          nb * N, kp,
          [&](int64_t t) {
            const int64_t c = t / nb, kk = t % nb;
            const double w = W[static_cast<size_t>((i1 + kk) * N + c)], d = U(i1 + kk, i1 + kk);
            return w * w / (d * d);
          },
          [&](int64_t t) { pruned[static_cast<size_t>((t % nb) * N + t / nb)] = 1; });
    }
    for (int64_t i = i1; i < i2; ++i) {
      const int64_t kk = i - i1;
      if (o.m > 0 && kk % o.m == 0)  // the group's M - N least w² / U_kk² (the current weights)
        for (int64_t c = 0; c < N; ++c) {
          for (int64_t j = 0; j < o.m; ++j) {
            const double w = W[static_cast<size_t>((i + j) * N + c)], d = U(i + j, i + j);
            s[static_cast<size_t>(j)] = w * w / (d * d);
          }
          std::iota(idx.begin(), idx.end(), 0);
          std::stable_sort(idx.begin(), idx.end(), [&](int64_t x, int64_t y) { return s[x] < s[y]; });
          for (int64_t j = 0; j < o.m - o.n; ++j) pruned[static_cast<size_t>((kk + idx[j]) * N + c)] = 1;
        }
      const double d = U(i, i);
      double* row = W.data() + i * N;
      double* e = err.data() + kk * N;
      for (int64_t c = 0; c < N; ++c) {
        const double q = pruned[static_cast<size_t>(kk * N + c)] ? 0.0 : row[c];
        e[c] = (row[c] - q) / d;
        row[c] = q;
      }
      for (int64_t j = i + 1; j < i2; ++j) {
        const double h = U(i, j);
        double* r = W.data() + j * N;
        for (int64_t c = 0; c < N; ++c) r[c] -= h * e[c];
      }
    }
    if (i2 < K) {  // W[i2:] -= U[i1:i2, i2:]ᵀ · err (row-major, as column-major Wᵀ -= errᵀ · A ᵀ)
      const int64_t rows = K - i2;
      a.resize(static_cast<size_t>(rows * nb));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < nb; ++c) a[static_cast<size_t>(r * nb + c)] = U(i1 + c, i2 + r);
      const int n = static_cast<int>(N), m = static_cast<int>(rows), k = static_cast<int>(nb);
      const double minus = -1.0, one = 1.0;
      dgemm_("N", "N", &n, &m, &k, &minus, err.data(), &n, a.data(), &k, &one, W.data() + i2 * N, &n);
    }
  }
  for (int64_t i = 0; i < K * N; ++i) w_kn[i] = static_cast<float>(W[static_cast<size_t>(i)]);
}

PruneReport prune_graph(Model& m, const PruneOptions& o, const std::map<int, std::vector<float>>& norms,
                        const std::map<int, std::vector<double>>& hessians) {
  const PruneMethod pm = check_prune_options(o);
  Graph& g = m.graph;
  std::vector<std::regex> include;
  for (const auto& p : o.include) {
    try {
      include.emplace_back(p);
    } catch (const std::regex_error& e) {
      fail(ErrorCode::kInvalidArgument, "--include '{}': not a regular expression ({})", p, e.what());
    }
  }
  std::vector<Target> targets;
  std::set<int> seen;
  std::string names;
  for (const passes::LinearModule& lm : passes::linear_modules(g)) {
    names += (names.empty() ? "" : ", ") + lm.module;
    bool take = include.empty() && !lm.head;
    for (const auto& re : include) take = take || std::regex_search(lm.module, re);
    const Node& n = g.nodes()[static_cast<size_t>(lm.node)];
    if (!take || !seen.insert(n.inputs[1]).second) continue;
    targets.push_back({lm.module, n.inputs[1], n.inputs[0], lm.K, lm.N, n.attr_str("layout") == "nk"});
  }
  if (targets.empty()) {
    std::string pats;
    for (const auto& p : o.include) pats += (pats.empty() ? "'" : ", '") + p + "'";
    LMF_CHECK(!o.include.empty(), kInvalidArgument, "{}: no float linear modules to prune", m.dir);
    fail(ErrorCode::kInvalidArgument, "--include {}: matches no linear module (modules: {})", pats,
         names.empty() ? "none" : names);
  }
  const std::string nm_flag = o.nm.empty() ? "--method" : "--nm";
  for (const Target& t : targets) {
    LMF_CHECK(pm.m == 0 || t.K % pm.m == 0, kInvalidArgument, "{} {}:{}: M = {} does not divide the {} inputs of {}",
              nm_flag, pm.n, pm.m, pm.m, t.K, t.module);
    LMF_CHECK(!pm.wanda || (norms.count(t.input) && static_cast<int64_t>(norms.at(t.input).size()) == t.K), kInternal,
              "wanda: no input norms for {}", t.module);
    LMF_CHECK(!pm.sparsegpt || (hessians.count(t.input) && static_cast<int64_t>(hessians.at(t.input).size()) == t.K * t.K),
              kInternal, "sparsegpt: no Hessian for {}", t.module);
  }
  // Owned float32 copies of the weights to prune (a checkpoint's may be a read-only mapping).
  for (const Target& t : targets) {
    Value& v = g.values()[static_cast<size_t>(t.weight)];
    Tensor c = Tensor::empty(DType::kF32, v.data.shape());
    const Tensor f = v.data.to_f32();
    std::copy(f.data_as<float>(), f.data_as<float>() + f.numel(), c.mutable_data_as<float>());
    v.data = c;
  }
  auto data = [&](const Target& t) { return g.values()[static_cast<size_t>(t.weight)].data.mutable_data_as<float>(); };

  if (pm.sparsegpt) {
    for (const Target& t : targets) {
      if (o.verbose) fmt::print(stderr, "sparsegpt: {} ({} x {})\n", t.module, t.K, t.N);
      float* w = data(t);
      std::vector<float> kn(static_cast<size_t>(t.K * t.N));
      if (t.nk) transpose_f32(w, kn.data(), t.N, t.K);  // (N, K) -> (K, N)
      else std::copy(w, w + t.K * t.N, kn.begin());
      sparsegpt_prune(kn.data(), t.K, t.N, hessians.at(t.input), {pm.sparsity, pm.n, pm.m, o.damp, 128});
      if (t.nk) transpose_f32(kn.data(), w, t.K, t.N);
      else std::copy(kn.begin(), kn.end(), w);
    }
  } else if (pm.m > 0) {  // N:M: per row, per group of M inputs, keep the N largest scores
    for (const Target& t : targets) {
      float* w = data(t);
      const float* nrm = pm.wanda ? norms.at(t.input).data() : nullptr;
      std::vector<int64_t> idx(static_cast<size_t>(pm.m));
      std::vector<double> s(static_cast<size_t>(pm.m));
      for (int64_t n = 0; n < t.N; ++n)
        for (int64_t k0 = 0; k0 < t.K; k0 += pm.m) {
          for (int64_t j = 0; j < pm.m; ++j) {
            const double a = std::fabs(static_cast<double>(w[t.at(n, k0 + j)]));
            s[j] = nrm ? a * static_cast<double>(nrm[k0 + j]) : a;
          }
          std::iota(idx.begin(), idx.end(), 0);
          std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return s[a] < s[b]; });
          for (int64_t j = 0; j < pm.m - pm.n; ++j) w[t.at(n, k0 + idx[j])] = 0.0f;
        }
    }
  } else if (pm.wanda) {  // per output row: floor(S · K) lowest |W_ij| · ||X_j||
    for (const Target& t : targets) {
      float* w = data(t);
      const float* nrm = norms.at(t.input).data();
      const int64_t kp = static_cast<int64_t>(static_cast<double>(t.K) * pm.sparsity);  // int() truncates
      for (int64_t n = 0; n < t.N; ++n)
        prune_lowest<double>(
            t.K, kp,
            [&](int64_t j) { return std::fabs(static_cast<double>(w[t.at(n, j)])) * static_cast<double>(nrm[j]); },
            [&](int64_t j) { w[t.at(n, j)] = 0.0f; });
    }
  } else if (o.scope == "layer") {  // l1_unstructured: round(S · n) of least |w| in each weight
    for (const Target& t : targets) {
      float* w = data(t);
      const int64_t n = t.K * t.N;
      const int64_t kp = static_cast<int64_t>(std::nearbyint(pm.sparsity * static_cast<double>(n)));
      prune_lowest<float>(n, kp, [&](int64_t i) { return std::fabs(w[i]); }, [&](int64_t i) { w[i] = 0.0f; });
    }
  } else {  // global_unstructured: round(S · n) of least |w| over all selected weights
    std::vector<int64_t> start;
    int64_t total = 0;
    for (const Target& t : targets) start.push_back(total), total += t.K * t.N;
    auto locate = [&](int64_t i) {  // -> (target, offset)
      const size_t j = static_cast<size_t>(std::upper_bound(start.begin(), start.end(), i) - start.begin()) - 1;
      return std::pair<size_t, int64_t>(j, i - start[j]);
    };
    std::vector<float*> ptr;
    for (const Target& t : targets) ptr.push_back(data(t));
    const int64_t kp = static_cast<int64_t>(std::nearbyint(pm.sparsity * static_cast<double>(total)));
    prune_lowest<float>(
        total, kp,
        [&](int64_t i) {
          const auto [j, off] = locate(i);
          return std::fabs(ptr[j][off]);
        },
        [&](int64_t i) {
          const auto [j, off] = locate(i);
          ptr[j][off] = 0.0f;
        });
  }

  PruneReport r;
  r.method = pm.sparsegpt ? "sparsegpt" : pm.wanda ? "wanda" : "magnitude";
  r.scope = pm.m > 0 ? fmt::format("{}:{}", pm.n, pm.m) : o.scope;
  r.sparsity = pm.sparsity;
  for (const Target& t : targets) {
    PruneLayer l{t.module, t.K * t.N, count_nonzeros(g.value(t.weight).data)};
    r.layer_params += l.params, r.layer_nonzeros += l.nonzeros;
    r.layers.push_back(l);
  }
  for (const Value& v : g.values())
    if (v.kind == ValueKind::kWeight) r.params += v.data.numel(), r.nonzeros += count_nonzeros(v.data);
  return r;
}

PruneReport prune_model(const PruneOptions& o) {
  const PruneMethod pm = check_prune_options(o);
  LMF_CHECK(o.dense, kInvalidArgument,
            "--dense is required: the compressed sparse format is not implemented yet (--dense writes an ordinary "
            "dense folder with zeros in place)");
  const fs::path out = output_folder(o.out);
  Model m = load_model(o.model);
  LMF_CHECK(m.info.quantization.empty(), kInvalidArgument, "{}: quantized ({}); prune the float model, then quantize",
            o.model, m.info.quantization);
  std::map<int, std::vector<float>> norms;
  std::map<int, std::vector<double>> hessians;
  if (pm.wanda || pm.sparsegpt) {
    const auto samples = calibration_samples(m, o.calib, o.calib_samples, o.calib_seq);
    if (o.verbose)
      fmt::print(stderr, "{}: {} from {} x {} calibration tokens\n", o.method, pm.wanda ? "input norms" : "Hessians",
                 samples.size(), samples[0].size());
    if (pm.wanda) norms = input_norms(m, samples, o.threads);
    else hessians = collect_hessians(m, samples, o.threads);
  }
  PruneReport r = prune_graph(m, o, norms, hessians);
  norms.clear();
  hessians.clear();
  // The checkpoint's dtype (the graph holds float32; pruned zeros and the loaded values
  // convert back exactly).
  const DType dt = m.info.dtype == DType::kBF16 || m.info.dtype == DType::kF16 ? m.info.dtype : DType::kF32;
  r.dtype = dtype_name(dt);
  write_output_folder(out, o.model, [&](const fs::path& tmp) {
    std::map<std::string, Tensor> tensors;
    for (const Value& v : m.graph.values())
      if (v.kind == ValueKind::kWeight) tensors[v.name] = to_dtype(v.data, dt);
    write_safetensors((tmp / "model.safetensors").string(), tensors, {{"format", "pt"}});
    tensors.clear();
    write_file_atomic((tmp / "config.json").string(), m.config.dump(2) + "\n");
  });
  r.bytes = fs::file_size(out / "model.safetensors");
  return r;
}

}  // namespace lmf::compress

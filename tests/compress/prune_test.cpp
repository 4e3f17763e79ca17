// Tests for compress/prune.h against PyTorch 1.13 (tests/reference/ref_prune.py) on the
// golden reference models:
//  - magnitude per layer = torch.nn.utils.prune.l1_unstructured + prune.remove, and global
//    = prune.global_unstructured(L1Unstructured): the same mask (so the same non-zero
//    count) at several amounts; the golden weights are checked to have no tie at any of
//    these cuts (ref_prune.py's cut_tied), where torch.topk's order would decide;
//  - wanda and N:M (magnitude and wanda scores) = the reference's masks computed from the
//    input norms lmforge measured, and those norms = the float64 reference model's on the
//    same calibration tokens (relative 1e-4);
//  - N:M output satisfies the pattern in every group; ties are broken by position;
//  - bad input: one error naming the flag.
#include "compress/prune.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/subprocess.h"
#include "formats/safetensors.h"
#include "passes/quantize.h"
#include "support/errors.h"
#include "support/golden.h"

namespace lmf::compress {
namespace {

const char* kAmounts = "0.1,0.37,0.5,0.75,0.9";
const std::vector<std::string> kAmountList = {"0.1", "0.37", "0.5", "0.75", "0.9"};
const std::vector<std::pair<int, int>> kNm = {{2, 4}, {1, 4}, {3, 8}};

struct Reference {
  std::unique_ptr<SafetensorsFile> f;
  std::map<std::string, std::vector<float>> norms;  // lmforge's, by module
  std::vector<std::string> modules;
};

std::vector<std::vector<int32_t>> calib_ids(int64_t vocab) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(vocab - 1));
  std::vector<std::vector<int32_t>> s(3, std::vector<int32_t>(20));
  for (auto& v : s)
    for (auto& t : v) t = d(rng);
  return s;
}

// Runs ref_prune.py once per model (cached): NORMS (lmforge's input norms and the ids) in,
// the reference masks out.
const Reference& reference(const std::string& name, std::map<int, std::vector<float>>* by_value) {
  static std::map<std::string, Reference> cache;
  static std::map<std::string, std::map<int, std::vector<float>>> values;
  if (cache.count(name)) {
    *by_value = values[name];
    return cache[name];
  }
  const std::string dir = test::golden_dir(name);
  Model m = load_model(dir);
  const auto ids = calib_ids(m.info.vocab);
  std::map<int, std::vector<float>> norms = input_norms(m, ids, 1);
  Reference r;
  std::map<std::string, Tensor> in;
  Tensor t = Tensor::empty(DType::kI32, {static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids[0].size())});
  for (size_t i = 0; i < ids.size(); ++i)
    std::copy(ids[i].begin(), ids[i].end(), t.mutable_data_as<int32_t>() + i * ids[0].size());
  in["ids"] = t;
  for (const auto& lm : passes::linear_modules(m.graph)) {
    if (lm.head) continue;
    const std::vector<float>& v = norms.at(m.graph.nodes()[static_cast<size_t>(lm.node)].inputs[0]);
    Tensor n = Tensor::empty(DType::kF32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), n.mutable_data_as<float>());
    in[lm.module + ".norm"] = n;
    r.norms[lm.module] = v;
    r.modules.push_back(lm.module);
  }
  const std::string tmp = std::string(LMF_TEST_DATA) + "/prune_" + name;
  std::filesystem::create_directories(tmp);
  write_safetensors(tmp + "/norms.safetensors", in);
  const std::string nm = "2:4,1:4,3:8";
  ProcessResult p = run_process(LMF_PYTHON, {LMF_PYTHON, std::string(LMF_SOURCE_DIR) + "/tests/reference/ref_prune.py",
                                             "masks", "--model", dir, "--norms", tmp + "/norms.safetensors", "--amounts",
                                             kAmounts, "--nm", nm, "--out", tmp + "/masks.safetensors"});
  EXPECT_TRUE(p.ok()) << p.out << p.err;
  r.f = std::make_unique<SafetensorsFile>(SafetensorsFile::open(tmp + "/masks.safetensors"));
  values[name] = norms;
  *by_value = norms;
  return cache[name] = std::move(r);
}

class Prune : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ref_ = &reference(GetParam(), &norms_); }
  // Prunes a fresh copy of the model; returns it.
  Model pruned(const PruneOptions& o, PruneReport* report = nullptr) {
    Model m = load_model(test::golden_dir(GetParam()));
    PruneReport r = prune_graph(m, o, norms_);
    if (report) *report = r;
    return m;
  }
  // Compares every module's zero pattern with the reference mask `prefix + module`.
  void expect_mask(const Model& m, const std::string& prefix, int64_t* kept_total) {
    *kept_total = 0;
    for (const std::string& mod : ref_->modules) {
      const Tensor w = m.graph.value(m.graph.find(mod + ".weight")).data;
      const Tensor mask = ref_->f->tensor(prefix + mod);
      ASSERT_EQ(mask.numel(), w.numel()) << prefix << mod;
      int64_t diff = 0;
      for (int64_t i = 0; i < w.numel(); ++i) {
        const bool kept = w.data_as<float>()[i] != 0.0f;
        diff += kept != (mask.data_as<uint8_t>()[i] != 0);
        *kept_total += mask.data_as<uint8_t>()[i] != 0;
      }
      EXPECT_EQ(diff, 0) << prefix << mod << ": " << diff << " of " << w.numel() << " differ";
    }
  }
  const Reference* ref_ = nullptr;
  std::map<int, std::vector<float>> norms_;
};

TEST_P(Prune, GoldenWeightsHaveNoTieAtTheCuts) {
  for (const std::string& mod : ref_->modules) {
    const Tensor t = ref_->f->tensor(mod + ".cut_tied");
    for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.data_as<int64_t>()[i], 0) << mod << " amount " << i;
  }
}

TEST_P(Prune, MagnitudePerLayerEqualsL1Unstructured) {
  for (const std::string& a : kAmountList) {
    PruneOptions o;
    o.sparsity = std::stod(a);
    PruneReport r;
    Model m = pruned(o, &r);
    int64_t kept = 0;
    expect_mask(m, "layer." + a + ".", &kept);
    EXPECT_EQ(r.layer_nonzeros, kept) << a;
    EXPECT_EQ(r.layers.size(), ref_->modules.size());
    for (const PruneLayer& l : r.layers)  // round(a n) pruned, Python's round (half to even)
      EXPECT_EQ(l.params - l.nonzeros, static_cast<int64_t>(std::nearbyint(o.sparsity * l.params))) << l.module;
  }
}

TEST_P(Prune, MagnitudeGlobalEqualsGlobalUnstructured) {
  for (const std::string& a : kAmountList) {
    PruneOptions o;
    o.sparsity = std::stod(a);
    o.scope = "global";
    PruneReport r;
    Model m = pruned(o, &r);
    int64_t kept = 0;
    expect_mask(m, "global." + a + ".", &kept);
    EXPECT_EQ(r.layer_nonzeros, kept) << a;
    EXPECT_EQ(r.layer_params - r.layer_nonzeros, static_cast<int64_t>(std::nearbyint(o.sparsity * r.layer_params)));
  }
}

TEST_P(Prune, InputNormsMatchTheReferenceModel) {
  for (const std::string& mod : ref_->modules) {
    const Tensor t = ref_->f->tensor(mod + ".ref_norm");
    const std::vector<float>& v = ref_->norms.at(mod);
    ASSERT_EQ(static_cast<int64_t>(v.size()), t.numel()) << mod;
    double err = 0, scale = 0;
    for (size_t k = 0; k < v.size(); ++k) {
      err = std::max(err, std::fabs(static_cast<double>(v[k]) - t.data_as<float>()[k]));
      scale = std::max(scale, static_cast<double>(t.data_as<float>()[k]));
    }
    EXPECT_LT(err, 1e-4 * scale) << mod;
    EXPECT_GT(scale, 0) << mod;
  }
}

TEST_P(Prune, WandaEqualsReference) {
  for (const std::string& a : kAmountList) {
    PruneOptions o;
    o.method = "wanda";
    o.calib = "(in memory)";
    o.sparsity = std::stod(a);
    PruneReport r;
    Model m = pruned(o, &r);
    int64_t kept = 0;
    expect_mask(m, "wanda." + a + ".", &kept);
    EXPECT_EQ(r.layer_nonzeros, kept) << a;
  }
}

TEST_P(Prune, WandaDiffersFromMagnitude) {  // the activation norms change the choice
  PruneOptions o;
  o.sparsity = 0.5;
  Model mag = pruned(o);
  o.method = "wanda";
  o.calib = "(in memory)";
  Model wan = pruned(o);
  int64_t diff = 0;
  for (const std::string& mod : ref_->modules) {
    const Tensor a = mag.graph.value(mag.graph.find(mod + ".weight")).data;
    const Tensor b = wan.graph.value(wan.graph.find(mod + ".weight")).data;
    for (int64_t i = 0; i < a.numel(); ++i) diff += (a.data_as<float>()[i] == 0) != (b.data_as<float>()[i] == 0);
  }
  EXPECT_GT(diff, 0);
}

TEST_P(Prune, NmEqualsReferenceAndSatisfiesThePattern) {
  for (const auto& [N, M] : kNm)
    for (const std::string kind : {"magnitude", "wanda"}) {
      PruneOptions o;
      o.method = kind;
      o.nm = fmt::format("{}:{}", N, M);
      if (kind == "wanda") o.calib = "(in memory)";
      PruneReport r;
      Model m = pruned(o, &r);
      int64_t kept = 0;
      expect_mask(m, fmt::format("nm{}_{}.{}.", N, M, kind), &kept);
      EXPECT_EQ(r.layer_nonzeros, kept);
      EXPECT_EQ(r.scope, o.nm);
      // every group of M consecutive inputs of every output row holds at most N non-zeros
      // (exactly N: the golden weights have no zeros)
      for (const auto& lm : passes::linear_modules(m.graph)) {
        if (lm.head) continue;
        const Node& n = m.graph.nodes()[static_cast<size_t>(lm.node)];
        const bool nk = n.attr_str("layout") == "nk";
        const float* w = m.graph.value(n.inputs[1]).data.data_as<float>();
        int64_t bad = 0;
        for (int64_t row = 0; row < lm.N; ++row)
          for (int64_t k0 = 0; k0 < lm.K; k0 += M) {
            int nz = 0;
            for (int64_t j = 0; j < M; ++j) nz += w[nk ? row * lm.K + k0 + j : (k0 + j) * lm.N + row] != 0.0f;
            bad += nz != N;
          }
        EXPECT_EQ(bad, 0) << lm.module << " " << o.nm << " " << kind;
      }
    }
}

TEST_P(Prune, MethodTwoFourIsMagnitudeNm) {
  PruneOptions a, b;
  a.method = "2:4";
  b.nm = "2:4";
  Model ma = pruned(a), mb = pruned(b);
  for (const std::string& mod : ref_->modules) {
    const Tensor x = ma.graph.value(ma.graph.find(mod + ".weight")).data;
    const Tensor y = mb.graph.value(mb.graph.find(mod + ".weight")).data;
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.nbytes()), 0) << mod;
  }
}

TEST_P(Prune, IncludeChoosesModulesAndTheHead) {
  PruneOptions o;
  o.sparsity = 0.5;
  o.include = {"mlp"};
  PruneReport r;
  Model m = pruned(o, &r);
  ASSERT_FALSE(r.layers.empty());
  for (const PruneLayer& l : r.layers) EXPECT_NE(l.module.find("mlp"), std::string::npos) << l.module;
  EXPECT_LT(r.layers.size(), ref_->modules.size());
  // the head (lm_head, or the tied embedding: wte, embed_tokens) only when asked for
  o.include = {"lm_head|wte|embed_tokens"};
  r = PruneReport();
  pruned(o, &r);
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layer_params - r.layer_nonzeros, static_cast<int64_t>(std::nearbyint(0.5 * r.layer_params)));
}

TEST_P(Prune, ZeroSparsityChangesNothing) {
  PruneOptions o;
  o.sparsity = 0;
  PruneReport r;
  Model m = pruned(o, &r);
  EXPECT_EQ(r.layer_nonzeros, r.layer_params);
  EXPECT_EQ(r.nonzeros, r.params);
}

INSTANTIATE_TEST_SUITE_P(Golden, Prune, ::testing::Values("gpt2", "llama"));

using test::error_of;

TEST(PruneErrors, OneLineNamingTheFlag) {
  auto check = [](PruneOptions o) { return error_of([&] { check_prune_options(o); }); };
  PruneOptions o;
  o.sparsity = 1.0;
  EXPECT_NE(check(o).find("--sparsity 1: must be in [0, 1)"), std::string::npos) << check(o);
  o.sparsity = -0.5;
  EXPECT_NE(check(o).find("--sparsity -0.5: must be in [0, 1)"), std::string::npos) << check(o);
  o.sparsity = -1;  // unset
  EXPECT_NE(check(o).find("--sparsity S is required"), std::string::npos) << check(o);
  o = PruneOptions();
  o.method = "4:4";
  EXPECT_NE(check(o).find("--method 4:4: N must be at least 1 and smaller than M"), std::string::npos) << check(o);
  o.method = "magnitude";
  o.nm = "5:4";
  EXPECT_NE(check(o).find("--nm 5:4: N must be at least 1 and smaller than M"), std::string::npos) << check(o);
  o.nm = "2-4";
  EXPECT_NE(check(o).find("--nm '2-4': expected N:M"), std::string::npos) << check(o);
  o.nm = "2:4";
  o.sparsity = 0.3;
  EXPECT_NE(check(o).find("--sparsity 0.3: --nm 2:4 fixes the sparsity"), std::string::npos) << check(o);
  o = PruneOptions();
  o.method = "wanda";
  o.sparsity = 0.5;
  EXPECT_NE(check(o).find("--calib DATA is required for --method wanda"), std::string::npos) << check(o);
  o.calib = "x";
  o.scope = "global";
  EXPECT_NE(check(o).find("--scope global: wanda"), std::string::npos) << check(o);
  o = PruneOptions();
  o.method = "obd";
  o.sparsity = 0.5;
  EXPECT_NE(check(o).find("--method 'obd': unknown pruning method"), std::string::npos) << check(o);
  o.method = "sparsegpt";
  EXPECT_NE(check(o).find("--calib DATA is required for --method sparsegpt"), std::string::npos) << check(o);
  o.method = "magnitude";
  o.scope = "row";
  EXPECT_NE(check(o).find("--scope 'row': layer or global"), std::string::npos) << check(o);

  Model m = load_model(test::golden_dir("gpt2"));
  o = PruneOptions();
  o.sparsity = 0.5;
  o.include = {"no_such_module"};
  const std::string e = error_of([&] { prune_graph(m, o); });
  EXPECT_NE(e.find("--include 'no_such_module': matches no linear module (modules: transformer.h.0.attn.c_attn"),
            std::string::npos)
      << e;
  o = PruneOptions();
  o.nm = "3:5";
  const std::string e2 = error_of([&] { prune_graph(m, o); });
  EXPECT_NE(e2.find("--nm 3:5: M = 5 does not divide the"), std::string::npos) << e2;
  for (const std::string& s : {e, e2}) EXPECT_EQ(s.find('\n'), std::string::npos) << s;

  o = PruneOptions();
  o.model = test::golden_dir("gpt2");
  o.out = std::string(LMF_TEST_DATA) + "/prune_errors_out";
  o.sparsity = 0.5;
  const std::string e3 = error_of([&] { prune_model(o); });
  EXPECT_NE(e3.find("--dense is required"), std::string::npos) << e3;
  EXPECT_FALSE(std::filesystem::exists(o.out));
}

// SparseGPT against ref_prune.py's float64 torch version of the reference code's algorithm on
// correlated inputs (one dead input): the same pruned positions, the weights within 1e-4 of
// the largest; several blocks (K = 80, block 32); unstructured and N:M. And it reconstructs
// the layer's outputs on held-out inputs better than unstructured magnitude pruning at the
// same sparsity (unstructured cases).
namespace sgpt {

struct Problem {
  int64_t K = 80, N = 24, n = 600;
  std::vector<float> W, X, Xtest;
  std::vector<double> H;
};

std::vector<float> inputs(int64_t n, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> x(static_cast<size_t>(n * K));
  for (int64_t r = 0; r < n; ++r) {
    float prev = 0;
    for (int64_t k = 0; k < K; ++k) {
      prev = 0.7f * prev + d(rng) * (1.0f + 0.05f * static_cast<float>(k % 7));
      x[r * K + k] = k == 5 ? 0.0f : prev;  // input 5 is dead
    }
  }
  return x;
}

Problem make() {
  Problem p;
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0, 1);
  p.W.resize(static_cast<size_t>(p.K * p.N));
  for (float& w : p.W) w = 0.1f * d(rng);
  p.X = inputs(p.n, p.K, 1);
  p.Xtest = inputs(p.n, p.K, 2);
  p.H.assign(static_cast<size_t>(p.K * p.K), 0.0);
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t i = 0; i < p.K; ++i)
      for (int64_t j = 0; j < p.K; ++j)
        p.H[i * p.K + j] += 2.0 / p.n * static_cast<double>(p.X[r * p.K + i]) * p.X[r * p.K + j];
  return p;
}

double output_error(const Problem& p, const std::vector<float>& w) {
  double e = 0;
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t c = 0; c < p.N; ++c) {
      double y = 0;
      for (int64_t k = 0; k < p.K; ++k) y += static_cast<double>(p.Xtest[r * p.K + k]) * (p.W[k * p.N + c] - w[k * p.N + c]);
      e += y * y;
    }
  return e;
}

TEST(SparseGpt, EqualsReferenceAndBeatsMagnitude) {
  const Problem p = make();
  const std::string tmp = std::string(LMF_TEST_DATA) + "/prune_sparsegpt";
  std::filesystem::create_directories(tmp);
  struct Case { double s; int64_t n, m; };
  for (const Case c : {Case{0.5, 0, 0}, Case{0.3, 0, 0}, Case{0, 2, 4}, Case{0, 1, 4}}) {
    SparseGptOptions o;
    o.sparsity = c.m ? 1.0 - static_cast<double>(c.n) / c.m : c.s;
    o.n = c.n, o.m = c.m;
    o.damp = static_cast<double>(0.01f);  // as the float32 params the reference reads
    o.block = 32;
    std::vector<float> w = p.W;
    sparsegpt_prune(w.data(), p.K, p.N, p.H, o);
    std::map<std::string, Tensor> in;
    auto put = [&](const std::string& name, const std::vector<float>& v, Shape s) {
      Tensor t = Tensor::empty(DType::kF32, s);
      std::copy(v.begin(), v.end(), t.mutable_data_as<float>());
      in[name] = t;
    };
    put("W", p.W, {p.K, p.N});
    put("X", p.X, {p.n, p.K});
    put("params", {static_cast<float>(c.s), static_cast<float>(c.n), static_cast<float>(c.m), 0.01f, 32.0f}, {5});
    write_safetensors(tmp + "/problem.safetensors", in);
    ProcessResult r = run_process(LMF_PYTHON, {LMF_PYTHON, std::string(LMF_SOURCE_DIR) + "/tests/reference/ref_prune.py",
                                               "sparsegpt", "--in", tmp + "/problem.safetensors", "--out", tmp + "/out.safetensors"});
    ASSERT_TRUE(r.ok()) << r.out << r.err;
    SafetensorsFile f = SafetensorsFile::open(tmp + "/out.safetensors");
    const Tensor ref = f.tensor("W");
    ASSERT_EQ(ref.numel(), p.K * p.N);
    double scale = 0, err = 0;
    int64_t mask_diff = 0, zeros = 0;
    for (int64_t i = 0; i < p.K * p.N; ++i) {
      const float a = w[i], b = ref.data_as<float>()[i];
      mask_diff += (a == 0) != (b == 0);
      zeros += a == 0;
      scale = std::max(scale, std::fabs(static_cast<double>(b)));
      err = std::max(err, std::fabs(static_cast<double>(a) - b));
    }
    EXPECT_EQ(mask_diff, 0) << c.s << " " << c.n << ":" << c.m;
    EXPECT_LT(err, 1e-4 * scale) << c.s << " " << c.n << ":" << c.m;
    for (int64_t c0 = 0; c0 < p.N; ++c0) EXPECT_EQ(w[5 * p.N + c0], 0.0f);  // the dead input
    if (c.m) {  // the pattern: N non-zeros per group of M inputs of each output (the dead input's group: fewer)
      for (int64_t col = 0; col < p.N; ++col)
        for (int64_t k0 = 0; k0 < p.K; k0 += c.m) {
          int nz = 0;
          for (int64_t j = 0; j < c.m; ++j) nz += w[(k0 + j) * p.N + col] != 0.0f;
          EXPECT_LE(nz, c.n);
        }
    }
    // magnitude pruning of as many weights: a larger output error on held-out inputs
    std::vector<float> mag = p.W;
    std::vector<int64_t> idx(mag.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return std::fabs(mag[a]) < std::fabs(mag[b]); });
    for (int64_t i = 0; i < zeros; ++i) mag[idx[i]] = 0;
    const double es = output_error(p, w), em = output_error(p, mag);
    std::printf("    sparsity %.2f %ld:%ld: SparseGPT / magnitude output error = %.3f\n", o.sparsity, static_cast<long>(c.n),
                static_cast<long>(c.m), es / em);
    if (c.m == 0) EXPECT_LT(es, 0.8 * em);  // (N:M against unstructured magnitude would be unfair)
  }
}

}  // namespace sgpt

}  // namespace
}  // namespace lmf::compress

// lmforge models: new models from a config alone (random initialization), and writing a
// model's weights back as a Hugging Face folder.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

#include "core/checked.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/random.h"
#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "models/model.h"

namespace lmf {

namespace {

// Mixes a tensor's name into the init seed. This is the FNV-1a 64 step started from
// 1469598103934665603 (FNV's decimal basis 14695981039346656037 missing its last digit),
// so it is not FNV-1a; it stays as it is because every saved random init depends on it.
constexpr uint64_t kInitNameHashBasis = 1469598103934665603ull;
uint64_t init_name_hash(const std::string& name) {
  Fnv1a64 f{kInitNameHashBasis};
  f.update(name);
  return f.h;
}

// Standard normals by Box-Muller, two at a time.
void fill_normal(float* p, int64_t n, double std, SplitMix64& rng) {
  constexpr double kTwoPi = 6.283185307179586;
  for (int64_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(rng.uniform())), a = kTwoPi * rng.uniform();
    p[i] = static_cast<float>(std * r * std::cos(a));
    if (i + 1 < n) p[i + 1] = static_cast<float>(std * r * std::sin(a));
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Model init_model(const std::string& config_file, uint64_t seed, const BuildOptions& opts) {
  nlohmann::json cfg;
  try {
    const std::string text = read_text_file(config_file);
    check_json_depth(text, config_file);
    cfg = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kBadFile, "{}: not valid JSON: {}", config_file, e.what());
  }
  LMF_CHECK(cfg.is_object(), kBadFile, "{}: not a JSON object", config_file);
  const bool gpt2 = cfg.contains("n_layer");
  double range = 0.02, residual = 0.02;  // read below through the folder's checked fields
  HfFolder f = HfFolder::synthetic(cfg, config_file, [&](const std::string& name, const Shape& shape) {
    Tensor t = Tensor::empty(DType::kF32, shape, true);
    float* p = t.mutable_data_as<float>();
    if (ends_with(name, ".bias")) return t;  // zeros
    if (shape.size() == 1) {                 // a norm's weight
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = 1.0f;
      return t;
    }
    SplitMix64 rng{seed ^ init_name_hash(name)};
    fill_normal(p, t.numel(), gpt2 && ends_with(name, "c_proj.weight") ? residual : range, rng);
    return t;
  });
  range = f.cfg_float("initializer_range", 0.02);
  residual = gpt2 ? range / std::sqrt(2.0 * static_cast<double>(std::max<int64_t>(f.cfg_int("n_layer", 1), 1))) : range;
  Model m = detail::build_model(f, opts);
  m.dir = std::filesystem::path(config_file).parent_path().string();
  return m;
}

Model init_student_from_teacher(const std::string& teacher_dir, int64_t layers, const BuildOptions& opts) {
  HfFolder teacher = HfFolder::open(teacher_dir);
  nlohmann::json cfg = teacher.config();
  const char* key = cfg.contains("n_layer") ? "n_layer" : "num_hidden_layers";
  const int64_t tl = teacher.cfg_int(key);
  if (layers <= 0) layers = std::max<int64_t>(1, tl / 2);
  LMF_CHECK(layers <= tl, kInvalidArgument, "student layers {}: must be in 1..{} (the teacher's {})", layers,
            tl, key);
  const int64_t k = tl / layers;
  cfg[key] = layers;
  // "h.3." / "layers.3." (with any prefix) names block 3: the student's block j is the teacher's j * k.
  static const std::regex block(R"((^|\.)(h|layers)\.(\d+)\.)");
  auto source = [&](const std::string& name) {
    std::smatch mt;
    if (!std::regex_search(name, mt, block)) return name;
    return mt.prefix().str() + mt[1].str() + mt[2].str() + "." + std::to_string(std::stoll(mt[3].str()) * k) + "." +
           mt.suffix().str();
  };
  HfFolder f = HfFolder::synthetic(
      cfg, teacher.config_path(),
      [&](const std::string& name, const Shape& shape) { return teacher.take(source(name), shape); },
      [&](const std::string& name) { return teacher.has(source(name)); });
  Model m = detail::build_model(f, opts);
  m.dir = teacher_dir;
  return m;
}

void save_model(const Model& m, const Graph& graph, const std::string& out_dir,
                const std::map<std::string, Tensor>& extra) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  LMF_CHECK(!ec, kIo, "{}: cannot create the folder: {}", out_dir, ec.message());
  std::map<std::string, Tensor> tensors;
  for (const Value& v : graph.values()) {
    if (v.kind != ValueKind::kWeight) continue;
    LMF_CHECK(!ends_with(v.name, ".T"), kInternal,
              "save_model: weight {} is a pre-packed copy, not the checkpoint's tensor", v.name);
    tensors[v.name] = v.data;
  }
  for (const auto& [name, t] : extra) tensors[name] = t;
  nlohmann::json cfg = m.config;
  cfg["torch_dtype"] = "float32";
  write_safetensors(out_dir + "/model.safetensors", tensors, {{"format", "pt"}});
  write_file_atomic(out_dir + "/config.json", cfg.dump(2) + "\n");
}

}  // namespace lmf

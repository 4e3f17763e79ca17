// RoPE of the Llama-like families: rope_theta and config.json's rope_scaling (Hugging
// Face's modeling_rope_utils: linear, dynamic (NTK), yarn, llama3), turned into the
// attributes of the rope op: the frequencies once per model (inv_freq, head_dim / 2
// doubles, exact as hex floats) and the factor yarn multiplies cos and sin with; dynamic
// NTK's frequencies depend on each sequence's length, so its rope computes them per step.
#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "models/model.h"

namespace lmf::detail {

namespace {

// rope_scaling's field `key` as a number (fallback when absent or null); errors name
// config.json and rope_scaling.key.
double scaling_num(const HfFolder& f, const nlohmann::json& rs, const char* key, std::optional<double> fallback) {
  if (!rs.contains(key) || rs[key].is_null()) {
    LMF_CHECK(fallback.has_value(), kBadFile, "{}: rope_scaling.{} is missing (rope_type '{}')", f.config_path(), key,
              rs.value("rope_type", rs.value("type", std::string("?"))));
    return *fallback;
  }
  LMF_CHECK(rs[key].is_number(), kBadFile, "{}: rope_scaling.{} must be a number, not {}", f.config_path(), key,
            rs[key].dump());
  return rs[key].get<double>();
}

std::string hex_list(const std::vector<double>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:a}", i ? "," : "", v[i]);
  return s;
}

}  // namespace

RopeSpec read_rope(const HfFolder& f, int64_t head_dim, ModelInfo& info) {
  RopeSpec r;
  r.theta = f.cfg_float("rope_theta", 10000.0);
  LMF_CHECK(r.theta > 1, kBadFile, "{}: rope_theta {} must be greater than 1", f.config_path(), r.theta);
  const double D = static_cast<double>(head_dim);
  std::vector<double> inv(static_cast<size_t>(head_dim / 2));
  for (size_t i = 0; i < inv.size(); ++i)
    inv[i] = std::pow(r.theta, -2.0 * static_cast<double>(i) / D);
  const auto& c = f.config();
  if (!c.contains("rope_scaling") || c["rope_scaling"].is_null()) return r;
  const auto& rs = c["rope_scaling"];
  LMF_CHECK(rs.is_object(), kBadFile, "{}: rope_scaling must be an object or null, not {}", f.config_path(), rs.dump());
  // Hugging Face reads rope_type, or the older key type.
  const nlohmann::json type = rs.contains("rope_type") ? rs["rope_type"] : rs.value("type", nlohmann::json());
  LMF_CHECK(type.is_string(), kBadFile, "{}: rope_scaling.rope_type must be a string, not {}", f.config_path(),
            type.dump());
  r.type = type.get<std::string>();
  if (r.type == "default") {
    r.type.clear();
    return r;
  }
  LMF_CHECK(r.type == "linear" || r.type == "dynamic" || r.type == "yarn" || r.type == "llama3", kUnsupported,
            "{}: rope_scaling.rope_type '{}' is not supported (linear, dynamic, yarn, llama3)", f.config_path(), r.type);
  const double pos_max = static_cast<double>(info.context);  // max_position_embeddings
  std::optional<double> factor_fallback;
  if (r.type == "yarn" && rs.contains("original_max_position_embeddings")) factor_fallback = 1.0;  // replaced below
  double factor = scaling_num(f, rs, "factor", factor_fallback);
  LMF_CHECK(factor >= 1, kBadFile, "{}: rope_scaling.factor {} must be at least 1", f.config_path(), factor);
  info.rope_scaling = fmt::format("{} x{}", r.type, factor);
  if (r.type == "linear") {
    for (double& x : inv) x /= factor;
  } else if (r.type == "dynamic") {
    // The frequencies grow with the sequence past max_position_embeddings: the context
    // extends to factor times it.
    r.dynamic_factor = factor;
    r.dynamic_max = info.context;
    info.context = static_cast<int64_t>(std::floor(pos_max * factor));
    return r;  // plain inv_freq within dynamic_max: from theta
  } else if (r.type == "llama3") {
    const double low = scaling_num(f, rs, "low_freq_factor", std::nullopt);
    const double high = scaling_num(f, rs, "high_freq_factor", std::nullopt);
    const double old_ctx = scaling_num(f, rs, "original_max_position_embeddings", std::nullopt);
    LMF_CHECK(high > low && low > 0 && old_ctx > 0, kBadFile,
              "{}: rope_scaling needs high_freq_factor > low_freq_factor > 0 and original_max_position_embeddings > 0",
              f.config_path());
    const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
    for (double& x : inv) {
      const double wavelen = 2 * std::numbers::pi / x;
      if (wavelen > low_wavelen) {
        x /= factor;  // low frequencies: interpolated
      } else if (wavelen >= high_wavelen) {  // medium: a smooth blend of the two
        const double smooth = (old_ctx / wavelen - low) / (high - low);
        x = (1 - smooth) * x / factor + smooth * x;
      }  // high frequencies: unchanged
    }
  } else {  // yarn
    double orig = pos_max;
    if (rs.contains("original_max_position_embeddings") && !rs["original_max_position_embeddings"].is_null()) {
      orig = scaling_num(f, rs, "original_max_position_embeddings", std::nullopt);
      LMF_CHECK(orig > 0, kBadFile, "{}: rope_scaling.original_max_position_embeddings must be positive",
                f.config_path());
      factor = pos_max / orig;  // as Hugging Face: the ratio of the two contexts
    }
    const double mscale = scaling_num(f, rs, "mscale", 0.0), mscale_all = scaling_num(f, rs, "mscale_all_dim", 0.0);
    auto get_mscale = [](double s, double m) { return s <= 1 ? 1.0 : 0.1 * m * std::log(s) + 1.0; };
    if (rs.contains("attention_factor") && !rs["attention_factor"].is_null())
      r.scale = scaling_num(f, rs, "attention_factor", std::nullopt);
    else if (mscale != 0 && mscale_all != 0)
      r.scale = get_mscale(factor, mscale) / get_mscale(factor, mscale_all);
    else
      r.scale = get_mscale(factor, 1.0);
    double beta_fast = scaling_num(f, rs, "beta_fast", 32.0), beta_slow = scaling_num(f, rs, "beta_slow", 1.0);
    if (beta_fast == 0) beta_fast = 32;  // Hugging Face: `or 32`, `or 1`
    if (beta_slow == 0) beta_slow = 1;
    bool truncate = true;
    if (rs.contains("truncate") && !rs["truncate"].is_null()) {
      LMF_CHECK(rs["truncate"].is_boolean(), kBadFile, "{}: rope_scaling.truncate must be true or false",
                f.config_path());
      truncate = rs["truncate"].get<bool>();
    }
    const double base = r.theta;
    auto correction_dim = [&](double rotations) {
      return D * std::log(orig / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
    };
    double lo = correction_dim(beta_fast), hi = correction_dim(beta_slow);
    if (truncate) {
      lo = std::floor(lo);
      hi = std::ceil(hi);
    }
    lo = std::max(lo, 0.0);
    hi = std::min(hi, D - 1);
    if (lo == hi) hi += 0.001;
    for (size_t i = 0; i < inv.size(); ++i) {
      const double extrapolation = std::pow(base, -2.0 * static_cast<double>(i) / D);
      const double ramp = std::clamp((static_cast<double>(i) - lo) / (hi - lo), 0.0, 1.0);
      // ramp 0 (the high frequencies): extrapolated as they are; 1: interpolated by factor.
      inv[i] = extrapolation / factor * ramp + extrapolation * (1 - ramp);
    }
    info.rope_scaling = fmt::format("yarn x{} (attention factor {:.4g})", factor, r.scale);
  }
  r.inv_freq = hex_list(inv);
  return r;
}

int add_rope(Graph& g, const BuildOptions& o, const RopeSpec& r, int x, int64_t heads, int64_t head_dim,
             const StepInputs& in) {
  std::map<std::string, Attr> a = {{"heads", heads}, {"head_dim", head_dim}, {"theta", r.theta}};
  if (!r.inv_freq.empty()) a["inv_freq"] = r.inv_freq;
  if (r.scale != 1.0) a["scale"] = r.scale;
  if (r.dynamic_factor > 0 && !o.training()) {  // training: sequences within dynamic_max (load_model checks)
    a["dynamic_factor"] = r.dynamic_factor;
    a["dynamic_max"] = r.dynamic_max;
    return g.add("rope", {x, in.positions, in.slots}, a);
  }
  return g.add("rope", {x, in.positions}, a);
}

}  // namespace lmf::detail

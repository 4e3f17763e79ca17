// lmforge compress: `lmforge quantize` as a library call: a float Hugging Face folder in,
// a quantized one out (core/quant.h's GPTQ layout, config.json's quantization_config).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lmf::compress {

struct QuantizeJob {
  std::string model, out;
  // int8-dynamic (PyTorch quantize_dynamic's numbers), smoothquant (smoothing, then
  // int8-dynamic; needs calib), w4, w8, w3 (round to nearest), gptq and awq (`bits`
  // 3, 4 or 8; need calib)
  std::string method = "w4";
  int64_t group = 128;           // -1: per output channel
  bool sym = true;
  // The head's (and a tied embedding's): w8, w4, int8-dynamic or float; auto: int8-dynamic
  // for the int8-dynamic method, else w8.
  std::string head = "auto";
  std::vector<std::string> skip; // regular expressions on module names kept float
  // gptq, awq, smoothquant: calibration data (a `data prepare` folder: its train split), bits, options.
  std::string calib;
  int64_t calib_samples = 128, calib_seq = 0;  // 0: min(512, the model's context)
  int bits = 4;
  double damp = 0.01;
  double alpha = 0.5;  // smoothquant: migration strength
  std::string kv_cache = "f32";  // or int8: the attention cache's element type at run time
  // float, or int8: weight-only methods' layers (and head) round activations to int8 per
  // 32 inputs at run time (int8-dynamic and smoothquant always quantize them per token).
  std::string act = "float";
  bool act_order = false;
  bool awq_clip = true;  // awq: also AWQ's weight clipping search
  int threads = 1;
  bool verbose = false;  // progress on stderr
  // Hears of modules whose group size was changed to fit them, or that stay float
  // (passes::QuantizeOptions::warn).
  std::function<void(const std::string&)> warn;
};

// The methods quantize_model accepts, for help texts and errors.
const std::vector<std::string>& quantize_methods();

// Quantizes job.model into job.out (which must not exist or be an empty folder; written
// to a temporary sibling and renamed, so a failure leaves nothing behind). Copies the
// tokenizer files. Returns the quantization_config written into config.json.
nlohmann::json quantize_model(const QuantizeJob& job);

}  // namespace lmf::compress

#include "cli/common.h"

#include <omp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "formats/generation_config.h"

namespace lmf::cli {

int default_threads() { return std::max(1, omp_get_num_procs()); }

KernelOptions kernel_options_from_env() {
  auto set = [](const char* name) { return std::getenv(name) != nullptr; };
  KernelOptions ko;
  ko.strips = !set("LMF_NO_STRIPS");
  ko.fuse = !set("LMF_NO_FUSE");
  ko.i8_pair = !set("LMF_NO_I8PAIR");
  ko.bf16 = !set("LMF_NO_BF16");
  return ko;
}

void add_threads_flag(CLI::App* cmd, int* threads) {
  *threads = default_threads();
  cmd->add_option("-t,--threads", *threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 4096));
}

std::unique_ptr<Tokenizer> load_tokenizer(const Model& m) {
  namespace fs = std::filesystem;
  if (!fs::exists(m.dir + "/tokenizer.json") && !fs::exists(m.dir + "/tokenizer.model")) return nullptr;
  return load_tokenizer_for_model(m.dir);
}

void add_decode_flags(CLI::App* cmd, DecodeFlags* f, int64_t default_n) {
  f->n = default_n;
  f->n_opt = cmd->add_option("-n,--n-predict", f->n,
                             fmt::format("Tokens to generate at most (default: generation_config.json's max_new_tokens, else {})",
                                         default_n));
  f->temperature_opt = cmd->add_option("--temperature", f->temperature,
                                       "Sampling temperature; 0 = greedy (default: generation_config.json's when it "
                                       "sets do_sample, else greedy)");
  f->top_k_opt = cmd->add_option("--top-k", f->top_k, "Sample from the k most likely tokens (0 = all)");
  f->top_p_opt = cmd->add_option("--top-p", f->top_p, "Nucleus sampling threshold in (0, 1] (default 1)");
  cmd->add_option("--seed", f->seed, "Random seed for sampling (default 0)");
}

GenerateOptions generate_options(const Model& m, const Tokenizer* tok, const DecodeFlags& f) {
  const GenerationConfig gc = read_generation_config(m.dir, m.config, m.info.vocab);
  GenerateOptions go;
  SamplingOptions& s = go.sampling;
  if (gc.do_sample) {  // transformers' GenerationConfig defaults for what the file leaves out
    s.temperature = static_cast<float>(gc.temperature.value_or(1.0));
    s.top_k = static_cast<int>(gc.top_k.value_or(50));
    s.top_p = static_cast<float>(gc.top_p.value_or(1.0));
  }
  if (f.temperature_opt->count()) s.temperature = f.temperature;
  if (f.top_k_opt->count()) s.top_k = f.top_k;
  if (f.top_p_opt->count()) s.top_p = f.top_p;
  s.seed = f.seed;
  check_sampling(s);
  go.max_new_tokens = f.n_opt->count() || !gc.max_new_tokens ? f.n : *gc.max_new_tokens;
  LMF_CHECK(go.max_new_tokens >= 0, kInvalidArgument, "-n must be >= 0, got {}", go.max_new_tokens);
  go.stop = gc.eos;
  if (go.stop.empty() && tok && tok->eos_id()) go.stop.push_back(*tok->eos_id());
  return go;
}

std::vector<int32_t> parse_ids(const std::string& s, const std::string& flag) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ',' || std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    LMF_CHECK(j > i && (j == s.size() || s[j] == ',' || std::isspace(static_cast<unsigned char>(s[j]))),
              kInvalidArgument, "{}: '{}' is not a list of token ids", flag, s);
    LMF_CHECK(j - i <= 9, kInvalidArgument, "{}: token id '{}' is too large", flag, s.substr(i, j - i));
    ids.push_back(std::stoi(s.substr(i, j - i)));
    i = j;
  }
  return ids;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return fmt::format("{:.2f} {}", b, units[u]);
}

std::string human_count(double n) {
  if (n >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f} M", n / 1e6);
  if (n >= 1e3) return fmt::format("{:.2f} K", n / 1e3);
  return fmt::format("{:.0f}", n);
}

bool stdout_is_tty() { return isatty(STDOUT_FILENO) != 0; }

}  // namespace lmf::cli

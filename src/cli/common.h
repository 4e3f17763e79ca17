// lmforge CLI: helpers shared by the subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/model.h"
#include "runtime/executor.h"
#include "runtime/generate.h"
#include "tokenizer/tokenizer.h"

namespace lmf::dist {
class Communicator;
}

namespace lmf::cli {

int default_threads();
// The CPU kernel choices for A/B measurements, from the environment (read here only):
// LMF_NO_STRIPS, LMF_NO_FUSE, LMF_NO_I8PAIR, LMF_NO_BF16 (set, any
// value, turns the default off or the alternative on); unset: the defaults.
KernelOptions kernel_options_from_env();
// Adds -t/--threads to a subcommand.
void add_threads_flag(CLI::App* cmd, int* threads);
// The model's tokenizer (tokenizer.json or tokenizer.model in its folder), or null.
std::unique_ptr<Tokenizer> load_tokenizer(const Model& m);
// Parses "1,2 3" into ids; throws lmf::Error naming `flag` on bad input.
std::vector<int32_t> parse_ids(const std::string& s, const std::string& flag);
std::string human_bytes(double bytes);
std::string human_count(double n);
bool stdout_is_tty();

// -n, --temperature, --top-k, --top-p and --seed of generate and chat. A flag not given
// takes generation_config.json's value (transformers' defaults where do_sample is set).
struct DecodeFlags {
  int64_t n = 64;
  float temperature = 0.0f, top_p = 1.0f;
  int top_k = 0;
  uint64_t seed = 0;
  CLI::Option *n_opt = nullptr, *temperature_opt = nullptr, *top_k_opt = nullptr, *top_p_opt = nullptr;
};
void add_decode_flags(CLI::App* cmd, DecodeFlags* f, int64_t default_n);
// The generate options for m: sampling and -n from the flags over the model folder's
// generation_config.json; stop ids: its eos_token_id (one or a list, else config.json's),
// else the tokenizer's end-of-sequence id. Checks the sampling options.
GenerateOptions generate_options(const Model& m, const Tokenizer* tok, const DecodeFlags& f);

void register_info(CLI::App& app);
void register_graph(CLI::App& app);
void register_generate(CLI::App& app);
void register_bench(CLI::App& app);
void register_ppl(CLI::App& app);
void register_tokenizer(CLI::App& app);
void register_data(CLI::App& app);
void register_train(CLI::App& app, dist::Communicator& world);  // train and distill (data parallel under mpirun)
void register_quantize(CLI::App& app);
void register_prune(CLI::App& app);
void register_compare(CLI::App& app);
void register_template(CLI::App& app);
void register_chat(CLI::App& app);

}  // namespace lmf::cli

// `lmforge ppl MODEL --data FILE`: perplexity with its standard error; with
// --base ORIGINAL, KL divergence from the original and the same-top-token rate.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "core/checked.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "data/token_dataset.h"
#include "tokenizer/tokenizer.h"
#include "runtime/perplexity.h"

namespace lmf::cli {

namespace {

struct PplArgs {
  std::string model, data, base, split = "valid";
  int64_t ctx = 256, stride = 0, batch = 4, max_tokens = 0;
  int threads = 1;
  bool json = false, quiet = false;
};

Progress progress_bar(bool enabled, const char* what) {
  if (!enabled) return nullptr;
  return [what](int64_t done, int64_t total) {
    const int width = 30;
    const int fill = static_cast<int>(width * done / std::max<int64_t>(total, 1));
    fmt::print(stderr, "\r{} [{:=<{}}{:<{}}] {}/{} windows", what, "", fill, "", width - fill, done, total);
    if (done == total) fmt::print(stderr, "\n");
  };
}

// --data is a folder prepared by `lmforge data prepare` (its --split is read and its
// tokenizer must be the model's) or a text file, tokenized with the model's tokenizer.
std::vector<int32_t> load_tokens(const PplArgs& a) {
  std::unique_ptr<Tokenizer> tok = load_tokenizer_for_model(a.model);
  std::vector<int32_t> ids;
  if (std::filesystem::is_directory(a.data)) {
    data::TokenDataset ds = data::TokenDataset::open(a.data, a.split);
    LMF_CHECK(ds.tokenizer_hash() == tok->hash(), kInvalidArgument,
              "--data {}: prepared with tokenizer {} but the model's tokenizer is {} (run data prepare with --tokenizer {})",
              a.data, ds.tokenizer_hash(), tok->hash(), a.model);
    ids = ds.read_all();
  } else {
    std::string text = read_text_file(a.data);
    LMF_CHECK(!text.empty(), kBadFile, "--data {}: empty file", a.data);
    ids = tok->encode(text);
  }
  if (a.max_tokens > 0 && static_cast<int64_t>(ids.size()) > a.max_tokens) ids.resize(static_cast<size_t>(a.max_tokens));
  return ids;
}

void run_ppl(const PplArgs& a) {
  LMF_CHECK(a.batch >= 1, kInvalidArgument, "-b must be positive, got {}", a.batch);
  const int64_t stride = a.stride > 0 ? a.stride : a.ctx;
  Model m = load_model(a.model);
  LMF_CHECK(a.ctx <= m.info.context, kOutOfRange, "--ctx {} exceeds the model's context of {}", a.ctx, m.info.context);
  std::vector<int32_t> tokens = load_tokens(a);
  check_token_ids(tokens, m.info.vocab, "--data " + a.data);  // the scored targets index the logits
  make_windows(static_cast<int64_t>(tokens.size()), a.ctx, stride);  // validates --ctx/--stride early
  SessionOptions so;
  so.max_batch = a.batch;
  so.max_context = a.ctx;
  so.max_step_tokens = a.batch * a.ctx;
  so.threads = a.threads;
  so.kernels = kernel_options_from_env();
  const bool tty = !a.quiet && isatty(STDERR_FILENO);
  Session s(m, so);
  if (a.base.empty()) {
    PerplexityResult r = perplexity(s, tokens, a.ctx, stride, a.batch, progress_bar(tty, "ppl"));
    if (a.json) {
      nlohmann::json j = {{"model", a.model}, {"data", a.data}, {"ctx", a.ctx}, {"stride", stride},
                          {"tokens_scored", r.tokens}, {"nll_mean", r.nll_sum / r.tokens}, {"ppl", r.ppl()},
                          {"ppl_stderr", r.ppl_stderr()}, {"seconds", r.seconds},
                          {"tokens_per_s", static_cast<double>(r.tokens) / r.seconds}};
      fmt::print("{}\n", j.dump(2));
    } else {
      fmt::print("perplexity: {:.4f} ± {:.4f} over {} tokens (ctx {}, stride {}); {:.1f} tokens/s\n", r.ppl(),
                 r.ppl_stderr(), r.tokens, a.ctx, stride, static_cast<double>(r.tokens) / r.seconds);
    }
    return;
  }
  Model base = load_model(a.base);
  Session sb(base, so);
  CompareResult c = compare_models(sb, s, tokens, a.ctx, stride, a.batch, progress_bar(tty, "kl"));
  if (a.json) {
    nlohmann::json j = {{"model", a.model}, {"base", a.base}, {"data", a.data}, {"ctx", a.ctx},
                        {"stride", stride}, {"tokens_scored", c.tokens}, {"ppl", c.variant.ppl()},
                        {"ppl_stderr", c.variant.ppl_stderr()}, {"base_ppl", c.base.ppl()},
                        {"base_ppl_stderr", c.base.ppl_stderr()}, {"kl_mean", c.kl_mean}, {"kl_p99", c.kl_p99},
                        {"kl_max", c.kl_max}, {"same_top", c.same_top}};
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("perplexity: {:.4f} ± {:.4f} (base {:.4f} ± {:.4f}) over {} tokens (ctx {}, stride {})\n",
               c.variant.ppl(), c.variant.ppl_stderr(), c.base.ppl(), c.base.ppl_stderr(), c.tokens, a.ctx, stride);
    fmt::print("KL divergence from base: mean {:.6f}, 99th percentile {:.6f}, max {:.6f}\n", c.kl_mean, c.kl_p99,
               c.kl_max);
    fmt::print("same top token: {:.2f}%\n", 100.0 * c.same_top);
  }
}

}  // namespace

void register_ppl(CLI::App& app) {
  auto a = std::make_shared<PplArgs>();
  CLI::App* cmd = app.add_subcommand("ppl", "Perplexity on text (± standard error); with --base, KL divergence from an original");
  cmd->add_option("model", a->model, "Hugging Face model folder")->required();
  cmd->add_option("--data", a->data,
                  "Text file (tokenized with the model's tokenizer) or a folder from `lmforge data prepare`")
      ->required();
  cmd->add_option("--split", a->split, "Split of a prepared folder: train, valid (default) or test");
  cmd->add_option("-c,--ctx", a->ctx, "Window length in tokens (default 256)");
  cmd->add_option("--stride", a->stride,
                  "Window step; each window scores only its last STRIDE tokens (default: --ctx, non-overlapping)");
  cmd->add_option("-b,--batch", a->batch, "Windows per forward pass (default 4)");
  cmd->add_option("--max-tokens", a->max_tokens, "Score only the first N tokens of the data");
  cmd->add_option("--base", a->base, "Original model: report KL divergence and same-top-token rate against it");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bar");
  add_threads_flag(cmd, &a->threads);
  cmd->callback([a] { run_ppl(*a); });
}

}  // namespace lmf::cli

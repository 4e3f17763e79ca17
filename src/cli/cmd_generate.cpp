// `lmforge generate MODEL -p TEXT -n N`: greedy or sampled decoding, streamed.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>

#include "cli/common.h"
#include "core/error.h"
#include "runtime/generate.h"

namespace lmf::cli {

namespace {

struct GenerateArgs {
  std::string model, prompt, file;
  bool ids = false, quiet = false;
  int64_t n = 64, ctx = 0;
  float temperature = 0.0f, top_p = 1.0f;
  int top_k = 0;
  uint64_t seed = 0;
  int threads = 1;
};

std::vector<std::string> read_prompt_file(const std::string& path) {
  std::ifstream in(path);
  LMF_CHECK(in.good(), kBadFile, "--file {}: cannot open", path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  LMF_CHECK(!out.empty(), kInvalidArgument, "--file {}: no prompts (one per line)", path);
  return out;
}

void run_generate(const GenerateArgs& a) {
  LMF_CHECK(a.prompt.empty() != a.file.empty(), kInvalidArgument, "give exactly one of -p/--prompt and --file");
  SamplingOptions so{a.temperature, a.top_k, a.top_p, a.seed};
  check_sampling(so);
  LMF_CHECK(a.n >= 0, kInvalidArgument, "-n must be >= 0, got {}", a.n);
  Model m = load_model(a.model);
  std::unique_ptr<Tokenizer> tok;
  if (!a.ids) {
    tok = load_tokenizer(m);
    LMF_CHECK(tok != nullptr, kBadFile, "{}/tokenizer.json: missing (use --ids to give token ids)", a.model);
  }
  std::vector<std::string> texts = a.file.empty() ? std::vector<std::string>{a.prompt} : read_prompt_file(a.file);
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& t : texts) {
    if (a.ids) {
      prompts.push_back(parse_ids(t, a.file.empty() ? "--prompt" : "--file " + a.file));
    } else {
      // Tokenizers with a begin-of-sequence token (SentencePiece, Llama-2 style) start
      // every prompt with it, as Hugging Face's tokenizers do by default.
      prompts.emplace_back();
      if (tok->bos_id()) prompts.back().push_back(*tok->bos_id());
      std::vector<int32_t> ids = tok->encode(t);
      prompts.back().insert(prompts.back().end(), ids.begin(), ids.end());
    }
  }
  SessionOptions opts;
  opts.max_batch = static_cast<int64_t>(prompts.size());
  opts.max_context = a.ctx;
  opts.reserve_context = positions_needed(prompts, a.n);  // the cache holds what this run needs
  opts.threads = a.threads;
  opts.kernels = kernel_options_from_env();
  Session session(m, opts);
  check_prompts(session, prompts);  // before the prompt is echoed
  GenerateOptions go;
  go.max_new_tokens = a.n;
  go.sampling = so;
  if (tok && tok->eos_id()) go.eos = *tok->eos_id();
  else if (m.info.eos_id) go.eos = static_cast<int32_t>(*m.info.eos_id);
  if (a.ids) go.eos.reset();  // ids mode: exactly -n tokens

  const bool stream = prompts.size() == 1;
  if (stream) {
    if (a.ids) {
      for (size_t i = 0; i < prompts[0].size(); ++i) fmt::print("{}{}", i ? " " : "", prompts[0][i]);
    } else {
      fmt::print("{}", texts[0]);
    }
    std::fflush(stdout);
  }
  auto on_token = [&](size_t, int32_t t) {
    if (!stream) return;
    if (a.ids) fmt::print(" {}", t);
    else fmt::print("{}", tok->token_text(t));
    std::fflush(stdout);
  };
  GenerateStats st;
  std::vector<std::vector<int32_t>> out = generate(session, prompts, go, on_token, &st);
  if (stream) {
    fmt::print("\n");
  } else {
    for (size_t i = 0; i < out.size(); ++i) {
      if (a.ids) {
        std::string s;
        for (int32_t t : prompts[i]) s += fmt::format("{}{}", s.empty() ? "" : " ", t);
        for (int32_t t : out[i]) s += fmt::format(" {}", t);
        fmt::print("[{}] {}\n", i + 1, s);
      } else {
        fmt::print("[{}] {}{}\n", i + 1, texts[i], tok->decode(out[i]));
      }
    }
  }
  if (!a.quiet)
    fmt::print(stderr, "\nprompt: {} tokens in {:.3f} s ({:.1f} tokens/s); generated: {} tokens in {:.3f} s ({:.1f} tokens/s)\n",
               st.prompt_tokens, st.prefill_seconds, st.prompt_tokens / std::max(st.prefill_seconds, 1e-9),
               st.new_tokens, st.decode_seconds,
               st.new_tokens > static_cast<int64_t>(out.size())
                   ? (st.new_tokens - static_cast<int64_t>(out.size())) / std::max(st.decode_seconds, 1e-9)
                   : 0.0);
}

}  // namespace

void register_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt (greedy or sampled), streamed to stdout");
  cmd->add_option("model", a->model, "Hugging Face model folder")->required();
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text (token ids with --ids)");
  cmd->add_option("--file", a->file, "File of prompts, one per line, generated as one batch");
  cmd->add_option("-n,--n-predict", a->n, "Tokens to generate (default 64)");
  cmd->add_flag("--ids", a->ids, "Prompts are token ids (\"1,2,3\"); print ids");
  cmd->add_option("--temperature", a->temperature, "Sampling temperature; 0 = greedy (default)");
  cmd->add_option("--top-k", a->top_k, "Sample from the k most likely tokens (0 = all)");
  cmd->add_option("--top-p", a->top_p, "Nucleus sampling threshold in (0, 1] (default 1)");
  cmd->add_option("--seed", a->seed, "Random seed for sampling (default 0)");
  cmd->add_option("-c,--ctx", a->ctx, "Positions per sequence at most (default: the model's context; the KV cache holds prompt + -n)");
  cmd->add_flag("-q,--quiet", a->quiet, "Do not print timing to stderr");
  add_threads_flag(cmd, &a->threads);
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace lmf::cli

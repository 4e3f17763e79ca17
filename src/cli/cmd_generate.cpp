// `lmforge generate MODEL -p TEXT -n N`: greedy or sampled decoding, streamed.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "cli/common.h"
#include "core/error.h"
#include "chat/chat_template.h"
#include "runtime/generate.h"

namespace lmf::cli {

namespace {

struct GenerateArgs {
  std::string model, prompt, file, system;
  bool ids = false, quiet = false, chat = false;
  int64_t ctx = 0;
  DecodeFlags decode;
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
  LMF_CHECK(!a.chat || !a.ids, kInvalidArgument, "--chat takes text prompts, not --ids");
  LMF_CHECK(a.chat || a.system.empty(), kInvalidArgument, "--system needs --chat");
  Model m = load_model(a.model);
  std::unique_ptr<Tokenizer> tok;
  if (!a.ids) {
    tok = load_tokenizer(m);
    LMF_CHECK(tok != nullptr, kBadFile, "{}/tokenizer.json: missing (use --ids to give token ids)", a.model);
  }
  GenerateOptions go = generate_options(m, tok.get(), a.decode);
  if (a.ids) go.stop.clear();  // ids mode: exactly -n tokens
  std::optional<ChatTemplate> tmpl;
  if (a.chat) tmpl = load_chat_template(m.dir, false);
  std::vector<std::string> texts = a.file.empty() ? std::vector<std::string>{a.prompt} : read_prompt_file(a.file);
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& t : texts) {
    if (a.ids) {
      prompts.push_back(parse_ids(t, a.file.empty() ? "--prompt" : "--file " + a.file));
    } else if (a.chat) {
      // The prompt as the user's message of a new conversation (the template writes any BOS).
      nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
      if (!a.system.empty()) msgs.push_back({{"role", "system"}, {"content", a.system}});
      msgs.push_back({{"role", "user"}, {"content", t}});
      prompts.push_back(tok->encode(render_chat(*tmpl, msgs, nullptr, true)));
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
  opts.reserve_context = positions_needed(prompts, go.max_new_tokens);  // the cache holds what this run needs
  opts.threads = a.threads;
  opts.kernels = kernel_options_from_env();
  Session session(m, opts);
  check_prompts(session, prompts);  // before the prompt is echoed
  // The reply's text, without the stop token that ended it.
  auto is_stop = [&go](int32_t t) { return std::find(go.stop.begin(), go.stop.end(), t) != go.stop.end(); };
  auto reply_text = [&](std::vector<int32_t> ids) {
    if (!ids.empty() && is_stop(ids.back())) ids.pop_back();
    return tok->decode(ids);
  };

  const bool stream = prompts.size() == 1;
  if (stream && !a.chat) {  // the prompt, then its continuation; --chat prints the reply only
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
    else if (!is_stop(t)) fmt::print("{}", tok->token_text(t));
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
        fmt::print("[{}] {}{}\n", i + 1, a.chat ? "" : texts[i], reply_text(out[i]));
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
  add_decode_flags(cmd, &a->decode, 64);
  cmd->add_flag("--ids", a->ids, "Prompts are token ids (\"1,2,3\"); print ids");
  cmd->add_flag("--chat", a->chat,
                "Each prompt is a user message, rendered with the model's chat template (with the generation "
                "prompt); print the reply only");
  cmd->add_option("--system", a->system, "With --chat: a system message before the prompt");
  cmd->add_option("-c,--ctx", a->ctx, "Positions per sequence at most (default: the model's context; the KV cache holds prompt + -n)");
  cmd->add_flag("-q,--quiet", a->quiet, "Do not print timing to stderr");
  add_threads_flag(cmd, &a->threads);
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace lmf::cli

// `lmforge chat MODEL`: an interactive multi-turn chat in the terminal with the model's
// chat template. Each line typed is a user message; the reply streams as it is generated
// and ends at one of the model's end-of-turn ids. /reset forgets the conversation,
// /system TEXT sets the system message, /exit (or end of input) quits.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "chat/chat_template.h"
#include "chat/conversation.h"
#include "cli/common.h"
#include "core/error.h"

namespace lmf::cli {

namespace {

struct ChatArgs {
  std::string model, system;
  int64_t ctx = 0;
  DecodeFlags decode;
  bool quiet = false;
  int threads = 1;
};

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

void run_chat(const ChatArgs& a) {
  Model m = load_model(a.model);
  std::unique_ptr<Tokenizer> tok = load_tokenizer(m);
  LMF_CHECK(tok != nullptr, kBadFile, "{}/tokenizer.json: missing (chat needs the model's tokenizer)", a.model);
  const ChatTemplate tmpl = load_chat_template(m.dir, false);
  const GenerateOptions go = generate_options(m, tok.get(), a.decode);
  SessionOptions so;
  so.max_batch = 1;
  so.max_context = a.ctx;
  so.threads = a.threads;
  so.kernels = kernel_options_from_env();
  Session session(m, so);
  Conversation conv(session, *tok, tmpl);
  if (!a.system.empty()) conv.set_system(a.system);
  const bool tty = stdout_is_tty();
  if (tty)
    fmt::print("lmforge chat: {} ({} positions). /reset forgets the conversation, /system TEXT sets the system "
               "message, /exit quits.\n",
               a.model, session.context());
  std::string line;
  for (;;) {
    if (tty) fmt::print("> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      conv.reset();
      fmt::print("(conversation reset)\n");
      continue;
    }
    if (line == "/system" || starts_with(line, "/system ")) {
      const std::string text = line.size() > 8 ? line.substr(8) : "";
      conv.set_system(text);
      fmt::print("{}\n", text.empty() ? "(system message removed)" : "(system message set)");
      continue;
    }
    GenerateStats st;
    try {
      conv.reply(line, go, [](const std::string& piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }, &st);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kOutOfRange) throw;
      fmt::print(stderr, "lmforge: error: {}\n", e.what());  // the conversation is kept; /reset to go on
      continue;
    }
    fmt::print("\n");
    if (!a.quiet)
      fmt::print(stderr, "[{} prompt tokens, {} generated, {:.1f} tokens/s]\n", st.prompt_tokens, st.new_tokens,
                 st.new_tokens > 1 ? (st.new_tokens - 1) / std::max(st.decode_seconds, 1e-9) : 0.0);
  }
}

}  // namespace

void register_chat(CLI::App& app) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in the terminal, using its chat template");
  cmd->add_option("model", a->model, "Hugging Face model folder (with tokenizer and chat template)")->required();
  cmd->add_option("--system", a->system, "System message");
  add_decode_flags(cmd, &a->decode, 512);
  cmd->add_option("-c,--ctx", a->ctx, "Positions of the conversation at most (default: the model's context)");
  cmd->add_flag("-q,--quiet", a->quiet, "Do not print speed after each reply to stderr");
  add_threads_flag(cmd, &a->threads);
  cmd->callback([a] { run_chat(*a); });
}

}  // namespace lmf::cli

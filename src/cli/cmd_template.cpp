// `lmforge template DIR --messages FILE [--tools FILE] [--no-generation-prompt]`: renders a
// conversation with the folder's chat template and prints exactly the text transformers'
// apply_chat_template(messages, tools=..., tokenize=False, add_generation_prompt=True) gives.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf::cli {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

struct TemplateArgs {
  std::string dir, messages, tools;
  bool no_generation_prompt = false;
};

// A JSON file given to `flag` ("-": stdin), parsed keeping key order (tojson prints it).
ojson read_json_arg(const std::string& path, const char* flag) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::error_code ec;
    LMF_CHECK(fs::is_regular_file(path, ec), kBadFile, "{} {}: no such file", flag, path);
    text = read_text_file(path);
  }
  try {
    return ojson::parse(text);
  } catch (const ojson::parse_error& e) {
    fail(ErrorCode::kBadFile, "{} {}: invalid JSON ({})", flag, path, e.what());
  }
}

void run_template(const TemplateArgs& a) {
  std::error_code ec;
  // A tokenizer_config.json (or any file) given instead of its folder: use the folder.
  const std::string dir = fs::is_regular_file(a.dir, ec) ? fs::path(a.dir).parent_path().string() : a.dir;
  ojson messages = read_json_arg(a.messages, "--messages");
  // {"messages": [...]} (an OpenAI-style request body) is accepted as well as a bare list.
  if (messages.is_object() && messages.contains("messages")) messages = ojson(messages["messages"]);
  LMF_CHECK(messages.is_array(), kBadFile, "--messages {}: expected a JSON list of {{\"role\", \"content\"}} objects",
            a.messages);
  ojson tools = a.tools.empty() ? ojson() : read_json_arg(a.tools, "--tools");
  LMF_CHECK(tools.is_null() || tools.is_array(), kBadFile, "--tools {}: expected a JSON list of tool definitions",
            a.tools);
  const ChatTemplate t = load_chat_template(dir, !a.tools.empty());
  const std::string text = render_chat(t, messages, tools, !a.no_generation_prompt);
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

void register_template(CLI::App& app) {
  auto a = std::make_shared<TemplateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "template", "Render a conversation with a model's chat template (the text apply_chat_template gives)");
  cmd->add_option("dir", a->dir, "Model folder, or any folder with tokenizer_config.json")->required();
  cmd->add_option("--messages", a->messages, "JSON file: a list of {\"role\", \"content\", ...} messages (\"-\": stdin)")
      ->required();
  cmd->add_option("--tools", a->tools, "JSON file: a list of tool definitions (JSON schema), passed as `tools`");
  cmd->add_flag("--no-generation-prompt", a->no_generation_prompt,
                "Do not end with the assistant's turn header (add_generation_prompt=False)");
  cmd->callback([a] { run_template(*a); });
}

}  // namespace lmf::cli

// lmforge chat: finding a folder's chat template and rendering conversations with it.
#include "chat/chat_template.h"

#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace lmf {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

ChatTemplate load_chat_template(const std::string& dir, bool with_tools) {
  std::error_code ec;
  LMF_CHECK(fs::is_directory(dir, ec), kBadFile, "{}: no such folder", dir);
  const fs::path config_path = fs::path(dir) / "tokenizer_config.json";
  const fs::path jinja_path = fs::path(dir) / "chat_template.jinja";
  const bool has_config = fs::is_regular_file(config_path, ec);
  ChatTemplate t;
  if (has_config) {
    // The special tokens through the one reader of tokenizer_config.json's token fields.
    const std::string beside = (fs::path(dir) / "tokenizer.json").string();
    for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"})
      if (auto tok = tok::configured_token(beside, key)) t.special_tokens.emplace_back(key, *tok);
  }
  if (fs::is_regular_file(jinja_path, ec)) {
    t.source = read_text_file(jinja_path.string());
    t.where = jinja_path.string();
    return t;
  }
  LMF_CHECK(has_config, kBadFile, "{}: no tokenizer_config.json (and no chat_template.jinja) in the folder", dir);
  const ojson config = ojson::parse(read_text_file(config_path.string()), nullptr, /*allow_exceptions=*/false);
  const std::string file = config_path.string();
  LMF_CHECK(!config.is_discarded() && config.is_object(), kBadFile, "{}: not a JSON object", file);
  LMF_CHECK(config.contains("chat_template") && !config["chat_template"].is_null(), kBadFile,
            "{}: no chat_template (this tokenizer has no chat format)", file);
  const ojson& field = config["chat_template"];
  if (field.is_string()) {
    t.source = field.get<std::string>();
    t.where = file + ": chat_template";
    return t;
  }
  LMF_CHECK(field.is_array(), kBadFile, "{}: chat_template: expected a string or a list of {{name, template}}", file);
  std::string names;
  const ojson* chosen = nullptr;
  const ojson* fallback = nullptr;
  for (const ojson& e : field) {
    LMF_CHECK(e.is_object() && e.contains("name") && e["name"].is_string() && e.contains("template") &&
                  e["template"].is_string(),
              kBadFile, "{}: chat_template: each entry must be {{\"name\": string, \"template\": string}}", file);
    const std::string name = e["name"].get<std::string>();
    names += (names.empty() ? "" : ", ") + name;
    if (name == "tool_use" && with_tools) chosen = &e;
    if (name == "default") fallback = &e;
  }
  if (!chosen) chosen = fallback;
  LMF_CHECK(chosen, kBadFile, "{}: chat_template: no template named \"default\" (templates: {})", file, names);
  t.source = (*chosen)["template"].get<std::string>();
  t.where = file + ": chat_template \"" + (*chosen)["name"].get<std::string>() + "\"";
  return t;
}

std::string render_chat(const ChatTemplate& t, const ojson& messages, const ojson& tools, bool add_generation_prompt) {
  LMF_CHECK(messages.is_array(), kInvalidArgument, "messages: expected a JSON list of message objects");
  for (size_t k = 0; k < messages.size(); ++k)
    LMF_CHECK(messages[k].is_object(), kInvalidArgument, "messages[{}]: expected an object like {{\"role\": ..., "
              "\"content\": ...}}", k);
  LMF_CHECK(tools.is_null() || tools.is_array(), kInvalidArgument, "tools: expected a JSON list of tool definitions");
  const jinja::Template tmpl(t.source, t.where);
  std::vector<std::pair<std::string, jinja::Value>> vars = {
      {"messages", jinja::Value::from_json(messages)},
      {"tools", jinja::Value::from_json(tools)},
      {"documents", jinja::Value::none()},
      {"add_generation_prompt", jinja::Value::boolean(add_generation_prompt)},
  };
  for (const auto& [k, v] : t.special_tokens) vars.emplace_back(k, jinja::Value::string(v));
  return tmpl.render(vars);
}

}  // namespace lmf

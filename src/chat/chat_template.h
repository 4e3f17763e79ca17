// lmforge chat: a model folder's chat template and rendering a conversation with it, as
// transformers' tokenizer.apply_chat_template(messages, tools=..., tokenize=False,
// add_generation_prompt=...) does.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja.h"

namespace lmf {

struct ChatTemplate {
  std::string source;  // the Jinja text
  std::string where;   // "DIR/tokenizer_config.json: chat_template" (starts error messages)
  // bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token: those the
  // folder's tokenizer_config.json names (a string or an AddedToken {"content": ...}).
  std::vector<std::pair<std::string, std::string>> special_tokens;
};

// The chat template of `dir` (a model folder or any folder with tokenizer_config.json):
// chat_template.jinja when the folder has one (transformers prefers it), else
// tokenizer_config.json's "chat_template": a string, or a list of {"name", "template"} from
// which "tool_use" is taken when `with_tools` and present, else "default". A folder without
// one, or a malformed field, is an lmf::Error naming the file and field.
ChatTemplate load_chat_template(const std::string& dir, bool with_tools);

// Renders `messages` (a JSON list of message objects) with `tools` (a JSON list, or null for
// none) in scope, plus add_generation_prompt and the special tokens; the text
// apply_chat_template(..., tokenize=False) returns. Errors name the template and line.
std::string render_chat(const ChatTemplate& t, const nlohmann::ordered_json& messages,
                        const nlohmann::ordered_json& tools, bool add_generation_prompt);

}  // namespace lmf

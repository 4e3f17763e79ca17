// lmforge tokenizer: reading tokenizer.json and OpenAI's encoder.json + vocab.bpe.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/checked.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/bpe_tokenizer_impl.h"
#include "tokenizer/tokenizer.h"

namespace lmf {
namespace {

using nlohmann::json;
using tok::BpeSpec;

constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

json parse_json(const std::string& text, const std::string& path) {
  check_json_depth(text, path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFile, "{}: invalid JSON: {}", path, e.what());
  }
}

json read_json(const std::string& path) { return parse_json(read_text_file(path), path); }

std::string type_of(const json& j) {
  if (j.is_null()) return "null";
  if (!j.is_object()) return "(not an object)";
  auto it = j.find("type");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "(no type)";
}

void parse_model(const json& root, BpeSpec& spec) {
  const std::string& path = spec.path;
  auto mit = root.find("model");
  LMF_CHECK(mit != root.end() && mit->is_object(), kBadFile, "{}: no \"model\" object", path);
  const json& m = *mit;
  std::string type = type_of(m);
  if (type == "(no type)" && m.contains("merges")) type = "BPE";
  LMF_CHECK(type == "BPE", kUnsupported, "{}: model type {} is not supported (only byte-level BPE)", path,
            type);
  auto opt_string = [&](const char* key) -> std::string {
    auto it = m.find(key);
    return it == m.end() || it->is_null() ? std::string() : it->get<std::string>();
  };
  LMF_CHECK(!m.value("byte_fallback", false), kUnsupported,
            "{}: BPE with byte_fallback is not supported (only byte-level BPE)", path);
  LMF_CHECK(opt_string("continuing_subword_prefix").empty() && opt_string("end_of_word_suffix").empty(),
            kUnsupported, "{}: BPE with a subword prefix or suffix is not supported (only byte-level BPE)",
            path);
  auto dit = m.find("dropout");
  LMF_CHECK(dit == m.end() || dit->is_null() || dit->get<double>() == 0.0, kUnsupported,
            "{}: BPE dropout is not supported", path);
  if (std::string unk = opt_string("unk_token"); !unk.empty()) spec.unk_token = unk;
  spec.ignore_merges = m.value("ignore_merges", false);

  auto vit = m.find("vocab");
  LMF_CHECK(vit != m.end() && vit->is_object(), kBadFile, "{}: model.vocab is not an object", path);
  spec.vocab.reserve(vit->size());
  for (auto it = vit->begin(); it != vit->end(); ++it) {
    LMF_CHECK(it.value().is_number_integer(), kBadFile, "{}: model.vocab['{}'] is not an integer id", path,
              it.key());
    spec.vocab.emplace_back(it.key(), it.value().get<int64_t>());
  }
  auto git = m.find("merges");
  LMF_CHECK(git != m.end() && git->is_array(), kBadFile, "{}: model.merges is not an array", path);
  spec.merges.reserve(git->size());
  for (size_t i = 0; i < git->size(); ++i) {
    const json& e = (*git)[i];
    if (e.is_string()) {
      const std::string& s = e.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      LMF_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos, kBadFile,
                "{}: model.merges[{}] '{}' is not two tokens separated by a space", path, i, s);
      spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else {
      LMF_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(), kBadFile,
                "{}: model.merges[{}] is neither \"a b\" nor [\"a\", \"b\"]", path, i);
      spec.merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    }
  }
}

void parse_normalizer_and_decoder(const json& root, const std::string& path) {
  const json& n = root.contains("normalizer") ? root["normalizer"] : json();
  const bool empty_sequence = type_of(n) == "Sequence" && n.value("normalizers", json::array()).empty();
  LMF_CHECK(n.is_null() || empty_sequence, kUnsupported, "{}: normalizer {} is not supported", path,
            type_of(n));
  const json& d = root.contains("decoder") ? root["decoder"] : json();
  bool ok = d.is_null() || type_of(d) == "ByteLevel";
  if (type_of(d) == "Sequence" && d.contains("decoders") && d["decoders"].is_array()) {
    ok = true;
    for (const json& e : d["decoders"]) ok = ok && type_of(e) == "ByteLevel";
  }
  LMF_CHECK(ok, kUnsupported, "{}: decoder {} is not supported (only ByteLevel)", path, type_of(d));
  // A post-processor that adds tokens (TemplateProcessing, ...) is left to HfTokenizer, which
  // honours it when special tokens are asked for; ByteLevel only trims offsets.
  const json& pp = root.contains("post_processor") ? root["post_processor"] : json();
  LMF_CHECK(pp.is_null() || type_of(pp) == "ByteLevel", kUnsupported,
            "{}: post_processor {} is not supported (only ByteLevel)", path, type_of(pp));
}

void parse_pre_tokenizer(const json& root, BpeSpec& spec) {
  const std::string& path = spec.path;
  const json& p = root.contains("pre_tokenizer") ? root["pre_tokenizer"] : json();
  std::vector<json> steps;
  if (type_of(p) == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].is_array()) {
    steps.assign(p["pretokenizers"].begin(), p["pretokenizers"].end());
  } else {
    steps.push_back(p);
  }
  int byte_level = 0, splits = 0;
  bool regex = false;
  for (const json& s : steps) {
    const std::string type = type_of(s);
    if (type == "ByteLevel") {
      ++byte_level;
      spec.add_prefix_space = s.value("add_prefix_space", true);
      regex = regex || s.value("use_regex", true);
    } else if (type == "Split") {
      ++splits;
      const json& pat = s.value("pattern", json::object());
      const std::string re = pat.contains("Regex") ? pat["Regex"].get<std::string>() : std::string();
      LMF_CHECK(re == kGpt2Pattern && s.value("behavior", std::string()) == "Isolated" &&
                    !s.value("invert", false),
                kUnsupported, "{}: pre_tokenizer Split {} is not supported (only GPT-2's pattern, Isolated)",
                path, pat.dump());
      regex = true;
    } else {
      fail(ErrorCode::kUnsupported,
           "{}: pre_tokenizer {} is not supported (only byte-level BPE: ByteLevel, optionally after a Split "
           "with GPT-2's pattern)",
           path, type);
    }
  }
  LMF_CHECK(byte_level == 1 && splits <= 1, kUnsupported,
            "{}: pre_tokenizer needs exactly one ByteLevel step (only byte-level BPE is supported)", path);
  LMF_CHECK(!(splits && spec.add_prefix_space), kUnsupported,
            "{}: pre_tokenizer Split followed by ByteLevel with add_prefix_space is not supported", path);
  spec.split = regex ? tok::PreSplit::kGpt2 : tok::PreSplit::kNone;
}

void parse_added_tokens(const json& root, BpeSpec& spec) {
  auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return;
  LMF_CHECK(it->is_array(), kBadFile, "{}: added_tokens is not an array", spec.path);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& a = (*it)[i];
    LMF_CHECK(a.is_object() && a.contains("id") && a["id"].is_number_integer() && a.contains("content") &&
                  a["content"].is_string(),
              kBadFile, "{}: added_tokens[{}] lacks an integer id or a string content", spec.path, i);
    tok::AddedToken t;
    t.content = a["content"].get<std::string>();
    const int64_t id = a["id"].get<int64_t>();  // range-checked before narrowing
    LMF_CHECK(id >= 0 && id <= INT32_MAX, kBadFile, "{}: token '{}' has id {} outside [0, 2^31)", spec.path, t.content,
              id);
    t.id = static_cast<int32_t>(id);
    t.special = a.value("special", false);
    t.lstrip = a.value("lstrip", false);
    t.rstrip = a.value("rstrip", false);
    spec.added.push_back(std::move(t));
  }
}

}  // namespace

BpeTokenizer BpeTokenizer::from_file(const std::string& path) {
  BpeTokenizer t = from_json_text(read_text_file(path), path);
  if (auto eos = tok::configured_token(path, "eos_token")) {
    if (auto id = t.token_id(*eos)) t.eos_id_ = id;
  }
  return t;
}

BpeTokenizer BpeTokenizer::from_json_text(const std::string& text, const std::string& path) {
  const json root = parse_json(text, path);
  LMF_CHECK(root.is_object(), kBadFile, "{}: not a tokenizer.json (the top level is not an object)", path);
  BpeSpec spec;
  spec.path = path;
  try {
    parse_model(root, spec);
    parse_normalizer_and_decoder(root, path);
    parse_pre_tokenizer(root, spec);
    parse_added_tokens(root, spec);
  } catch (const json::exception& e) {  // a field of the wrong JSON type
    fail(ErrorCode::kBadFile, "{}: malformed tokenizer.json: {}", path, e.what());
  }
  return BpeTokenizer(tok::build_bpe(std::move(spec)));
}

BpeTokenizer BpeTokenizer::from_gpt2_files(const std::string& encoder_json, const std::string& vocab_bpe) {
  BpeSpec spec;
  spec.path = encoder_json;
  const json enc = read_json(encoder_json);
  LMF_CHECK(enc.is_object(), kBadFile, "{}: not an object of token -> id", encoder_json);
  for (auto it = enc.begin(); it != enc.end(); ++it) {
    LMF_CHECK(it.value().is_number_integer(), kBadFile, "{}: ['{}'] is not an integer id", encoder_json,
              it.key());
    spec.vocab.emplace_back(it.key(), it.value().get<int64_t>());
  }
  const std::string text = read_text_file(vocab_bpe);
  std::istringstream lines(text);
  std::string line;
  for (size_t n = 1; std::getline(lines, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (n == 1 && line.starts_with("#version"))) continue;
    const size_t sp = line.find(' ');
    LMF_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < line.size() &&
                  line.find(' ', sp + 1) == std::string::npos,
              kBadFile, "{}: line {}: expected two tokens separated by a space", vocab_bpe, n);
    spec.merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  for (const auto& [token, id] : spec.vocab) {
    if (token == "<|endoftext|>") spec.added.push_back({token, static_cast<int32_t>(id), true, false, false});
  }
  return BpeTokenizer(tok::build_bpe(std::move(spec)));
}

}  // namespace lmf

// lmforge tokenizer: the tokenizer.json pipeline (see hf_tokenizer.h): added tokens, the BPE
// model, post-processors, and the loader that wires the components of hf_components.h.
#include "tokenizer/hf_tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/checked.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/mapped_file.h"
#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_tokenizer_impl.h"
#include "tokenizer/hf_components.h"

namespace lmf {

namespace tok {

std::string utf8_lossy(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = b[i];
    if (c < 0x80) {
      r += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    if (need == 0) {
      r += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    size_t k = 1;
    for (; k <= need && i + k < n; ++k) {
      const unsigned char d = b[i + k];
      const bool ok = k == 1 ? (d >= lo && d <= hi) : (d >= 0x80 && d <= 0xBF);
      if (!ok) break;
    }
    if (k == need + 1) {
      r.append(s.substr(i, k));
    } else {
      r += "\xEF\xBF\xBD";  // the maximal prefix of a valid sequence is one replacement
    }
    i += k;
  }
  return r;
}

}  // namespace tok

namespace {

using nlohmann::json;
using tok::hf::Piece;

struct AddedTok {
  std::string content;
  int32_t id;
  bool special, lstrip, rstrip, single_word, normalized;
};

// Leftmost-longest matching of added tokens (a byte trie).
class AddedTrie {
 public:
  void add(const std::string& s, int32_t index) {
    if (s.empty()) return;
    if (nodes_.empty()) nodes_.push_back({});
    uint32_t node = 0;
    for (unsigned char c : s) {
      const uint64_t key = (uint64_t{node} << 8) | c;
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        nodes_.push_back({});
        it = edges_.emplace(key, static_cast<uint32_t>(nodes_.size() - 1)).first;
      }
      node = it->second;
    }
    if (nodes_[node].token < 0) nodes_[node].token = index;  // the first token with this content wins
    first_[static_cast<unsigned char>(s[0])] = 1;
  }
  bool empty() const { return nodes_.empty(); }
  // Longest match at s[i]: (length, token index) or (0, -1).
  std::pair<size_t, int32_t> longest_at(std::string_view s, size_t i) const {
    if (!first_[static_cast<unsigned char>(s[i])]) return {0, -1};
    uint32_t node = 0;
    std::pair<size_t, int32_t> best{0, -1};
    for (size_t k = i; k < s.size(); ++k) {
      auto it = edges_.find((uint64_t{node} << 8) | static_cast<unsigned char>(s[k]));
      if (it == edges_.end()) break;
      node = it->second;
      if (nodes_[node].token >= 0) best = {k + 1 - i, nodes_[node].token};
    }
    return best;
  }

 private:
  struct TrieNode {
    int32_t token = -1;
  };
  std::vector<TrieNode> nodes_;
  std::unordered_map<uint64_t, uint32_t> edges_;
  std::array<uint8_t, 256> first_{};
};

// A piece of the input: text still to tokenize (id < 0), or an added token.
struct Segment {
  std::string text;
  int32_t id = -1;
  bool first = false;
};

bool is_word_char(uint32_t cp) {
  return cp == '_' || (cp < 0x80 ? std::isalnum(static_cast<int>(cp)) != 0 : !tok::hf::is_whitespace(cp) && cp > 0xBF);
}
uint32_t last_cp(std::string_view s) {
  size_t k = s.size() - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  uint32_t len = 1;
  return tok::hf::next_cp(s, k, &len);
}

class Bpe {
 public:
  tok::StringMap<int32_t> vocab;
  tok::MergeTable merges;
  std::optional<int32_t> unk;
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
  std::string prefix, suffix;
  std::array<int32_t, 256> byte_ids{};
  tok::WordCache cache;

  void tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    const bool cacheable = word.size() <= tok::WordCache::kMaxWordBytes;
    if (cacheable && cache.lookup(word, out)) return;
    std::vector<int32_t> ids;
    if (ignore_merges) {
      if (auto it = vocab.find(word); it != vocab.end()) ids.push_back(it->second);
    }
    if (ids.empty()) {
      ids = symbols(word);
      tok::bpe_merge(merges, ids);
    }
    out.insert(out.end(), ids.begin(), ids.end());
    if (cacheable) cache.insert(word, ids);
  }

 private:
  // HF's BPE::merge_word before the merges: one symbol a character (with the subword
  // prefix/suffix), unknown ones as <0xNN> bytes (byte_fallback) or unk (fused if asked).
  std::vector<int32_t> symbols(std::string_view word) const {
    std::vector<int32_t> ids;
    int32_t pending_unk = -1;  // an unk not yet emitted (fuse_unk extends it)
    std::string s;
    for (size_t i = 0; i < word.size();) {
      uint32_t len = 1;
      tok::hf::next_cp(word, i, &len);
      const bool last = i + len >= word.size();
      s.clear();
      if (i > 0 && !prefix.empty()) s += prefix;
      s.append(word.substr(i, len));
      if (last && !suffix.empty()) s += suffix;
      const std::string_view ch = word.substr(i, len);
      i += len;
      if (auto it = vocab.find(s); it != vocab.end()) {
        if (pending_unk >= 0) ids.push_back(pending_unk);
        pending_unk = -1;
        ids.push_back(it->second);
        continue;
      }
      if (byte_fallback) {
        bool all = true;
        for (unsigned char b : ch) all = all && byte_ids[b] >= 0;
        if (all) {
          for (unsigned char b : ch) ids.push_back(byte_ids[b]);
          continue;
        }
      }
      if (unk) {
        if (pending_unk >= 0 && !fuse_unk) ids.push_back(pending_unk);
        pending_unk = *unk;
      }
    }
    if (pending_unk >= 0) ids.push_back(pending_unk);
    return ids;
  }
};

// One item of a post-processor's output: a special token's ids, or the encoded sequence.
struct PostItem {
  bool sequence = false;
  std::vector<int32_t> ids;
};

}  // namespace

struct HfTokenizer::Impl {
  std::string path;
  std::string digest;
  std::vector<std::string> tokens;  // by id, as in the file
  std::vector<uint8_t> present, special;
  tok::StringMap<int32_t> by_token;  // vocabulary and added tokens
  std::vector<AddedTok> added;
  AddedTrie raw_trie, normalized_trie;
  std::unique_ptr<tok::hf::Normalizer> normalizer;
  std::unique_ptr<tok::hf::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::hf::Decoder> decoder;
  Bpe bpe;
  bool has_post = false;
  std::vector<PostItem> post;  // the "single" template, flattened

  void split_added(const AddedTrie& trie, std::vector<Segment>& segs) const;
  void encode(std::string_view text, bool add_special, std::vector<int32_t>& out) const;
};

namespace {

void Set(HfTokenizer::Impl& t, int64_t id, const std::string& token, const std::string& where) {
  LMF_CHECK(id >= 0 && id < (int64_t{1} << 24), kBadFile, "{}: {}: id {} of '{}' is out of range", t.path, where, id, token);
  const auto i = static_cast<size_t>(id);
  if (i >= t.tokens.size()) {
    t.tokens.resize(i + 1);
    t.present.resize(i + 1, 0);
    t.special.resize(i + 1, 0);
  }
  t.tokens[i] = token;
  t.present[i] = 1;
}

void load_model(HfTokenizer::Impl& t, const json& m) {
  const std::string& path = t.path;
  LMF_CHECK(m.is_object(), kBadFile, "{}: model is missing or not an object", path);
  std::string type = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : "";
  if (type.empty() && m.contains("merges")) type = "BPE";
  LMF_CHECK(type == "BPE", kUnsupported, "{}: model.type '{}' is not supported", path, type);
  auto opt = [&](const char* key) -> std::string {
    if (!m.contains(key) || m[key].is_null()) return "";
    LMF_CHECK(m[key].is_string(), kBadFile, "{}: model.{} is not a string", path, key);
    return m[key].get<std::string>();
  };
  auto flag = [&](const char* key) {
    if (!m.contains(key) || m[key].is_null()) return false;
    LMF_CHECK(m[key].is_boolean(), kBadFile, "{}: model.{} is not true or false", path, key);
    return m[key].get<bool>();
  };
  LMF_CHECK(!m.contains("dropout") || m["dropout"].is_null() || m["dropout"].get<double>() == 0.0, kUnsupported,
            "{}: model.dropout is not supported (only 0 or null)", path);
  Bpe& b = t.bpe;
  b.prefix = opt("continuing_subword_prefix");
  b.suffix = opt("end_of_word_suffix");
  b.fuse_unk = flag("fuse_unk");
  b.byte_fallback = flag("byte_fallback");
  b.ignore_merges = flag("ignore_merges");
  LMF_CHECK(m.contains("vocab") && m["vocab"].is_object(), kBadFile, "{}: model.vocab is not an object", path);
  const json& v = m["vocab"];
  b.vocab.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    LMF_CHECK(it.value().is_number_integer(), kBadFile, "{}: model.vocab['{}'] is not an integer id", path, it.key());
    Set(t, it.value().get<int64_t>(), it.key(), "model.vocab");
    b.vocab[it.key()] = it.value().get<int32_t>();
  }
  for (int c = 0; c < 256; ++c) {
    auto it = b.vocab.find(fmt::format("<0x{:02X}>", c));
    b.byte_ids[c] = it == b.vocab.end() ? -1 : it->second;
  }
  if (const std::string unk = opt("unk_token"); !unk.empty()) {
    auto it = b.vocab.find(unk);
    LMF_CHECK(it != b.vocab.end(), kBadFile, "{}: model.unk_token '{}' is not in model.vocab", path, unk);
    b.unk = it->second;
  }
  LMF_CHECK(m.contains("merges") && m["merges"].is_array(), kBadFile, "{}: model.merges is not an array", path);
  const json& g = m["merges"];
  b.merges.reserve(g.size());
  for (size_t r = 0; r < g.size(); ++r) {
    const json& e = g[r];
    std::string l, rt;
    if (e.is_string()) {
      const std::string& s = e.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      LMF_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos, kBadFile,
                "{}: model.merges[{}] '{}' is not two tokens separated by a space", path, r, s);
      l = s.substr(0, sp);
      rt = s.substr(sp + 1);
    } else {
      LMF_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string(), kBadFile,
                "{}: model.merges[{}] is neither \"a b\" nor [\"a\", \"b\"]", path, r);
      l = e[0].get<std::string>();
      rt = e[1].get<std::string>();
    }
    std::string merged = l + (b.prefix.empty() || !rt.starts_with(b.prefix) ? rt : rt.substr(b.prefix.size()));
    auto il = b.vocab.find(l), ir = b.vocab.find(rt), im = b.vocab.find(merged);
    LMF_CHECK(il != b.vocab.end() && ir != b.vocab.end() && im != b.vocab.end(), kBadFile,
              "{}: model.merges[{}] ('{}' '{}') uses a token that is not in model.vocab", path, r, l, rt);
    b.merges.insert(il->second, ir->second, {static_cast<int32_t>(r), im->second});
  }
}

void load_added(HfTokenizer::Impl& t, const json& root) {
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return;
  const json& a = root["added_tokens"];
  LMF_CHECK(a.is_array(), kBadFile, "{}: added_tokens is not an array", t.path);
  for (size_t i = 0; i < a.size(); ++i) {
    const json& e = a[i];
    LMF_CHECK(e.is_object() && e.contains("id") && e["id"].is_number_integer() && e.contains("content") &&
                  e["content"].is_string(),
              kBadFile, "{}: added_tokens[{}] lacks an integer id or a string content", t.path, i);
    AddedTok k;
    k.content = e["content"].get<std::string>();
    LMF_CHECK(!k.content.empty(), kBadFile, "{}: added_tokens[{}].content is empty", t.path, i);
    const int64_t id = e["id"].get<int64_t>();
    Set(t, id, k.content, fmt::format("added_tokens[{}]", i));
    k.id = static_cast<int32_t>(id);
    auto b = [&](const char* key, bool def) { return e.contains(key) && e[key].is_boolean() ? e[key].get<bool>() : def; };
    k.special = b("special", false);
    k.lstrip = b("lstrip", false);
    k.rstrip = b("rstrip", false);
    k.single_word = b("single_word", false);
    k.normalized = b("normalized", !k.special);
    t.special[k.id] = k.special;
    t.by_token[k.content] = k.id;
    t.added.push_back(std::move(k));
  }
  for (size_t i = 0; i < t.added.size(); ++i) {
    const AddedTok& k = t.added[i];
    if (k.normalized && t.normalizer) {
      t.normalized_trie.add(t.normalizer->normalize(k.content), static_cast<int32_t>(i));
    } else if (k.normalized) {
      t.normalized_trie.add(k.content, static_cast<int32_t>(i));
    } else {
      t.raw_trie.add(k.content, static_cast<int32_t>(i));
    }
  }
}

std::vector<int32_t> special_ids(const HfTokenizer::Impl& t, const json& j, const std::string& field) {
  std::vector<int32_t> ids;
  if (j.is_array() && j.size() == 2 && j[0].is_string()) {  // ["<s>", 0] (Roberta/Bert)
    auto it = t.by_token.find(j[0].get<std::string>());
    LMF_CHECK(j[1].is_number_integer(), kBadFile, "{}: {} is not [token, id]", t.path, field);
    ids.push_back(it != t.by_token.end() ? it->second : j[1].get<int32_t>());
    return ids;
  }
  fail(ErrorCode::kBadFile, "{}: {} is not [token, id]", t.path, field);
}

void load_post(HfTokenizer::Impl& t, const json& p, const std::string& field) {
  if (p.is_null()) return;
  LMF_CHECK(p.is_object() && p.contains("type") && p["type"].is_string(), kBadFile, "{}: {}.type is missing", t.path, field);
  const std::string type = p["type"].get<std::string>();
  if (type == "ByteLevel") return;  // offsets only
  t.has_post = true;
  if (type == "Sequence") {
    LMF_CHECK(p.contains("processors") && p["processors"].is_array(), kBadFile, "{}: {}.processors is not an array",
              t.path, field);
    const json& a = p["processors"];
    for (size_t i = 0; i < a.size(); ++i) {
      std::vector<PostItem> before = std::move(t.post);
      t.post.clear();
      load_post(t, a[i], fmt::format("{}.processors[{}]", field, i));
      if (t.post.empty()) {  // a no-op step
        t.post = std::move(before);
        continue;
      }
      if (before.empty()) continue;
      std::vector<PostItem> composed;  // the later step wraps the earlier one's output
      for (PostItem& it : t.post) {
        if (it.sequence) {
          composed.insert(composed.end(), before.begin(), before.end());
        } else {
          composed.push_back(std::move(it));
        }
      }
      t.post = std::move(composed);
    }
    return;
  }
  if (type == "TemplateProcessing") {
    LMF_CHECK(p.contains("single") && p["single"].is_array(), kBadFile, "{}: {}.single is not an array", t.path, field);
    const json& specials = p.contains("special_tokens") ? p["special_tokens"] : json::object();
    const json& single = p["single"];
    for (size_t i = 0; i < single.size(); ++i) {
      const json& e = single[i];
      if (e.contains("Sequence")) {
        t.post.push_back({true, {}});
      } else if (e.contains("SpecialToken") && e["SpecialToken"].contains("id")) {
        const std::string name = e["SpecialToken"]["id"].get<std::string>();
        LMF_CHECK(specials.contains(name) && specials[name].contains("ids") && specials[name]["ids"].is_array(), kBadFile,
                  "{}: {}.special_tokens has no '{}' (used by single[{}])", t.path, field, name, i);
        t.post.push_back({false, specials[name]["ids"].get<std::vector<int32_t>>()});
      } else {
        fail(ErrorCode::kBadFile, "{}: {}.single[{}] is neither Sequence nor SpecialToken", t.path, field, i);
      }
    }
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    LMF_CHECK(p.contains("cls") && p.contains("sep"), kBadFile, "{}: {} lacks cls or sep", t.path, field);
    t.post.push_back({false, special_ids(t, p["cls"], field + ".cls")});
    t.post.push_back({true, {}});
    t.post.push_back({false, special_ids(t, p["sep"], field + ".sep")});
    return;
  }
  fail(ErrorCode::kUnsupported, "{}: {}.type '{}' is not supported", t.path, field, type);
}

}  // namespace

void HfTokenizer::Impl::split_added(const AddedTrie& trie, std::vector<Segment>& segs) const {
  if (trie.empty()) return;
  std::vector<Segment> out;
  for (Segment& seg : segs) {
    if (seg.id >= 0) {
      out.push_back(std::move(seg));
      continue;
    }
    const std::string_view s = seg.text;
    size_t start_offset = 0;
    for (size_t i = 0; i < s.size();) {
      auto [len, index] = trie.longest_at(s, i);
      if (index < 0) {
        ++i;
        continue;
      }
      const AddedTok& k = added[static_cast<size_t>(index)];
      size_t start = i, stop = i + len;
      if (k.single_word) {
        const bool start_ok = start == 0 || !is_word_char(last_cp(s.substr(0, start)));
        uint32_t l = 1;
        const bool stop_ok = stop == s.size() || !is_word_char(tok::hf::next_cp(s, stop, &l));
        if (!start_ok || !stop_ok) {
          ++i;
          continue;
        }
      }
      if (k.lstrip) {
        size_t b = start;
        while (b > start_offset) {
          size_t q = b - 1;
          while (q > 0 && (static_cast<unsigned char>(s[q]) & 0xC0) == 0x80) --q;
          uint32_t l = 1;
          if (!tok::hf::is_whitespace(tok::hf::next_cp(s, q, &l))) break;
          b = q;
        }
        start = std::max(b, start_offset);
      }
      if (k.rstrip) {
        while (stop < s.size()) {
          uint32_t l = 1;
          if (!tok::hf::is_whitespace(tok::hf::next_cp(s, stop, &l))) break;
          stop += l;
        }
      }
      if (start > start_offset) {
        out.push_back({std::string(s.substr(start_offset, start - start_offset)), -1, seg.first && start_offset == 0});
      }
      out.push_back({std::string(), k.id, false});
      start_offset = stop;
      i = stop;
    }
    if (start_offset < s.size()) {
      out.push_back({std::string(s.substr(start_offset)), -1, seg.first && start_offset == 0});
    }
  }
  segs = std::move(out);
}

void HfTokenizer::Impl::encode(std::string_view raw, bool add_special, std::vector<int32_t>& out) const {
  std::vector<Segment> segs;
  segs.push_back({tok::utf8_lossy(raw), -1, true});
  split_added(raw_trie, segs);
  if (normalizer) {
    for (Segment& s : segs)
      if (s.id < 0) s.text = normalizer->normalize(std::move(s.text));
  }
  split_added(normalized_trie, segs);
  std::vector<int32_t> ids;
  std::vector<Piece> pieces;
  for (Segment& s : segs) {
    if (s.id >= 0) {
      ids.push_back(s.id);
      continue;
    }
    if (s.text.empty()) continue;
    pieces.clear();
    pieces.push_back({std::move(s.text), s.first});
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);
    for (const Piece& p : pieces) bpe.tokenize(p.text, ids);
  }
  if (!add_special || !has_post) {
    out.insert(out.end(), ids.begin(), ids.end());
    return;
  }
  for (const PostItem& it : post) {
    if (it.sequence) {
      out.insert(out.end(), ids.begin(), ids.end());
    } else {
      out.insert(out.end(), it.ids.begin(), it.ids.end());
    }
  }
}

HfTokenizer::HfTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

HfTokenizer HfTokenizer::from_file(const std::string& path) {
  HfTokenizer t = from_json_text(read_text_file(path), path);
  if (auto eos = tok::configured_token(path, "eos_token")) {
    if (auto id = t.token_id(*eos)) t.eos_id_ = id;
  }
  if (auto bos = tok::configured_token(path, "bos_token")) {
    if (auto id = t.token_id(*bos)) t.bos_id_ = id;
  }
  return t;
}

HfTokenizer HfTokenizer::from_json_text(const std::string& text, const std::string& path) {
  check_json_depth(text, path);
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFile, "{}: invalid JSON: {}", path, e.what());
  }
  LMF_CHECK(root.is_object(), kBadFile, "{}: not a tokenizer.json (the top level is not an object)", path);
  auto impl = std::make_shared<Impl>();
  Impl& t = *impl;
  t.path = path;
  auto field = [&](const char* k) -> const json& {
    static const json kNull;
    return root.contains(k) ? root[k] : kNull;
  };
  try {
    t.normalizer = tok::hf::make_normalizer(field("normalizer"), path, "normalizer");
    t.pre_tokenizer = tok::hf::make_pre_tokenizer(field("pre_tokenizer"), path, "pre_tokenizer");
    t.decoder = tok::hf::make_decoder(field("decoder"), path, "decoder");
    load_model(t, field("model"));
    for (auto& [k, v] : t.bpe.vocab) t.by_token.emplace(k, v);
    load_added(t, root);
    load_post(t, field("post_processor"), "post_processor");
  } catch (const json::exception& e) {  // a field of the wrong JSON type
    fail(ErrorCode::kBadFile, "{}: malformed tokenizer.json: {}", path, e.what());
  }
  Fnv1a64 f;
  f.update(root.dump());
  t.digest = f.hex();
  HfTokenizer out(impl);
  for (const char* name : {"<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>"}) {
    if (auto id = out.token_id(name)) {
      out.eos_id_ = id;
      break;
    }
  }
  for (const char* name : {"<s>", "<bos>", "<|begin_of_text|>"}) {
    if (auto id = out.token_id(name)) {
      out.bos_id_ = id;
      break;
    }
  }
  return out;
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> out;
  impl_->encode(text, add_special, out);
  return out;
}

std::string HfTokenizer::token_piece(int32_t id) const {
  LMF_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->present.size() && impl_->present[id], kOutOfRange,
            "token id {} is not in the vocabulary of {}", id, impl_->path);
  return impl_->tokens[static_cast<size_t>(id)];
}

std::string HfTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) tokens.push_back(token_piece(id));
  if (!impl_->decoder) {
    std::string r;
    for (size_t i = 0; i < tokens.size(); ++i) r += (i ? " " : "") + tokens[i];
    return r;
  }
  impl_->decoder->decode_chain(tokens);
  std::string r;
  for (const std::string& t : tokens) r += t;
  return r;
}

std::string HfTokenizer::token_text(int32_t id) const {
  std::string t = token_piece(id);
  if (impl_->special[static_cast<size_t>(id)] || !impl_->decoder) return t;
  impl_->decoder->token_text(t);
  return t;
}

std::optional<int32_t> HfTokenizer::token_id(std::string_view piece) const {
  auto it = impl_->by_token.find(piece);
  if (it == impl_->by_token.end()) return std::nullopt;
  return it->second;
}

int32_t HfTokenizer::vocab_size() const { return static_cast<int32_t>(impl_->present.size()); }

bool HfTokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[id];
}

void HfTokenizer::set_eos_id(std::optional<int32_t> id) {
  if (id) token_piece(*id);  // throws for an unknown id
  eos_id_ = id;
}

std::string HfTokenizer::hash() const { return impl_->digest; }
const std::string& HfTokenizer::path() const { return impl_->path; }

}  // namespace lmf

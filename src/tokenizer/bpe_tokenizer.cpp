// lmforge tokenizer: byte-level BPE (see bpe_tokenizer.h). Building, encoding, decoding.
#include "tokenizer/bpe_tokenizer.h"


#include <algorithm>
#include <mutex>

#include "core/error.h"
#include "core/hash.h"
#include "tokenizer/bpe_tokenizer_impl.h"

namespace lmf {
namespace tok {
namespace {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the other
// bytes for U+0100 onwards, in byte order.
struct ByteLevelAlphabet {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<int16_t, 0x144> cp_to_byte{};
  ByteLevelAlphabet() {
    cp_to_byte.fill(-1);
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      byte_to_cp[b] = printable ? b : 256 + n++;
      cp_to_byte[byte_to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteLevelAlphabet kAlphabet;

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {  // the alphabet stays below U+0800
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string byte_level_decode(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    const Utf8Char c = decode_utf8(token, i);
    if (c.cp >= kAlphabet.cp_to_byte.size() || kAlphabet.cp_to_byte[c.cp] < 0) return std::string(token);
    out += static_cast<char>(kAlphabet.cp_to_byte[c.cp]);
    i += c.len;
  }
  return out;
}

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, kAlphabet.byte_to_cp[b]);
  return out;
}

bool WordCache::lookup(std::string_view word, std::vector<int32_t>& out) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(word);
  if (it == map_.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::insert(std::string_view word, const std::vector<int32_t>& ids) const {
  std::unique_lock lock(mu_);
  if (map_.size() < kMaxEntries) map_.emplace(std::string(word), ids);
}

namespace {

constexpr int64_t kMaxVocab = int64_t{1} << 24;

void add_token(BpeTokenizer::Impl& t, const std::string& path, const std::string& text, int64_t id,
               std::string bytes) {
  LMF_CHECK(id >= 0 && id < kMaxVocab, kBadFile, "{}: token '{}' has id {} outside [0, {})", path, text,
            id, kMaxVocab);
  const auto i = static_cast<size_t>(id);
  if (i >= t.present.size()) {
    t.present.resize(i + 1, 0);
    t.special.resize(i + 1, 0);
    t.token_strings.resize(i + 1);
    t.token_bytes.resize(i + 1);
  }
  t.present[i] = 1;
  t.token_strings[i] = text;
  t.token_bytes[i] = std::move(bytes);
  t.by_token[text] = static_cast<int32_t>(id);
}

std::string compute_digest(const BpeTokenizer::Impl& t, const std::vector<std::pair<int32_t, int32_t>>& merges) {
  Fnv1a64 f;
  for (size_t id = 0; id < t.present.size(); ++id) {
    if (!t.present[id]) continue;
    f.update_u32(static_cast<uint32_t>(id));
    f.update_u32(static_cast<uint32_t>(t.token_bytes[id].size()));
    f.update(t.token_bytes[id]);
    f.update_u32(t.special[id]);
  }
  f.update_u32(0xFFFFFFFFu);
  for (const auto& [a, b] : merges) {
    f.update_u32(static_cast<uint32_t>(a));
    f.update_u32(static_cast<uint32_t>(b));
  }
  f.update_u32(0xFFFFFFFFu);
  f.update_u32(t.split == PreSplit::kGpt2);
  f.update_u32(t.add_prefix_space);
  f.update_u32(t.ignore_merges);
  f.update_u32(t.unk_id.value_or(-1));
  return f.hex();
}

void index_added_tokens(BpeTokenizer::Impl& t, std::vector<AddedToken> added) {
  for (auto& a : added) {
    LMF_CHECK(!a.content.empty(), kBadFile, "{}: added token {} has empty content", t.path, a.id);
    add_token(t, t.path, a.content, a.id, a.content);
    t.special[a.id] = a.special;
    t.added.push_back(std::move(a));
  }
  for (uint32_t i = 0; i < t.added.size(); ++i) {
    t.added_by_first_byte[static_cast<unsigned char>(t.added[i].content[0])].push_back(i);
  }
  for (auto& list : t.added_by_first_byte) {
    std::stable_sort(list.begin(), list.end(), [&t](uint32_t x, uint32_t y) {
      return t.added[x].content.size() > t.added[y].content.size();
    });
  }
  for (const char* eos : {"<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>"}) {
    auto it = t.by_token.find(std::string_view(eos));
    if (it != t.by_token.end()) {
      t.default_eos = it->second;
      break;
    }
  }
}

}  // namespace

std::shared_ptr<BpeTokenizer::Impl> build_bpe(BpeSpec spec) {
  auto t = std::make_shared<BpeTokenizer::Impl>();
  const std::string& path = spec.path;
  t->path = path;
  t->split = spec.split;
  t->add_prefix_space = spec.add_prefix_space;
  t->ignore_merges = spec.ignore_merges;
  LMF_CHECK(!spec.vocab.empty(), kBadFile, "{}: the vocabulary is empty", path);
  // Ids index tables sized by the largest: a file may leave a few unused, but ids far
  // beyond its token count would size them from one number (2^24 ids is ~1 GB).
  const int64_t defined = static_cast<int64_t>(spec.vocab.size() + spec.added.size());
  auto check_dense = [&](const std::string& text, int64_t id) {
    LMF_CHECK(id < 2 * defined + 1024, kBadFile,
              "{}: token '{}' has id {}, but the file defines {} tokens (ids must be below {})", path, text, id,
              defined, 2 * defined + 1024);
  };
  for (const auto& [text, id] : spec.vocab) check_dense(text, id);
  for (const auto& a : spec.added) check_dense(a.content, a.id);
  for (auto& [text, id] : spec.vocab) {
    LMF_CHECK(id < 0 || id >= static_cast<int64_t>(t->present.size()) || !t->present[id], kBadFile,
              "{}: tokens '{}' and '{}' share id {}", path, t->token_strings[std::max<int64_t>(id, 0)],
              text, id);
    add_token(*t, path, text, id, byte_level_decode(text));
  }
  if (t->ignore_merges) {
    for (size_t id = 0; id < t->present.size(); ++id) {
      if (t->present[id]) t->by_bytes.emplace(t->token_bytes[id], static_cast<int32_t>(id));
    }
  }
  for (int b = 0; b < 256; ++b) {
    auto it = t->by_token.find(byte_level_encode(std::string(1, static_cast<char>(b))));
    t->byte_ids[b] = it == t->by_token.end() ? -1 : it->second;
  }
  std::vector<std::pair<int32_t, int32_t>> merge_ids;
  merge_ids.reserve(spec.merges.size());
  t->merges.reserve(spec.merges.size());
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [a, b] = spec.merges[rank];
    auto ia = t->by_token.find(a), ib = t->by_token.find(b), im = t->by_token.find(a + b);
    LMF_CHECK(ia != t->by_token.end() && ib != t->by_token.end() && im != t->by_token.end(), kBadFile,
              "{}: merge {} ('{} {}') uses a token that is not in the vocabulary", path, rank, a, b);
    t->merges.insert(ia->second, ib->second, {static_cast<int32_t>(rank), im->second});
    merge_ids.emplace_back(ia->second, ib->second);
  }
  if (spec.unk_token) {
    auto it = t->by_token.find(*spec.unk_token);
    LMF_CHECK(it != t->by_token.end(), kBadFile, "{}: unk_token '{}' is not in the vocabulary", path,
              *spec.unk_token);
    t->unk_id = it->second;
  }
  index_added_tokens(*t, std::move(spec.added));
  t->digest = compute_digest(*t, merge_ids);
  return t;
}

}  // namespace tok

// ---- encoding -------------------------------------------------------------------------

void BpeTokenizer::Impl::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges) {
    auto it = by_bytes.find(word);
    if (it != by_bytes.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= tok::WordCache::kMaxWordBytes;
  if (cacheable && cache.lookup(word, out)) return;
  std::vector<int32_t> ids(word.size());
  for (size_t i = 0; i < word.size(); ++i) ids[i] = byte_ids[static_cast<unsigned char>(word[i])];
  tok::bpe_merge(merges, ids);
  // A byte without a symbol becomes unk_token, or is dropped (as Hugging Face does).
  if (std::find(ids.begin(), ids.end(), -1) != ids.end()) {
    std::vector<int32_t> kept;
    for (int32_t id : ids) {
      if (id >= 0) {
        kept.push_back(id);
      } else if (unk_id) {
        kept.push_back(*unk_id);
      }
    }
    ids.swap(kept);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) cache.insert(word, ids);
}

void BpeTokenizer::Impl::encode_segment(std::string_view seg, std::vector<int32_t>& out) const {
  if (seg.empty()) return;
  std::string prefixed;
  if (add_prefix_space && seg.front() != ' ') {
    prefixed.reserve(seg.size() + 1);
    prefixed += ' ';
    prefixed += seg;
    seg = prefixed;
  }
  if (split == tok::PreSplit::kNone) {
    encode_word(seg, out);
    return;
  }
  std::vector<tok::Piece> pieces;
  pieces.reserve(seg.size() / 4 + 1);
  tok::gpt2_split(seg, pieces);
  for (const tok::Piece& p : pieces) encode_word(seg.substr(p.offset, p.length), out);
}

namespace {

// Offset just past the whitespace that starts s at i (for rstrip).
size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size()) {
    const tok::ClassedChar c = tok::classify_at(s, i);
    if (c.cls != tok::CharClass::kSpace) break;
    i += c.len;
  }
  return i;
}

// Offset where the whitespace that ends s[begin, end) starts (for lstrip).
size_t trim_space_end(std::string_view s, size_t begin, size_t end) {
  size_t keep = begin;
  for (size_t i = begin; i < end;) {
    const tok::ClassedChar c = tok::classify_at(s, i);
    i += c.len;
    if (c.cls != tok::CharClass::kSpace) keep = i;
  }
  return keep;
}

}  // namespace

void BpeTokenizer::Impl::encode(std::string_view text, std::vector<int32_t>& out) const {
  LMF_CHECK(text.size() < (size_t{1} << 32), kInvalidArgument, "{}: encode: text of {} bytes exceeds 4 GiB",
            path, text.size());
  if (added.empty()) {
    encode_segment(text, out);
    return;
  }
  // Cut at added tokens: leftmost match, longest first.
  size_t seg_begin = 0;
  for (size_t i = 0; i < text.size();) {
    const auto& candidates = added_by_first_byte[static_cast<unsigned char>(text[i])];
    const tok::AddedToken* match = nullptr;
    for (uint32_t k : candidates) {
      if (text.substr(i).starts_with(added[k].content)) {
        match = &added[k];
        break;
      }
    }
    if (!match) {
      ++i;
      continue;
    }
    const size_t seg_end = match->lstrip ? trim_space_end(text, seg_begin, i) : i;
    encode_segment(text.substr(seg_begin, seg_end - seg_begin), out);
    out.push_back(match->id);
    i += match->content.size();
    if (match->rstrip) i = skip_space(text, i);
    seg_begin = i;
  }
  encode_segment(text.substr(seg_begin), out);
}

const std::string& BpeTokenizer::Impl::bytes_of(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= present.size() || !present[id]) {
    fail(ErrorCode::kOutOfRange, "{}: token id {} is not in the vocabulary (ids 0..{})", path, id,
         static_cast<int64_t>(present.size()) - 1);
  }
  return token_bytes[id];
}

// ---- public API -----------------------------------------------------------------------

BpeTokenizer::BpeTokenizer(std::shared_ptr<const Impl> impl)
    : impl_(std::move(impl)), eos_id_(impl_->default_eos) {}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  impl_->encode(text, out);
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) out += impl_->bytes_of(id);
  return out;
}

std::string BpeTokenizer::token_text(int32_t id) const { return impl_->bytes_of(id); }

std::string BpeTokenizer::token_piece(int32_t id) const {
  impl_->bytes_of(id);  // throws for an unknown id
  return impl_->token_strings[id];
}

int32_t BpeTokenizer::vocab_size() const { return static_cast<int32_t>(impl_->present.size()); }

std::optional<int32_t> BpeTokenizer::token_id(std::string_view token) const {
  auto it = impl_->by_token.find(token);
  if (it == impl_->by_token.end()) return std::nullopt;
  return it->second;
}

bool BpeTokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[id];
}

void BpeTokenizer::set_eos_id(std::optional<int32_t> id) {
  if (id) impl_->bytes_of(*id);  // throws for an unknown id
  eos_id_ = id;
}

std::string BpeTokenizer::hash() const { return impl_->digest; }

const std::string& BpeTokenizer::path() const { return impl_->path; }

}  // namespace lmf

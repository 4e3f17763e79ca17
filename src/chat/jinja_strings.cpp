// lmforge chat: Python's str methods for the Jinja interpreter (see jinja_strings.h).
#include "chat/jinja_strings.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace lmf::jinja::str {

bool is_space(const std::string& cp) {
  static const char* kSpaces[] = {" ", "\t", "\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x1f", "\xc2\x85",
                                  "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\xa8", "\xe2\x80\xa9"};
  for (const char* s : kSpaces)
    if (cp == s) return true;
  return false;
}

std::string strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right) {
  const std::vector<std::string> cps = code_points(s);
  const std::vector<std::string> set = chars ? code_points(*chars) : std::vector<std::string>();
  auto strippable = [&](const std::string& cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : is_space(cp);
  };
  size_t b = 0, e = cps.size();
  while (left && b < e && strippable(cps[b])) ++b;
  while (right && e > b && strippable(cps[e - 1])) --e;
  std::string out;
  for (size_t k = b; k < e; ++k) out += cps[k];
  return out;
}

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

namespace {
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
}  // namespace

std::string title(std::string s) {
  bool prev_cased = false;
  for (char& c : s) {
    if (is_alpha(c)) {
      c = prev_cased ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                     : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      prev_cased = true;
    } else {
      prev_cased = static_cast<unsigned char>(c) >= 0x80 && prev_cased;
    }
  }
  return s;
}

std::string capitalize(std::string s) {
  s = lower(std::move(s));
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::vector<std::string> split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit,
                               bool from_right) {
  std::vector<std::string> out;
  if (sep) {
    if (!from_right) {
      size_t start = 0;
      for (size_t at; (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) &&
                      (at = s.find(*sep, start)) != std::string::npos;
           start = at + sep->size())
        out.push_back(s.substr(start, at - start));
      out.push_back(s.substr(start));
      return out;
    }
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t at = s.rfind(*sep, end - sep->size());
      if (at == std::string::npos) break;
      out.push_back(s.substr(at + sep->size(), end - at - sep->size()));
      end = at;
    }
    out.push_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> cps = code_points(s);
  if (from_right) std::reverse(cps.begin(), cps.end());
  size_t k = 0;
  while (true) {
    while (k < cps.size() && is_space(cps[k])) ++k;
    if (k == cps.size()) break;
    std::string word;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      size_t e = cps.size();
      while (e > k && is_space(cps[e - 1])) --e;
      for (; k < e; ++k) word += cps[k];
      out.push_back(word);
      break;
    }
    for (; k < cps.size() && !is_space(cps[k]); ++k) word += cps[k];
    out.push_back(word);
  }
  if (from_right) {
    for (auto& w : out) {
      std::vector<std::string> wc = code_points(w);
      std::reverse(wc.begin(), wc.end());
      w.clear();
      for (auto& c : wc) w += c;
    }
    std::reverse(out.begin(), out.end());
  }
  return out;
}

std::vector<std::string> splitlines(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '\n' || s[k] == '\r') {
      out.push_back(cur);
      cur.clear();
      if (s[k] == '\r' && k + 1 < s.size() && s[k + 1] == '\n') ++k;
    } else {
      cur += s[k];
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) {
    std::string out;
    int64_t n = 0;
    for (const auto& cp : code_points(s)) {
      if (count < 0 || n < count) out += to, ++n;
      out += cp;
    }
    if (count < 0 || n < count) out += to;
    return out;
  }
  std::string out;
  size_t start = 0;
  int64_t n = 0;
  for (size_t at; (count < 0 || n < count) && (at = s.find(from, start)) != std::string::npos; ++n) {
    out += s.substr(start, at - start) + to;
    start = at + from.size();
  }
  return out + s.substr(start);
}

int64_t count(const std::string& s, const std::string& sub) {
  if (sub.empty()) return static_cast<int64_t>(code_points(s).size()) + 1;
  int64_t n = 0;
  for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
  return n;
}

std::string format(const std::string& s, const Args& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '{' && k + 1 < s.size() && s[k + 1] == '{') {
      out += '{', ++k;
    } else if (s[k] == '}' && k + 1 < s.size() && s[k + 1] == '}') {
      out += '}', ++k;
    } else if (s[k] == '{') {
      const size_t close = s.find('}', k);
      if (close == std::string::npos) render_error("str.format: single '{' encountered in format string");
      const std::string field = s.substr(k + 1, close - k - 1);
      if (field.find_first_of(":!") != std::string::npos) render_error("str.format: format specs are not supported");
      Value v;
      if (field.empty()) {
        v = a.get(auto_index++, "");
      } else if (std::all_of(field.begin(), field.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        v = a.get(std::stoul(field), "");
      } else {
        v = a.get(a.pos.size(), field);
      }
      if (v.is_undefined()) render_error(fmt::format("str.format: no argument for field '{{{}}}'", field));
      out += to_str(v);
      k = close;
    } else {
      out += s[k];
    }
  }
  return out;
}

bool is_class(const std::string& s, const std::string& which) {
  if (s.empty()) return false;
  bool cased = false;
  for (unsigned char c : s) {
    if (which == "isdigit" && !std::isdigit(c)) return false;
    if (which == "isalpha" && !std::isalpha(c)) return false;
    if (which == "isalnum" && !std::isalnum(c)) return false;
    if (which == "isspace" && !std::isspace(c)) return false;
    if (which == "islower" && std::isupper(c)) return false;
    if (which == "isupper" && std::islower(c)) return false;
    cased = cased || std::isalpha(c);
  }
  return (which != "islower" && which != "isupper") || cased;
}

}  // namespace lmf::jinja::str

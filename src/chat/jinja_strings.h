// lmforge chat: Python's str methods over UTF-8 text, for the Jinja interpreter. Case
// mapping (upper, lower, title, capitalize) changes ASCII letters only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "chat/jinja_value.h"

namespace lmf::jinja::str {

// str.strip/lstrip/rstrip: whitespace, or the code points of `chars`.
std::string strip(const std::string& s, const std::optional<std::string>& chars, bool left, bool right);
std::string upper(std::string s);
std::string lower(std::string s);
std::string title(std::string s);
std::string capitalize(std::string s);
// str.split / str.rsplit: on whitespace runs when sep is empty; at most maxsplit splits (-1: all).
std::vector<std::string> split(const std::string& s, const std::optional<std::string>& sep, int64_t maxsplit,
                               bool from_right);
std::vector<std::string> splitlines(const std::string& s);
std::string replace(const std::string& s, const std::string& from, const std::string& to, int64_t count);
int64_t count(const std::string& s, const std::string& sub);
// str.format with {} {0} {name} fields (format specs are not supported) and {{ }} escapes.
std::string format(const std::string& s, const Args& a);
// isdigit, isalpha, isspace, isalnum, islower, isupper (ASCII classes).
bool is_class(const std::string& s, const std::string& which);
bool is_space(const std::string& code_point);

}  // namespace lmf::jinja::str

// lmforge core: the one error type of the library.
//
// The library throws lmf::Error for anything a user can cause (a bad file, flag,
// tensor or request). The message is one line that names the file, tensor, field
// or flag and says what is wrong. Only main() and the HTTP layer catch.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace lmf {

enum class ErrorCode {
  kInvalidArgument,  // a bad flag, option or API argument
  kBadFile,          // a file that is missing, unreadable or malformed
  kUnsupported,      // well-formed input that lmforge does not handle
  kOutOfRange,       // an index, length or size beyond what is allowed
  kIo,               // the operating system refused a read or write
  kInternal,         // a bug in lmforge
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

template <typename... Args>
[[noreturn]] void fail(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(code, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace lmf

// Front-door check: throws lmf::Error(code, formatted message) when cond is false.
#define LMF_CHECK(cond, code, ...)                            \
  do {                                                        \
    if (!(cond)) ::lmf::fail(::lmf::ErrorCode::code, __VA_ARGS__); \
  } while (0)

// Test support: the message of the lmf::Error a call throws.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

namespace lmf::test {

inline constexpr const char* kNoError = "(no error)";

// What f throws as lmf::Error, or kNoError when it returns.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return kNoError;
}

}  // namespace lmf::test

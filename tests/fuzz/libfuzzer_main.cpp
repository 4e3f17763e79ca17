// libFuzzer driver for one target, chosen at compile time (LMF_FUZZ_TARGET, a name of
// fuzz_support.cpp's table). lmf::Error is the parser refusing bad input; any other
// exception, and a broken invariant (Violation), aborts so that libFuzzer keeps the input.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/error.h"
#include "fuzz/fuzz_support.h"

#ifndef LMF_FUZZ_TARGET
#error "LMF_FUZZ_TARGET must name a target"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lmf::fuzz::Target* target = lmf::fuzz::find_target(LMF_FUZZ_TARGET);
  if (!target) std::abort();
  try {
    target->run(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const lmf::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lmf-fuzz %s: not an lmf::Error: %s\n", LMF_FUZZ_TARGET, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "lmf-fuzz %s: a non-std exception\n", LMF_FUZZ_TARGET);
    std::abort();
  }
  return 0;
}

// lmf_fuzz_seeds OUT: writes each target's seeds as OUT/<target>/seed-<i> (the seed corpus
// of scripts/fuzz), and OUT/lmf.dict, a libFuzzer dictionary of the inputs' keywords.
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "fuzz/fuzz_support.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: lmf_fuzz_seeds OUT_DIR\n");
    return 2;
  }
  namespace fs = std::filesystem;
  try {
    for (const auto& t : lmf::fuzz::targets()) {
      const fs::path dir = fs::path(argv[1]) / t.name;
      fs::create_directories(dir);
      const auto seeds = t.seeds();
      for (size_t i = 0; i < seeds.size(); ++i)
        lmf::fuzz::write_bytes((dir / ("seed-" + std::to_string(i))).string(), seeds[i]);
      std::printf("%s: %zu seeds\n", t.name, seeds.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lmf_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}

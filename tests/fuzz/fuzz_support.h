// lmforge fuzzing: one entry point per parser of file-supplied input.
//
// Each Target runs one parser on a byte string: a single file's bytes, or, for parsers
// that read a folder (a model folder, a dataset, vocab.json + merges.txt), several named
// files joined by kFileSep (each part is "NAME\n" then the file's bytes). The entry point
// writes the files into a fresh scratch folder, calls the parser the way the CLI does and
// uses what it returns (reads every tensor, encodes and decodes text, reads every token).
// A malformed input must end in lmf::Error; anything else is a bug: a crash or sanitizer
// report, another exception type, or a broken invariant the entry point checks
// (LMF_FUZZ_ASSERT, which throws Violation).
//
// Two drivers use the same entry points: libfuzzer_main.cpp (one binary per target, built
// with clang, libFuzzer, ASan and UBSan under -DLMF_FUZZ=ON; scripts/fuzz), and
// fuzz_mutation_test.cpp (the default build: seeded, deterministic mutations of the
// seeds). Seeds are tiny valid inputs made by lmforge's own writers (seeds()).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lmf::fuzz {

// Separates the files of a multi-file input.
inline constexpr std::string_view kFileSep = "\n=====lmf-file=====\n";

struct Part {
  std::string name;
  std::string_view content;
};
// The parts of a multi-file input; parts without a plain file name are dropped.
std::vector<Part> split_files(std::string_view input);
std::string join_files(const std::vector<std::pair<std::string, std::string>>& files);

// A fresh, empty folder for one case of `target` (under a per-process scratch root
// that is removed at exit).
std::string case_dir(const std::string& target);
// Writes the parts into dir; returns how many were written.
size_t write_parts(const std::string& dir, const std::vector<Part>& parts);
void write_bytes(const std::string& path, std::string_view bytes);
std::string read_bytes(const std::string& path);

// An invariant of the parser's result that the entry point checks was broken.
struct Violation : std::logic_error {
  using std::logic_error::logic_error;
};
#define LMF_FUZZ_ASSERT(cond, what)                                                          \
  do {                                                                                        \
    if (!(cond)) throw ::lmf::fuzz::Violation(std::string(__FILE__ ":") + std::to_string(__LINE__) + ": " + (what)); \
  } while (0)

struct Target {
  const char* name;
  void (*run)(std::string_view input);   // throws lmf::Error for bad input
  std::vector<std::string> (*seeds)();   // tiny valid inputs
  bool multi_file;                       // input is a kFileSep container
};
const std::vector<Target>& targets();
const Target* find_target(std::string_view name);

// The targets (one file each: fuzz_<area>.cpp).
void run_safetensors(std::string_view);
std::vector<std::string> seeds_safetensors();
void run_hf_model(std::string_view);
std::vector<std::string> seeds_hf_model();
void run_init_config(std::string_view);
std::vector<std::string> seeds_init_config();
void run_tokenizer_json(std::string_view);
std::vector<std::string> seeds_tokenizer_json();
void run_gpt2_files(std::string_view);
std::vector<std::string> seeds_gpt2_files();
void run_sentencepiece(std::string_view);
std::vector<std::string> seeds_sentencepiece();
void run_token_dataset(std::string_view);
std::vector<std::string> seeds_token_dataset();
void run_jsonl(std::string_view);
std::vector<std::string> seeds_jsonl();
void run_text(std::string_view);
std::vector<std::string> seeds_text();
void run_teacher_cache(std::string_view);
std::vector<std::string> seeds_teacher_cache();
void run_gguf(std::string_view);
std::vector<std::string> seeds_gguf();

}  // namespace lmf::fuzz

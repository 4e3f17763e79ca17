#include "fuzz/fuzz_support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace lmf::fuzz {

namespace fs = std::filesystem;

namespace {

bool plain_name(std::string_view n) {
  if (n.empty() || n.size() > 64 || n[0] == '.') return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

struct ScratchRoot {
  std::string path;
  ScratchRoot() {
    const char* tmp = std::getenv("TMPDIR");
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::path(tmp ? tmp : "/tmp");
    path = (base / ("lmf-fuzz-" + std::to_string(::getpid()))).string();
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

std::vector<Part> split_files(std::string_view input) {
  std::vector<Part> parts;
  size_t pos = 0;
  while (pos <= input.size()) {
    size_t end = input.find(kFileSep, pos);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view part = input.substr(pos, end - pos);
    const size_t nl = part.find('\n');
    if (nl != std::string_view::npos && plain_name(part.substr(0, nl)))
      parts.push_back({std::string(part.substr(0, nl)), part.substr(nl + 1)});
    if (end == input.size()) break;
    pos = end + kFileSep.size();
  }
  return parts;
}

std::string join_files(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  for (size_t i = 0; i < files.size(); ++i) {
    if (i) out += kFileSep;
    out += files[i].first + "\n" + files[i].second;
  }
  return out;
}

std::string case_dir(const std::string& target) {
  static ScratchRoot root;
  const std::string dir = root.path + "/" + target;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Violation("cannot write the scratch file " + path);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Violation("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t write_parts(const std::string& dir, const std::vector<Part>& parts) {
  for (const Part& p : parts) write_bytes(dir + "/" + p.name, p.content);
  return parts.size();
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"safetensors", run_safetensors, seeds_safetensors, false},
      {"hf_model", run_hf_model, seeds_hf_model, true},
      {"init_config", run_init_config, seeds_init_config, false},
      {"tokenizer_json", run_tokenizer_json, seeds_tokenizer_json, true},
      {"gpt2_files", run_gpt2_files, seeds_gpt2_files, true},
      {"sentencepiece", run_sentencepiece, seeds_sentencepiece, false},
      {"token_dataset", run_token_dataset, seeds_token_dataset, true},
      {"jsonl", run_jsonl, seeds_jsonl, false},
      {"text", run_text, seeds_text, false},
      {"teacher_cache", run_teacher_cache, seeds_teacher_cache, false},
      {"gguf", run_gguf, seeds_gguf, false},
  };
  return all;
}

const Target* find_target(std::string_view name) {
  for (const Target& t : targets())
    if (name == t.name) return &t;
  return nullptr;
}

}  // namespace lmf::fuzz

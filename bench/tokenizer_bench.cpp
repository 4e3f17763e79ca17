// Encode throughput of lmforge's tokenizers, for bench/tokenizer_bench.sh (which builds it
// and runs it beside node's gpt-3-encoder on the same text).
//
//   tokenizer_bench (--gpt2 ENCODER_JSON VOCAB_BPE | --tokenizer PATH) TEXT_FILE [-r RUNS]
//   tokenizer_bench --brown-text OUT_FILE   (writes the Brown corpus's 500 documents as
//                                            plain text, one blank line between them)
//
// Loads the tokenizer (untimed), then encodes the text document by document (documents
// are separated by a blank line, "\n\n", as tokenizer_bench.js does for gpt-3-encoder)
// RUNS times (default 5), single-threaded, each run timed on its own; the word cache stays warm after
// the first run, as gpt-3-encoder's does. Prints one JSON line: bytes, tokens, a checksum
// of the ids (h = (31 h + id) mod 2^31-1, as tokenizer_bench.js computes it), each run's
// seconds and the median throughput in MB/s (10^6 bytes).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "data/brown_corpus.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::unique_ptr<lmf::Tokenizer> tok;
    std::string text_path;
    int runs = 5;
    if (args.size() == 2 && args[0] == "--brown-text") {
      auto src = lmf::data::open_brown(lmf::data::find_brown_dir(""));
      std::string all;
      lmf::data::Document doc;
      while (src->next(doc)) all += (all.empty() ? "" : "\n\n") + doc.text;
      FILE* f = std::fopen(args[1].c_str(), "wb");
      if (!f || std::fwrite(all.data(), 1, all.size(), f) != all.size() || std::fclose(f) != 0) {
        std::fprintf(stderr, "tokenizer_bench: error: cannot write %s\n", args[1].c_str());
        return 1;
      }
      return 0;
    }
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--gpt2" && i + 2 < args.size()) {
        tok = std::make_unique<lmf::BpeTokenizer>(lmf::BpeTokenizer::from_gpt2_files(args[i + 1], args[i + 2]));
        i += 2;
      } else if (args[i] == "--tokenizer" && i + 1 < args.size()) {
        tok = lmf::open_tokenizer(args[++i]);
      } else if (args[i] == "-r" && i + 1 < args.size()) {
        runs = std::max(1, std::atoi(args[++i].c_str()));
      } else {
        text_path = args[i];
      }
    }
    if (!tok || text_path.empty()) {
      std::fprintf(stderr, "usage: tokenizer_bench (--gpt2 ENCODER_JSON VOCAB_BPE | --tokenizer PATH) TEXT [-r RUNS]\n");
      return 2;
    }
    const std::string text = lmf::read_text_file(text_path);
    std::vector<double> secs;
    std::vector<int32_t> ids;
    for (int r = 0; r < runs; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      ids.clear();
      for (size_t b = 0; b <= text.size();) {
        size_t e = text.find("\n\n", b);
        if (e == std::string::npos) e = text.size();
        const std::vector<int32_t> part = tok->encode(std::string_view(text).substr(b, e - b));
        ids.insert(ids.end(), part.begin(), part.end());
        b = e + 2;
      }
      secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    uint64_t h = 0;
    for (int32_t id : ids) h = (h * 31 + static_cast<uint64_t>(id)) % 2147483647u;
    std::vector<double> sorted = secs;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    std::string runs_json;
    for (double s : secs) runs_json += (runs_json.empty() ? "" : ",") + std::to_string(s);
    std::printf("{\"engine\":\"lmforge\",\"bytes\":%zu,\"tokens\":%zu,\"checksum\":%llu,\"runs_s\":[%s],"
                "\"median_mb_s\":%.3f,\"first_mb_s\":%.3f}\n",
                text.size(), ids.size(), static_cast<unsigned long long>(h), runs_json.c_str(),
                text.size() / median / 1e6, text.size() / secs[0] / 1e6);
  } catch (const lmf::Error& e) {
    std::fprintf(stderr, "tokenizer_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// lmforge data: `data prepare`, documents -> tokenized binary shards + manifest.
//
// prepare_dataset() streams documents from a DocumentSource, tokenizes them in
// parallel (OpenMP, batches of documents; output order is the source's order whatever
// the thread count), appends the tokenizer's EOS after every document when it has one,
// and writes, per split S of train/valid/test, into the output folder:
//   S-00000.bin, S-00001.bin, ...  the split's token stream, header-less, little-endian
//                                  uint16 (vocabulary <= 65536) or uint32, at most
//                                  shard_tokens tokens each (documents may straddle)
//   S.idx                          documents + 1 uint64 little-endian offsets: document
//                                  i is tokens [idx[i], idx[i+1]) of the stream (EOS
//                                  included); idx[0] = 0, the last = the split's tokens
//   S.docs.txt                     the document ids, one a line, in stream order
// and last manifest.json (format "lmforge-tokens", version 1; docs/data.md). Every file
// is written under a temporary name and renamed only when all are complete, so a
// failure leaves the folder as it was; files of an earlier manifest that the new one no
// longer lists are removed. The manifest holds nothing machine- or time-dependent but
// the paths it was given.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "data/document.h"
#include "tokenizer/tokenizer.h"

namespace lmf::data {

inline constexpr int kManifestVersion = 1;

struct PrepareOptions {
  std::string out_dir;
  int64_t shard_tokens = 10'000'000;  // at most this many tokens per shard file
  SplitPercent split;
  int threads = 1;
};

struct PrepareProgress {
  int64_t documents = 0, tokens = 0;
  uint64_t bytes_read = 0, bytes_total = 0;  // of the source; bytes_total 0 when unknown
};
using PrepareCallback = std::function<void(const PrepareProgress&)>;

// Writes the dataset and returns its manifest. Throws lmf::Error naming the file or
// flag at fault (and when the source yields no document at all).
nlohmann::ordered_json prepare_dataset(DocumentSource& source, const Tokenizer& tokenizer,
                                       const PrepareOptions& options, const PrepareCallback& progress = nullptr);

}  // namespace lmf::data

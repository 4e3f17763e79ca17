// lmforge formats: the files of a Hugging Face model folder that make up its tokenizer, and
// copying them into an output folder (quantize, train, distill).
#pragma once

#include <string>
#include <vector>

namespace lmf {

// The files a model folder's tokenizer consists of: the tokenizer itself (tokenizer.json,
// SentencePiece tokenizer.model, or GPT-2's vocab.json + merges.txt) and the files beside it
// that its loaders and Hugging Face read (tokenizer_config.json: eos/bos tokens, chat
// template; special_tokens_map.json; added_tokens.json).
inline constexpr const char* kTokenizerFiles[] = {"tokenizer.json",          "tokenizer.model",
                                                  "vocab.json",              "merges.txt",
                                                  "tokenizer_config.json",   "special_tokens_map.json",
                                                  "added_tokens.json",       "chat_template.jinja"};

// Copies the tokenizer at `from` into the folder `to` (which must exist), each file written
// atomically, so an output model folder (quantize, train, distill) loads with the same
// tokenizer as its source. `from` is a model folder (every kTokenizerFiles entry it has) or
// a tokenizer file, written as tokenizer.json (a .json) or tokenizer.model, with the
// tokenizer_config.json, special_tokens_map.json, added_tokens.json and chat_template.jinja beside it. A file
// that already is its destination is left alone. Returns the names written.
std::vector<std::string> copy_tokenizer_files(const std::string& from, const std::string& to);

}  // namespace lmf

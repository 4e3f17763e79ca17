// lmforge compress: the output folder a workflow (quantize, prune) writes a model into.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace lmf::compress {

// -o's absolute path, without a trailing separator ("out/" names "out"), after checking
// that it is given, absent or an empty folder, and not a dangling symbolic link (errors name
// -o); missing parents are created when it is written, as save_pretrained does.
std::filesystem::path output_folder(const std::string& path);

// Writes a model folder `out` from `source`: write(tmp) writes the weights and config.json
// into a temporary sibling folder, then the source's tokenizer files and
// generation_config.json are copied beside them and the folder is renamed to out. A
// failure leaves nothing behind.
void write_output_folder(const std::filesystem::path& out, const std::string& source,
                         const std::function<void(const std::filesystem::path& tmp)>& write);

}  // namespace lmf::compress

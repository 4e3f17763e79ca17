// lmforge data: the user's own text as documents (--text FILE|DIR, --jsonl FILE).
//
//   a folder   every *.txt file below it (recursively, hidden entries skipped, sorted by
//              relative path) is one document, its text verbatim but for a UTF-8 BOM;
//              other files are ignored and counted; id = the relative path.
//   a file     blocks of lines separated by blank (whitespace-only) lines are the
//              documents; a block is its lines joined by '\n' (a '\r' before each
//              newline dropped); id = "NAME:LINE" of the block's first line.
//   JSONL      each non-blank line is a JSON object whose "text" string is a document;
//              other fields are ignored; id = "NAME:LINE".
// Split bucket of a user document: FNV-1a 64 of its text, mod 100, so the split does not
// depend on file names or order and duplicates always land in the same split.
// Bad input (docs/data.md): an empty or blank document is skipped and counted; a NUL byte,
// invalid UTF-8, a JSONL line that is not JSON or has no "text" string is an lmf::Error
// naming the file and line, or, with skip_bad, skipped and counted.
#pragma once

#include <memory>
#include <string>

#include "data/document.h"

namespace lmf::data {

std::unique_ptr<DocumentSource> open_text(const std::string& path, bool skip_bad);
std::unique_ptr<DocumentSource> open_jsonl(const std::string& path, bool skip_bad);

}  // namespace lmf::data

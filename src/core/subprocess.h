// lmforge core: running a child process and collecting what it writes.
#pragma once

#include <string>
#include <vector>

namespace lmf {

struct ProcessResult {
  std::string out, err;        // everything the child wrote to stdout and stderr
  int status = 0;              // as from waitpid (WIFEXITED, WEXITSTATUS, ...)
  double peak_rss_mib = 0;     // the child's peak resident set (wait4's ru_maxrss)
  bool ok() const;             // exited with status 0
};

// Runs `path` with argv (argv[0] included) via posix_spawn, its stdin inherited, and reads
// its stdout and stderr together (poll on both pipes), so a child that fills one pipe
// while the parent waits on the other cannot deadlock. Waits for it to end. Throws
// lmf::Error (kIo) naming path when it cannot be started.
ProcessResult run_process(const std::string& path, const std::vector<std::string>& argv);

}  // namespace lmf

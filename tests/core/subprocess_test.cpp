// Tests for core/subprocess.h: run_process collects a child's stdout and stderr in full
// and its exit status, and a child that writes far more than a pipe holds (64 KiB) to
// stderr before its stdout is done does not deadlock: the child runs under `timeout 30`,
// so a parent that read stdout to the end first would see it killed (status 124 and a
// short stderr) instead of hanging the test.
#include "core/subprocess.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <string>

#include "core/error.h"

namespace lmf {
namespace {

// /bin/sh -c script under timeout(1).
ProcessResult sh(const std::string& script) {
  return run_process("/usr/bin/timeout", {"timeout", "30", "/bin/sh", "-c", script});
}

TEST(RunProcess, StderrPastThePipeBufferDoesNotDeadlock) {
  // 200 KiB to stderr while stdout stays open, then 200 KiB to stdout, then more stderr.
  const ProcessResult r = sh("head -c 204800 /dev/zero | tr '\\0' e >&2; head -c 204800 /dev/zero | tr '\\0' o; "
                             "printf tail >&2");
  ASSERT_TRUE(r.ok()) << "status " << r.status << (WIFEXITED(r.status) ? " exit " : " signal ")
                      << (WIFEXITED(r.status) ? WEXITSTATUS(r.status) : WTERMSIG(r.status));
  EXPECT_EQ(r.out, std::string(204800, 'o'));
  EXPECT_EQ(r.err, std::string(204800, 'e') + "tail");
}

TEST(RunProcess, StdoutPastThePipeBufferWhileStderrStaysOpen) {
  const ProcessResult r = sh("head -c 300000 /dev/zero | tr '\\0' o; printf done >&2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.out.size(), 300000u);
  EXPECT_EQ(r.err, "done");
}

TEST(RunProcess, ExitStatusAndPeakRss) {
  const ProcessResult r = sh("echo out; echo err >&2; exit 3");
  EXPECT_FALSE(r.ok());
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_GT(r.peak_rss_mib, 0.0);
}

TEST(RunProcess, MissingProgramIsAnError) {
  try {
    run_process("/no/such/program", {"x"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/program: cannot start"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lmf

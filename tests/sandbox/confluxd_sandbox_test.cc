// tests/sandbox/confluxd_sandbox_test.cc: confluxd's sandbox in a forked child: no IP socket, no
// file at all (seccomp refuses every open, Landlock every path); connecting to streamd's socket
// still works.
#include "tests/sandbox/sandbox_fixture.h"

namespace onionsplit::sandbox::testing {
namespace {

class ConfluxdSandbox : public SandboxTest {};

ONIONSPLIT_SANDBOX_COMMON_TESTS(ConfluxdSandbox, "confluxd")

TEST_F(ConfluxdSandbox, CannotCreateAnInetSocket) {
  if (!seccompInThisBuild()) GTEST_SKIP() << "sanitizer build: no seccomp layer";
  int st = inSandbox("confluxd", [] {
    if (int r = failsWith(socket(AF_INET, SOCK_STREAM, 0), EAFNOSUPPORT)) return r;
    if (int r = failsWith(socket(AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT)) return 10 + r;
    return failsWith(socket(AF_INET, SOCK_DGRAM, 0), EAFNOSUPPORT) ? 20 : 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(ConfluxdSandbox, CannotOpenAnyFile) {
  std::string k = keys();
  int st = inSandbox("confluxd", [k] {
    for (const auto& f : keyFiles())
      if (int r = refusedToRead(k + "/" + f)) return r;
    if (int r = refusedToRead("/etc/passwd")) return 10 + r;
    return refusedToRead("/dev/null") ? 20 : 0;
  });
  if (!seccompInThisBuild() && landlockAbi() == 0) GTEST_SKIP() << "no seccomp, no Landlock";
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(ConfluxdSandbox, ConnectsToStreamdAgain) {
  std::string streamd = unixListener("streamd");
  int st = inSandbox("confluxd", [&] { return unixConnects(streamd); });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

}  // namespace
}  // namespace onionsplit::sandbox::testing

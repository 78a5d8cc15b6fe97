// tests/sandbox/older_kernels_sandbox_test.cc: the fallback where the kernel has less Landlock
// than this machine, emulated with Options::landlockAbiCap. Debian 12's 6.1 kernel has ABI 2 (files
// only: no TCP port rules, no scope); a kernel without Landlock has ABI 0. The sandbox must still
// enter, pass its self-check and keep every layer the kernel does have.
#include <algorithm>

#include "tests/sandbox/sandbox_fixture.h"

namespace onionsplit::sandbox::testing {
namespace {

class OlderKernels : public SandboxTest {
 protected:
  void exitAcceptingOnly(uint16_t port) {
    cfg_.exitRelay = true;
    cfg_.exitPolicyRejectPrivate = false;
    cfg_.exitPolicy = {"accept *:" + std::to_string(port), "reject *:*"};
  }
};

TEST_F(OlderKernels, Abi2KeepsFileRulesWithoutTcpRules) {
  if (landlockAbi() < 2) GTEST_SKIP() << "this kernel has Landlock ABI " << landlockAbi();
  abiCap_ = 2;
  uint16_t accepted = tcpListener(), other = tcpListener();
  exitAcceptingOnly(accepted);
  std::string k = keys();
  int st = inSandbox("streamd", [k, other] {
    if (int r = refusedToRead(k + "/secret_id_key")) return r;
    int err = 0;  // no TCP rules on ABI 2: streamd's own exit-policy check is what refuses
    return tcpConnects(other, err) == 0 ? 0 : 10;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
  st = inSandbox("channeld", [k] {
    for (const auto& f : onionKeyFiles())
      if (int r = refusedToRead(k + "/" + f)) return r;
    return 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(OlderKernels, Abi2SaysWhatItHas) {
  if (landlockAbi() < 2) GTEST_SKIP() << "this kernel has Landlock ABI " << landlockAbi();
  auto policy = policyFor("circuitd", cfg_);
  ASSERT_TRUE(policy);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    Options o;
    o.landlockAbiCap = 2;
    Entered e;
    std::string error;
    if (!enter(*policy, o, e, error)) _exit(kEnterFailed);
    std::string line = describe(e);
    _exit(::write(fds[1], line.data(), line.size()) == static_cast<ssize_t>(line.size()) ? 0 : 1);
  }
  close(fds[1]);
  char buf[256] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(exitedWith(st, 0)) << show(st);
  std::string line(buf, n > 0 ? static_cast<size_t>(n) : 0);
  EXPECT_NE(line.find("landlock ABI 2 (files)"), std::string::npos) << line;
}

// No Landlock at all: seccomp alone still refuses every open in streamd and confluxd, and any IP
// socket in circuitd and confluxd.
TEST_F(OlderKernels, WithoutLandlockSeccompStillHolds) {
  if (!seccompInThisBuild()) GTEST_SKIP() << "sanitizer build: no seccomp layer";
  abiCap_ = 0;
  std::string k = keys();
  int st = inSandbox("streamd", [k] {
    for (const auto& f : keyFiles())
      if (int r = refusedToRead(k + "/" + f)) return r;
    return 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
  for (const char* daemon : {"circuitd", "confluxd"}) {
    st = inSandbox(daemon, [] { return failsWith(socket(AF_INET, SOCK_STREAM, 0), EAFNOSUPPORT); });
    EXPECT_TRUE(exitedWith(st, 0)) << daemon << ": " << show(st);
  }
  st = inSandbox("circuitd", [] { return execs(); });
  EXPECT_TRUE(killedBySigsys(st)) << show(st);
}

}  // namespace
}  // namespace onionsplit::sandbox::testing

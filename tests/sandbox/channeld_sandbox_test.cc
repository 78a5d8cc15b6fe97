// tests/sandbox/channeld_sandbox_test.cc: channeld's sandbox in a forked child: no onion key and
// no other key file after start-up, no bind (but on port 0 with OutboundBindAddressOR); TCP
// connects anywhere (relays, directory ports) and the descriptor's onion-key file, replaced by the
// launcher, can be read again.
#include "tests/sandbox/sandbox_fixture.h"

namespace onionsplit::sandbox::testing {
namespace {

class ChanneldSandbox : public SandboxTest {};

ONIONSPLIT_SANDBOX_COMMON_TESTS(ChanneldSandbox, "channeld")

TEST_F(ChanneldSandbox, CannotReadTheOnionKeys) {
  if (landlockAbi() == 0) GTEST_SKIP() << "no Landlock in this kernel";
  std::string k = keys();
  int st = inSandbox("channeld", [k] {
    for (const auto& f : onionKeyFiles())
      if (int r = refusedToRead(k + "/" + f)) return r;
    if (int r = refusedToRead(k + "/secret_id_key")) return 10 + r;
    return refusedToRead(k) ? 20 : 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

// The launcher rewrites the file (write and rename: a new inode) when the onion keys rotate, and
// sends SIGHUP; channeld must read the new one.
TEST_F(ChanneldSandbox, RereadsTheDescriptorOnionKeysAfterTheyAreReplaced) {
  std::string path = keys() + "/descriptor/onionsplit-descriptor-onion-keys";
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);
    Entered e;
    Options o;
    std::string error;
    auto policy = policyFor("channeld", cfg_);
    if (!policy || !enter(*policy, o, e, error)) _exit(kEnterFailed);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1);
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (!f) _exit(2);
    char line[64] = {};
    bool fresh = std::fgets(line, sizeof line, f) && std::string(line) == "ntor-public-key 11\n";
    std::fclose(f);
    _exit(fresh ? 0 : 3);
  }
  close(go[0]);
  write(path + ".tmp", "ntor-public-key 11\n");
  ASSERT_EQ(rename((path + ".tmp").c_str(), path.c_str()), 0);
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  close(go[1]);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(ChanneldSandbox, ConnectsOverTcpToAnyPortAndToCircuitd) {
  uint16_t port = tcpListener();
  std::string circuitd = unixListener("circuitd");
  int st = inSandbox("channeld", [&] {
    int err = 0;
    if (tcpConnects(port, err) != 0) return 1;
    return unixConnects(circuitd) ? 10 : 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(ChanneldSandbox, CannotBindAnotherPort) {
  int st = inSandbox("channeld", [] {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return failsWith(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), EACCES) ? 10 : 0;
  });
  if (!seccompInThisBuild() && landlockAbi() < 4) GTEST_SKIP() << "no seccomp, no Landlock TCP";
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

// OutboundBindAddressOR: channeld may bind a TCP socket on port 0 (the kernel picks the port) to
// dial a relay from the configured address; any other port stays refused (Landlock ABI 4+).
TEST_F(ChanneldSandbox, OutboundBindAddressOrAllowsBindOnPortZeroOnly) {
  cfg_.outboundBindAddressOr.ipv4 = "127.0.0.1";
  bool tcpRules = landlockAbi() >= 4;
  int st = inSandbox("channeld", [tcpRules] {
    auto bindsTo = [](uint16_t port) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      int r = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      int err = errno;
      close(fd);
      errno = err;
      return r == 0;
    };
    if (!bindsTo(0)) return 1;
    if (tcpRules && (bindsTo(4321) || errno != EACCES)) return 2;
    return 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

}  // namespace
}  // namespace onionsplit::sandbox::testing

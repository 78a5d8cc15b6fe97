// tests/sandbox/streamd_sandbox_test.cc: streamd's sandbox in a forked child: no key file (no file
// at all), no bind (but on port 0 with OutboundBindAddressExit), TCP connect only to ports the exit
// policy may accept (Landlock ABI 4+); TCP and UDP sockets for exit streams and DNS still work.
#include <algorithm>

#include "tests/sandbox/sandbox_fixture.h"

namespace onionsplit::sandbox::testing {
namespace {

class StreamdSandbox : public SandboxTest {
 protected:
  // An exit that accepts exactly `port`.
  void acceptOnly(uint16_t port) {
    cfg_.exitRelay = true;
    cfg_.exitPolicyRejectPrivate = false;
    cfg_.exitPolicy = {"accept *:" + std::to_string(port), "reject *:*"};
  }
};

ONIONSPLIT_SANDBOX_COMMON_TESTS(StreamdSandbox, "streamd")

TEST_F(StreamdSandbox, CannotReadAnyKeyFile) {
  std::string k = keys(), data = cfg_.dataDirectory;
  int st = inSandbox("streamd", [k, data] {
    for (const auto& f : keyFiles())
      if (int r = refusedToRead(k + "/" + f)) return r;
    if (int r = refusedToRead(k + "/descriptor/onionsplit-descriptor-onion-keys")) return 10 + r;
    if (int r = refusedToRead(k)) return 20 + r;
    return refusedToRead(data + "/fingerprint") ? 30 : 0;
  });
  if (!seccompInThisBuild() && landlockAbi() == 0) GTEST_SKIP() << "no seccomp, no Landlock";
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(StreamdSandbox, ConnectsToAnAcceptedPort) {
  uint16_t port = tcpListener();
  acceptOnly(port);
  int st = inSandbox("streamd", [port] {
    int err = 0;
    return tcpConnects(port, err) == 0 ? 0 : 1;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(StreamdSandbox, CannotConnectToAPortTheExitPolicyRejects) {
  if (landlockAbi() < 4) GTEST_SKIP() << "Landlock ABI " << landlockAbi() << " has no TCP rules";
  uint16_t accepted = tcpListener(), rejected = tcpListener();
  acceptOnly(accepted);
  int st = inSandbox("streamd", [rejected] {
    int err = 0;
    if (tcpConnects(rejected, err) == 0) return 1;
    return err == EACCES ? 0 : 2;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

// C tor's default exit policy: about 65,400 accepted ports, one Landlock rule each. The kernel
// refuses a port in its BitTorrent range and allows an ephemeral one; entering stays quick.
TEST_F(StreamdSandbox, DefaultExitPolicyPortsAreEnforcedByTheKernel) {
  if (landlockAbi() < 4) GTEST_SKIP() << "Landlock ABI " << landlockAbi() << " has no TCP rules";
  cfg_.exitRelay = true;
  cfg_.exitPolicyRejectPrivate = false;
  auto ports = exitPorts(cfg_);
  ASSERT_TRUE(ports);
  EXPECT_FALSE(std::binary_search(ports->begin(), ports->end(), uint16_t{6969}));
  EXPECT_TRUE(std::binary_search(ports->begin(), ports->end(), uint16_t{443}));
  uint16_t accepted = tcpListener();
  int st = inSandbox("streamd", [accepted] {
    int err = 0;
    if (tcpConnects(accepted, err) != 0) return 1;
    // Nothing listens on 6969; the kernel's answer comes before any packet: EACCES, not
    // ECONNREFUSED.
    if (tcpConnects(6969, err) == 0) return 2;
    return err == EACCES ? 0 : 3;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(StreamdSandbox, UdpForDnsWorks) {
  int server = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(server, reinterpret_cast<sockaddr*>(&a), &len);
  fds_.push_back(server);
  int st = inSandbox("streamd", [a] {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 1;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return 2;
    return send(fd, "q", 1, 0) == 1 ? 0 : 3;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
  char buf[4];
  EXPECT_EQ(recv(server, buf, sizeof buf, MSG_DONTWAIT), 1);
}

TEST_F(StreamdSandbox, CannotBindNorMakeRawSockets) {
  int st = inSandbox("streamd", [] {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (int r = failsWith(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), EACCES))
      return 10 + r;
    if (!seccompInThisBuild()) return 0;
    return failsWith(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), EPROTOTYPE) ? 20 : 0;
  });
  if (!seccompInThisBuild() && landlockAbi() < 4) GTEST_SKIP() << "no seccomp, no Landlock TCP";
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

// OutboundBindAddressExit: streamd may bind a TCP socket to the configured address on port 0 (the
// kernel picks the port) and connect from it; any other port stays refused (Landlock ABI 4+).
TEST_F(StreamdSandbox, OutboundBindAddressExitAllowsBindOnPortZeroOnly) {
  uint16_t port = tcpListener();
  acceptOnly(port);
  cfg_.outboundBindAddressExit.ipv4 = "127.0.0.1";
  bool tcpRules = landlockAbi() >= 4;
  int st = inSandbox("streamd", [port, tcpRules] {
    auto bindTo = [](uint16_t local) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(local);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      int r = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      int err = errno;
      if (r != 0) {
        close(fd);
        errno = err;
        return -1;
      }
      return fd;
    };
    int fd = bindTo(0);
    if (fd < 0) return 1;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)
      return 2;
    close(fd);
    if (tcpRules && (bindTo(port) >= 0 || errno != EACCES)) return 3;
    return 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

}  // namespace
}  // namespace onionsplit::sandbox::testing

// tests/sandbox/circuitd_sandbox_test.cc: circuitd's sandbox (common/sandbox/policy.cc) in a forked
// child: no IP socket of any kind, no file outside its key directory (keys/onion), so no identity
// secret; its Unix-socket IPC and the reload of its onion keys still work.
#include "tests/sandbox/sandbox_fixture.h"

namespace onionsplit::sandbox::testing {
namespace {

class CircuitdSandbox : public SandboxTest {};

ONIONSPLIT_SANDBOX_COMMON_TESTS(CircuitdSandbox, "circuitd")

TEST_F(CircuitdSandbox, CannotCreateAnInetSocket) {
  if (!seccompInThisBuild()) GTEST_SKIP() << "sanitizer build: no seccomp layer";
  int st = inSandbox("circuitd", [] {
    for (int family : {AF_INET, AF_INET6})
      for (int type : {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW})
        if (int r = failsWith(socket(family, type, 0), EAFNOSUPPORT)) return r;
    if (int r = failsWith(socket(AF_NETLINK, SOCK_RAW, 0), EAFNOSUPPORT)) return 10 + r;
    return failsWith(socket(AF_PACKET, SOCK_RAW, 0), EAFNOSUPPORT) ? 20 : 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

// Without seccomp (sanitizer builds) Landlock alone still refuses TCP: connect is handled and no
// port is allowed.
TEST_F(CircuitdSandbox, LandlockAloneRefusesTcpConnect) {
  if (seccompInThisBuild()) GTEST_SKIP() << "seccomp refuses the socket first";
  if (landlockAbi() < 4) GTEST_SKIP() << "Landlock ABI " << landlockAbi() << " has no TCP rules";
  uint16_t port = tcpListener();
  int st = inSandbox("circuitd", [port] {
    int err = 0;
    return failsWith(tcpConnects(port, err), EACCES) == 0 && err == EACCES ? 0 : 1;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(CircuitdSandbox, ConnectsToPeerSocketsAgain) {
  std::string streamd = unixListener("streamd"), confluxd = unixListener("confluxd");
  int st = inSandbox("circuitd", [&] {
    if (int r = unixConnects(streamd)) return r;
    return unixConnects(confluxd) ? 10 : 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(CircuitdSandbox, RereadsItsOnionKeysAndFingerprint) {
  std::string k = keys() + "/onion";
  int st = inSandbox("circuitd", [&] {
    if (int r = opens(k + "/secret_onion_key_ntor")) return r;
    if (int r = opens(k + "/secret_onion_key_ntor.old")) return 10 + r;
    if (int r = opens(k + "/ed25519_master_id_public_key")) return 20 + r;
    return opens(k + "/fingerprint") ? 30 : 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

// Under a root launcher circuitd keeps CAP_DAC_OVERRIDE (to read keys the launcher owns), so
// Landlock alone must keep every identity secret out of its reach.
TEST_F(CircuitdSandbox, CannotReadAnyIdentitySecret) {
  if (landlockAbi() == 0) GTEST_SKIP() << "no Landlock in this kernel";
  std::string k = keys();
  int st = inSandbox("circuitd", [k] {
    int n = 0;
    for (const char* f : {"secret_id_key", "ed25519_master_id_secret_key",
                          "ed25519_signing_secret_key", "secret_onion_key"}) {
      if (int r = refusedToRead(k + "/" + f)) return n + r;
      n += 10;
    }
    return refusedToRead(k) ? 50 : 0;  // nor list the directory
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(CircuitdSandbox, CannotReadOutsideDataDirectoryNorWrite) {
  if (landlockAbi() == 0) GTEST_SKIP() << "no Landlock in this kernel";
  std::string key = keys() + "/onion/secret_onion_key_ntor";
  int st = inSandbox("circuitd", [key] {
    if (int r = refusedToRead("/etc/passwd")) return r;
    if (int r = refusedToRead("/etc")) return 10 + r;
    int fd = open(key.c_str(), O_WRONLY | O_CLOEXEC);
    return fd < 0 && errno == EACCES ? 0 : 20;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(CircuitdSandbox, CannotFork) {
  if (!seccompInThisBuild()) GTEST_SKIP() << "sanitizer build: no seccomp layer";
  int st = inSandbox("circuitd", [] {
    pid_t p = fork();
    if (p == 0) _exit(0);
    return 1;
  });
  EXPECT_TRUE(killedBySigsys(st)) << show(st);
}

}  // namespace
}  // namespace onionsplit::sandbox::testing

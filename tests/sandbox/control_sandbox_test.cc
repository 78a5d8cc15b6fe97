// tests/sandbox/control_sandbox_test.cc: the sandbox of `onionsplit control` (the ControlPort
// under systemd, launcher/control_service.h) in a forked child: no IP socket of its own, no file,
// and with its torrc's directory added (for SIGNAL RELOAD) that directory and nothing else, never
// a key; accepting on the listening socket it was given and connecting to the daemons' Unix
// sockets still work.
#include "common/sandbox/policy.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace onionsplit::sandbox::testing {
namespace {

class ControlSandbox : public SandboxTest {};

ONIONSPLIT_SANDBOX_COMMON_TESTS(ControlSandbox, "control")

TEST_F(ControlSandbox, CannotCreateAnInetSocket) {
  if (!seccompInThisBuild()) GTEST_SKIP() << "sanitizer build: no seccomp layer";
  int st = inSandbox("control", [] {
    if (int r = failsWith(socket(AF_INET, SOCK_STREAM, 0), EAFNOSUPPORT)) return r;
    return failsWith(socket(AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT) ? 10 : 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

TEST_F(ControlSandbox, CannotOpenAnyFile) {
  std::string k = keys();
  std::string fp = cfg_.dataDirectory + "/fingerprint";
  int st = inSandbox("control", [k, fp] {
    for (const auto& f : keyFiles())
      if (int r = refusedToRead(k + "/" + f)) return r;
    if (int r = refusedToRead(fp)) return 10 + r;
    return refusedToRead("/etc/passwd") ? 20 : 0;
  });
  if (!seccompInThisBuild() && landlockAbi() == 0) GTEST_SKIP() << "no seccomp, no Landlock";
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

// As the service adds it: the torrc's directory, readable; the keys and DataDirectory are not.
TEST_F(ControlSandbox, ReadsItsTorrcDirectoryAndStillNoKey) {
  if (landlockAbi() <= 0) GTEST_SKIP() << "the service adds the directory only under Landlock";
  std::string etc = dir_ + "/etc";
  std::filesystem::create_directories(etc);
  write(etc + "/torrc", "Nickname x\n");
  std::string k = keys();
  std::string fp = cfg_.dataDirectory + "/fingerprint";
  auto addEtc = [this, etc](Policy& p) { EXPECT_TRUE(allowConfigDirectory(p, etc, cfg_)); };
  int st = inSandbox(
      "control",
      [k, fp, etc] {
        if (int r = opens(etc + "/torrc")) return r;
        for (const auto& f : keyFiles())
          if (int r = refusedToRead(k + "/" + f)) return 10 + r;
        return refusedToRead(fp) ? 20 : 0;
      },
      config::SandboxSyscalls::kKill, addEtc);
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
  Policy p;  // a torrc beside the keys (DataDirectory's parent) is never added
  EXPECT_FALSE(allowConfigDirectory(p, dir_, cfg_));
  EXPECT_TRUE(p.readPaths.empty());
}

// The listening socket systemd passed (a controller already waiting on it) is accepted on, and
// the daemons' sockets are reached.
TEST_F(ControlSandbox, AcceptsOnItsSocketAndConnectsToTheDaemons) {
  uint16_t port = tcpListener();
  int listener = fds_.back();
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << errno;
  fds_.push_back(client);
  std::string channeld = unixListener("channeld");
  int st = inSandbox("control", [&] {
    int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return 1;
    close(conn);
    return unixConnects(channeld) ? 2 : 0;
  });
  EXPECT_TRUE(exitedWith(st, 0)) << show(st);
}

}  // namespace
}  // namespace onionsplit::sandbox::testing

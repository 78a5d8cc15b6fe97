// tests/sandbox/sandbox_fixture.h: what the four tests/sandbox/ files share. A fixture
// DataDirectory with every key file C tor and onionsplit keep (fake contents, mode 0644 in 0755
// directories, so that only the sandbox can be what refuses a read), local listeners, and
// inSandbox(): fork, enter the daemon's production policy (sandbox::policyFor + sandbox::enter +
// sandbox::selfCheck) in the child, run a body there, and hand the wait status back.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/sandbox/sandbox.h"
#include "common/sandbox/seccomp_filter.h"

namespace onionsplit::sandbox::testing {

// Child exit codes besides the body's own.
constexpr int kEnterFailed = 90;
constexpr int kSelfCheckFailed = 91;

inline const std::vector<std::string>& keyFiles() {
  static const std::vector<std::string> k = {
      "secret_id_key",
      "ed25519_master_id_secret_key",
      "ed25519_master_id_public_key",
      "ed25519_signing_secret_key",
      "ed25519_signing_cert",
      "secret_onion_key_ntor",
      "secret_onion_key_ntor.old",
      "secret_onion_key",
      "secret_onion_key.old",
  };
  return k;
}

inline const std::vector<std::string>& onionKeyFiles() {
  static const std::vector<std::string> k = {"secret_onion_key_ntor", "secret_onion_key_ntor.old",
                                             "secret_onion_key", "secret_onion_key.old"};
  return k;
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/onionsplit-sandbox-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    cfg_.dataDirectory = dir_ + "/data";
    cfg_.ipcDirectory = dir_ + "/ipc";
    for (const auto& d : {cfg_.dataDirectory, keys(), keys() + "/descriptor", keys() + "/onion",
                          cfg_.ipcDirectory}) {
      std::filesystem::create_directories(d);
      chmod(d.c_str(), 0755);
    }
    for (const auto& k : keyFiles())
      write(keys() + "/" + k, "fake " + k + "\n");
    write(keys() + "/descriptor/onionsplit-descriptor-onion-keys", "ntor-public-key 00\n");
    write(cfg_.dataDirectory + "/fingerprint", "Unnamed 0000\n");
    for (const char* k : {"secret_onion_key_ntor", "secret_onion_key_ntor.old",
                          "ed25519_master_id_public_key", "fingerprint"})
      write(keys() + "/onion/" + k, std::string("fake copy of ") + k + "\n");
  }
  void TearDown() override {
    for (int fd : fds_)
      close(fd);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string keys() const { return cfg_.dataDirectory + "/keys"; }

  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    chmod(path.c_str(), 0644);
  }

  // A listening TCP socket on 127.0.0.1 (port 0: the kernel picks); its port.
  uint16_t tcpListener() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    fds_.push_back(fd);
    return ntohs(a.sin_port);
  }

  // A listening Unix socket in IPCDirectory, as the launcher makes them; its path.
  std::string unixListener(const std::string& name) {
    std::string path = cfg_.ipcDirectory + "/" + name + ".sock";
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd, 8), 0);
    chmod(path.c_str(), 0660);
    fds_.push_back(fd);
    return path;
  }

  // Forks; the child enters `daemon`'s sandbox under cfg_ (with what `adjust` adds to it, as a
  // process adds its configuration's directory) and exits with body()'s value. Returns the
  // child's wait status.
  int inSandbox(const std::string& daemon, const std::function<int()>& body,
                config::SandboxSyscalls action = config::SandboxSyscalls::kKill,
                const std::function<void(Policy&)>& adjust = {}) {
    auto policy = policyFor(daemon, cfg_);
    EXPECT_TRUE(policy) << (policy ? "" : policy.error());
    if (!policy) return -1;
    if (adjust) adjust(*policy);
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      Options o;
      o.syscalls = action;
      o.landlockAbiCap = abiCap_;
      Entered e;
      std::string error;
      if (!enter(*policy, o, e, error)) {
        std::fprintf(stderr, "enter: %s\n", error.c_str());
        _exit(kEnterFailed);
      }
      if (!selfCheck(*policy, e, error)) {
        std::fprintf(stderr, "self-check: %s\n", error.c_str());
        _exit(kSelfCheckFailed);
      }
      _exit(body());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  }

  config::Config cfg_;
  int abiCap_ = -1;  // as on a kernel with at most this Landlock ABI (-1: this kernel's)
  std::string dir_;
  std::vector<int> fds_;
};

// The body's verdicts: 0 when the call failed with `err` exactly, 1 when it succeeded, 2 when it
// failed otherwise.
inline int failsWith(int rc, int err) {
  if (rc >= 0) return 1;
  return errno == err ? 0 : 2;
}
inline int opens(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 2;
  char c;
  bool ok = read(fd, &c, 1) == 1;
  close(fd);
  return ok ? 0 : 3;
}
inline int refusedToRead(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return 1;
  }
  return errno == EACCES ? 0 : 2;
}
inline int tcpConnects(uint16_t port, int& err) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  err = errno;
  close(fd);
  return rc;
}
inline int unixConnects(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 2;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  close(fd);
  return rc == 0 ? 0 : 3;
}
inline int execs() {
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  execv("/bin/true", argv);
  return errno == ENOSYS ? 4 : 5;
}
// Attaching to the parent (the test runner): seccomp kills; without seccomp (sanitizer builds)
// Landlock refuses a tracee outside the domain with EPERM.
inline int ptracesParent() {
  long rc = ptrace(PTRACE_ATTACH, getppid(), nullptr, nullptr);
  if (rc == 0) return 1;
  return errno == EPERM ? 0 : 2;
}

inline bool exitedWith(int status, int code) {
  return WIFEXITED(status) && WEXITSTATUS(status) == code;
}
inline bool killedBySigsys(int status) {
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}
inline std::string show(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// What every daemon's sandbox must do, as tests in `Suite` for `daemon`.
#define ONIONSPLIT_SANDBOX_COMMON_TESTS(Suite, daemon)                                        \
  TEST_F(Suite, EntersAndPassesTheSelfCheck) {                                                \
    int st = inSandbox(daemon, [] {                                                           \
      if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 1;                              \
      return geteuid() == 0 ? 2 : 0;                                                          \
    });                                                                                       \
    EXPECT_TRUE(exitedWith(st, 0)) << show(st);                                               \
  }                                                                                           \
  TEST_F(Suite, ExecveKills) {                                                                \
    if (!seccompInThisBuild()) GTEST_SKIP() << "sanitizer build: no seccomp layer";           \
    int st = inSandbox(daemon, [] { return execs(); });                                       \
    EXPECT_TRUE(killedBySigsys(st)) << show(st);                                              \
  }                                                                                           \
  TEST_F(Suite, PtraceOfAnotherProcessFails) {                                                \
    int st = inSandbox(daemon, [] { return ptracesParent(); });                               \
    if (seccompInThisBuild()) {                                                               \
      EXPECT_TRUE(killedBySigsys(st)) << show(st);                                            \
    } else {                                                                                  \
      if (landlockAbi() == 0) GTEST_SKIP() << "no seccomp and no Landlock";                   \
      EXPECT_TRUE(exitedWith(st, 0)) << show(st);                                             \
    }                                                                                         \
  }                                                                                           \
  TEST_F(Suite, SignalsToOtherProcessesFail) {                                                \
    int st = inSandbox(daemon, [] { return failsWith(kill(getppid(), 0), EPERM); });          \
    if (!seccompInThisBuild() && landlockAbi() < 6) GTEST_SKIP() << "needs seccomp or ABI 6"; \
    EXPECT_TRUE(exitedWith(st, 0)) << show(st);                                               \
  }                                                                                           \
  TEST_F(Suite, TrapModeReportsTheCallAndCarriesOn) {                                         \
    if (!seccompInThisBuild()) GTEST_SKIP() << "sanitizer build: no seccomp layer";           \
    int st = inSandbox(                                                                       \
        daemon, [] { return execs(); }, config::SandboxSyscalls::kTrap);                      \
    EXPECT_TRUE(exitedWith(st, 4)) << show(st) << " (4: execve failed with ENOSYS)";          \
  }                                                                                           \
  TEST_F(Suite, LeavesRootForAnUnprivilegedUser) {                                            \
    if (geteuid() != 0) GTEST_SKIP() << "needs root";                                         \
    int st = inSandbox(daemon, [] {                                                           \
      uid_t r, e, s;                                                                          \
      getresuid(&r, &e, &s);                                                                  \
      return r != 0 && e != 0 && s != 0 ? 0 : 1;                                              \
    });                                                                                       \
    EXPECT_TRUE(exitedWith(st, 0)) << show(st);                                               \
  }

}  // namespace onionsplit::sandbox::testing

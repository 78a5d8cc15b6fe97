// tests/sandbox/daemons_sandbox_test.cc: the integration tier of tests/sandbox/. The real launcher
// and the four real daemons with `SandboxSyscalls trap` (a call outside an allowlist is logged as
// "sandbox: SIGSYS ..." and fails, instead of killing): every daemon enters its sandbox and
// reports ready, a key reload (SIGHUP) and a peer's restart with reconnects go through, and no
// daemon made a call its allowlist lacks. Started as root, the daemons leave root and circuitd
// and confluxd sit in a network namespace of their own.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "common/sandbox/seccomp_filter.h"
#include "launcher/status.h"

namespace onionsplit::sandbox {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

std::map<std::string, launcher::DaemonStatus> statusOf(const std::string& ipc) {
  std::map<std::string, launcher::DaemonStatus> m;
  for (auto& d : launcher::queryStatus(ipc, std::chrono::milliseconds(1000)))
    m[d.name] = d;
  return m;
}

bool allReady(const std::map<std::string, launcher::DaemonStatus>& m) {
  if (m.size() != 4) return false;
  for (auto& [n, d] : m)
    if (!d.reachable || d.health != "ready") return false;
  return true;
}

// Polls every 100 ms until `pred` holds, for at most 20 s (a status query may itself take 1 s).
template <class Pred>
bool waitUntil(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The real uid of `pid` (the first value of the Uid: line of /proc/PID/status).
std::string uidOf(uint32_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Uid:\t", 0) != 0) continue;
    std::string rest = line.substr(5);
    return rest.substr(0, rest.find('\t'));
  }
  return "";
}

std::string netns(uint32_t pid) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/net", ec).string();
}

class DaemonsSandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/onionsplit-sandboxed-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    std::ofstream(dir_ + "/torrc") << "DataDirectory " << dir_ << "/data\nNickname sandboxed\n"
                                   << "ORPort 127.0.0.1:0\nSandboxSyscalls trap\n"
                                   << "Log info file " << dir_ << "/log\n";
    std::string bin = std::string(ONIONSPLIT_BIN_DIR) + "/onionsplit";
    std::string err = dir_ + "/stderr";
    pid_ = fork();
    if (pid_ == 0) {
      int out = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(out, 2);
      unsetenv("ONIONSPLIT_SANDBOX_SYSCALLS");
      execl(bin.c_str(), "onionsplit", "-f", (dir_ + "/torrc").c_str(), nullptr);
      _exit(127);
    }
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      bool exited = waitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; });
      if (!exited) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string ipc() const { return dir_ + "/data/ipc"; }
  std::string logs() const { return readFile(dir_ + "/log") + readFile(dir_ + "/stderr"); }
  // What a failure prints: the first lines about the sandbox, and the last lines.
  std::string summary() const {
    std::string all = logs(), out;
    size_t shown = 0;
    for (size_t at = 0, end; at < all.size() && shown < 20; at = end + 1) {
      end = all.find('\n', at);
      if (end == std::string::npos) end = all.size();
      std::string line = all.substr(at, end - at);
      if (line.find("sandbox") != std::string::npos) {
        out += line + "\n";
        ++shown;
      }
    }
    return out + "...\n" + all.substr(all.size() > 3000 ? all.size() - 3000 : 0);
  }

  std::string dir_;
  pid_t pid_ = -1;
};

TEST_F(DaemonsSandbox, EveryDaemonRunsSandboxedThroughReloadAndRestart) {
  ASSERT_GT(pid_, 0);
  std::map<std::string, launcher::DaemonStatus> st;
  ASSERT_TRUE(waitUntil([&] { return allReady(st = statusOf(ipc())); })) << summary();
  EXPECT_EQ(count(logs(), "sandbox: entered"), 4u) << summary();

  if (geteuid() == 0) {
    std::string ours = netns(static_cast<uint32_t>(getpid()));
    for (auto& [name, d] : st) {
      EXPECT_NE(uidOf(d.pid), "0") << name << " is still root";
      bool isolated = name == "circuitd" || name == "confluxd";
      EXPECT_EQ(netns(d.pid) != ours, isolated) << name << " network namespace";
    }
  }

  // Keys reload: circuitd rereads DataDirectory, channeld its descriptor onion-key file.
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  EXPECT_TRUE(waitUntil([&] { return count(logs(), "onion keys reloaded") >= 1; })) << summary();

  // streamd restarts: circuitd and confluxd connect to it again from inside their sandboxes.
  uint32_t old = st["streamd"].pid;
  ASSERT_EQ(kill(static_cast<pid_t>(old), SIGKILL), 0);
  EXPECT_TRUE(waitUntil([&] {
    st = statusOf(ipc());
    return allReady(st) && st["streamd"].pid != old;
  })) << summary();
  EXPECT_EQ(count(logs(), "sandbox: entered"), 5u) << summary();

  EXPECT_EQ(count(logs(), "SIGSYS"), 0u) << summary();
  EXPECT_EQ(count(logs(), "seccomp trap"), seccompInThisBuild() ? 5u : 0u) << summary();
}

}  // namespace
}  // namespace onionsplit::sandbox

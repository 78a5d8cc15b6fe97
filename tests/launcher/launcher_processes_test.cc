// The launcher with the four real daemons: `onionsplit -f FILE` on a minimal config runs channeld,
// circuitd, streamd and confluxd connected over Unix sockets; kill -9 of any one is followed by its
// restart while the others keep running (same pids), and SIGTERM stops them all; SIGINT as C tor
// (ShutdownWaitLength). With NumCPUs 2, two circuitd shards, each supervised alone.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/accounting/accounting.h"
#include "common/flowctl/mem_budget.h"
#include "common/ipc/peers.h"
#include "launcher/daemons.h"
#include "launcher/status.h"

namespace onionsplit::launcher {
namespace {

// Each of `names` (by default the four daemons with one circuitd shard) as it answers.
std::map<std::string, DaemonStatus> statusOf(
    const std::string& ipc, const std::vector<std::string>& names = daemonNames(1)) {
  std::map<std::string, DaemonStatus> m;
  for (auto& d : queryStatus(ipc, std::chrono::milliseconds(1000), names))
    m[d.name] = d;
  return m;
}

bool allReady(const std::map<std::string, DaemonStatus>& m, size_t daemons = 4) {
  if (m.size() != daemons) return false;
  for (auto& [n, d] : m)
    if (!d.reachable || d.health != "ready") return false;
  return true;
}

// Polls (bounded: 150 x 100 ms) until every daemon of `names` is ready and `pred` holds.
template <class Pred>
std::map<std::string, DaemonStatus> waitFor(
    const std::string& ipc, Pred pred, const std::vector<std::string>& names = daemonNames(1)) {
  std::map<std::string, DaemonStatus> m;
  for (int i = 0; i < 150; ++i) {
    m = statusOf(ipc, names);
    if (allReady(m, names.size()) && pred(m)) return m;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "daemons did not become ready";
  return m;
}

// One launcher under test: a temporary directory (mode 0755, so a User can reach DataDirectory)
// with a torrc (`extra` appended to a minimal config, "@DIR@" standing for the directory),
// `onionsplit -f` started on it, and stop() that ends it with SIGTERM (SIGKILL if it lingers) and
// removes the directory.
struct Launcher {
  std::string dir;
  pid_t pid = -1;

  // `before` runs on the directory once the torrc is there, before the launcher starts; `args`
  // follow "-f torrc" on its command line.
  explicit Launcher(const std::string& extra,
                    const std::function<void(const std::string&)>& before = {},
                    const std::vector<std::string>& args = {}) {
    char tmpl[] = "/tmp/onionsplit-launcher-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    chmod(dir.c_str(), 0755);
    std::string text = extra;
    for (size_t at; (at = text.find("@DIR@")) != std::string::npos;)
      text.replace(at, 5, dir);
    rewrite(text);
    if (before) before(dir);
    std::string bin = std::string(ONIONSPLIT_BIN_DIR) + "/onionsplit", torrc = dir + "/torrc";
    std::vector<char*> argv = {bin.data(), const_cast<char*>("-f"), torrc.data()};
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  // Writes the torrc: the minimal config and `text` ("@DIR@" already replaced).
  void rewrite(const std::string& text) const {
    std::ofstream(dir + "/torrc") << "DataDirectory " << dir << "/data\nNickname launchertest\n"
                                  << (text.find("ORPort") == std::string::npos
                                          ? "ORPort 127.0.0.1:0\n"
                                          : "")
                                  << text;
  }
  std::string log() const {
    std::ifstream in(dir + "/data/log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string ipc() const { return dir + "/data/ipc"; }
  // True if the launcher exited by itself after SIGTERM.
  bool stop() {
    int status = 0;
    bool exited = false;
    if (pid > 0 && kill(pid, SIGTERM) == 0) {
      for (int i = 0; i < 150 && !exited; ++i) {
        exited = waitpid(pid, &status, WNOHANG) == pid;
        if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
    }
    pid = -1;
    if (!dir.empty()) std::filesystem::remove_all(dir);
    return exited && WIFEXITED(status);
  }
  ~Launcher() {
    if (pid > 0) stop();
  }
};

TEST(LauncherProcesses, FourDaemonsConnectAndEachRestartsAloneAfterKill9) {
  Launcher l("Log notice file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  auto before = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(before));
  for (auto& [n, d] : before)
    EXPECT_GT(d.pid, 0u) << n;

  for (const char* victim : {"streamd", "confluxd", "circuitd", "channeld"}) {
    uint32_t old = before[victim].pid;
    ASSERT_EQ(kill(static_cast<pid_t>(old), SIGKILL), 0) << victim;
    auto after = waitFor(l.ipc(), [&](auto& m) { return m[victim].pid != old; });
    EXPECT_NE(after[victim].pid, old) << victim << " was not restarted";
    for (auto& [n, d] : after)
      if (n != victim) {
        EXPECT_EQ(d.pid, before[n].pid) << n << " restarted when " << victim << " died";
      }
    before = after;
  }

  EXPECT_TRUE(l.stop()) << "launcher did not stop";
  for (auto& [n, d] : before)
    EXPECT_NE(kill(static_cast<pid_t>(d.pid), 0), 0) << n << " still running";
}

// Onion keys rotate while the relay runs: with the ntor key 29 days old, the launcher's key check
// (here triggered by SIGHUP, otherwise hourly) rotates it, keeps the old one as .old, and circuitd
// reloads both without restarting.
TEST(LauncherProcesses, OnionKeysRotateWhileRunningAndCircuitdReloadsThem) {
  Launcher l("Log info file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  auto before = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(before));
  std::string ntor = l.dir + "/data/keys/secret_onion_key_ntor";
  auto old = std::filesystem::last_write_time(ntor);
  std::filesystem::last_write_time(ntor, old - std::chrono::hours(24 * 29));
  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  auto readLog = [&] {
    std::ifstream in(l.dir + "/data/log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  bool reloaded = false;
  for (int i = 0; i < 100 && !reloaded; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reloaded = readLog().find("onion keys reloaded (2 in use)") != std::string::npos;
  }
  EXPECT_TRUE(reloaded) << readLog();
  EXPECT_TRUE(std::filesystem::exists(ntor + ".old"));
  auto after = statusOf(l.ipc());
  EXPECT_EQ(after["circuitd"].pid, before["circuitd"].pid) << "circuitd reloaded, not restarted";
}

// C tor's User: started as root with `User nobody`, the daemons run as nobody and work.
TEST(LauncherProcesses, UserMakesEveryDaemonRunAsThatUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  const passwd* pw = getpwnam("nobody");
  if (!pw) GTEST_SKIP() << "no user nobody";
  uid_t nobody = pw->pw_uid;
  Launcher l("User nobody\nLog notice file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  auto ready = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(ready));
  auto uidOf = [](uint32_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("Uid:", 0) == 0) return static_cast<uid_t>(std::stoul(line.substr(4)));
    return static_cast<uid_t>(-1);
  };
  for (auto& [name, d] : ready)
    EXPECT_EQ(uidOf(d.pid), nobody) << name;
  EXPECT_EQ(uidOf(static_cast<uint32_t>(l.pid)), nobody) << "the launcher";
}

// Debian's tor@default arrangement: started as root with `User`, an ORPort below 1024 and a log
// file in a directory only root may write. As C tor does, the launcher binds the port and creates
// the log file before it becomes the user; every daemon then starts once and logs to the file.
TEST(LauncherProcesses, LowOrPortAndRootOwnedLogDirectoryWorkWithUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!getpwnam("nobody")) GTEST_SKIP() << "no user nobody";
  uint16_t low = 0;
  for (uint16_t p = 700; p < 1000 && low == 0; ++p) {
    int fd = ipc::listenTcp("127.0.0.1", p);
    if (fd >= 0) low = p;
    if (fd >= 0) close(fd);
  }
  ASSERT_NE(low, 0) << "no free port below 1024";
  Launcher l("User nobody\nORPort 127.0.0.1:" + std::to_string(low) +
             "\nLog notice file @DIR@/notices.log\n");
  ASSERT_GT(l.pid, 0);
  auto ready = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(ready));
  std::ifstream in(l.dir + "/notices.log");
  std::string log(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(log.find("ORPort listening on 127.0.0.1:" + std::to_string(low) + " (socket passed"),
            std::string::npos)
      << log;
  for (const char* name : {"channeld", "circuitd", "streamd", "confluxd"}) {
    EXPECT_NE(log.find(std::string("] ") + name + ": "), std::string::npos) << name << "\n" << log;
    // The launcher's own events reach the same file.
    EXPECT_NE(log.find(std::string("[notice] launcher: started ") + name), std::string::npos)
        << name << "\n"
        << log;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto later = statusOf(l.ipc());
  for (auto& [name, d] : ready)
    EXPECT_EQ(later[name].pid, d.pid) << name << " restarted";
}

// Whether `pid` runs (a zombie that no one reaped yet does not: an orphan's reaper may be slow).
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// C tor's RunAsDaemon and PidFile: the process started exits 0 once the relay runs in the
// background, whose pid is in the PidFile; SIGTERM to it stops everything and removes the file.
TEST(LauncherProcesses, RunAsDaemonGoesToTheBackgroundAndWritesItsPidFile) {
  Launcher l("RunAsDaemon 1\nPidFile @DIR@/onionsplit.pid\nLog notice file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 150 && !exited; ++i) {
    exited = waitpid(l.pid, &status, WNOHANG) == l.pid;
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(exited) << "the foreground process did not exit";
  l.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  pid_t daemon = 0;
  std::ifstream(l.dir + "/onionsplit.pid") >> daemon;
  ASSERT_GT(daemon, 0);
  struct Reap {  // never leave the background launcher running
    pid_t pid;
    ~Reap() { kill(pid, SIGKILL); }
  } reap{daemon};
  auto ready = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(ready));
  ASSERT_EQ(kill(daemon, SIGTERM), 0);
  bool gone = false;
  for (int i = 0; i < 150 && !gone; ++i) {
    gone = !alive(daemon) && std::none_of(ready.begin(), ready.end(), [](auto& d) {
      return alive(static_cast<pid_t>(d.second.pid));
    });
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << "the launcher or a daemon still runs";
  EXPECT_FALSE(std::filesystem::exists(l.dir + "/onionsplit.pid"));
  l.stop();
}

uint64_t counterOf(const DaemonStatus& d, const std::string& name) {
  for (const auto& [n, v] : d.counters)
    if (n == name) return v;
  return 0;
}

// Polls the log (bounded: 100 x 100 ms) until it holds `text` `times` times.
bool logShows(const Launcher& l, const std::string& text, size_t times = 1) {
  for (int i = 0; i < 100; ++i) {
    std::string log = l.log();
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1))
      ++n;
    if (n >= times) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// C tor's reload: SIGHUP to the launcher reads the torrc again. A narrower exit policy replaces
// streamd's without a restart; a file with a bad line, or one that changes an option that cannot
// change while running, is refused and everything runs on; a policy that opens new ports makes
// streamd alone restart into a sandbox that allows them.
TEST(LauncherProcesses, SighupReloadsTheTorrcAsCtorDoes) {
  // As root, the daemons run as a User (else streamd, which leaves root without file access,
  // restarts on every reload instead; see Runtime::canReread).
  const std::string user = geteuid() == 0 && getpwnam("nobody") ? "User nobody\n" : "";
  const std::string base = user + "ExitRelay 1\nLog info file @DIR@/data/log\n";
  Launcher l(base + "ExitPolicy accept *:80\nExitPolicy accept *:443\nExitPolicy reject *:*\n");
  ASSERT_GT(l.pid, 0);
  auto before = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(before));
  auto withDir = [&](std::string text) {
    for (size_t at; (at = text.find("@DIR@")) != std::string::npos;)
      text.replace(at, 5, l.dir);
    return text;
  };

  l.rewrite(withDir(base + "ExitPolicy accept *:443\nExitPolicy reject *:*\n"));
  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  EXPECT_TRUE(logShows(l, "streamd: reload: exit policy replaced")) << l.log();
  auto after = waitFor(
      l.ipc(), [](auto& m) { return counterOf(m["streamd"], "exit_policy_reloads_total") == 1; });
  for (auto& [n, d] : after)
    EXPECT_EQ(d.pid, before[n].pid) << n << " restarted on a reload";

  l.rewrite(withDir(base + "ExitPolicy allow *:80\n"));
  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  EXPECT_TRUE(logShows(l, "[warn] launcher: reload: ")) << l.log();
  l.rewrite(withDir("DataDirectory /tmp/elsewhere\n" + base));
  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  EXPECT_TRUE(logShows(l, "DataDirectory cannot change while onionsplit runs")) << l.log();
  auto still = statusOf(l.ipc());
  EXPECT_EQ(counterOf(still["streamd"], "exit_policy_reloads_total"), 1u);

  l.rewrite(withDir(base + "ExitPolicy accept *:443\nExitPolicy accept *:8080\n"
                           "ExitPolicy reject *:*\n"));
  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  auto widened =
      waitFor(l.ipc(), [&](auto& m) { return m["streamd"].pid != before["streamd"].pid; });
  for (auto& [n, d] : widened)
    if (n != "streamd") {
      EXPECT_EQ(d.pid, before[n].pid) << n << " restarted when streamd's ports widened";
    }
  EXPECT_TRUE(logShows(l, "restarting to take them")) << l.log();
}

// MaxMemInQueues on a reload: every daemon takes its new share at once (the counters the
// MetricsPort shows), none restarts; lowered, raised, each time the four shares add up to it.
TEST(LauncherProcesses, SighupAppliesANewMaxMemInQueuesToEveryDaemonLive) {
  const std::string user = geteuid() == 0 && getpwnam("nobody") ? "User nobody\n" : "";
  const std::string base = user + "ExitRelay 1\nLog info file @DIR@/data/log\n";
  Launcher l(base + "MaxMemInQueues 400 MB\n");
  ASSERT_GT(l.pid, 0);
  auto budgetsAre = [](uint64_t total) {
    return [total](auto& m) {
      auto want = flowctl::splitBudget(total);
      return counterOf(m["streamd"], "memory_budget_bytes") == want.streamd &&
             counterOf(m["circuitd"], "memory_budget_bytes") == want.circuitd &&
             counterOf(m["confluxd"], "memory_budget_bytes") == want.confluxd &&
             counterOf(m["channeld"], "memory_budget_bytes") == want.channeld;
    };
  };
  auto before = waitFor(l.ipc(), budgetsAre(400ULL << 20));
  ASSERT_TRUE(allReady(before));
  ASSERT_TRUE(budgetsAre(400ULL << 20)(before)) << l.log();
  for (uint64_t mb : {100, 900}) {
    std::string text = base + "MaxMemInQueues " + std::to_string(mb) + " MB\n";
    for (size_t at; (at = text.find("@DIR@")) != std::string::npos;)
      text.replace(at, 5, l.dir);
    l.rewrite(text);
    ASSERT_EQ(kill(l.pid, SIGHUP), 0);
    auto after = waitFor(l.ipc(), budgetsAre(mb << 20));
    EXPECT_TRUE(budgetsAre(mb << 20)(after)) << mb << " MB\n" << l.log();
    for (auto& [n, d] : after)
      EXPECT_EQ(d.pid, before[n].pid) << n << " restarted on a reload";
  }
  EXPECT_TRUE(logShows(l, "streamd: reload: streamd's memory budget is now 360 MB")) << l.log();
  EXPECT_TRUE(logShows(l, "channeld: reload: channeld's memory budget is now 90 MB")) << l.log();
}

// A TCP port on 127.0.0.1 that was free a moment ago.
uint16_t freePort() {
  int fd = ipc::listenTcp("127.0.0.1", 0);
  sockaddr_in a{};
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (fd >= 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

// Whether a TCP connection to 127.0.0.1:`port` is refused (nothing listens there).
bool refused(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool no = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno == ECONNREFUSED;
  close(fd);
  return no;
}

// Waits (bounded: 300 x 100 ms) for the launcher to exit; its wait status, or -1 if it did not.
int exitStatus(Launcher& l) {
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (waitpid(l.pid, &status, WNOHANG) == l.pid) {
      l.pid = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

// logrotate as Debian's tor has it: the Log file is moved away, then SIGHUP. The launcher and every
// daemon (whose sandbox opens no file for writing: the launcher passes them a descriptor) write on
// in a new file at the original path.
TEST(LauncherProcesses, SighupAfterLogrotateWritesToANewFileAtThePath) {
  Launcher l("Log notice file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  ASSERT_TRUE(allReady(waitFor(l.ipc(), [](auto&) { return true; })));
  std::string path = l.dir + "/data/log";
  ASSERT_EQ(rename(path.c_str(), (path + ".1").c_str()), 0);
  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  for (const char* name : {"channeld", "circuitd", "streamd", "confluxd"})
    EXPECT_TRUE(logShows(l, std::string(name) + ": Log file " + path + " opened again")) << l.log();
  EXPECT_TRUE(logShows(l, "[notice] launcher: SIGHUP received")) << l.log();
  std::ifstream in(path + ".1");
  std::string old(std::istreambuf_iterator<char>(in), {});
  EXPECT_NE(old.find("launcher: started channeld"), std::string::npos) << old;
  EXPECT_EQ(old.find("opened again"), std::string::npos) << old;
  EXPECT_TRUE(l.stop());
}

// C tor's SIGINT for a relay: the first closes the ORPort (connections are refused) while the
// relay runs on for ShutdownWaitLength; then every daemon stops and the launcher exits 0.
TEST(LauncherProcesses, SigintStopsTakingConnectionsThenExitsAfterShutdownWaitLength) {
  uint16_t port = freePort();
  ASSERT_NE(port, 0);
  Launcher l("ShutdownWaitLength 4\nORPort 127.0.0.1:" + std::to_string(port) +
             "\nLog notice file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  auto ready = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(ready));
  ASSERT_FALSE(refused(port));
  ASSERT_EQ(kill(l.pid, SIGINT), 0);
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    closed = refused(port);
    if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(closed) << "the ORPort still takes connections";
  EXPECT_EQ(waitpid(l.pid, nullptr, WNOHANG), 0) << "the launcher did not wait";
  EXPECT_TRUE(logShows(l,
                       "[notice] launcher: Interrupt: we have stopped accepting new "
                       "connections, and will shut down in 4 seconds. Interrupt again to "
                       "exit now."))
      << l.log();
  EXPECT_TRUE(logShows(l, "shutting down: new streams are refused (END HIBERNATING)")) << l.log();
  int status = exitStatus(l);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  for (const char* name : {"channeld", "circuitd", "streamd", "confluxd"}) {
    EXPECT_NE(l.log().find(std::string(name) + " stopped (exited with status 0)"),
              std::string::npos)
        << name << "\n"
        << l.log();
    EXPECT_FALSE(alive(static_cast<pid_t>(ready[name].pid))) << name;
  }
  l.stop();
}

// A second SIGINT does not wait: with ShutdownWaitLength an hour, the relay still ends, with 0.
TEST(LauncherProcesses, SecondSigintExitsAtOnce) {
  Launcher l("ShutdownWaitLength 1 hour\nLog notice file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  ASSERT_TRUE(allReady(waitFor(l.ipc(), [](auto&) { return true; })));
  ASSERT_EQ(kill(l.pid, SIGINT), 0);
  ASSERT_TRUE(logShows(l, "will shut down in 3600 seconds")) << l.log();
  ASSERT_EQ(kill(l.pid, SIGINT), 0);
  int status = exitStatus(l);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << l.log();
  EXPECT_NE(l.log().find("Interrupt: exiting cleanly."), std::string::npos) << l.log();
  l.stop();
}

// `onionsplit status -f FILE` run as a program: its output and exit status.
std::pair<std::string, int> statusCommand(const Launcher& l) {
  std::string cmd = std::string(ONIONSPLIT_BIN_DIR) + "/onionsplit status -f " + l.dir + "/torrc";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {"", -1};
  std::string out;
  char buf[512];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
    out.append(buf, n);
  int status = pclose(p);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

// NumCPUs 2: circuitd runs twice, as circuitd (shard 0, as with one shard) and circuitd-1 (started
// with `--shard 1` on its own socket IPCDirectory/circuitd-1.sock), both ready and listed by
// `onionsplit status`; as root, circuitd-1 too runs without a network. kill -9 of circuitd-1
// restarts it alone (circuitd and the others keep their pids), and the launcher's SIGHUP reaches
// both shards, which read the onion keys again.
TEST(LauncherProcesses, NumCpusTwoRunsTwoCircuitdShardsEachRestartedAlone) {
  const std::vector<std::string> names = daemonNames(2);
  ASSERT_EQ(names, (std::vector<std::string>{"channeld", "circuitd", "circuitd-1", "streamd",
                                             "confluxd"}));
  Launcher l("NumCPUs 2\nLog info file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  auto before = waitFor(
      l.ipc(), [](auto&) { return true; }, names);
  ASSERT_TRUE(allReady(before, 5));
  EXPECT_NE(before["circuitd"].pid, before["circuitd-1"].pid);
  EXPECT_TRUE(std::filesystem::exists(l.ipc() + "/circuitd-1.sock"));
  std::ifstream cmdline("/proc/" + std::to_string(before["circuitd-1"].pid) + "/cmdline");
  std::string args(std::istreambuf_iterator<char>(cmdline), {});
  EXPECT_NE(args.find(std::string("--shard\0001\0", 10)), std::string::npos) << args;
  if (geteuid() == 0) {
    auto netOf = [](uint32_t pid) {
      return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/net");
    };
    EXPECT_NE(netOf(before["circuitd-1"].pid), netOf(static_cast<uint32_t>(l.pid)));
    EXPECT_NE(netOf(before["circuitd-1"].pid), netOf(before["circuitd"].pid));
  }
  auto [out, code] = statusCommand(l);
  EXPECT_EQ(code, 0) << out;
  for (const auto& name : names)
    EXPECT_NE(out.find(name + ": ready, pid " + std::to_string(before[name].pid) + ","),
              std::string::npos)
        << name << "\n"
        << out;

  uint32_t old = before["circuitd-1"].pid;
  ASSERT_EQ(kill(static_cast<pid_t>(old), SIGKILL), 0);
  auto after = waitFor(
      l.ipc(), [&](auto& m) { return m["circuitd-1"].pid != old; }, names);
  ASSERT_TRUE(allReady(after, 5));
  for (auto& [n, d] : after)
    if (n != "circuitd-1") {
      EXPECT_EQ(d.pid, before[n].pid) << n << " restarted when circuitd-1 died";
    }
  EXPECT_TRUE(logShows(l, "[warn] launcher: circuitd-1 killed by signal 9; restarting in"))
      << l.log();

  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  EXPECT_TRUE(logShows(l, "circuitd: onion keys reloaded")) << l.log();
  EXPECT_TRUE(logShows(l, "circuitd-1: onion keys reloaded")) << l.log();
  auto later = statusOf(l.ipc(), names);
  for (const char* shard : {"circuitd", "circuitd-1"})
    EXPECT_EQ(later[shard].pid, after[shard].pid) << shard << " restarted on SIGHUP";
  EXPECT_TRUE(l.stop());
  for (auto& [n, d] : later)
    EXPECT_FALSE(alive(static_cast<pid_t>(d.pid))) << n << " still running";
}

// A controller on 127.0.0.1:`port`: each of `lines` sent and its reply read (one line each).
struct Controller {
  int fd = -1;
  Controller() = default;
  explicit Controller(uint16_t port) {
    for (int i = 0; i < 100 && fd < 0; ++i) {
      fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) break;
      close(fd);
      fd = -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::string ask(const std::string& line) {
    std::string cmd = line + "\r\n";
    if (fd < 0 || write(fd, cmd.data(), cmd.size()) != static_cast<ssize_t>(cmd.size())) return "";
    return next();
  }
  // The next line (an event), "" after 30 s without one.
  std::string next() {
    timeval limit{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    std::string out;
    char ch;
    while (out.size() < 4096 && !out.ends_with("\r\n") && read(fd, &ch, 1) == 1)
      out += ch;
    return out;
  }
  ~Controller() {
    if (fd >= 0) close(fd);
  }
};

// The owning controller's connection closed: the launcher logs C tor's line and exits 0, every
// daemon stopped with 0.
void expectOwnerClosedStopsTheRelay(Launcher& l) {
  int status = exitStatus(l);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(logShows(l,
                       "[notice] launcher: Owning controller connection has closed -- exiting "
                       "now."))
      << l.log();
  for (const char* name : {"channeld", "circuitd", "streamd", "confluxd"}) {
    EXPECT_NE(l.log().find(std::string(name) + " stopped (exited with status 0)"),
              std::string::npos)
        << name << "\n"
        << l.log();
  }
}

// TAKEOWNERSHIP as C tor: DROPOWNERSHIP undoes it (closing that connection leaves the relay
// running); a connection that took ownership stops the relay when it closes, as SIGTERM does.
TEST(LauncherProcesses, OwningControllerConnectionClosingStopsTheRelay) {
  uint16_t port = freePort();
  ASSERT_NE(port, 0);
  Launcher l("ControlPort 127.0.0.1:" + std::to_string(port) +
             "\nCookieAuthentication 0\nLog notice file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  auto ready = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(ready));
  {
    Controller c(port);
    EXPECT_EQ(c.ask("AUTHENTICATE"), "250 OK\r\n");
    EXPECT_EQ(c.ask("TAKEOWNERSHIP"), "250 OK\r\n");
    EXPECT_EQ(c.ask("DROPOWNERSHIP"), "250 OK\r\n");
  }
  {
    Controller c(port);  // served: the relay runs on after the first one closed
    EXPECT_EQ(c.ask("AUTHENTICATE"), "250 OK\r\n");
    EXPECT_EQ(c.ask("TAKEOWNERSHIP"), "250 OK\r\n");
    EXPECT_EQ(waitpid(l.pid, nullptr, WNOHANG), 0) << "the relay stopped before the close";
  }
  expectOwnerClosedStopsTheRelay(l);
  l.stop();
}

// __OwningControllerFD as C tor: the socket the relay was started with is a controller from the
// start, authenticated (no ControlPort is needed) and owning the relay, which stops when that
// connection closes. A descriptor that is not a socket is refused at start.
TEST(LauncherProcesses, OwningControllerFdIsAnAuthenticatedOwner) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(fcntl(sv[1], F_SETFD, 0), 0);  // the launcher inherits this end only
  Launcher l("Log notice file @DIR@/data/log\n", {},
             {"--__OwningControllerFD", std::to_string(sv[1])});
  close(sv[1]);
  ASSERT_GT(l.pid, 0);
  auto ready = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(ready));
  {
    Controller c;
    c.fd = sv[0];
    EXPECT_EQ(c.ask("GETINFO process/pid"), "250-process/pid=" + std::to_string(l.pid) + "\r\n");
    EXPECT_EQ(c.next(), "250 OK\r\n");
    EXPECT_EQ(waitpid(l.pid, nullptr, WNOHANG), 0) << "the relay stopped before the close";
  }
  expectOwnerClosedStopsTheRelay(l);
  l.stop();

  int file = open("/dev/null", O_RDONLY);  // inherited: not a socket
  ASSERT_GE(file, 0);
  Launcher bad("Log notice file @DIR@/data/log\n", {},
               {"--__OwningControllerFD", std::to_string(file)});
  close(file);
  ASSERT_GT(bad.pid, 0);
  int status = exitStatus(bad);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_TRUE(logShows(bad, "Could not add local controller connection with given FD: " +
                                std::to_string(file) + " is not a socket"))
      << bad.log();
  bad.stop();
}

// A daemon's restart reaches a controller as a log event naming it, on the same connection.
TEST(LauncherProcesses, ControllerSeesADaemonRestartAsAnEvent) {
  uint16_t port = freePort();
  ASSERT_NE(port, 0);
  Launcher l("ControlPort 127.0.0.1:" + std::to_string(port) + "\nCookieAuthentication 0\n");
  ASSERT_GT(l.pid, 0);
  auto before = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(before));
  Controller c(port);
  EXPECT_EQ(c.ask("AUTHENTICATE"), "250 OK\r\n");
  EXPECT_EQ(c.ask("SETEVENTS WARN"), "250 OK\r\n");
  ASSERT_EQ(kill(static_cast<pid_t>(before["streamd"].pid), SIGKILL), 0);
  std::string want = "650 WARN launcher: streamd killed by signal 9; restarting in ", line;
  for (int i = 0; i < 50 && !line.starts_with(want); ++i) {
    line = c.next();
    if (line.empty()) break;
  }
  EXPECT_TRUE(line.starts_with(want)) << line;
  waitFor(l.ipc(), [&](auto& m) { return m["streamd"].pid != before["streamd"].pid; });
  // Other daemons' WARN events (their peers reconnecting) may still come before the answer.
  std::string answer = c.ask("GETINFO process/pid");
  for (int i = 0; i < 50 && answer.starts_with("650 "); ++i)
    answer = c.next();
  EXPECT_EQ(answer, "250-process/pid=" + std::to_string(l.pid) + "\r\n");
  EXPECT_TRUE(l.stop());
}

// SIGNAL HEARTBEAT, DUMP and DEBUG as C tor's relay takes them, each answered 250 OK: the heartbeat
// line now; each daemon's connection and circuit counters at info (C tor's dumpstats); every log
// at debug, the launcher's and the daemons', until the next reload.
TEST(LauncherProcesses, SignalHeartbeatDumpAndDebugAsCtor) {
  uint16_t port = freePort();
  ASSERT_NE(port, 0);
  Launcher l("ControlPort 127.0.0.1:" + std::to_string(port) +
             "\nCookieAuthentication 0\nLog info file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  auto ready = waitFor(l.ipc(), [](auto&) { return true; });
  ASSERT_TRUE(allReady(ready));
  Controller c(port);
  EXPECT_EQ(c.ask("AUTHENTICATE"), "250 OK\r\n");
  EXPECT_EQ(c.ask("SIGNAL HEARTBEAT"), "250 OK\r\n");
  EXPECT_TRUE(logShows(l, "[notice] launcher: Heartbeat: onionsplit's uptime is ")) << l.log();
  EXPECT_EQ(c.ask("SIGNAL DUMP"), "250 OK\r\n");
  EXPECT_TRUE(logShows(l, "[info] launcher: Dumping stats:")) << l.log();
  for (const char* name : {"channeld", "circuitd", "streamd", "confluxd"}) {
    std::string line = "[info] launcher: " + std::string(name) + " (pid " +
                       std::to_string(ready[name].pid) + ", 0 restarts):";
    EXPECT_TRUE(logShows(l, line)) << line << "\n" << l.log();
  }
  EXPECT_EQ(l.log().find("[debug]"), std::string::npos) << "debug lines before SIGNAL DEBUG";
  EXPECT_EQ(c.ask("SIGNAL DEBUG"), "250 OK\r\n");
  EXPECT_TRUE(logShows(l, "[debug] launcher: Caught USR2, going to loglevel debug.")) << l.log();
  for (const char* name : {"channeld", "circuitd", "streamd", "confluxd"}) {
    std::string line = "[debug] " + std::string(name) + ": the launcher switched every log";
    EXPECT_TRUE(logShows(l, line)) << line << "\n" << l.log();
  }
  EXPECT_TRUE(l.stop());
}

// LOADCONF with the torrc's own text and another ContactInfo: applied as SETCONF applies it
// (GETCONF shows it); a text that changes the ORPort is refused as C tor refuses it.
TEST(LauncherProcesses, LoadconfAppliesTheChangedRuntimeOptions) {
  uint16_t port = freePort();
  ASSERT_NE(port, 0);
  Launcher l("ControlPort 127.0.0.1:" + std::to_string(port) +
             "\nCookieAuthentication 0\nContactInfo before\n");
  ASSERT_GT(l.pid, 0);
  ASSERT_TRUE(allReady(waitFor(l.ipc(), [](auto&) { return true; })));
  std::ifstream in(l.dir + "/torrc");
  std::string torrc(std::istreambuf_iterator<char>(in), {});
  std::string body = torrc;
  body.replace(body.find("ContactInfo before"), 18, "ContactInfo after");
  Controller c(port);
  EXPECT_EQ(c.ask("AUTHENTICATE"), "250 OK\r\n");
  EXPECT_EQ(c.ask("+LOADCONF\r\n" + body + "."), "250 OK\r\n");
  EXPECT_EQ(c.ask("GETCONF ContactInfo"), "250 ContactInfo=after\r\n");
  body.replace(body.find("ORPort 127.0.0.1:0"), 18, "ORPort 127.0.0.1:1");
  EXPECT_EQ(c.ask("+LOADCONF\r\n" + body + "."),
            "553 Transition not allowed: While Tor is running, changing ORPort is not allowed\r\n");
  EXPECT_TRUE(l.stop());
}

// GETINFO ip-to-country/* as C tor answers it without GeoIP data (onionsplit has none).
TEST(LauncherProcesses, IpToCountryAsCtorWithoutGeoip) {
  uint16_t port = freePort();
  ASSERT_NE(port, 0);
  Launcher l("ControlPort 127.0.0.1:" + std::to_string(port) + "\nCookieAuthentication 0\n");
  ASSERT_GT(l.pid, 0);
  ASSERT_TRUE(allReady(waitFor(l.ipc(), [](auto&) { return true; })));
  Controller c(port);
  EXPECT_EQ(c.ask("AUTHENTICATE"), "250 OK\r\n");
  EXPECT_EQ(c.ask("GETINFO ip-to-country/127.0.0.1"), "551 GeoIP data not loaded\r\n");
  EXPECT_EQ(c.ask("GETINFO ip-to-country/[::1]"), "551 GeoIP data not loaded\r\n");
  EXPECT_EQ(c.ask("GETINFO ip-to-country/nonsense"), "551 Invalid address family\r\n");
  EXPECT_EQ(c.ask("GETINFO ip-to-country/ipv4-available"),
            "250-ip-to-country/ipv4-available=0\r\n");
  EXPECT_EQ(c.next(), "250 OK\r\n");
  EXPECT_TRUE(l.stop());
}

// __OwningControllerProcess as C tor: the relay polls the process (every 15 s) and stops, as on
// SIGTERM, once it is gone. Set here by SETCONF (GETCONF shows it, unset and set).
TEST(LauncherProcesses, OwningControllerProcessGoneStopsTheRelay) {
  uint16_t port = freePort();
  ASSERT_NE(port, 0);
  pid_t owner = fork();
  if (owner == 0) {
    pause();
    _exit(0);
  }
  ASSERT_GT(owner, 0);
  Launcher l("ControlPort 127.0.0.1:" + std::to_string(port) +
             "\nCookieAuthentication 0\nLog notice file @DIR@/data/log\n");
  ASSERT_GT(l.pid, 0);
  ASSERT_TRUE(allReady(waitFor(l.ipc(), [](auto&) { return true; })));
  Controller c(port);
  EXPECT_EQ(c.ask("AUTHENTICATE"), "250 OK\r\n");
  EXPECT_EQ(c.ask("GETCONF __owningcontrollerprocess"), "250 __OwningControllerProcess\r\n");
  std::string pid = std::to_string(owner);
  EXPECT_EQ(c.ask("SETCONF __OwningControllerProcess=" + pid), "250 OK\r\n");
  EXPECT_EQ(c.ask("GETCONF __OwningControllerProcess"),
            "250 __OwningControllerProcess=" + pid + "\r\n");
  EXPECT_EQ(c.ask("SETCONF __OwningControllerProcess=x"),
            "513 Unacceptable option value: SETCONF: Bad OwningControllerProcess: invalid PID\r\n");
  kill(owner, SIGKILL);
  waitpid(owner, nullptr, 0);
  int status = exitStatus(l);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(logShows(l, "[notice] launcher: Monitored process " + pid + " is dead.")) << l.log();
  EXPECT_TRUE(logShows(l, "Owning controller process has vanished -- exiting now.")) << l.log();
  l.stop();
}

// GETINFO `key` on `c`: its value, or the reply's first line when it is not one.
std::string getinfo(Controller& c, const std::string& key) {
  std::string line = c.ask("GETINFO " + key);
  for (int i = 0; i < 50 && line.starts_with("650 "); ++i)
    line = c.next();
  std::string head = "250-" + key + "=";
  if (!line.starts_with(head)) return line;
  c.next();  // "250 OK"
  return line.substr(head.size(), line.size() - head.size() - 2);
}

// One run of create_flood_tool (a client's channel to the ORPort, `circuits` CREATE_FAST cells):
// what it printed.
std::string flood(uint16_t port, const std::string& fingerprint, int circuits) {
  std::string cmd = std::string(ONIONSPLIT_BIN_DIR) + "/create_flood_tool 127.0.0.1 " +
                    std::to_string(port) + " " + fingerprint + " --bind 127.0.0.1 --circuits " +
                    std::to_string(circuits) + " --deadline 10 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p))
    out += buf;
  pclose(p);
  return out;
}

// AccountingMax as C tor: the relay restarts into the interval its accounting-state records (90%
// of 1 MByte read); client traffic on the ORPort takes it past the soft limit (95%), where a new
// CREATE_FAST is answered with DESTROY HIBERNATING (reason 4), then to the budget, where channeld
// closes every connection. A controller sees each step in GETINFO accounting/*.
// streamd's `hibernating` counter, read until it is `want` (channeld tells streamd within about a
// second of a change) or 5 s have passed.
uint64_t streamdHibernating(Launcher& l, uint64_t want) {
  uint64_t v = want ^ 1;
  for (int i = 0; i < 50 && v != want; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    v = counterOf(statusOf(l.ipc())["streamd"], "hibernating");
  }
  return v;
}

TEST(LauncherProcesses, AccountingMaxHibernatesAfterTraffic) {
  uint16_t orPort = freePort(), ctlPort = freePort();
  ASSERT_TRUE(orPort && ctlPort);
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  const int64_t start =
      accounting::intervalStartContaining(config::AccountingStart{}, local.tm_gmtoff, now);
  auto stored = [start](const std::string& dir) {
    accounting::Record r;
    r.intervalStart = start;
    r.bytesRead = 900 * 1024;
    std::filesystem::create_directories(dir + "/data");
    chmod((dir + "/data").c_str(), 0700);
    std::ofstream(dir + "/data/accounting-state") << accounting::encodeSlot(r, 1);
  };
  Launcher l("AccountingMax 1 MBytes\nORPort 127.0.0.1:" + std::to_string(orPort) +
                 "\nControlPort 127.0.0.1:" + std::to_string(ctlPort) +
                 "\nCookieAuthentication 0\nLog notice file @DIR@/data/log\n",
             stored);
  ASSERT_GT(l.pid, 0);
  ASSERT_TRUE(allReady(waitFor(l.ipc(), [](auto&) { return true; })));
  std::ifstream fpFile(l.dir + "/data/fingerprint");
  std::string nick, fp;
  fpFile >> nick >> fp;
  ASSERT_EQ(fp.size(), 40u);
  Controller c(ctlPort);
  ASSERT_EQ(c.ask("AUTHENTICATE"), "250 OK\r\n");
  std::string enabled;  // once the launcher has read channeld's counters
  for (int i = 0; i < 50 && enabled != "1"; ++i) {
    enabled = getinfo(c, "accounting/enabled");
    if (enabled != "1") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(enabled, "1");
  std::string state = getinfo(c, "accounting/hibernating");
  ASSERT_EQ(state, "awake");
  EXPECT_EQ(getinfo(c, "accounting/interval-start"), accounting::isoTime(start));
  EXPECT_TRUE(getinfo(c, "accounting/bytes").starts_with("9216")) << "the stored bytes go on";
  EXPECT_NE(flood(orPort, fp, 1).find("created 1"), std::string::npos) << "awake: a circuit";
  // About 17 KB a run (under the 51 KB between 90% and the soft limit), a second apart.
  auto floodUntil = [&](const std::string& want) {
    for (int i = 0; i < 30 && state != want; ++i) {
      flood(orPort, fp, 30);
      std::this_thread::sleep_for(std::chrono::milliseconds(1200));
      state = getinfo(c, "accounting/hibernating");
    }
  };
  floodUntil("soft");
  ASSERT_EQ(state, "soft") << l.log();
  EXPECT_TRUE(logShows(l, "Bandwidth soft limit reached; commencing hibernation.")) << l.log();
  std::string refusedOut = flood(orPort, fp, 1);
  EXPECT_NE(refusedOut.find("destroyed_reason4 1"), std::string::npos) << refusedOut;
  // channeld tells streamd, which refuses new BEGINs (END HIBERNATING) until it wakes.
  EXPECT_EQ(streamdHibernating(l, 1), 1u) << l.log();
  floodUntil("hard");
  ASSERT_EQ(state, "hard") << l.log();
  EXPECT_TRUE(logShows(l, "Going dormant. Blowing away remaining connections.")) << l.log();
  std::string asleep = flood(orPort, fp, 1);
  EXPECT_NE(asleep.find("created 0"), std::string::npos) << asleep;
  EXPECT_NE(asleep.find("error "), std::string::npos) << "asleep: no channel\n" << asleep;
  EXPECT_EQ(getinfo(c, "accounting/bytes-left").substr(0, 2), "0 ") << "read the whole budget";
  // streamd's exit bytes count too: channeld asks it every second.
  EXPECT_GT(counterOf(statusOf(l.ipc())["channeld"], "accounting_streamd_answers_total"), 0u);
  EXPECT_EQ(l.log().find("restarting"), std::string::npos) << l.log();
  // A reload with twice the budget: channeld restarts with the interval's bytes and wakes.
  std::string spent = getinfo(c, "accounting/bytes");
  l.rewrite("AccountingMax 2 MBytes\nORPort 127.0.0.1:" + std::to_string(orPort) +
            "\nControlPort 127.0.0.1:" + std::to_string(ctlPort) +
            "\nCookieAuthentication 0\nLog notice file " + l.dir + "/data/log\n");
  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  EXPECT_TRUE(logShows(l, "the Accounting options changed; channeld restarts")) << l.log();
  for (int i = 0; i < 100 && state != "awake"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    state = getinfo(c, "accounting/hibernating");
  }
  EXPECT_EQ(state, "awake") << l.log();
  uint64_t before = std::stoull(spent), after = std::stoull(getinfo(c, "accounting/bytes"));
  EXPECT_GE(after, before) << "the record written as channeld stopped was read back";
  EXPECT_NE(flood(orPort, fp, 1).find("created 1"), std::string::npos) << "awake again";
  EXPECT_EQ(streamdHibernating(l, 0), 0u) << "streamd accepts BEGINs again\n" << l.log();
  EXPECT_TRUE(l.stop());
}

}  // namespace
}  // namespace onionsplit::launcher

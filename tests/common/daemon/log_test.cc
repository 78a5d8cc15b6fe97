// Tests for common/daemon/log.h: journal priority prefixes, log ranges, syslog, and the rate
// limiter.
#include "common/daemon/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace onionsplit::daemon {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Logging, FileTargetHonoursTheSeverityRange) {
  auto dir = std::filesystem::temp_directory_path() / ("os-log-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  config::LogTarget t;
  t.kind = config::LogTarget::Kind::kFile;
  t.path = (dir / "log").string();
  t.minSeverity = config::LogSeverity::kInfo;
  t.maxSeverity = config::LogSeverity::kWarn;
  std::string err;
  ASSERT_TRUE(setupLogging({"testd", false, ""}, {t}, err)) << err;
  spdlog::trace("too low");  // C tor's debug
  spdlog::debug("kept info");
  spdlog::info("kept notice");
  spdlog::warn("kept warn");
  spdlog::error("too high");
  spdlog::default_logger()->flush();
  std::string text = slurp(t.path);
  EXPECT_NE(text.find(" [info] testd: kept info"), std::string::npos) << text;
  EXPECT_NE(text.find(" [notice] testd: kept notice"), std::string::npos) << text;
  EXPECT_NE(text.find("kept warn"), std::string::npos);
  EXPECT_EQ(text.find("too low"), std::string::npos);
  EXPECT_EQ(text.find("too high"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// SIGNAL DEBUG: every target takes debug..err until switchLogsToDebug(false) puts the torrc's
// range back.
TEST(Logging, SwitchToDebugWidensEveryTargetUntilSwitchedBack) {
  auto dir = std::filesystem::temp_directory_path() / ("os-log-debug-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  config::LogTarget t;
  t.kind = config::LogTarget::Kind::kFile;
  t.path = (dir / "log").string();
  t.minSeverity = config::LogSeverity::kNotice;
  t.maxSeverity = config::LogSeverity::kNotice;
  std::string err;
  ASSERT_TRUE(setupLogging({"testd", false, ""}, {t}, err)) << err;
  spdlog::trace("debug before");
  spdlog::warn("warn before");
  switchLogsToDebug(true);
  spdlog::trace("debug while");
  spdlog::warn("warn while");
  switchLogsToDebug(false);
  spdlog::trace("debug after");
  spdlog::warn("warn after");
  spdlog::info("notice after");
  spdlog::default_logger()->flush();
  std::string text = slurp(t.path);
  EXPECT_NE(text.find(" [debug] testd: debug while"), std::string::npos) << text;
  EXPECT_NE(text.find(" [warn] testd: warn while"), std::string::npos) << text;
  EXPECT_NE(text.find(" [notice] testd: notice after"), std::string::npos) << text;
  for (const char* absent : {"debug before", "warn before", "debug after", "warn after"})
    EXPECT_EQ(text.find(absent), std::string::npos) << absent << "\n" << text;
  std::filesystem::remove_all(dir);
}

// logrotate moved the file: reopenLogFiles() (by the path) or replaceLogFile() (a descriptor from
// the launcher) make the next lines land in a new file at the path.
TEST(Logging, FileTargetOpensAgainAfterItWasMoved) {
  auto dir = std::filesystem::temp_directory_path() / ("os-log-reopen-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  config::LogTarget t;
  t.kind = config::LogTarget::Kind::kFile;
  t.path = (dir / "log").string();
  std::string err;
  ASSERT_TRUE(setupLogging({"testd", false, ""}, {t}, err)) << err;
  spdlog::info("first");
  std::filesystem::rename(t.path, t.path + ".1");
  spdlog::info("second");
  EXPECT_TRUE(reopenLogFiles().empty());
  spdlog::info("third");
  std::filesystem::rename(t.path, t.path + ".2");
  int fd = open(t.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(replaceLogFile(t.path, fd));
  spdlog::info("fourth");
  EXPECT_FALSE(replaceLogFile("/elsewhere", open("/dev/null", O_WRONLY | O_CLOEXEC)));
  std::string one = slurp(t.path + ".1"), two = slurp(t.path + ".2"), now = slurp(t.path);
  EXPECT_NE(one.find("first"), std::string::npos) << one;
  EXPECT_NE(one.find("second"), std::string::npos) << one;
  EXPECT_NE(two.find("third"), std::string::npos) << two;
  EXPECT_EQ(two.find("second"), std::string::npos) << two;
  EXPECT_NE(now.find("fourth"), std::string::npos) << now;
  EXPECT_EQ(now.find("third"), std::string::npos) << now;
  std::filesystem::remove_all(dir);
}

TEST(Logging, UnwritableFileIsAnError) {
  config::LogTarget t;
  t.kind = config::LogTarget::Kind::kFile;
  t.path = "/proc/self/no-such-dir/log";  // cannot be created, even by root
  std::string err;
  EXPECT_FALSE(setupLogging({"testd", false, ""}, {t}, err));
  EXPECT_FALSE(err.empty());
}

TEST(Logging, JournalLinesCarryThePriority) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  std::string err;
  ASSERT_TRUE(setupLogging({"testd", true, ""}, {config::LogTarget{}}, err));
  spdlog::warn("careful");
  spdlog::info("fyi");
  spdlog::default_logger()->flush();
  dup2(saved, STDERR_FILENO);
  close(fds[1]);
  char buf[256] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  ASSERT_GT(n, 0);
  std::string text(buf, static_cast<size_t>(n));
  EXPECT_NE(text.find("<4>[warn] testd: careful"), std::string::npos) << text;
  EXPECT_NE(text.find("<5>[notice] testd: fyi"), std::string::npos) << text;
}

// The control port's lines go to stderr marked, from the severity the launcher asked for,
// whatever the Log targets (here a file at notice only) say; "off" stops them.
TEST(Logging, ControlLogLinesFollowTheLaunchersLevel) {
  std::string dir = testing::TempDir();
  config::LogTarget file;
  file.kind = config::LogTarget::Kind::kFile;
  file.path = dir + "/control_log_test.log";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  std::string err;
  ASSERT_TRUE(setupLogging({"testd", false, ""}, {file}, err)) << err;
  spdlog::info("before");  // no control sink yet
  setControlLogLevel(parseControlLogMessage("control-log info").value());
  spdlog::debug("detail");  // C tor's info
  spdlog::trace("noise");   // C tor's debug: below what was asked
  setControlLogLevel(parseControlLogMessage("control-log off").value());
  spdlog::warn("after");
  spdlog::default_logger()->flush();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  char buf[512] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))),
            "\x1f[info] testd: detail\n");
  EXPECT_FALSE(parseControlLogMessage("control-log loud"));
  EXPECT_FALSE(parseControlLogMessage("/var/log/tor/notices.log"));
  unlink(file.path.c_str());
}

TEST(Logging, SyslogIdentityFollowsTheTag) {
  EXPECT_EQ(syslogIdentity(""), "onionsplit");
  EXPECT_EQ(syslogIdentity("exit1"), "onionsplit-exit1");
}

// `Log notice syslog` reaches syslog: in a mount namespace of its own (root only), a datagram
// socket bound at /dev/log stands for the syslog daemon and receives the line at C tor's priority
// (daemon.notice), with the identity SyslogIdentityTag makes and the daemon's name.
TEST(Logging, SyslogTargetReachesDevLog) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a mount namespace with its own /dev)";
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", "/dev", "tmpfs", 0, nullptr) != 0)
      _exit(3);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, "/dev/log");
    if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) _exit(4);
    config::LogTarget t;
    t.kind = config::LogTarget::Kind::kSyslog;
    std::string err;
    if (!setupLogging({"testd", false, "exit1"}, {t}, err)) _exit(5);
    spdlog::debug("below notice");
    spdlog::info("to syslog");
    char buf[512];
    ssize_t n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0 || write(p[1], buf, static_cast<size_t>(n)) != n) _exit(6);
    _exit(0);
  }
  close(p[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "no mount namespace here";
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(got.rfind("<29>", 0), 0u) << got;  // LOG_DAEMON | LOG_NOTICE
  EXPECT_NE(got.find(" onionsplit-exit1["), std::string::npos) << got;
  EXPECT_NE(got.find("]: testd: to syslog"), std::string::npos) << got;
}

TEST(RateLimiter, BurstThenSuppressedThenCounted) {
  RateLimiter rl(2, std::chrono::milliseconds(1000));
  RateLimiter::Clock::time_point t{};
  uint64_t dropped = 99;
  EXPECT_TRUE(rl.allow("peer", t, dropped));
  EXPECT_EQ(dropped, 0u);
  EXPECT_TRUE(rl.allow("peer", t, dropped));
  EXPECT_FALSE(rl.allow("peer", t, dropped));
  EXPECT_FALSE(rl.allow("peer", t, dropped));
  EXPECT_TRUE(rl.allow("other", t, dropped)) << "keys are independent";
  t += std::chrono::milliseconds(1000);
  EXPECT_TRUE(rl.allow("peer", t, dropped));
  EXPECT_EQ(dropped, 2u);
}

}  // namespace
}  // namespace onionsplit::daemon

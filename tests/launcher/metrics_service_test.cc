// `onionsplit metrics -f FILE` with the four real daemons started as systemd starts them, without
// the launcher: each daemon gets its listening Unix socket (and channeld its ORPort) as socket
// activation passes them (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; fds from 3), the sockets stay
// with the test across a daemon's restart as they stay with systemd, and the keys come from
// `onionsplit keygen --only-due` as onionsplit-keys.service makes them. The metrics service gets
// its TCP socket the same way (FileDescriptorName=metrics) or binds MetricsPort itself.
// Checked: every daemon's families; a kill -9'd daemon is reported down (up 0, none of its
// counters) while the page keeps being served, and back up with its restart counted once it is
// started again; a restart between two scrapes is seen by the service's poll; MetricsPortPolicy's
// refusals and C tor's 400/404/405; a passed socket that is not where the torrc says, or a torrc
// without MetricsPort, is an error at start.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/ipc/peers.h"
#include "launcher/metrics_service.h"
#include "tests/launcher/metrics_http.h"

namespace onionsplit::launcher {
namespace {

using http_test::freePort;
using http_test::hasLine;
using http_test::scrape;
using http_test::talk;

constexpr const char* kDaemons[] = {"channeld", "circuitd", "streamd", "confluxd"};

std::string bin(const std::string& name) {
  return std::string(ONIONSPLIT_BIN_DIR) + "/" + name;
}

// Waits (bounded: 15 s) for `pid` to exit; its exit status, or -1 if it did not.
int waitExit(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 150; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

// Ends `pid` (one of ours: never 0 or negative) with SIGTERM, SIGKILL after 15 s.
void stop(pid_t& pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  if (waitExit(pid) == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pid = -1;
}

// fork + exec of `argv` with `fds` passed by socket activation as `names` (fd 3 on), output to
// `out`. The child's own pid goes in LISTEN_PID, as systemd sets it.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<int>& fds,
            const std::string& names, const std::string& out) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int log = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log >= 0) {
    dup2(log, 1);
    dup2(log, 2);
  }
  std::vector<int> high;  // out of the way of 3.. first, so no dup2 overwrites another source
  for (int fd : fds)
    high.push_back(fcntl(fd, F_DUPFD_CLOEXEC, 100));
  for (size_t i = 0; i < high.size(); ++i)
    dup2(high[i], 3 + static_cast<int>(i));  // dup2 leaves the copy without close-on-exec
  if (!fds.empty()) {
    setenv("LISTEN_FDS", std::to_string(fds.size()).c_str(), 1);
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
    setenv("LISTEN_FDNAMES", names.c_str(), 1);
  }
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

// A TCP socket listening on 127.0.0.1:0, as a .socket unit's ListenStream= makes it.
int listenTcp(uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

// The relay as systemd runs it: a private directory (removed at the end), its torrc, the keys,
// the listening sockets (kept here across restarts), the four daemons and the metrics service.
struct Relay {
  std::string dir;
  std::map<std::string, int> sockets;  // daemon -> its listening Unix socket
  std::map<std::string, pid_t> pids;
  int orport = -1;
  int metricsFd = -1;
  uint16_t metricsPort = 0;
  pid_t metrics = -1;

  // `extra` torrc lines; "@METRICS@" stands for the MetricsPort's port.
  explicit Relay(const std::string& extra) {
    char tmpl[] = "/tmp/onionsplit-mservice-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    chmod(dir.c_str(), 0755);
    uint16_t orPortNumber = 0;
    orport = listenTcp(orPortNumber);
    metricsFd = listenTcp(metricsPort);
    std::string text = extra;
    for (size_t at; (at = text.find("@METRICS@")) != std::string::npos;)
      text.replace(at, 9, std::to_string(metricsPort));
    std::ofstream(torrc()) << "DataDirectory " << dir << "/data\nIPCDirectory " << dir
                           << "/ipc\nNickname mservicetest\nORPort 127.0.0.1:" << orPortNumber
                           << "\nLog notice file " << dir << "/log\n"
                           << text;
  }
  std::string torrc() const { return dir + "/torrc"; }
  std::string ipc() const { return dir + "/ipc"; }

  // What onionsplit-keys.service does before channeld and circuitd start.
  bool keygen() {
    pid_t pid = spawn({bin("onionsplit"), "keygen", "--only-due", "-f", torrc()}, {}, "",
                      dir + "/keygen.out");
    int status = waitExit(pid);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  // What the .socket units do: bind each daemon's socket, once.
  bool makeSockets() {
    std::filesystem::create_directories(ipc());
    for (const char* d : kDaemons) {
      int fd = ipc::listenUnix(ipc() + "/" + d + ".sock");
      if (fd < 0) return false;
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      sockets[d] = fd;
    }
    return true;
  }

  // What onionsplit-<daemon>.service does: the daemon with its sockets passed in.
  void start(const std::string& d) {
    std::vector<int> fds{sockets[d]};
    std::string names = d;
    if (d == "channeld") {
      fds.push_back(orport);
      names += ":orport";
    }
    pids[d] = spawn({bin(d), "-f", torrc()}, fds, names, dir + "/" + d + ".out");
  }

  void kill9(const std::string& d) {
    pid_t pid = pids[d];
    ASSERT_GT(pid, 0);  // never kill(0, ...): that is our whole process group
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    waitpid(pid, nullptr, 0);
    pids[d] = -1;
  }

  // onionsplit-metrics.service: socket activation with onionsplit-metrics.socket, or alone.
  void startMetrics(bool passSocket) {
    std::vector<int> fds;
    if (passSocket) {
      fds.push_back(metricsFd);
    } else {  // it binds the port itself: let go of it first
      close(metricsFd);
      metricsFd = -1;
    }
    metrics =
        spawn({bin("onionsplit"), "metrics", "-f", torrc()}, fds, "metrics", dir + "/metrics.out");
  }

  std::string metricsOutput() const {
    std::ifstream in(dir + "/metrics.out");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  ~Relay() {
    stop(metrics);
    for (auto& [d, pid] : pids)
      stop(pid);
    for (auto& [d, fd] : sockets)
      close(fd);
    if (orport >= 0) close(orport);
    if (metricsFd >= 0) close(metricsFd);
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

std::string upLine(const std::string& d, int up) {
  return "onionsplit_daemon_up{daemon=\"" + d + "\"} " + std::to_string(up);
}

std::string restartsLine(const std::string& d, int n) {
  return "onionsplit_daemon_restarts_total{daemon=\"" + d + "\"} " + std::to_string(n);
}

// Scrapes (bounded: 200 x 100 ms) until `pred(page)` holds; the last page either way.
template <class Pred>
std::string scrapeUntil(uint16_t port, Pred pred) {
  std::string page;
  for (int i = 0; i < 200; ++i) {
    page = scrape(port);
    if (pred(page)) return page;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "the page never showed what was awaited; last:\n" << page;
  return page;
}

bool allUp(const std::string& page) {
  for (const char* d : kDaemons)
    if (!hasLine(page, upLine(d, 1))) return false;
  return true;
}

TEST(MetricsService, ServesTheDaemonsUnderSocketActivationAndSeesKillsAndRestarts) {
  Relay r("MetricsPort 127.0.0.1:@METRICS@\nMetricsPortPolicy accept 127.0.0.1\n");
  ASSERT_FALSE(r.dir.empty());
  ASSERT_TRUE(r.keygen());
  ASSERT_TRUE(r.makeSockets());
  r.startMetrics(true);  // before the daemons: it reports them down until they answer
  std::string page = scrapeUntil(
      r.metricsPort, [](const std::string& p) { return p.rfind("HTTP/1.0 200 OK\r\n", 0) == 0; });
  for (const char* d : kDaemons)
    EXPECT_TRUE(hasLine(page, upLine(d, 0))) << d << "\n" << page;
  for (const char* d : kDaemons)
    r.start(d);
  page = scrapeUntil(r.metricsPort, allUp);
  for (const char* d : kDaemons) {
    EXPECT_TRUE(hasLine(page, restartsLine(d, 0))) << d << "\n" << page;
    EXPECT_NE(page.find("onionsplit_daemon_uptime_seconds{daemon=\"" + std::string(d) + "\"}"),
              std::string::npos);
  }
  EXPECT_TRUE(hasLine(page, "tor_relay_circuits_total{daemon=\"circuitd\",state=\"opened\"} 0"));
  EXPECT_TRUE(hasLine(page, "tor_relay_streams_total{daemon=\"streamd\",type=\"BEGIN\"} 0"));
  EXPECT_NE(page.find("onionsplit_channeld_channels_open{daemon=\"channeld\"}"), std::string::npos);
  EXPECT_NE(page.find("onionsplit_confluxd_conflux_sets_open{daemon=\"confluxd\"}"),
            std::string::npos);
  EXPECT_NE(page.find("\nonionsplit_metrics_uptime_seconds "), std::string::npos);
  EXPECT_EQ(page.find("onionsplit_launcher_uptime_seconds"), std::string::npos);

  // kill -9 streamd: down on the very next scrape, the others up, the page still served.
  r.kill9("streamd");
  page = scrape(r.metricsPort);
  ASSERT_EQ(page.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << page.substr(0, 200);
  EXPECT_TRUE(hasLine(page, upLine("streamd", 0))) << page;
  EXPECT_EQ(page.find("onionsplit_streamd_"), std::string::npos);
  EXPECT_EQ(page.find("tor_relay_streams_total"), std::string::npos);
  EXPECT_TRUE(hasLine(page, upLine("circuitd", 1)));
  EXPECT_TRUE(hasLine(page, restartsLine("streamd", 0))) << "down is not yet a restart";
  // Back (systemd's Restart=always, on the same socket): up, and one restart.
  r.start("streamd");
  page = scrapeUntil(r.metricsPort,
                     [](const std::string& p) { return hasLine(p, upLine("streamd", 1)); });
  EXPECT_TRUE(hasLine(page, restartsLine("streamd", 1))) << page;
  for (const char* d : {"channeld", "circuitd", "confluxd"})
    EXPECT_TRUE(hasLine(page, restartsLine(d, 0))) << d;

  // Two restarts of confluxd with no scrape between them: the service's poll (every
  // kPollSeconds) saw the first instance, so both count.
  r.kill9("confluxd");
  r.start("confluxd");
  std::this_thread::sleep_for(std::chrono::seconds(kPollSeconds + 2));
  r.kill9("confluxd");
  r.start("confluxd");
  page = scrapeUntil(r.metricsPort,
                     [](const std::string& p) { return hasLine(p, upLine("confluxd", 1)); });
  EXPECT_TRUE(hasLine(page, restartsLine("confluxd", 2))) << page;
  EXPECT_TRUE(hasLine(page, restartsLine("streamd", 1)));

  // A daemon that cannot answer (stopped) is down within the scrape's deadline.
  pid_t circuitd = r.pids["circuitd"];
  ASSERT_GT(circuitd, 0);
  ASSERT_EQ(kill(circuitd, SIGSTOP), 0);
  auto t0 = std::chrono::steady_clock::now();
  page = scrape(r.metricsPort);
  auto took = std::chrono::steady_clock::now() - t0;
  kill(circuitd, SIGCONT);
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(hasLine(page, upLine("circuitd", 0))) << page;
  EXPECT_TRUE(hasLine(page, upLine("channeld", 1)));
  EXPECT_TRUE(hasLine(page, restartsLine("circuitd", 0))) << "stopped and continued: no restart";
  int status = 0;
  EXPECT_EQ(waitpid(r.metrics, &status, WNOHANG), 0) << "the metrics service must still run";
  EXPECT_NE(r.metricsOutput().find("socket from systemd"), std::string::npos) << r.metricsOutput();
}

TEST(MetricsService, PolicyRefusalsAndBadRequestsWhenItBindsThePortItself) {
  // No daemon runs at all: the page says so, and every answer is still C tor's.
  Relay r(
      "MetricsPort 127.0.0.1:@METRICS@\n"
      "MetricsPortPolicy reject 127.0.0.3, accept 127.0.0.0/8\n");
  ASSERT_FALSE(r.dir.empty());
  r.startMetrics(false);
  std::string page = scrapeUntil(
      r.metricsPort, [](const std::string& p) { return p.rfind("HTTP/1.0 200 OK\r\n", 0) == 0; });
  for (const char* d : kDaemons)
    EXPECT_TRUE(hasLine(page, upLine(d, 0))) << d << "\n" << page;
  auto refused = talk(r.metricsPort, "GET /metrics HTTP/1.0\r\n\r\n", "127.0.0.3");
  EXPECT_TRUE(refused.connected);
  EXPECT_EQ(refused.text, "") << "the policy's refusal is a closed connection";
  EXPECT_EQ(talk(r.metricsPort, "GET /metrics HTTP/1.0\r\n\r\n", "127.0.0.2")
                .text.rfind("HTTP/1.0 200", 0),
            0u);
  EXPECT_FALSE(
      talk(r.metricsPort, "GET /metrics HTTP/1.0\r\n\r\n", "127.0.0.1", "127.0.0.2").connected)
      << "bound where configured only";
  EXPECT_EQ(talk(r.metricsPort, "POST /metrics HTTP/1.0\r\n\r\n").text.rfind("HTTP/1.0 405", 0),
            0u);
  EXPECT_EQ(talk(r.metricsPort, "GET /x HTTP/1.0\r\n\r\n").text.rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(talk(r.metricsPort, "\x01\x02\r\n\r\n").text.rfind("HTTP/1.0 400", 0), 0u);
  std::string huge = "GET /metrics HTTP/1.0\r\nX: " + std::string(8192, 'a') + "\r\n\r\n";
  EXPECT_EQ(talk(r.metricsPort, huge).text.rfind("HTTP/1.0 400", 0), 0u);
  EXPECT_EQ(scrape(r.metricsPort).rfind("HTTP/1.0 200 OK", 0), 0u) << "still serving";
  EXPECT_NE(r.metricsOutput().find("bound here"), std::string::npos) << r.metricsOutput();
}

TEST(MetricsService, WithoutAPolicyNobodyIsAnswered) {
  Relay r("MetricsPort 127.0.0.1:@METRICS@\n");
  ASSERT_FALSE(r.dir.empty());
  r.startMetrics(true);
  std::string out;
  for (int i = 0; i < 100 && out.find("MetricsPort on") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    out = r.metricsOutput();
  }
  ASSERT_NE(out.find("MetricsPort on"), std::string::npos) << out;
  auto reply = talk(r.metricsPort, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(reply.connected);
  EXPECT_EQ(reply.text, "");
}

TEST(MetricsService, APassedSocketElsewhereThanTheTorrcSaysIsAnError) {
  uint16_t other = freePort();
  Relay r("MetricsPort 127.0.0.1:" + std::to_string(other) +
          "\nMetricsPortPolicy accept 127.0.0.1\n");
  ASSERT_FALSE(r.dir.empty());
  r.startMetrics(true);  // the socket is on r.metricsPort, the torrc says `other`
  int status = waitExit(r.metrics);
  r.metrics = -1;
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  std::string out = r.metricsOutput();
  EXPECT_NE(out.find("listens on 127.0.0.1:" + std::to_string(r.metricsPort)), std::string::npos)
      << out;
  EXPECT_NE(out.find("MetricsPort 127.0.0.1:" + std::to_string(other)), std::string::npos) << out;
}

TEST(MetricsService, WithoutMetricsPortThereIsNothingToServe) {
  Relay r("");
  ASSERT_FALSE(r.dir.empty());
  r.startMetrics(true);
  int status = waitExit(r.metrics);
  r.metrics = -1;
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(r.metricsOutput().find("no MetricsPort"), std::string::npos) << r.metricsOutput();
}

}  // namespace
}  // namespace onionsplit::launcher

// The MetricsPort with the real launcher and daemons: `onionsplit -f FILE` with "MetricsPort
// 127.0.0.1:<free port>" answers GET /metrics over TCP with every daemon's families; a kill -9 of
// a daemon shows as a restart in the next scrape; a daemon that cannot answer shows as down
// within the scrape's deadline; peers MetricsPortPolicy refuses get no byte, and without a policy
// nobody is answered (C tor's default); the port is bound only where configured; requests other
// than GET /metrics get C tor's 400/404/405.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "launcher/daemons.h"
#include "launcher/status.h"
#include "tests/launcher/metrics_http.h"

namespace onionsplit::launcher {
namespace {

using Clock = std::chrono::steady_clock;
using http_test::freePort;
using http_test::hasLine;
using http_test::scrape;
using http_test::talk;

// One launcher on a private directory (removed at the end) with `extra` torrc lines.
struct Launcher {
  std::string dir;
  pid_t pid = -1;

  explicit Launcher(const std::string& extra) {
    char tmpl[] = "/tmp/onionsplit-metrics-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    std::ofstream(dir + "/torrc") << "DataDirectory " << dir << "/data\nNickname metricstest\n"
                                  << "ORPort 127.0.0.1:0\nLog notice file " << dir << "/log\n"
                                  << extra;
    std::string bin = std::string(ONIONSPLIT_BIN_DIR) + "/onionsplit";
    pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execl(bin.c_str(), "onionsplit", "-f", (dir + "/torrc").c_str(), nullptr);
      _exit(127);
    }
  }
  std::string ipc() const { return dir + "/data/ipc"; }
  ~Launcher() {
    if (pid > 0 && kill(pid, SIGTERM) == 0) {
      int status = 0;
      bool exited = false;
      for (int i = 0; i < 150 && !exited; ++i) {
        exited = waitpid(pid, &status, WNOHANG) == pid;
        if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
    }
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

std::map<std::string, DaemonStatus> statusOf(const std::string& ipc,
                                             const std::vector<std::string>& names) {
  std::map<std::string, DaemonStatus> m;
  for (auto& d : queryStatus(ipc, std::chrono::milliseconds(1000), names))
    m[d.name] = d;
  return m;
}

// Polls (bounded: 150 x 100 ms) until all of `names` (by default the four daemons with one
// circuitd shard) are ready and `pred` holds.
template <class Pred>
std::map<std::string, DaemonStatus> waitReady(
    const std::string& ipc, Pred pred, const std::vector<std::string>& names = daemonNames(1)) {
  std::map<std::string, DaemonStatus> m;
  for (int i = 0; i < 150; ++i) {
    m = statusOf(ipc, names);
    bool ready = m.size() == names.size();
    for (auto& [n, d] : m)
      ready = ready && d.reachable && d.health == "ready";
    if (ready && pred(m)) return m;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "daemons did not become ready";
  return m;
}

TEST(LauncherMetrics, EveryDaemonsFamiliesAndRestartsAfterKill9) {
  uint16_t port = freePort();
  Launcher l("MetricsPort 127.0.0.1:" + std::to_string(port) +
             "\nMetricsPortPolicy accept 127.0.0.1\n");
  ASSERT_GT(l.pid, 0);
  auto before = waitReady(l.ipc(), [](auto&) { return true; });
  ASSERT_FALSE(HasFailure());

  std::string page = scrape(port);
  ASSERT_EQ(page.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << page.substr(0, 200);
  EXPECT_NE(page.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  for (const char* d : {"channeld", "circuitd", "streamd", "confluxd"}) {
    std::string label = std::string("{daemon=\"") + d + "\"}";
    EXPECT_TRUE(hasLine(page, "onionsplit_daemon_up" + label + " 1")) << d << "\n" << page;
    EXPECT_TRUE(hasLine(page, "onionsplit_daemon_restarts_total" + label + " 0")) << d;
    EXPECT_NE(page.find("onionsplit_daemon_uptime_seconds" + label), std::string::npos) << d;
  }
  EXPECT_NE(page.find("# TYPE tor_relay_circuits_total gauge\n"), std::string::npos);
  EXPECT_TRUE(hasLine(page, "tor_relay_circuits_total{daemon=\"circuitd\",state=\"opened\"} 0"));
  EXPECT_NE(page.find("tor_relay_load_onionskins_total{daemon=\"circuitd\",type=\"ntor_v3\""),
            std::string::npos);
  EXPECT_TRUE(hasLine(page, "tor_relay_streams_total{daemon=\"streamd\",type=\"BEGIN\"} 0"));
  EXPECT_NE(page.find("tor_relay_exit_dns_query_total{daemon=\"streamd\"}"), std::string::npos);
  // The families fed by counters added for C tor parity, from the real daemons' answers.
  EXPECT_TRUE(
      hasLine(page, "tor_relay_exit_dns_error_total{daemon=\"streamd\",reason=\"success\"} 0"));
  EXPECT_TRUE(
      hasLine(page, "tor_relay_exit_dns_error_total{daemon=\"streamd\",reason=\"nodata\"} 0"));
  EXPECT_TRUE(hasLine(page, "tor_relay_drop_cell_total{daemon=\"circuitd\"} 0"));
  EXPECT_TRUE(hasLine(page, "tor_relay_circ_proto_violation_total{daemon=\"circuitd\"} 0"));
  EXPECT_TRUE(hasLine(page,
                      "tor_relay_connections{daemon=\"channeld\",type=\"OR\",state=\"opened\","
                      "direction=\"received\",family=\"ipv6\"} 0"))
      << page;
  EXPECT_NE(
      page.find("tor_relay_connections_total{daemon=\"channeld\",type=\"OR\",state=\"created\","
                "direction=\"initiated\",family=\"ipv4\"} "),
      std::string::npos);
  // The real daemons report the families added for parity with C tor 0.4.9 (no traffic yet).
  EXPECT_TRUE(
      hasLine(page, "tor_relay_traffic_bytes{daemon=\"channeld\",direction=\"written\"} 0"));
  EXPECT_TRUE(hasLine(page, "tor_relay_traffic_bytes{daemon=\"streamd\",direction=\"read\"} 0"));
  EXPECT_TRUE(hasLine(
      page, "tor_relay_load_global_rate_limit_reached_total{daemon=\"channeld\",side=\"read\"} 0"));
  EXPECT_TRUE(hasLine(page, "tor_relay_load_tcp_exhaustion_total{daemon=\"streamd\"} 0"));
  EXPECT_TRUE(hasLine(page,
                      "tor_relay_congestion_control{daemon=\"circuitd\",state=\"on_circ_close\","
                      "action=\"cwnd\"} 0"));
  EXPECT_TRUE(hasLine(page, "tor_relay_load_socket_total{daemon=\"channeld\",state=\"opened\"} 0"));
  EXPECT_NE(page.find("tor_relay_load_socket_total{daemon=\"streamd\"} "), std::string::npos);
  EXPECT_EQ(page.find("tor_relay_signing_cert_expiry_timestamp"), std::string::npos)
      << "as C tor: only with OfflineMasterKey";
  EXPECT_NE(page.find("onionsplit_channeld_channels_open{daemon=\"channeld\"}"), std::string::npos);
  EXPECT_NE(page.find("onionsplit_confluxd_conflux_sets_open{daemon=\"confluxd\"}"),
            std::string::npos);
  EXPECT_NE(page.find("onionsplit_launcher_uptime_seconds "), std::string::npos);
  // streamd's DNS health: a series per nameserver (resolv.conf's, or libevent's 127.0.0.1:53 if it
  // has none) and the query latency histogram, empty before the first query.
  EXPECT_NE(
      page.find("onionsplit_streamd_dns_resolver_timeouts_total{daemon=\"streamd\",resolver=\""),
      std::string::npos);
  EXPECT_NE(page.find("# TYPE onionsplit_streamd_dns_query_duration_seconds histogram\n"),
            std::string::npos);
  EXPECT_TRUE(hasLine(
      page,
      "onionsplit_streamd_dns_query_duration_seconds_bucket{daemon=\"streamd\",le=\"+Inf\"} 0"));
  EXPECT_TRUE(hasLine(
      page, "onionsplit_streamd_dns_query_duration_seconds_sum{daemon=\"streamd\"} 0.000000"));
  EXPECT_TRUE(
      hasLine(page, "onionsplit_streamd_dns_query_duration_seconds_count{daemon=\"streamd\"} 0"));

  uint32_t old = before["streamd"].pid;
  ASSERT_GT(old, 0u);  // never kill(0, ...): that is our whole process group
  ASSERT_EQ(kill(static_cast<pid_t>(old), SIGKILL), 0);
  waitReady(l.ipc(), [&](auto& m) { return m["streamd"].pid != old; });
  page = scrape(port);
  EXPECT_TRUE(hasLine(page, "onionsplit_daemon_restarts_total{daemon=\"streamd\"} 1")) << page;
  EXPECT_TRUE(hasLine(page, "onionsplit_daemon_restarts_total{daemon=\"channeld\"} 0"));
  EXPECT_TRUE(hasLine(page, "onionsplit_daemon_up{daemon=\"streamd\"} 1"));

  // A daemon that cannot answer (stopped) is reported down within the scrape's deadline, and
  // the others still are there.
  uint32_t conflux = before["confluxd"].pid;
  ASSERT_GT(conflux, 0u);
  ASSERT_EQ(kill(static_cast<pid_t>(conflux), SIGSTOP), 0);
  auto t0 = Clock::now();
  page = scrape(port);
  auto took = Clock::now() - t0;
  kill(static_cast<pid_t>(conflux), SIGCONT);
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(hasLine(page, "onionsplit_daemon_up{daemon=\"confluxd\"} 0")) << page;
  EXPECT_TRUE(hasLine(page, "onionsplit_daemon_up{daemon=\"circuitd\"} 1"));
  EXPECT_EQ(page.find("onionsplit_confluxd_"), std::string::npos);
}

// NumCPUs 2: both circuitd shards answer the MetricsPort; C tor's families have one circuitd series
// (the shards' sum), onionsplit's own have one per shard, and a kill -9 of circuitd-1 counts as its
// restart alone.
TEST(LauncherMetrics, EachCircuitdShardIsADaemonAndCtorsFamiliesHaveOneSeries) {
  const std::vector<std::string> names = daemonNames(2);
  uint16_t port = freePort();
  Launcher l("NumCPUs 2\nMetricsPort 127.0.0.1:" + std::to_string(port) +
             "\nMetricsPortPolicy accept 127.0.0.1\n");
  ASSERT_GT(l.pid, 0);
  auto before = waitReady(
      l.ipc(), [](auto&) { return true; }, names);
  ASSERT_FALSE(HasFailure());
  std::string page = scrape(port);
  for (const auto& d : names)
    EXPECT_TRUE(hasLine(page, "onionsplit_daemon_up{daemon=\"" + d + "\"} 1")) << d << "\n" << page;
  EXPECT_TRUE(hasLine(page, "tor_relay_circuits_total{daemon=\"circuitd\",state=\"opened\"} 0"));
  EXPECT_EQ(page.find("{daemon=\"circuitd-1\",state=\"opened\"}"), std::string::npos) << page;
  EXPECT_NE(page.find("onionsplit_circuitd_ipc_connections_accepted_total{daemon=\"circuitd-1\"} "),
            std::string::npos)
      << page;

  uint32_t old = before["circuitd-1"].pid;
  ASSERT_GT(old, 0u);  // never kill(0, ...): that is our whole process group
  ASSERT_EQ(kill(static_cast<pid_t>(old), SIGKILL), 0);
  waitReady(
      l.ipc(), [&](auto& m) { return m["circuitd-1"].pid != old; }, names);
  page = scrape(port);
  EXPECT_TRUE(hasLine(page, "onionsplit_daemon_restarts_total{daemon=\"circuitd-1\"} 1")) << page;
  EXPECT_TRUE(hasLine(page, "onionsplit_daemon_restarts_total{daemon=\"circuitd\"} 0")) << page;
}

TEST(LauncherMetrics, PolicyRefusesOthersAndBadRequestsGetCtorsAnswers) {
  uint16_t port = freePort();
  Launcher l("MetricsPort 127.0.0.1:" + std::to_string(port) +
             "\nMetricsPortPolicy reject 127.0.0.3, accept 127.0.0.0/8\n");
  ASSERT_GT(l.pid, 0);
  waitReady(l.ipc(), [](auto&) { return true; });

  EXPECT_EQ(scrape(port).rfind("HTTP/1.0 200 OK", 0), 0u);
  auto refused = talk(port, "GET /metrics HTTP/1.0\r\n\r\n", "127.0.0.3");
  EXPECT_TRUE(refused.connected);
  EXPECT_EQ(refused.text, "") << "the policy's refusal is a closed connection";
  // Bound where configured only: 127.0.0.2 is loopback too, but nothing listens there.
  EXPECT_FALSE(talk(port, "GET /metrics HTTP/1.0\r\n\r\n", "127.0.0.1", "127.0.0.2").connected);

  EXPECT_EQ(talk(port, "POST /metrics HTTP/1.0\r\n\r\n").text.rfind("HTTP/1.0 405", 0), 0u);
  EXPECT_EQ(talk(port, "GET /other HTTP/1.0\r\n\r\n").text.rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(talk(port, "hello\r\n\r\n").text.rfind("HTTP/1.0 400", 0), 0u);
  std::string huge = "GET /metrics HTTP/1.0\r\nX: " + std::string(8192, 'a') + "\r\n\r\n";
  EXPECT_EQ(talk(port, huge).text.rfind("HTTP/1.0 400", 0), 0u);
  // Still serving after all that.
  EXPECT_EQ(scrape(port).rfind("HTTP/1.0 200 OK", 0), 0u);
}

TEST(LauncherMetrics, WithoutAPolicyNobodyIsAnsweredAsInCtor) {
  uint16_t port = freePort();
  Launcher l("MetricsPort " + std::to_string(port) + "\n");  // a bare port: 127.0.0.1
  ASSERT_GT(l.pid, 0);
  waitReady(l.ipc(), [](auto&) { return true; });
  auto r = talk(port, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(r.connected);
  EXPECT_EQ(r.text, "");
}

}  // namespace
}  // namespace onionsplit::launcher

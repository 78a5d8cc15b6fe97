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

#include "launcher/metrics_service.h"
#include "tests/launcher/metrics_http.h"
#include "tests/launcher/service_relay.h"

namespace onionsplit::launcher {
namespace {

using http_test::freePort;
using http_test::hasLine;
using http_test::scrape;
using http_test::talk;

using namespace service_test;

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
  ServiceRelay r("metrics", "MetricsPort 127.0.0.1:@PORT@\nMetricsPortPolicy accept 127.0.0.1\n");
  ASSERT_FALSE(r.dir.empty());
  ASSERT_TRUE(r.keygen());
  ASSERT_TRUE(r.makeSockets());
  r.startService(true);  // before the daemons: it reports them down until they answer
  std::string page = scrapeUntil(
      r.servicePort, [](const std::string& p) { return p.rfind("HTTP/1.0 200 OK\r\n", 0) == 0; });
  for (const char* d : kDaemons)
    EXPECT_TRUE(hasLine(page, upLine(d, 0))) << d << "\n" << page;
  for (const char* d : kDaemons)
    r.start(d);
  page = scrapeUntil(r.servicePort, allUp);
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
  page = scrape(r.servicePort);
  ASSERT_EQ(page.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << page.substr(0, 200);
  EXPECT_TRUE(hasLine(page, upLine("streamd", 0))) << page;
  EXPECT_EQ(page.find("onionsplit_streamd_"), std::string::npos);
  EXPECT_EQ(page.find("tor_relay_streams_total"), std::string::npos);
  EXPECT_TRUE(hasLine(page, upLine("circuitd", 1)));
  EXPECT_TRUE(hasLine(page, restartsLine("streamd", 0))) << "down is not yet a restart";
  // Back (systemd's Restart=always, on the same socket): up, and one restart.
  r.start("streamd");
  page = scrapeUntil(r.servicePort,
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
  page = scrapeUntil(r.servicePort,
                     [](const std::string& p) { return hasLine(p, upLine("confluxd", 1)); });
  EXPECT_TRUE(hasLine(page, restartsLine("confluxd", 2))) << page;
  EXPECT_TRUE(hasLine(page, restartsLine("streamd", 1)));

  // A daemon that cannot answer (stopped) is down within the scrape's deadline.
  pid_t circuitd = r.pids["circuitd"];
  ASSERT_GT(circuitd, 0);
  ASSERT_EQ(kill(circuitd, SIGSTOP), 0);
  auto t0 = std::chrono::steady_clock::now();
  page = scrape(r.servicePort);
  auto took = std::chrono::steady_clock::now() - t0;
  kill(circuitd, SIGCONT);
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(hasLine(page, upLine("circuitd", 0))) << page;
  EXPECT_TRUE(hasLine(page, upLine("channeld", 1)));
  EXPECT_TRUE(hasLine(page, restartsLine("circuitd", 0))) << "stopped and continued: no restart";
  int status = 0;
  EXPECT_EQ(waitpid(r.servicePid, &status, WNOHANG), 0) << "the metrics service must still run";
  EXPECT_NE(r.serviceOutput().find("socket from systemd"), std::string::npos) << r.serviceOutput();
}

TEST(MetricsService, PolicyRefusalsAndBadRequestsWhenItBindsThePortItself) {
  // No daemon runs at all: the page says so, and every answer is still C tor's.
  ServiceRelay r("metrics",
                 "MetricsPort 127.0.0.1:@PORT@\n"
                 "MetricsPortPolicy reject 127.0.0.3, accept 127.0.0.0/8\n");
  ASSERT_FALSE(r.dir.empty());
  r.startService(false);
  std::string page = scrapeUntil(
      r.servicePort, [](const std::string& p) { return p.rfind("HTTP/1.0 200 OK\r\n", 0) == 0; });
  for (const char* d : kDaemons)
    EXPECT_TRUE(hasLine(page, upLine(d, 0))) << d << "\n" << page;
  auto refused = talk(r.servicePort, "GET /metrics HTTP/1.0\r\n\r\n", "127.0.0.3");
  EXPECT_TRUE(refused.connected);
  EXPECT_EQ(refused.text, "") << "the policy's refusal is a closed connection";
  EXPECT_EQ(talk(r.servicePort, "GET /metrics HTTP/1.0\r\n\r\n", "127.0.0.2")
                .text.rfind("HTTP/1.0 200", 0),
            0u);
  EXPECT_FALSE(
      talk(r.servicePort, "GET /metrics HTTP/1.0\r\n\r\n", "127.0.0.1", "127.0.0.2").connected)
      << "bound where configured only";
  EXPECT_EQ(talk(r.servicePort, "POST /metrics HTTP/1.0\r\n\r\n").text.rfind("HTTP/1.0 405", 0),
            0u);
  EXPECT_EQ(talk(r.servicePort, "GET /x HTTP/1.0\r\n\r\n").text.rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(talk(r.servicePort, "\x01\x02\r\n\r\n").text.rfind("HTTP/1.0 400", 0), 0u);
  std::string huge = "GET /metrics HTTP/1.0\r\nX: " + std::string(8192, 'a') + "\r\n\r\n";
  EXPECT_EQ(talk(r.servicePort, huge).text.rfind("HTTP/1.0 400", 0), 0u);
  EXPECT_EQ(scrape(r.servicePort).rfind("HTTP/1.0 200 OK", 0), 0u) << "still serving";
  EXPECT_NE(r.serviceOutput().find("bound here"), std::string::npos) << r.serviceOutput();
}

TEST(MetricsService, WithoutAPolicyNobodyIsAnswered) {
  ServiceRelay r("metrics", "MetricsPort 127.0.0.1:@PORT@\n");
  ASSERT_FALSE(r.dir.empty());
  r.startService(true);
  std::string out;
  for (int i = 0; i < 100 && out.find("MetricsPort on") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    out = r.serviceOutput();
  }
  ASSERT_NE(out.find("MetricsPort on"), std::string::npos) << out;
  auto reply = talk(r.servicePort, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(reply.connected);
  EXPECT_EQ(reply.text, "");
}

TEST(MetricsService, APassedSocketElsewhereThanTheTorrcSaysIsAnError) {
  uint16_t other = freePort();
  ServiceRelay r("metrics", "MetricsPort 127.0.0.1:" + std::to_string(other) +
                                "\nMetricsPortPolicy accept 127.0.0.1\n");
  ASSERT_FALSE(r.dir.empty());
  r.startService(true);  // the socket is on r.servicePort, the torrc says `other`
  int status = waitExit(r.servicePid);
  r.servicePid = -1;
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  std::string out = r.serviceOutput();
  EXPECT_NE(out.find("listens on 127.0.0.1:" + std::to_string(r.servicePort)), std::string::npos)
      << out;
  EXPECT_NE(out.find("MetricsPort 127.0.0.1:" + std::to_string(other)), std::string::npos) << out;
}

TEST(MetricsService, WithoutMetricsPortThereIsNothingToServe) {
  ServiceRelay r("metrics", "");
  ASSERT_FALSE(r.dir.empty());
  r.startService(true);
  int status = waitExit(r.servicePid);
  r.servicePid = -1;
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(r.serviceOutput().find("no MetricsPort"), std::string::npos) << r.serviceOutput();
}

}  // namespace
}  // namespace onionsplit::launcher

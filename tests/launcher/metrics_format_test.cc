// Unit tests of the MetricsPort page (launcher/metrics_format.h) and its access policy
// (launcher/metrics_policy.h): C tor's names and labels where a counter has an equivalent,
// onionsplit_<daemon>_<counter> otherwise, HELP and TYPE once per family, counters and gauges,
// escaping, hostile names, and the launcher's own facts.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include "launcher/metrics_format.h"
#include "launcher/metrics_policy.h"

namespace onionsplit::launcher {
namespace {

DaemonMetrics daemon(const std::string& name,
                     std::vector<std::pair<std::string, uint64_t>> counters, bool up = true) {
  DaemonMetrics d;
  d.daemon = name;
  d.up = up;
  d.startedAtMs = 1'000'000;
  d.counters = std::move(counters);
  return d;
}

LauncherFacts facts() {
  return LauncherFacts{"0.1.0", 900'000, 1'060'000};
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

bool has(const std::string& text, const std::string& line) {
  for (const auto& l : lines(text))
    if (l == line) return true;
  return false;
}

TEST(MetricsFormat, CtorNamesAndLabelsWhereAnEquivalentExists) {
  auto page = formatMetrics({daemon("circuitd", {{"circuits_open", 7},
                                                 {"circuits_created_fast_total", 1},
                                                 {"circuits_created_ntor_total", 2},
                                                 {"circuits_created_ntor3_total", 3},
                                                 {"circuits_congestion_control_total", 3}}),
                             daemon("channeld", {{"dos_circuit_rejected_total", 4},
                                                 {"dos_concurrent_conn_rejected_total", 6}}),
                             daemon("streamd", {{"streams_opened_total", 11},
                                                {"resolve_requests_total", 5},
                                                {"dns_queries_total", 9},
                                                {"dos_stream_rejected_total", 8}})},
                            facts());
  EXPECT_TRUE(has(page, "# TYPE tor_relay_circuits_total gauge"));
  EXPECT_TRUE(has(page, "tor_relay_circuits_total{daemon=\"circuitd\",state=\"opened\"} 7"));
  EXPECT_TRUE(has(page, "# TYPE tor_relay_load_onionskins_total counter"));
  EXPECT_TRUE(has(page,
                  "tor_relay_load_onionskins_total{daemon=\"circuitd\",type=\"fast\","
                  "action=\"processed\"} 1"));
  EXPECT_TRUE(has(page,
                  "tor_relay_load_onionskins_total{daemon=\"circuitd\",type=\"ntor\","
                  "action=\"processed\"} 2"));
  EXPECT_TRUE(has(page,
                  "tor_relay_load_onionskins_total{daemon=\"circuitd\",type=\"ntor_v3\","
                  "action=\"processed\"} 3"));
  EXPECT_TRUE(has(page,
                  "tor_relay_congestion_control_total{daemon=\"circuitd\","
                  "state=\"cc_circuits\",action=\"circs_created\"} 3"));
  EXPECT_TRUE(has(page, "# TYPE tor_relay_dos_total counter"));
  EXPECT_TRUE(has(page, "tor_relay_dos_total{daemon=\"channeld\",type=\"circuit_rejected\"} 4"));
  EXPECT_TRUE(
      has(page, "tor_relay_dos_total{daemon=\"channeld\",type=\"concurrent_conn_rejected\"} 6"));
  EXPECT_TRUE(has(page, "tor_relay_dos_total{daemon=\"streamd\",type=\"stream_rejected\"} 8"));
  EXPECT_TRUE(has(page, "tor_relay_streams_total{daemon=\"streamd\",type=\"BEGIN\"} 11"));
  EXPECT_TRUE(has(page, "tor_relay_streams_total{daemon=\"streamd\",type=\"RESOLVE\"} 5"));
  EXPECT_TRUE(has(page, "tor_relay_exit_dns_query_total{daemon=\"streamd\"} 9"));
  // Mapped counters are not exported a second time under onionsplit_ names.
  EXPECT_EQ(page.find("onionsplit_circuitd_circuits_open"), std::string::npos);
  EXPECT_EQ(page.find("onionsplit_streamd_streams_opened_total"), std::string::npos);
}

TEST(MetricsFormat, TrafficLoadAndSigningCertFamiliesAsCtorNamesThem) {
  auto page = formatMetrics({daemon("channeld", {{"link_bytes_read_total", 100},
                                                 {"link_bytes_written_total", 200},
                                                 {"bandwidth_read_limit_reached_total", 3},
                                                 {"bandwidth_write_limit_reached_total", 4},
                                                 {"sockets_in_use", 5},
                                                 {"sockets_limit", 1024},
                                                 {"signing_cert_expiry_timestamp", 1900000800}}),
                             daemon("streamd", {{"exit_bytes_read_total", 1000},
                                                {"exit_bytes_written_total", 20},
                                                {"connects_out_of_ports_total", 2},
                                                {"sockets_in_use", 6},
                                                {"sockets_limit", 2048}})},
                            facts());
  const char* want[] = {
      "# TYPE tor_relay_traffic_bytes counter",
      "tor_relay_traffic_bytes{daemon=\"channeld\",direction=\"read\"} 100",
      "tor_relay_traffic_bytes{daemon=\"channeld\",direction=\"written\"} 200",
      "tor_relay_traffic_bytes{daemon=\"streamd\",direction=\"read\"} 1000",
      "tor_relay_traffic_bytes{daemon=\"streamd\",direction=\"written\"} 20",
      "# TYPE tor_relay_load_global_rate_limit_reached_total counter",
      "tor_relay_load_global_rate_limit_reached_total{daemon=\"channeld\",side=\"read\"} 3",
      "tor_relay_load_global_rate_limit_reached_total{daemon=\"channeld\",side=\"write\"} 4",
      "# TYPE tor_relay_load_tcp_exhaustion_total counter",
      "tor_relay_load_tcp_exhaustion_total{daemon=\"streamd\"} 2",
      "# TYPE tor_relay_load_socket_total gauge",
      "tor_relay_load_socket_total{daemon=\"channeld\",state=\"opened\"} 5",
      "tor_relay_load_socket_total{daemon=\"channeld\"} 1024",
      "tor_relay_load_socket_total{daemon=\"streamd\",state=\"opened\"} 6",
      "tor_relay_load_socket_total{daemon=\"streamd\"} 2048",
      "# TYPE tor_relay_signing_cert_expiry_timestamp gauge",
      "tor_relay_signing_cert_expiry_timestamp{daemon=\"channeld\"} 1900000800",
  };
  for (const char* line : want)
    EXPECT_TRUE(has(page, line)) << line << "\n" << page;
  EXPECT_EQ(page.find("onionsplit_channeld_link_bytes"), std::string::npos);
  EXPECT_EQ(page.find("onionsplit_streamd_exit_bytes"), std::string::npos);
}

// MaxMemInQueues: each daemon's OOM handler is one series of C tor's family; summed over the
// daemon label they are C tor's tor_relay_load_oom_bytes_total{subsys="cell"}.
TEST(MetricsFormat, EachDaemonsOomBytesAreASeriesOfCtorsFamily) {
  auto page = formatMetrics(
      {daemon("circuitd", {{"oom_bytes_total", 7}}), daemon("streamd", {{"oom_bytes_total", 5}}),
       daemon("confluxd", {{"oom_bytes_total", 3}})},
      facts());
  EXPECT_TRUE(has(page, "tor_relay_load_oom_bytes_total{daemon=\"circuitd\",subsys=\"cell\"} 7"));
  EXPECT_TRUE(has(page, "tor_relay_load_oom_bytes_total{daemon=\"streamd\",subsys=\"cell\"} 5"));
  EXPECT_TRUE(has(page, "tor_relay_load_oom_bytes_total{daemon=\"confluxd\",subsys=\"cell\"} 3"));
  EXPECT_TRUE(has(page, "# TYPE tor_relay_load_oom_bytes_total counter"));
}

// NumCPUs: circuitd's shards are one circuitd to C tor's families, summed (counters and the
// circuits_open gauge alike; a shard that is down adds nothing), but for the congestion control
// averages, which are the first answering shard's. Their other counters and the launcher's facts
// are per shard, the shard's name in the daemon label.
TEST(MetricsFormat, CircuitdShardsAddUpInCtorsFamiliesAndStandAloneInOnionsplits) {
  auto shard1 = daemon("circuitd-1", {{"circuits_open", 5},
                                      {"circuits_created_ntor_total", 20},
                                      {"cc_slow_start_exit_cwnd", 300},
                                      {"ipc_channeld_sessions", 1},
                                      {"oom_bytes_total", 2}});
  shard1.restarts = 2;
  auto page = formatMetrics(
      {daemon("channeld", {{"link_bytes_read_total", 100}}),
       daemon("circuitd", {{"circuits_open", 7},
                           {"circuits_created_ntor_total", 11},
                           {"cc_slow_start_exit_cwnd", 124},
                           {"ipc_channeld_sessions", 1},
                           {"oom_bytes_total", UINT64_MAX - 1}}),
       shard1,
       daemon("circuitd-2", {{"circuits_open", 1000}, {"circuits_created_ntor_total", 1000}},
              false),
       daemon("circuitd-3", {{"circuits_open", 3}, {"circuits_open", 40}})},
      facts());
  EXPECT_TRUE(has(page, "tor_relay_circuits_total{daemon=\"circuitd\",state=\"opened\"} 15"))
      << page;
  EXPECT_TRUE(has(page,
                  "tor_relay_load_onionskins_total{daemon=\"circuitd\",type=\"ntor\","
                  "action=\"processed\"} 31"));
  EXPECT_TRUE(has(page,
                  "tor_relay_congestion_control{daemon=\"circuitd\",state=\"slow_start_exit\","
                  "action=\"cwnd\"} 124"));
  // A sum past 2^64 - 1 stays there rather than wrapping.
  EXPECT_TRUE(has(page, "tor_relay_load_oom_bytes_total{daemon=\"circuitd\",subsys=\"cell\"} " +
                            std::to_string(UINT64_MAX)));
  // One series per family: none with a shard's name.
  EXPECT_EQ(page.find("tor_relay_circuits_total{daemon=\"circuitd-"), std::string::npos) << page;
  EXPECT_EQ(page.find("tor_relay_load_onionskins_total{daemon=\"circuitd-"), std::string::npos);
  EXPECT_TRUE(has(page, "# TYPE onionsplit_circuitd_ipc_channeld_sessions gauge"));
  EXPECT_TRUE(has(page, "onionsplit_circuitd_ipc_channeld_sessions{daemon=\"circuitd\"} 1"));
  EXPECT_TRUE(has(page, "onionsplit_circuitd_ipc_channeld_sessions{daemon=\"circuitd-1\"} 1"));
  EXPECT_EQ(page.find("onionsplit_circuitd_1_"), std::string::npos) << page;
  EXPECT_TRUE(has(page, "onionsplit_daemon_up{daemon=\"circuitd-1\"} 1"));
  EXPECT_TRUE(has(page, "onionsplit_daemon_up{daemon=\"circuitd-2\"} 0"));
  EXPECT_TRUE(has(page, "onionsplit_daemon_restarts_total{daemon=\"circuitd-1\"} 2"));
  EXPECT_TRUE(has(page, "onionsplit_daemon_uptime_seconds{daemon=\"circuitd-1\"} 60"));
}

TEST(MetricsFormat, OtherCountersAreOnionsplitDaemonCounterWithDaemonLabel) {
  auto page = formatMetrics(
      {daemon("channeld", {{"channels_open", 3}, {"cells_waited_for_credit_total", 12}}),
       daemon("confluxd", {{"conflux_sets_open", 1}})},
      facts());
  EXPECT_TRUE(has(page, "# TYPE onionsplit_channeld_channels_open gauge"));
  EXPECT_TRUE(has(page, "onionsplit_channeld_channels_open{daemon=\"channeld\"} 3"));
  EXPECT_TRUE(has(page, "# TYPE onionsplit_channeld_cells_waited_for_credit_total counter"));
  EXPECT_TRUE(
      has(page, "onionsplit_channeld_cells_waited_for_credit_total{daemon=\"channeld\"} 12"));
  EXPECT_TRUE(has(page, "onionsplit_confluxd_conflux_sets_open{daemon=\"confluxd\"} 1"));
}

TEST(MetricsFormat, EndReasonsBecomeOneFamilyWithAReasonLabel) {
  auto page = formatMetrics(
      {daemon("streamd", {{"ends_sent_exitpolicy_total", 2}, {"ends_sent_done_total", 5}})},
      facts());
  EXPECT_TRUE(has(page, "# TYPE onionsplit_streamd_ends_sent_total counter"));
  EXPECT_TRUE(
      has(page, "onionsplit_streamd_ends_sent_total{daemon=\"streamd\",reason=\"exitpolicy\"} 2"));
  EXPECT_TRUE(
      has(page, "onionsplit_streamd_ends_sent_total{daemon=\"streamd\",reason=\"done\"} 5"));
}

// streamd's DNS health: a label in the counter's name (the nameserver) and a histogram sent as
// its parts become one labelled family and one Prometheus histogram (le ascending, +Inf last, then
// _sum in seconds and _count).
TEST(MetricsFormat, LabelledCountersAndHistogramsFromTheirParts) {
  auto page =
      formatMetrics({daemon("streamd", {{"dns_resolver_timeouts_total{resolver=127.0.0.1:53}", 4},
                                        {"dns_resolver_timeouts_total{resolver=[::1]:5353}", 0},
                                        {"dns_resolver_down{resolver=127.0.0.1:53}", 1},
                                        {"dns_query_duration_seconds_bucket{le=0.005}", 1},
                                        {"dns_query_duration_seconds_bucket{le=1}", 2},
                                        {"dns_query_duration_seconds_bucket{le=+Inf}", 3},
                                        {"dns_query_duration_seconds_sum_micros", 2'004'500},
                                        {"dns_query_duration_seconds_count", 3},
                                        {"other_count", 7},
                                        {"x{daemon=evil}", 1}})},
                    facts());
  EXPECT_TRUE(has(page, "# TYPE onionsplit_streamd_dns_resolver_timeouts_total counter"));
  EXPECT_TRUE(has(page,
                  "onionsplit_streamd_dns_resolver_timeouts_total{daemon=\"streamd\","
                  "resolver=\"127.0.0.1:53\"} 4"));
  EXPECT_TRUE(has(page,
                  "onionsplit_streamd_dns_resolver_timeouts_total{daemon=\"streamd\","
                  "resolver=\"[::1]:5353\"} 0"));
  EXPECT_TRUE(has(page, "# TYPE onionsplit_streamd_dns_resolver_down gauge"));
  std::vector<std::string> histogram;
  bool in = false;
  for (const auto& l : lines(page)) {
    if (l.rfind("# HELP ", 0) == 0)
      in = l.rfind("# HELP onionsplit_streamd_dns_query_duration", 0) == 0;
    if (in) histogram.push_back(l);
  }
  ASSERT_EQ(histogram.size(), 7u) << page;
  EXPECT_EQ(histogram[1], "# TYPE onionsplit_streamd_dns_query_duration_seconds histogram");
  EXPECT_EQ(histogram[2],
            "onionsplit_streamd_dns_query_duration_seconds_bucket{daemon=\"streamd\",le=\"0.005\"} "
            "1");
  EXPECT_EQ(histogram[4],
            "onionsplit_streamd_dns_query_duration_seconds_bucket{daemon=\"streamd\",le=\"+Inf\"} "
            "3");
  EXPECT_EQ(histogram[5],
            "onionsplit_streamd_dns_query_duration_seconds_sum{daemon=\"streamd\"} 2.004500");
  EXPECT_EQ(histogram[6],
            "onionsplit_streamd_dns_query_duration_seconds_count{daemon=\"streamd\"} 3");
  // _count of no histogram is an ordinary gauge; a second `daemon` label is not taken.
  EXPECT_TRUE(has(page, "onionsplit_streamd_other_count{daemon=\"streamd\"} 7"));
  EXPECT_EQ(page.find("daemon=\"evil\""), std::string::npos);
}

// Prometheus rejects a page where a family's HELP or TYPE repeats or its samples are not together.
TEST(MetricsFormat, HelpAndTypeOncePerFamilyAndSamplesTogether) {
  auto page = formatMetrics(
      {daemon("channeld", {{"ipc_connections_accepted_total", 1}}),
       daemon("circuitd", {{"ipc_connections_accepted_total", 2}, {"circuits_open", 1}}),
       daemon("streamd", {{"streams_opened_total", 1}, {"resolve_requests_total", 1}}),
       daemon("confluxd", {{"ipc_connections_accepted_total", 3}})},
      facts());
  std::map<std::string, int> help, type;
  std::string current;
  std::map<std::string, bool> closed;
  for (const auto& l : lines(page)) {
    ASSERT_FALSE(l.empty());
    if (l.rfind("# HELP ", 0) == 0) {
      std::string name = l.substr(7, l.find(' ', 7) - 7);
      ++help[name];
      if (!current.empty()) closed[current] = true;
      current = name;
      continue;
    }
    if (l.rfind("# TYPE ", 0) == 0) {
      std::string name = l.substr(7, l.find(' ', 7) - 7);
      ++type[name];
      EXPECT_EQ(name, current) << "TYPE right after its HELP";
      continue;
    }
    std::string name = l.substr(0, l.find_first_of("{ "));
    EXPECT_EQ(name, current) << "sample outside its family: " << l;
    EXPECT_FALSE(closed[name]) << l;
  }
  for (auto& [name, n] : help) {
    EXPECT_EQ(n, 1) << name;
    EXPECT_EQ(type[name], 1) << name;
  }
  EXPECT_TRUE(has(page, "tor_relay_streams_total{daemon=\"streamd\",type=\"BEGIN\"} 1"));
  EXPECT_TRUE(has(page, "tor_relay_streams_total{daemon=\"streamd\",type=\"RESOLVE\"} 1"));
}

TEST(MetricsFormat, LauncherFactsForEveryDaemonAndNoCountersFromOneThatIsDown) {
  auto up = daemon("channeld", {{"channels_open", 2}});
  up.restarts = 3;
  auto down = daemon("streamd", {{"streams_open", 4}}, false);
  down.restarts = 1;
  auto page = formatMetrics({up, down}, facts());
  EXPECT_TRUE(has(page, "# TYPE onionsplit_daemon_up gauge"));
  EXPECT_TRUE(has(page, "onionsplit_daemon_up{daemon=\"channeld\"} 1"));
  EXPECT_TRUE(has(page, "onionsplit_daemon_up{daemon=\"streamd\"} 0"));
  EXPECT_TRUE(has(page, "# TYPE onionsplit_daemon_restarts_total counter"));
  EXPECT_TRUE(has(page, "onionsplit_daemon_restarts_total{daemon=\"channeld\"} 3"));
  EXPECT_TRUE(has(page, "onionsplit_daemon_restarts_total{daemon=\"streamd\"} 1"));
  EXPECT_TRUE(has(page, "onionsplit_daemon_uptime_seconds{daemon=\"channeld\"} 60"));
  EXPECT_EQ(page.find("onionsplit_daemon_uptime_seconds{daemon=\"streamd\"}"), std::string::npos);
  EXPECT_EQ(page.find("streams_open"), std::string::npos);
  EXPECT_TRUE(has(page, "onionsplit_launcher_uptime_seconds 160"));
  EXPECT_TRUE(has(page, "onionsplit_build_info{version=\"0.1.0\"} 1"));
}

TEST(MetricsFormat, UnderSystemdTheMetricsServiceSaysSoInsteadOfTheLauncher) {
  auto up = daemon("circuitd", {{"circuits_open", 1}});
  up.restarts = 2;
  LauncherFacts f = facts();
  f.server = Server::kMetricsService;
  auto page = formatMetrics({up}, f);
  EXPECT_TRUE(has(page, "onionsplit_daemon_restarts_total{daemon=\"circuitd\"} 2"));
  EXPECT_NE(page.find("# HELP onionsplit_daemon_restarts_total New instances of the daemon"),
            std::string::npos)
      << page;
  EXPECT_TRUE(has(page, "# TYPE onionsplit_metrics_uptime_seconds gauge"));
  EXPECT_TRUE(has(page, "onionsplit_metrics_uptime_seconds 160"));
  EXPECT_EQ(page.find("onionsplit_launcher_uptime_seconds"), std::string::npos);
  EXPECT_TRUE(has(page, "tor_relay_circuits_total{daemon=\"circuitd\",state=\"opened\"} 1"));
}

TEST(MetricsFormat, LabelValuesAreEscaped) {
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  auto page = formatMetrics({daemon("streamd", {{"ends_sent_we\"ird\n_total", 1}})}, facts());
  EXPECT_TRUE(has(
      page, "onionsplit_streamd_ends_sent_total{daemon=\"streamd\",reason=\"we\\\"ird\\n\"} 1"));
}

TEST(MetricsFormat, HostileNamesAreReducedAndDuplicatesDropped) {
  auto page = formatMetrics(
      {daemon(
          "confluxd",
          {{"bad name{x=\"1\"}\n# TYPE evil counter", 1}, {"", 2}, {"twice", 3}, {"twice", 4}})},
      facts());
  for (const auto& l : lines(page)) {
    if (l[0] == '#') {
      EXPECT_TRUE(l.rfind("# HELP ", 0) == 0 || l.rfind("# TYPE ", 0) == 0) << l;
      EXPECT_EQ(l.find("evil counter"), std::string::npos) << l;
    }
  }
  EXPECT_TRUE(has(page, "onionsplit_confluxd_unnamed{daemon=\"confluxd\"} 2"));
  EXPECT_TRUE(has(page, "onionsplit_confluxd_twice{daemon=\"confluxd\"} 3"));
  EXPECT_EQ(page.find("onionsplit_confluxd_twice{daemon=\"confluxd\"} 4"), std::string::npos);
  EXPECT_NE(page.find("_TYPE_evil_counter{daemon=\"confluxd\"} 1"), std::string::npos);
}

exitpolicy::IpAddress ip(const char* text) {
  return *exitpolicy::IpAddress::parse(text);
}

TEST(MetricsPolicy, RejectsEverythingByDefaultAsCtorDoes) {
  auto p = MetricsPolicy::parse({});
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->permits(ip("127.0.0.1")));
  EXPECT_FALSE(p->permits(ip("::1")));
}

TEST(MetricsPolicy, FirstMatchWinsAndPortsAreIgnored) {
  auto p = MetricsPolicy::parse({"reject 127.0.0.2", "accept 127.0.0.0/8:9035", "accept [::1]"});
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->permits(ip("127.0.0.1")));
  EXPECT_FALSE(p->permits(ip("127.0.0.2")));
  EXPECT_TRUE(p->permits(ip("::1")));
  EXPECT_FALSE(p->permits(ip("10.0.0.1")));
  auto all = MetricsPolicy::parse({"accept *"});
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->permits(ip("192.0.2.1")));
}

TEST(MetricsPolicy, ABadItemIsAnErrorThatNamesIt) {
  auto p = MetricsPolicy::parse({"allow 127.0.0.1"});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("MetricsPortPolicy"), std::string::npos);
  EXPECT_NE(p.error().find("allow 127.0.0.1"), std::string::npos);
}

TEST(MetricsFormat, LabelledCtorFamiliesTakeTheirLabelsFromTheCounterName) {
  auto page = formatMetrics(
      {daemon("channeld", {{"or_connections_received_ipv6", 2},
                           {"or_connections_initiated_ipv4_created_total", 5},
                           {"or_connections_received", 1},
                           {"or_connections__ipv4", 1}}),
       daemon("streamd", {{"dns_answers_tor_timeout_total", 3}, {"dns_answers__total", 4}})},
      facts());
  EXPECT_TRUE(has(page, "# TYPE tor_relay_connections gauge"));
  EXPECT_TRUE(has(page,
                  "tor_relay_connections{daemon=\"channeld\",type=\"OR\",state=\"opened\","
                  "direction=\"received\",family=\"ipv6\"} 2"));
  EXPECT_TRUE(has(page, "# TYPE tor_relay_connections_total counter"));
  EXPECT_TRUE(has(page,
                  "tor_relay_connections_total{daemon=\"channeld\",type=\"OR\","
                  "state=\"created\",direction=\"initiated\",family=\"ipv4\"} 5"));
  EXPECT_TRUE(
      has(page, "tor_relay_exit_dns_error_total{daemon=\"streamd\",reason=\"tor_timeout\"} 3"));
  // A name that lacks a part keeps onionsplit's own name rather than make up a label.
  EXPECT_TRUE(has(page, "onionsplit_channeld_or_connections_received{daemon=\"channeld\"} 1"));
  EXPECT_TRUE(has(page, "onionsplit_channeld_or_connections__ipv4{daemon=\"channeld\"} 1"));
  EXPECT_TRUE(has(page, "onionsplit_streamd_dns_answers__total{daemon=\"streamd\"} 4"));
}

}  // namespace
}  // namespace onionsplit::launcher

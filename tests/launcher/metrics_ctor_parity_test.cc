// Parity of the MetricsPort page (launcher/metrics_format.h) with C tor 0.4.9's relay MetricsPort:
// tests/data/metrics/ctor-relay-0.4.9.prom is a real scrape of Debian's tor 0.4.9.11 run as a
// relay (private network, no descriptor published). Every C tor family is either exported by
// onionsplit, with C tor's type, every label key C tor uses (plus `daemon`) and only label values
// C tor uses, or listed in kNotExported with the reason; a family that starts being exported must
// leave the list. The page is made from the counter names the daemons report (their Control
// `counters` lambdas in <daemon>/main.cc), with distinct values so each sample can be traced.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "common/dos/dos_counters.h"
#include "launcher/metrics_format.h"

namespace onionsplit::launcher {
namespace {

// C tor's families that onionsplit does not export, and why (none today; docs/OPERATING.md would
// list the same).
const std::map<std::string, std::string> kNotExported = {};

struct Family {
  std::string type;
  std::map<std::string, std::set<std::string>> labels;  // key -> values seen
};

// Families of a Prometheus text page: TYPE lines and the label keys and values of samples.
std::map<std::string, Family> parse(std::istream& in) {
  std::map<std::string, Family> out;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ")) {
      std::istringstream l(line.substr(7));
      std::string name, type;
      l >> name >> type;
      out[name].type = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    size_t brace = line.find('{');
    size_t space = line.find(' ');
    std::string name = line.substr(0, std::min(brace, space));
    Family& f = out[name];
    if (brace == std::string::npos || brace > space) continue;
    std::string labels = line.substr(brace + 1, line.find('}') - brace - 1);
    for (size_t pos = 0; pos < labels.size();) {
      size_t eq = labels.find('=', pos);
      size_t end = labels.find('"', eq + 2);  // values here hold no escaped quotes
      f.labels[labels.substr(pos, eq - pos)].insert(labels.substr(eq + 2, end - eq - 2));
      pos = end + 2;  // past `",`
    }
  }
  return out;
}

std::map<std::string, Family> ctorFamilies() {
  std::ifstream f(std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/metrics/ctor-relay-0.4.9.prom");
  EXPECT_TRUE(f.good());
  return parse(f);
}

using Counters = std::vector<std::pair<std::string, uint64_t>>;

// The counters each daemon reports that have a C tor equivalent, named as <daemon>/main.cc does.
std::vector<DaemonMetrics> daemons() {
  uint64_t v = 1;
  auto next = [&v](const std::vector<std::string>& names) {
    Counters c;
    for (const auto& n : names)
      c.emplace_back(n, v++);
    return c;
  };
  std::vector<std::string> channeld = {"link_bytes_read_total",
                                       "link_bytes_written_total",
                                       "bandwidth_read_limit_reached_total",
                                       "bandwidth_write_limit_reached_total",
                                       "sockets_in_use",
                                       "sockets_limit",
                                       "oom_bytes_total"};
  // channeld's relay_flag_<Flag> (channeld/net/relay_status.cc), one for each flag C tor reports.
  // Keep the map alive for the loop: a range-for over a member of a temporary dangles in C++20.
  auto ctor = ctorFamilies();
  for (const auto& flag : ctor["tor_relay_flag"].labels["type"])
    channeld.push_back("relay_flag_" + flag);
  for (std::string dir : {"received", "initiated"}) {
    for (std::string fam : {"ipv4", "ipv6"}) {
      channeld.push_back("or_connections_" + dir + "_" + fam);
      channeld.push_back("or_connections_" + dir + "_" + fam + "_created_total");
    }
  }
  // Every type of C tor's tor_relay_dos_total, as channeld and streamd name them.
  dos::DosCounters{}.forEach([&](std::string_view type, uint64_t) {
    if (type != "stream_rejected") channeld.push_back("dos_" + std::string(type) + "_total");
  });
  std::vector<std::string> streamd = {"streams_opened_total",     "resolve_requests_total",
                                      "dns_queries_total",        "dos_stream_rejected_total",
                                      "oom_bytes_total",          "exit_bytes_read_total",
                                      "exit_bytes_written_total", "connects_out_of_ports_total",
                                      "sockets_in_use",           "sockets_limit"};
  for (std::string r : {"success", "format", "serverfailed", "notexist", "notimpl", "refused",
                        "truncated", "unknown", "tor_timeout", "shutdown", "cancel", "nodata"})
    streamd.push_back("dns_answers_" + r + "_total");
  std::vector<DaemonMetrics> out;
  for (auto& [name, counters] : std::vector<std::pair<std::string, Counters>>{
           {"channeld", next(channeld)},
           {"circuitd",
            next({"circuits_open", "circuits_created_fast_total", "circuits_created_ntor_total",
                  "circuits_created_ntor3_total", "circuits_congestion_control_total",
                  "cc_slow_start_exit_cwnd", "cc_slow_start_exit_bdp", "cc_slow_start_exit_inc",
                  "cc_on_circ_close_cwnd", "cc_on_circ_close_ss_cwnd",
                  "circuits_destroyed_by_client_total", "circuits_protocol_violations_total",
                  "drop_cells_received_total", "oom_bytes_total", "ipc_credit_over_returns_total",
                  "est_intro_cells_refused_total", "est_rend_cells_refused_total",
                  "intro1_cells_refused_total", "rend1_cells_refused_total"})},
           {"streamd", next(streamd)},
           {"confluxd", next({"oom_bytes_total"})}}) {
    DaemonMetrics d;
    d.daemon = name;
    d.up = true;
    d.counters = counters;
    out.push_back(d);
  }
  return out;
}

TEST(MetricsCtorParity, EveryCtorFamilyIsExportedAsCtorHasItOrListedWithAReason) {
  auto ctor = ctorFamilies();
  ASSERT_EQ(ctor.count("tor_relay_circuits_total"), 1u) << "the scrape did not parse";
  std::istringstream page(formatMetrics(daemons(), LauncherFacts{"0.1.0", 0, 0}));
  auto ours = parse(page);
  size_t exported = 0;
  for (const auto& [name, f] : ctor) {
    if (kNotExported.count(name)) {
      EXPECT_EQ(ours.count(name), 0u) << name << " is exported now: take it off kNotExported";
      continue;
    }
    ++exported;
    ASSERT_EQ(ours.count(name), 1u) << name << " is neither exported nor listed as missing";
    const Family& o = ours.at(name);
    EXPECT_EQ(o.type, f.type) << name;
    for (const auto& [key, values] : f.labels)
      EXPECT_EQ(o.labels.count(key), 1u) << name << " lacks C tor's label " << key;
    for (const auto& [key, values] : o.labels) {
      if (key == "daemon") continue;
      ASSERT_EQ(f.labels.count(key), 1u) << name << " has a label C tor has not: " << key;
      for (const auto& value : values)
        EXPECT_EQ(f.labels.at(key).count(value), 1u) << name << "{" << key << "=" << value << "}";
    }
  }
  for (const auto& [name, why] : kNotExported)
    EXPECT_EQ(ctor.count(name), 1u) << name << " is not in C tor's scrape";
  EXPECT_EQ(exported, 24u) << "the families onionsplit exports (docs/OPERATING.md, Metrics)";
}

TEST(MetricsCtorParity, TheScrapeHasCtorsTwentyFourFamilies) {
  size_t relay = 0, all = 0;
  for (const auto& [name, f] : ctorFamilies()) {
    ++all;
    if (name.starts_with("tor_relay_")) ++relay;
  }
  EXPECT_EQ(all, 24u);
  EXPECT_EQ(relay, 23u) << "all but tor_bug_reached_count";
}

}  // namespace
}  // namespace onionsplit::launcher

// launcher/metrics_format.h: the MetricsPort's page (pure): every daemon's counters and the
// launcher's own facts as Prometheus text format 0.0.4.
//
// Where it sits: launcher/metrics_scrape.h collects the counters over each daemon's Control
// interface (proto/control.capnp), launcher/metrics_server.h serves the page on GET /metrics.
// This file is the one place that knows how a daemon's counter becomes a metric: counters with an
// equivalent in C tor's MetricsPort get C tor's family and labels (tor_relay_circuits_total, ...),
// the others become onionsplit_<daemon>_<counter>; every sample carries a `daemon` label.
// circuitd's shards (circuitd-1, ...) are circuitd to C tor's families, which show their sum
// (daemon="circuitd"), and have their own onionsplit_circuitd_* samples (daemon="circuitd-1"). The
// table is in docs/OPERATING.md ("Metrics").
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace onionsplit::launcher {

// What the launcher knows about one daemon at the moment of a scrape.
struct DaemonMetrics {
  std::string daemon;        // channeld, circuitd, circuitd-1, ..., streamd, confluxd
  bool up = false;           // answered the counters query in time
  uint64_t restarts = 0;     // restarts since the serving process started (see LauncherFacts)
  uint64_t startedAtMs = 0;  // Unix ms, from the daemon's version answer; 0 if unknown
  uint32_t pid = 0;          // from the same answer; 0 if unknown
  // The daemon's counters as it reported them. A name ending in "_total" is a counter (only
  // grows while the daemon lives), anything else a gauge. A name may carry one label of its own,
  // `name{key=value}` (streamd's dns_resolver_timeouts_total{resolver=127.0.0.1:53}), and a
  // histogram <h> is sent as its cumulative buckets <h>_bucket{le=...} (+Inf last), then
  // <h>_sum_micros (the sum in millionths: counters are integers) and <h>_count.
  std::vector<std::pair<std::string, uint64_t>> counters;
};

// Which process serves the page: the launcher, which supervises the daemons and counts the
// restarts it makes, or `onionsplit metrics` under systemd, which counts the new daemon instances
// it sees (launcher/metrics_restarts.h). The HELP texts and the serving process's uptime family
// say which.
enum class Server : uint8_t { kLauncher, kMetricsService };

struct LauncherFacts {
  std::string version;
  uint64_t startedAtMs = 0;  // the serving process's start, Unix ms
  uint64_t nowMs = 0;        // the time of this scrape, Unix ms
  Server server = Server::kLauncher;
};

// The whole page: each family once (# HELP, # TYPE, then its samples), families in a stable
// order (the launcher's, then in the order the daemons report them). Names a daemon sends are
// reduced to [a-zA-Z0-9_]; a second sample with the same name and labels is dropped.
std::string formatMetrics(const std::vector<DaemonMetrics>& daemons, const LauncherFacts& launcher);

// A label value as the text format wants it: backslash, double quote and newline escaped.
std::string escapeLabelValue(const std::string& value);

}  // namespace onionsplit::launcher

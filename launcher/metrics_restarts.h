// launcher/metrics_restarts.h: how many times each daemon restarted, as `onionsplit metrics` sees
// it under systemd (pure).
//
// Where it sits: under the launcher the supervisor counts restarts as it makes them
// (Supervisor::restartsOf). Under systemd no supervisor of ours runs, so the metrics service
// (launcher/metrics_service.h) counts what every daemon does report about itself: its pid and the
// time it started (Control.version, proto/control.capnp). An answer with another pid or start time
// than the daemon's previous answer comes from a new instance of it: one restart.
//
// What this cannot see, and the docs say so (docs/OPERATING.md, "Metrics"): several restarts
// between two observations count as one; restarts while the metrics service itself is not running
// are not counted; the first answer after the service starts is the baseline, not a restart.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace onionsplit::launcher {

class RestartCounter {
 public:
  // One answer from `daemon` (it answered its version query). `startedAtMs` 0 means the daemon
  // did not say, and is ignored. Names come from the caller's fixed list, never from a daemon.
  void observe(const std::string& daemon, uint32_t pid, uint64_t startedAtMs);
  // Instances seen after the first, since this counter was made.
  uint64_t restartsOf(const std::string& daemon) const;

 private:
  struct Seen {
    uint32_t pid = 0;
    uint64_t startedAtMs = 0;
    uint64_t restarts = 0;
  };
  std::map<std::string, Seen> seen_;
};

}  // namespace onionsplit::launcher

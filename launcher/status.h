// launcher/status.h: asks each daemon's Control interface (proto/control.capnp) how it is, over its
// socket in IPCDirectory. Used by `onionsplit status` and by the launcher's tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "launcher/daemons.h"

namespace onionsplit::launcher {

struct DaemonStatus {
  std::string name;
  bool reachable = false;
  std::string health;  // "starting", "ready", "degraded"
  std::vector<std::string> waitingFor;
  uint32_t pid = 0;
  uint64_t startedAtMs = 0;
  std::string version;
  std::string error;                                       // why it is not reachable
  std::vector<std::pair<std::string, uint64_t>> counters;  // the daemon's counters, in its order
};

// Queries each of `daemons` (launcher/daemons.h; by default channeld, circuitd, streamd and
// confluxd: one circuitd shard) over IPCDirectory/<name>.sock, in that order; each answers within
// `timeout` or is reported unreachable.
std::vector<DaemonStatus> queryStatus(const std::string& ipcDirectory,
                                      std::chrono::milliseconds timeout,
                                      const std::vector<std::string>& daemons = daemonNames(1));

// One line per daemon, for operators; with `counters`, each daemon's counters follow its line as
// "  name value".
std::string formatStatus(const std::vector<DaemonStatus>& all, uint64_t nowMs,
                         bool counters = false);

}  // namespace onionsplit::launcher

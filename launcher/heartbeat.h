// launcher/heartbeat.h: C tor's HeartbeatPeriod line, SIGNAL DUMP's lines and the ConnLimit check,
// as the launcher does them. heartbeatLine, dumpLine and judgeConnLimit are pure (tests/launcher);
// raiseFileLimit does the rlimit calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "launcher/metrics_format.h"

namespace onionsplit::launcher {

// "Heartbeat: onionsplit's uptime is 1 day 2:03 hours. Daemon restarts: channeld 0, ..." (notice),
// logged every HeartbeatPeriod like C tor's heartbeat, with what the launcher itself knows.
std::string heartbeatLine(uint64_t uptimeSeconds,
                          const std::vector<std::pair<std::string, unsigned>>& restarts);

// One line of SIGNAL DUMP (C tor's dumpstats) for a daemon: "channeld (pid 12, 0 restarts):
// channels_open 3, ..." with the counters about its connections, channels, circuits, streams and
// cells, or "channeld: did not answer".
std::string dumpLine(const DaemonMetrics& d, int pid, unsigned restarts);

// C tor's ConnLimit: the relay needs `connLimit` file descriptors; the soft limit is raised to the
// hard one, and a hard limit below ConnLimit refuses to start. Returns the error, if any.
std::optional<std::string> judgeConnLimit(uint64_t connLimit, uint64_t hardLimit);

// getrlimit/setrlimit(RLIMIT_NOFILE) with judgeConnLimit's verdict; `apply` false only checks.
std::optional<std::string> raiseFileLimit(uint64_t connLimit, bool apply);

}  // namespace onionsplit::launcher

// launcher/heartbeat.cc: see heartbeat.h.
#include "launcher/heartbeat.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace onionsplit::launcher {

std::string heartbeatLine(uint64_t uptimeSeconds,
                          const std::vector<std::pair<std::string, unsigned>>& restarts) {
  uint64_t days = uptimeSeconds / 86400, hours = uptimeSeconds % 86400 / 3600,
           minutes = uptimeSeconds % 3600 / 60;
  char clock[32];
  std::snprintf(clock, sizeof clock, "%llu:%02llu", static_cast<unsigned long long>(hours),
                static_cast<unsigned long long>(minutes));
  std::string out = "Heartbeat: onionsplit's uptime is ";
  if (days) out += std::to_string(days) + (days == 1 ? " day " : " days ");
  out += std::string(clock) + " hours.";
  if (!restarts.empty()) {
    out += " Daemon restarts:";
    for (size_t i = 0; i < restarts.size(); ++i)
      out += (i ? ", " : " ") + restarts[i].first + " " + std::to_string(restarts[i].second);
    out += ".";
  }
  return out;
}

std::string dumpLine(const DaemonMetrics& d, int pid, unsigned restarts) {
  if (!d.up) return d.daemon + ": did not answer";
  static constexpr std::string_view kAbout[] = {"conn",    "channel", "link",
                                                "circuit", "stream",  "cell"};
  std::string out = d.daemon + " (pid " + std::to_string(pid) + ", " + std::to_string(restarts) +
                    (restarts == 1 ? " restart):" : " restarts):");
  bool first = true;
  for (const auto& [name, value] : d.counters) {
    bool about = false;
    for (auto word : kAbout)
      about = about || name.find(word) != std::string::npos;
    if (!about) continue;
    out += (first ? " " : ", ") + name + " " + std::to_string(value);
    first = false;
  }
  return out;
}

std::optional<std::string> judgeConnLimit(uint64_t connLimit, uint64_t hardLimit) {
  if (hardLimit >= connLimit) return std::nullopt;
  return "ConnLimit: we need " + std::to_string(connLimit) +
         " file descriptors available, and we're limited to " + std::to_string(hardLimit) +
         ". Please change your ulimit -n.";
}

std::optional<std::string> raiseFileLimit(uint64_t connLimit, bool apply) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return std::string("ConnLimit: getrlimit: ") + std::strerror(errno);
  uint64_t hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(rl.rlim_max);
  if (auto e = judgeConnLimit(connLimit, hard)) return e;
  if (!apply || rl.rlim_cur == rl.rlim_max) return std::nullopt;
  rl.rlim_cur = rl.rlim_max;  // the daemons inherit it
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return std::string("ConnLimit: setrlimit: ") + std::strerror(errno);
  return std::nullopt;
}

}  // namespace onionsplit::launcher

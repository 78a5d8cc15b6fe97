// launcher/metrics_restarts.cc: see metrics_restarts.h.
#include "launcher/metrics_restarts.h"

namespace onionsplit::launcher {

void RestartCounter::observe(const std::string& daemon, uint32_t pid, uint64_t startedAtMs) {
  if (startedAtMs == 0) return;
  auto [it, first] = seen_.try_emplace(daemon, Seen{pid, startedAtMs, 0});
  if (first) return;
  Seen& s = it->second;
  if (s.pid == pid && s.startedAtMs == startedAtMs) return;
  s.pid = pid;
  s.startedAtMs = startedAtMs;
  ++s.restarts;
}

uint64_t RestartCounter::restartsOf(const std::string& daemon) const {
  auto it = seen_.find(daemon);
  return it == seen_.end() ? 0 : it->second.restarts;
}

}  // namespace onionsplit::launcher

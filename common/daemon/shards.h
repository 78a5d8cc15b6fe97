// common/daemon/shards.h: how many circuitd shards this relay runs (NumCPUs, or the cores this
// process may use less one), read before the sandbox. channeld connects to each, the launcher
// starts each, circuitd's shards split its memory share.
#pragma once

#include <sched.h>
#include <unistd.h>

#include "common/config/config.h"
#include "common/config/relay_options.h"

namespace onionsplit::daemon {

// The cores this process may run on (its affinity mask, so `taskset` counts), at least 1.
inline unsigned usableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

inline unsigned circuitdShards(const config::Config& cfg) {
  return config::circuitdShards(cfg, usableCores());
}

}  // namespace onionsplit::daemon

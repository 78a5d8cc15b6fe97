// common/daemon/mem_share.h: a daemon's share of MaxMemInQueues (common/flowctl/mem_budget.h)
// from the configuration and the machine's physical memory, read once before the sandbox.
#pragma once

#include <unistd.h>

#include <cstdint>

#include "common/config/config.h"
#include "common/flowctl/mem_budget.h"

namespace onionsplit::daemon {

// The physical memory, for MaxMemInQueues' default (0 if unknown); read before the sandbox.
inline uint64_t physicalMemory() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(size) : 0;
}

// Every daemon's share of the relay's budget as `cfg` and this machine set it.
inline flowctl::DaemonBudgets memoryBudgets(const config::Config& cfg, uint64_t physical) {
  return flowctl::splitBudget(flowctl::effectiveMaxMemInQueues(cfg.maxMemInQueuesBytes, physical));
}

// The share `which` (&flowctl::DaemonBudgets::circuitd, ...) of the relay's budget.
inline uint64_t memShare(const config::Config& cfg, uint64_t physical,
                         uint64_t flowctl::DaemonBudgets::*which) {
  return memoryBudgets(cfg, physical).*which;
}

}  // namespace onionsplit::daemon

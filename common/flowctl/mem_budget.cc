// common/flowctl/mem_budget.cc: see mem_budget.h.
#include "common/flowctl/mem_budget.h"

namespace onionsplit::flowctl {
namespace {

constexpr uint64_t kGiB = 1ULL << 30;
constexpr uint64_t kMaxDefault = 8 * kGiB;

}  // namespace

uint64_t defaultMaxMemInQueues(uint64_t physicalBytes) {
  if (physicalBytes == 0) return kMaxDefault;
  uint64_t avail = physicalBytes >= 8 * kGiB ? physicalBytes / 5 * 2 : physicalBytes / 4 * 3;
  if (avail > kMaxDefault) return kMaxDefault;
  if (avail < kGiB / 4) return kGiB / 4;
  return avail;
}

uint64_t effectiveMaxMemInQueues(uint64_t configuredBytes, uint64_t physicalBytes) {
  if (configuredBytes == 0) return defaultMaxMemInQueues(physicalBytes);
  return configuredBytes < kMinRelayMaxMemInQueues ? kMinRelayMaxMemInQueues : configuredBytes;
}

DaemonBudgets splitBudget(uint64_t total) {
  DaemonBudgets b;
  // Tenths, without overflow for any total.
  uint64_t tenth = total / 10, rest = total % 10;
  b.circuitd = tenth * 3 + rest * 3 / 10;
  b.confluxd = tenth * 2 + rest * 2 / 10;
  b.channeld = tenth + rest / 10;
  b.streamd = total - b.circuitd - b.confluxd - b.channeld;
  return b;
}

UnitMemory unitMemory(uint64_t share) {
  UnitMemory m;
  m.high = share + share / 8 + kUnitMemoryBase;
  m.max = share + share / 4 + 2 * kUnitMemoryBase;
  return m;
}

}  // namespace onionsplit::flowctl

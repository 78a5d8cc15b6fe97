// common/flowctl/mem_budget.h: the relay's memory budget for what its daemons hold for peers
// (pure). C tor's MaxMemInQueues caps the bytes queued in cells and connection buffers; over it,
// its OOM handler frees the biggest holders until it is back under 90% of the cap. onionsplit
// splits the same number among its daemons, each keeping its own count against its share:
//
//   streamd  40%  exit sockets' output and read-ahead (up to 4 MiB per stream), lingering sockets
//   circuitd 30%  cell queues per circuit
//   confluxd 20%  reorder and release queues per set
//   channeld 10%  channels' input not yet taken by circuitd, TLS buffers, cells waiting for TLS
//
// The count is kept by construction: a MemCharge belongs to one queue (or buffer) and always
// holds what that queue holds; moving or destroying it gives the bytes back, so no path that
// clears or frees a queue can leave the daemon's MemCounter wrong.
#pragma once

#include <cstdint>

namespace onionsplit::flowctl {

// C tor 0.4.9's default MaxMemInQueues (compute_real_max_mem_in_queues, 64-bit): 3/4 of the
// physical memory, or 2/5 of it from 8 GiB up, within [256 MiB, 8 GiB]; 8 GiB when the memory is
// unknown (`physicalBytes` 0).
uint64_t defaultMaxMemInQueues(uint64_t physicalBytes);
// The budget a relay runs with: the configured value (0: the default above), raised to C tor's
// floor for relays, 64 MiB.
uint64_t effectiveMaxMemInQueues(uint64_t configuredBytes, uint64_t physicalBytes);

inline constexpr uint64_t kMinRelayMaxMemInQueues = 64ULL << 20;

// Each daemon's share of `total` (the proportions above; the rounding goes to streamd, so the
// shares add up to `total`).
struct DaemonBudgets {
  uint64_t streamd = 0;
  uint64_t circuitd = 0;
  uint64_t confluxd = 0;
  uint64_t channeld = 0;
};
DaemonBudgets splitBudget(uint64_t total);

// The memory limits of a daemon's systemd unit for its share `share` (packaging/libexec/
// onionsplit-keys sets them at start): above MemoryHigh the kernel reclaims and slows the daemon,
// above MemoryMax its OOM killer ends this daemon alone. Both sit above the share by what a daemon
// holds besides its queues (code, TLS contexts, circuit and stream state, the DNS cache), so the
// daemon's own OOM handler, at the share, acts long before the kernel:
//   MemoryHigh = share + share/8 + 128 MiB,   MemoryMax = share + share/4 + 256 MiB.
struct UnitMemory {
  uint64_t high = 0;
  uint64_t max = 0;
};
inline constexpr uint64_t kUnitMemoryBase = 128ULL << 20;
UnitMemory unitMemory(uint64_t share);

// Where an OOM handler stops freeing: 90% of the budget (C tor's
// FRACTION_OF_DATA_TO_RETAIN_ON_OOM).
constexpr uint64_t lowWaterMark(uint64_t budget) {
  return budget / 10 * 9 + budget % 10 * 9 / 10;
}

// One daemon's count of the bytes it holds for peers, against its budget (0: no budget).
class MemCounter {
 public:
  explicit MemCounter(uint64_t budget = 0) : budget_(budget) {}
  MemCounter(const MemCounter&) = delete;
  MemCounter& operator=(const MemCounter&) = delete;

  uint64_t bytes() const { return bytes_; }
  uint64_t budget() const { return budget_; }
  void setBudget(uint64_t b) { budget_ = b; }
  bool over() const { return budget_ != 0 && bytes_ > budget_; }
  uint64_t lowWater() const { return lowWaterMark(budget_); }
  // Charges alive; a counter must outlive them all.
  uint64_t charges() const { return charges_; }
  // The enqueue order of the daemon's queued items (1, 2, ...): an item with a smaller stamp was
  // queued earlier. OOM handlers that pick the holder of the oldest item (C tor's circuits by the
  // age of their oldest queued cell) compare stamps, not clocks.
  uint64_t stamp() { return ++stamps_; }

 private:
  friend class MemCharge;
  uint64_t bytes_ = 0;
  uint64_t budget_;
  uint64_t charges_ = 0;
  uint64_t stamps_ = 0;
};

// What one queue holds, charged to its daemon's counter for as long as the charge lives.
class MemCharge {
 public:
  MemCharge() = default;
  explicit MemCharge(MemCounter& c) : counter_(&c) { ++c.charges_; }
  ~MemCharge() { reset(); }
  MemCharge(MemCharge&& o) noexcept : counter_(o.counter_), held_(o.held_) {
    o.counter_ = nullptr;
    o.held_ = 0;
  }
  MemCharge& operator=(MemCharge&& o) noexcept {
    if (this != &o) {
      reset();
      counter_ = o.counter_;
      held_ = o.held_;
      o.counter_ = nullptr;
      o.held_ = 0;
    }
    return *this;
  }
  MemCharge(const MemCharge&) = delete;
  MemCharge& operator=(const MemCharge&) = delete;

  // The queue now holds `bytes` (a push, a pop, a clear: whatever it holds after).
  void set(uint64_t bytes) {
    if (!counter_) return;
    counter_->bytes_ = counter_->bytes_ - held_ + bytes;
    held_ = bytes;
  }
  void add(uint64_t bytes) { set(held_ + bytes); }
  void sub(uint64_t bytes) { set(bytes > held_ ? 0 : held_ - bytes); }
  uint64_t held() const { return held_; }
  bool attached() const { return counter_ != nullptr; }
  // The counter's next enqueue stamp (MemCounter::stamp); 0 when detached.
  uint64_t stamp() { return counter_ ? counter_->stamp() : 0; }
  // Gives everything back and detaches.
  void reset() {
    if (!counter_) return;
    set(0);
    --counter_->charges_;
    counter_ = nullptr;
  }

 private:
  MemCounter* counter_ = nullptr;
  uint64_t held_ = 0;
};

}  // namespace onionsplit::flowctl

// tests/common/flowctl/mem_budget_test.cc: MaxMemInQueues' default rule, the split among the
// daemons, the low-water mark, and the charges that keep a daemon's count right whatever happens
// to the queue that owns them.
#include "common/flowctl/mem_budget.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace onionsplit::flowctl {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;

TEST(MaxMemInQueues, DefaultFollowsCtorRule) {
  EXPECT_EQ(defaultMaxMemInQueues(0), 8 * kGiB);                 // unknown memory
  EXPECT_EQ(defaultMaxMemInQueues(4 * kGiB), 3 * kGiB);          // 3/4 under 8 GiB
  EXPECT_EQ(defaultMaxMemInQueues(2 * kGiB), 1536 * kMiB);       // 3/4
  EXPECT_EQ(defaultMaxMemInQueues(8 * kGiB), 8 * kGiB / 5 * 2);  // 2/5 from 8 GiB
  EXPECT_EQ(defaultMaxMemInQueues(16 * kGiB), 16 * kGiB / 5 * 2);
  EXPECT_EQ(defaultMaxMemInQueues(64 * kGiB), 8 * kGiB);     // at most 8 GiB
  EXPECT_EQ(defaultMaxMemInQueues(256 * kMiB), 256 * kMiB);  // at least 256 MiB
}

TEST(MaxMemInQueues, ConfiguredValueWinsAboveTheRelayFloor) {
  EXPECT_EQ(effectiveMaxMemInQueues(0, 4 * kGiB), 3 * kGiB);
  EXPECT_EQ(effectiveMaxMemInQueues(512 * kMiB, 4 * kGiB), 512 * kMiB);
  EXPECT_EQ(effectiveMaxMemInQueues(20 * kGiB, 4 * kGiB), 20 * kGiB);  // by hand: no clamp
  EXPECT_EQ(effectiveMaxMemInQueues(1 * kMiB, 4 * kGiB), 64 * kMiB);   // C tor's relay floor
}

// The units' limits sit above each share, MemoryMax above MemoryHigh, so the daemon's own OOM
// handler (at the share) acts first; with C tor's largest default (8 GiB) they stay finite.
TEST(UnitMemory, AboveTheShareMaxAboveHigh) {
  auto m = unitMemory(400 * kMiB);
  EXPECT_EQ(m.high, 400 * kMiB + 50 * kMiB + 128 * kMiB);
  EXPECT_EQ(m.max, 400 * kMiB + 100 * kMiB + 256 * kMiB);
  auto b = splitBudget(8 * kGiB);
  for (uint64_t share : {b.streamd, b.circuitd, b.confluxd, b.channeld, uint64_t{0}}) {
    auto u = unitMemory(share);
    EXPECT_GT(u.high, share);
    EXPECT_GT(u.max, u.high);
  }
}

TEST(SplitBudget, SharesAreTheDocumentedTenthsAndAddUp) {
  auto b = splitBudget(1000 * kMiB);
  EXPECT_EQ(b.streamd, 400 * kMiB);
  EXPECT_EQ(b.circuitd, 300 * kMiB);
  EXPECT_EQ(b.confluxd, 200 * kMiB);
  EXPECT_EQ(b.channeld, 100 * kMiB);
  for (uint64_t total : std::vector<uint64_t>{0, 1, 9, 13, 64 * kMiB + 7, UINT64_MAX}) {
    auto s = splitBudget(total);
    EXPECT_EQ(s.streamd + s.circuitd + s.confluxd + s.channeld, total) << total;
    EXPECT_GE(s.streamd, s.circuitd);
  }
}

TEST(SplitBudget, LowWaterIsNinetyPercent) {
  EXPECT_EQ(lowWaterMark(1000), 900u);
  EXPECT_EQ(lowWaterMark(19), 17u);  // floor(17.1)
  EXPECT_EQ(lowWaterMark(UINT64_MAX), UINT64_MAX / 10 * 9 + 4);
  EXPECT_EQ(lowWaterMark(0), 0u);
}

// A queue as the daemons write them: it owns its charge and says what it holds after each change.
class ByteQueue {
 public:
  explicit ByteQueue(MemCounter& c) : charge_(c) {}
  void push(size_t n) {
    items_.emplace_back(n, 0);
    held_ += n;
    charge_.set(held_);
  }
  void pop() {
    held_ -= items_.front().size();
    items_.pop_front();
    charge_.set(held_);
  }
  void clear() {
    items_.clear();
    held_ = 0;
    charge_.set(0);
  }

 private:
  std::deque<std::vector<uint8_t>> items_;
  size_t held_ = 0;
  MemCharge charge_;
};

TEST(MemCharge, PushPopClearDestroyBringTheCountBackToZero) {
  MemCounter counter(100);
  {
    ByteQueue a(counter), b(counter);
    a.push(40);
    a.push(30);
    b.push(20);
    EXPECT_EQ(counter.bytes(), 90u);
    EXPECT_FALSE(counter.over());
    b.push(11);
    EXPECT_TRUE(counter.over());
    a.pop();
    EXPECT_EQ(counter.bytes(), 61u);
    EXPECT_FALSE(counter.over());
    b.clear();
    EXPECT_EQ(counter.bytes(), 30u);
    b.push(5);
    EXPECT_EQ(counter.charges(), 2u);
  }  // both destroyed holding bytes
  EXPECT_EQ(counter.bytes(), 0u);
  EXPECT_EQ(counter.charges(), 0u);
}

TEST(MemCharge, MoveCarriesTheBytesAndResetGivesThemBack) {
  MemCounter counter;
  MemCharge a(counter);
  a.add(10);
  MemCharge b(std::move(a));
  EXPECT_EQ(counter.bytes(), 10u);
  EXPECT_EQ(counter.charges(), 1u);
  a.set(99);  // a moved-from charge counts nothing
  EXPECT_EQ(counter.bytes(), 10u);
  MemCharge c(counter);
  c.add(5);
  c = std::move(b);  // c's own 5 go back, b's 10 come with it
  EXPECT_EQ(counter.bytes(), 10u);
  c.sub(20);  // never below zero
  EXPECT_EQ(counter.bytes(), 0u);
  c.add(7);
  c.reset();
  EXPECT_EQ(counter.bytes(), 0u);
  EXPECT_EQ(counter.charges(), 0u);
  EXPECT_FALSE(MemCounter().over());  // no budget: never over
}

}  // namespace
}  // namespace onionsplit::flowctl

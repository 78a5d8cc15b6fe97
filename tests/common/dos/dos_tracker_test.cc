// Tests for common/dos/dos_tracker: per-address circuit creation and connection defences with
// explicit times, the relay exemption, and the memory bound under an address flood.
#include "common/dos/dos_tracker.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace onionsplit::dos {
namespace {

constexpr std::array<uint64_t, 2> kKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};

// A RandRange that always draws the lowest value and records what it was asked.
struct LowRand {
  std::vector<std::pair<uint32_t, uint32_t>>* calls;
  uint32_t operator()(uint32_t lo, uint32_t hi) const {
    calls->emplace_back(lo, hi);
    return lo;
  }
};

class DosTrackerTest : public ::testing::Test {
 protected:
  DosTracker make(const DosParams& p, size_t cap = DosTracker::kDefaultMaxEntries) {
    return DosTracker(p, LowRand{&calls}, kKey, cap);
  }
  static DosParams circParams(uint32_t minConn, uint32_t rate, uint32_t burst, uint32_t period) {
    DosParams p;
    p.circEnabled = true;
    p.circMinConnections = minConn;
    p.circRatePerSec = rate;
    p.circBurst = burst;
    p.circDefenseTimePeriodSec = period;
    return p;
  }
  // One CREATE as C tor handles it: counted, then the defence asked.
  static CircDefense create(DosTracker& t, const ClientAddr& a, uint64_t now, bool relay = false) {
    t.noteCreateCell(a, relay, now);
    return t.createDefense(a, relay, now);
  }
  std::vector<std::pair<uint32_t, uint32_t>> calls;
  const ClientAddr a_ = ClientAddr::v4(0x0a000001);  // 10.0.0.1
};

TEST_F(DosTrackerTest, CircuitBurstThenRefillCappedAtBurst) {
  DosTracker t = make(circParams(1, 2, 3, 100));
  t.onConnectionOpened(a_, 10);
  EXPECT_EQ(create(t, a_, 10), CircDefense::kNone);  // bucket 3 -> 2
  EXPECT_EQ(create(t, a_, 10), CircDefense::kNone);  // -> 1
  // A second later the bucket refills by the rate (2) but never above the burst (3).
  EXPECT_EQ(create(t, a_, 11), CircDefense::kNone);  // 3 -> 2
  EXPECT_EQ(create(t, a_, 11), CircDefense::kNone);  // -> 1
  EXPECT_FALSE(t.isCircMarked(a_, 11));
  // The cell that empties the bucket marks the address and is itself refused, as in C tor.
  EXPECT_EQ(create(t, a_, 11), CircDefense::kRefuseCell);
  EXPECT_TRUE(t.isCircMarked(a_, 11));
  EXPECT_EQ(t.counters().markedAddress, 1u);
  EXPECT_EQ(t.counters().circuitRejected, 1u);
}

TEST_F(DosTrackerTest, LongPauseRefillsOnlyToBurst) {
  DosTracker t = make(circParams(1, 1000, 4, 100));
  t.onConnectionOpened(a_, 5);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(create(t, a_, 5), CircDefense::kNone);
  // Ten thousand seconds at 1000/s would be 10^7 tokens; the burst caps it at 4.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(create(t, a_, 10005), CircDefense::kNone);
  EXPECT_EQ(create(t, a_, 10005), CircDefense::kRefuseCell);
}

TEST_F(DosTrackerTest, MinConnectionsGatesTheMark) {
  DosTracker t = make(circParams(3, 1, 2, 100));
  t.onConnectionOpened(a_, 10);
  t.onConnectionOpened(a_, 10);
  // Two connections, below MinConnections: the bucket empties but nothing is marked.
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(create(t, a_, 10), CircDefense::kNone);
  EXPECT_FALSE(t.isCircMarked(a_, 10));
  EXPECT_EQ(t.counters().markedAddress, 0u);
  t.onConnectionOpened(a_, 10);
  EXPECT_EQ(create(t, a_, 10), CircDefense::kRefuseCell);
  EXPECT_EQ(t.counters().markedAddress, 1u);
}

TEST_F(DosTrackerTest, DefensePeriodExpiresAfterPeriodPlusJitter) {
  DosTracker t = make(circParams(1, 1, 1, 100));
  t.onConnectionOpened(a_, 1000);
  EXPECT_EQ(create(t, a_, 1000), CircDefense::kRefuseCell);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(1u, 50u));  // jitter drawn from [1, period/2)
  // Marked until 1000 + 100 + 1, inclusive.
  EXPECT_EQ(t.createDefense(a_, false, 1101), CircDefense::kRefuseCell);
  EXPECT_EQ(t.createDefense(a_, false, 1102), CircDefense::kNone);
  EXPECT_EQ(create(t, a_, 1102), CircDefense::kRefuseCell);  // bucket of 1: empties, re-marks
  // A re-mark of an address marked before is not a new marked address (C tor counts once).
  EXPECT_EQ(t.counters().markedAddress, 1u);
  EXPECT_EQ(t.counters().circuitRejected, 3u);
}

TEST_F(DosTrackerTest, CreatesWhileMarkedExtendTheMark) {
  DosTracker t = make(circParams(1, 1, 1, 100));
  t.onConnectionOpened(a_, 0);
  create(t, a_, 0);   // marked until 101
  create(t, a_, 50);  // bucket refilled by 50 s: 1 token, spent: re-marked until 151
  EXPECT_TRUE(t.isCircMarked(a_, 151));
  EXPECT_FALSE(t.isCircMarked(a_, 152));
}

TEST_F(DosTrackerTest, DefenseTypeNoneCountsButAllows) {
  DosParams p = circParams(1, 1, 1, 100);
  p.circDefense = CircDefense::kNone;
  DosTracker t = make(p);
  t.onConnectionOpened(a_, 0);
  EXPECT_EQ(create(t, a_, 0), CircDefense::kNone);
  EXPECT_EQ(create(t, a_, 0), CircDefense::kNone);
  EXPECT_TRUE(t.isCircMarked(a_, 0));
  EXPECT_EQ(t.counters().circuitRejected, 2u);
}

TEST_F(DosTrackerTest, RelayChannelsAreNotCountedForCircuits) {
  DosTracker t = make(circParams(1, 1, 1, 100));
  t.onConnectionOpened(a_, 0);
  // C tor 0.4.9 counts every incoming connection, relays included.
  EXPECT_EQ(t.concurrentCount(a_), 1u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(create(t, a_, 0, /*relay=*/true), CircDefense::kNone);
  for (int i = 0; i < 10; ++i)
    t.noteCircMaxQueue(a_, /*peerIsRelay=*/true, 0);
  EXPECT_FALSE(t.isCircMarked(a_, 0));
  EXPECT_EQ(t.counters().circuitRejected, 0u);
  // The same address on a client channel is counted.
  EXPECT_EQ(create(t, a_, 0), CircDefense::kRefuseCell);
}

TEST_F(DosTrackerTest, UnknownAddressesCreateNoState) {
  DosTracker t = make(circParams(1, 1, 1, 100));
  const ClientAddr b = ClientAddr::v4(0x0a000002);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(create(t, b, 0), CircDefense::kNone);
  t.noteCircMaxQueue(b, false, 0);
  EXPECT_EQ(t.onConnectAttempt(b, 0), ConnDefense::kNone);
  EXPECT_EQ(t.size(), 0u);
}

TEST_F(DosTrackerTest, DisabledDefencesTrackNothing) {
  DosTracker t = make(DosParams{});
  const ConnTicket tk = t.onConnectionOpened(a_, 0);
  EXPECT_FALSE(tk.counted());
  EXPECT_EQ(t.size(), 0u);
  t.onConnectionClosed(tk);
  EXPECT_EQ(t.concurrentCount(a_), 0u);
}

TEST_F(DosTrackerTest, CellQueueLimitMarksAfterNHits) {
  DosParams p = circParams(1, 3, 90, 100);
  p.numCircMaxOutq = 3;
  DosTracker t = make(p);
  t.onConnectionOpened(a_, 0);
  t.noteCircMaxQueue(a_, false, 0);
  t.noteCircMaxQueue(a_, false, 0);
  EXPECT_FALSE(t.isCircMarked(a_, 0));
  t.noteCircMaxQueue(a_, false, 0);
  EXPECT_TRUE(t.isCircMarked(a_, 0));
  EXPECT_EQ(t.counters().markedAddressMaxq, 1u);
  EXPECT_EQ(t.counters().markedAddress, 0u);
  EXPECT_EQ(t.createDefense(a_, false, 1), CircDefense::kRefuseCell);
  // Hits while marked are ignored.
  for (int i = 0; i < 10; ++i)
    t.noteCircMaxQueue(a_, false, 5);
  EXPECT_EQ(t.counters().markedAddressMaxq, 1u);
}

}  // namespace
}  // namespace onionsplit::dos

namespace onionsplit::dos {
namespace {

uint32_t lowest(uint32_t lo, uint32_t /*hi*/) {
  return lo;
}

TEST(DosTrackerMisc, ClockGoingBackwardsRefillsTheCircuitBucket) {
  DosParams p;
  p.circEnabled = true;
  p.circMinConnections = 1;
  p.circRatePerSec = 1;
  p.circBurst = 3;
  DosTracker t(p, lowest, {1, 2});
  const ClientAddr a = ClientAddr::v4(0x7f000001);
  t.onConnectionOpened(a, 500);
  t.noteCreateCell(a, false, 500);
  t.noteCreateCell(a, false, 500);  // one token left
  // C tor fills the bucket when the clock went backwards rather than punish the client.
  t.noteCreateCell(a, false, 400);
  t.noteCreateCell(a, false, 400);
  EXPECT_FALSE(t.isCircMarked(a, 400));
  t.noteCreateCell(a, false, 400);
  EXPECT_TRUE(t.isCircMarked(a, 400));
}

TEST(DosTrackerMisc, ConsensusChangeTogglesDefencesAndKeepsConnectBuckets) {
  DosParams p;
  p.connEnabled = true;
  p.connConnectRatePerSec = 1;
  p.connConnectBurst = 2;
  DosTracker t(p, lowest, {3, 4});
  const ClientAddr a = ClientAddr::v4(0x08080808);
  t.onConnectionOpened(a, 10);
  // A new consensus raises the burst; the existing entry keeps the bucket it was created with.
  p.connConnectBurst = 100;
  t.setParams(p);
  t.onConnectionOpened(a, 10);
  EXPECT_TRUE(t.isConnMarked(a, 10));
  EXPECT_EQ(t.onConnectAttempt(a, 10), ConnDefense::kClose);
  // Disabled by the consensus: no decisions, no counting, but open connections stay counted.
  p.connEnabled = false;
  t.setParams(p);
  EXPECT_EQ(t.onConnectAttempt(a, 10), ConnDefense::kNone);
  EXPECT_EQ(t.counters().connRejected, 1u);
  EXPECT_EQ(t.concurrentCount(a), 2u);
  // A new address gets today's burst.
  p.connEnabled = true;
  t.setParams(p);
  const ClientAddr b = ClientAddr::v4(0x08080404);
  for (int i = 0; i < 50; ++i)
    t.onConnectionOpened(b, 10);
  EXPECT_FALSE(t.isConnMarked(b, 10));
}

TEST(DosTrackerMisc, EvictionPrefersIdleThenUnmarkedClosedThenUnmarkedThenOldest) {
  DosParams p;
  p.connEnabled = true;
  p.circEnabled = true;
  p.circMinConnections = 1;
  p.circBurst = 1;
  DosTracker t(p, lowest, {5, 6}, /*maxEntries=*/3);
  const ClientAddr marked = ClientAddr::v4(1), open = ClientAddr::v4(2), closed = ClientAddr::v4(3);
  t.onConnectionOpened(marked, 0);
  t.noteCreateCell(marked, false, 0);  // marked for an hour
  t.onConnectionOpened(open, 0);
  t.onConnectionClosed(t.onConnectionOpened(closed, 0));  // connect bucket not yet refilled
  // Same second: nothing idle; the closed, unmarked entry goes first.
  t.onConnectionOpened(ClientAddr::v4(4), 0);
  EXPECT_FALSE(t.tracks(closed));
  EXPECT_TRUE(t.tracks(marked));
  EXPECT_TRUE(t.tracks(open));
  // Now every entry has a connection: the unmarked one goes, the marked one stays.
  t.onConnectionOpened(ClientAddr::v4(5), 0);
  EXPECT_TRUE(t.tracks(marked));
  EXPECT_EQ(t.size(), 3u);
  // An idle entry (closed long ago, buckets full) is preferred over everything else.
  const ClientAddr idle = ClientAddr::v4(6);
  DosTracker u(p, lowest, {7, 8}, /*maxEntries=*/2);
  u.onConnectionOpened(open, 0);
  u.onConnectionClosed(u.onConnectionOpened(idle, 0));
  u.onConnectionOpened(ClientAddr::v4(9), 100);
  EXPECT_FALSE(u.tracks(idle));
  EXPECT_TRUE(u.tracks(open));
}

TEST(DosCounters, LabelsAreCTorsInOrderAndSum) {
  DosCounters a;
  a.circuitRejected = 1;
  a.streamRejected = 2;
  DosCounters b;
  b.circuitRejected = 10;
  b.connRejected = 5;
  a += b;
  std::vector<std::string> labels;
  std::vector<uint64_t> values;
  a.forEach([&](std::string_view l, uint64_t v) {
    labels.emplace_back(l);
    values.push_back(v);
  });
  const std::vector<std::string> want{
      "circuit_rejected",         "circuit_killed_max_cell", "circuit_killed_max_cell_outq",
      "marked_address",           "marked_address_maxq",     "conn_rejected",
      "concurrent_conn_rejected", "single_hop_refused",      "introduce2_rejected",
      "stream_rejected"};
  EXPECT_EQ(labels, want);
  EXPECT_EQ(values, (std::vector<uint64_t>{11, 0, 0, 0, 0, 5, 0, 0, 0, 2}));
}

TEST(DosTrackerMisc, SingleHopRefusalFollowsTheParameter) {
  DosParams p;
  DosTracker t(p, lowest, {0, 0});
  EXPECT_FALSE(t.shouldRefuseSingleHopClient());
  p.refuseSingleHopClientRendezvous = true;
  t.setParams(p);
  EXPECT_TRUE(t.shouldRefuseSingleHopClient());
  t.noteSingleHopRefused();
  EXPECT_EQ(t.counters().singleHopRefused, 1u);
}

}  // namespace
}  // namespace onionsplit::dos

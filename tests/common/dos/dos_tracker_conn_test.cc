// Tests for common/dos/dos_tracker: the connection defences (concurrent cap, connect rate),
// address keying, sweeping, and the memory bound under a flood of a million source addresses.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/dos/dos_tracker.h"

namespace onionsplit::dos {
namespace {

constexpr std::array<uint64_t, 2> kKey{0x1111222233334444ULL, 0x5555666677778888ULL};

uint32_t lowRand(uint32_t lo, uint32_t /*hi*/) {
  return lo;
}

ClientAddr v6(uint64_t hi, uint64_t lo) {
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  return ClientAddr::v6From(b);
}

DosParams connParams(uint32_t maxConcurrent, uint32_t rate, uint32_t burst, uint32_t period) {
  DosParams p;
  p.connEnabled = true;
  p.connMaxConcurrentCount = maxConcurrent;
  p.connConnectRatePerSec = rate;
  p.connConnectBurst = burst;
  p.connConnectDefenseTimePeriodSec = period;
  return p;
}

const ClientAddr kA = ClientAddr::v4(0xc0a80101);  // 192.168.1.1

TEST(DosTrackerConn, ConcurrentCapRefusesOnlyAboveTheMaximum) {
  DosTracker t(connParams(2, 100, 100, 10), lowRand, kKey);
  std::vector<ConnTicket> open;
  // As in C tor the check runs before the new connection is counted: with max 2, a third is
  // still accepted (2 > 2 is false) and a fourth is refused.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(t.onConnectAttempt(kA, 10), ConnDefense::kNone) << i;
    open.push_back(t.onConnectionOpened(kA, 10));
  }
  EXPECT_EQ(t.concurrentCount(kA), 3u);
  EXPECT_EQ(t.onConnectAttempt(kA, 10), ConnDefense::kClose);
  EXPECT_EQ(t.counters().concurrentConnRejected, 1u);
  t.onConnectionClosed(open.back());
  open.pop_back();
  EXPECT_EQ(t.onConnectAttempt(kA, 10), ConnDefense::kNone);
  // Another address is not affected.
  EXPECT_EQ(t.onConnectAttempt(ClientAddr::v4(0xc0a80102), 10), ConnDefense::kNone);
}

TEST(DosTrackerConn, ConnectRateMarksForThePeriodThenClears) {
  DosTracker t(connParams(100, 1, 3, 10), lowRand, kKey);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(t.onConnectAttempt(kA, 50), ConnDefense::kNone);
    t.onConnectionClosed(t.onConnectionOpened(kA, 50));
  }
  // The third connection spent the last token: marked until 50 + 10 + 1.
  EXPECT_TRUE(t.isConnMarked(kA, 50));
  EXPECT_EQ(t.onConnectAttempt(kA, 50), ConnDefense::kClose);
  EXPECT_EQ(t.onConnectAttempt(kA, 61), ConnDefense::kClose);
  EXPECT_EQ(t.counters().connRejected, 2u);
  EXPECT_EQ(t.onConnectAttempt(kA, 62), ConnDefense::kNone);
  EXPECT_FALSE(t.isConnMarked(kA, 62));
  // Twelve seconds refilled the bucket to its burst: two more connections before a new mark.
  t.onConnectionOpened(kA, 62);
  t.onConnectionOpened(kA, 62);
  EXPECT_FALSE(t.isConnMarked(kA, 62));
  t.onConnectionOpened(kA, 62);
  EXPECT_TRUE(t.isConnMarked(kA, 62));
}

TEST(DosTrackerConn, ConnectMarkIsNotExtendedWhileMarked) {
  DosTracker t(connParams(100, 1, 1, 10), lowRand, kKey);
  t.onConnectionOpened(kA, 0);  // bucket empty: marked until 11
  // Connections accepted anyway (defence none, or already open) do not push the mark forward.
  t.onConnectionOpened(kA, 5);
  t.onConnectionOpened(kA, 9);
  EXPECT_TRUE(t.isConnMarked(kA, 11));
  EXPECT_FALSE(t.isConnMarked(kA, 12));
}

TEST(DosTrackerConn, DefenseNoneCountsButAccepts) {
  DosParams p = connParams(1, 100, 100, 10);
  p.connDefense = ConnDefense::kNone;
  DosTracker t(p, lowRand, kKey);
  t.onConnectionOpened(kA, 0);
  t.onConnectionOpened(kA, 0);
  EXPECT_EQ(t.onConnectAttempt(kA, 0), ConnDefense::kNone);
  EXPECT_EQ(t.counters().concurrentConnRejected, 1u);
}

TEST(DosTrackerConn, AddressesAreKeyedExactly) {
  DosTracker t(connParams(100, 100, 100, 10), lowRand, kKey);
  const ClientAddr v4 = ClientAddr::v4(0x01020304);
  const ClientAddr mapped = v6(0, 0x01020304);  // ::1.2.3.4 is another address
  const ClientAddr sameSlash64 = v6(0x20010db800000001ULL, 2);
  t.onConnectionOpened(v4, 0);
  t.onConnectionOpened(mapped, 0);
  t.onConnectionOpened(v6(0x20010db800000001ULL, 1), 0);
  t.onConnectionOpened(sameSlash64, 0);
  t.onConnectionOpened(sameSlash64, 0);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.concurrentCount(v4), 1u);
  EXPECT_EQ(t.concurrentCount(sameSlash64), 2u);
}

TEST(DosTrackerConn, SweepDropsOnlyIdleEntries) {
  DosParams p = connParams(100, 1, 2, 10);
  p.circEnabled = true;
  p.circMinConnections = 1;
  p.circBurst = 1;
  DosTracker t(p, lowRand, kKey);
  const ClientAddr idle = ClientAddr::v4(1), busy = ClientAddr::v4(2), marked = ClientAddr::v4(3);
  t.onConnectionClosed(t.onConnectionOpened(idle, 100));
  t.onConnectionOpened(busy, 100);
  const ConnTicket m = t.onConnectionOpened(marked, 100);
  t.noteCreateCell(marked, false, 100);  // circuit bucket of 1 emptied: marked until 100+3600+1
  t.onConnectionClosed(m);
  // Same second: the idle address's connect bucket is not full yet.
  EXPECT_EQ(t.sweep(100), 0u);
  EXPECT_EQ(t.sweep(101), 1u);
  EXPECT_FALSE(t.tracks(idle));
  EXPECT_TRUE(t.tracks(busy));
  EXPECT_TRUE(t.tracks(marked));
  EXPECT_EQ(t.sweep(100 + 3601), 0u);
  EXPECT_EQ(t.sweep(100 + 3602), 1u);  // the mark has expired and the buckets are full
  EXPECT_FALSE(t.tracks(marked));
}

TEST(DosTrackerConn, TicketOfAnEvictedEntryDoesNotTouchItsSuccessor) {
  DosTracker t(connParams(100, 100, 100, 10), lowRand, kKey, /*maxEntries=*/1);
  const ConnTicket old = t.onConnectionOpened(kA, 0);
  t.onConnectionOpened(ClientAddr::v4(7), 1);  // evicts kA (only entry, least recently seen)
  EXPECT_FALSE(t.tracks(kA));
  t.onConnectionOpened(kA, 2);  // evicts 7; kA is back with one connection
  t.onConnectionClosed(old);
  EXPECT_EQ(t.concurrentCount(kA), 1u);
}

// A flood of 1,000,000 distinct IPv6 sources (one /64 is enough: C tor keys exact addresses),
// each opening a connection: the table never holds more than its cap, and an address marked
// before the flood keeps its mark, because closed flood entries are evicted before it.
TEST(DosTrackerConn, MillionAddressFloodStaysBoundedAndKeepsMarks) {
  DosParams p = connParams(100, 20, 40, 3600);
  p.circEnabled = true;
  p.circMinConnections = 1;
  p.circBurst = 1;
  constexpr size_t kCap = 50000;
  DosTracker t(p, lowRand, kKey, kCap);
  t.onConnectionOpened(kA, 1);
  t.noteCreateCell(kA, false, 1);
  ASSERT_TRUE(t.isCircMarked(kA, 1));
  size_t maxSeen = 0;
  std::vector<ConnTicket> stillOpen;
  for (uint64_t i = 0; i < 1000000; ++i) {
    const uint64_t now = 2 + i / 10000;  // 100 s of flood
    const ConnTicket tk = t.onConnectionOpened(v6(0x20010db8deadbeefULL, i), now);
    if (i % 100 == 0) {
      stillOpen.push_back(tk);  // 1% keep their connection open
    } else {
      t.onConnectionClosed(tk);
    }
    if (t.size() > maxSeen) maxSeen = t.size();
  }
  EXPECT_EQ(maxSeen, kCap);
  EXPECT_LE(t.size(), kCap);
  EXPECT_TRUE(t.tracks(kA));
  EXPECT_EQ(t.createDefense(kA, false, 101), CircDefense::kRefuseCell);
  EXPECT_EQ(t.concurrentCount(kA), 1u);
  // Tickets of evicted flood entries are ignored, those still tracked count down.
  for (const ConnTicket& tk : stillOpen)
    t.onConnectionClosed(tk);
  for (uint64_t i = 999900; i < 1000000; i += 100) {
    EXPECT_EQ(t.concurrentCount(v6(0x20010db8deadbeefULL, i)), 0u);
  }
  // Once the flood is over, a sweep empties everything but the marked address.
  const size_t before = t.size();
  EXPECT_EQ(t.sweep(200), before - 1);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.tracks(kA));
}

}  // namespace
}  // namespace onionsplit::dos

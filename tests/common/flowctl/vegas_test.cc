// Tests for common/flowctl/vegas.h: slow start growth, the gamma exit on queueing, steady-state
// reactions, the clock heuristics, and unexpected SENDMEs.
#include "common/flowctl/vegas.h"

#include <gtest/gtest.h>

#include <deque>

namespace onionsplit::flowctl {
namespace {

// A sender on a path with a fixed round-trip time: each SENDME arrives exactly `rtt` after the cell
// it acknowledges was sent, and the sender refills the window as soon as it may.
struct Sim {
  VegasController cc;
  uint64_t now = 1'000'000;
  std::deque<uint64_t> marked;  // send times of the cells a SENDME will acknowledge
  explicit Sim(VegasParams p = {}) : cc(p) {}

  void refill() {
    while (cc.canSend())
      if (cc.onDataSent(now)) marked.push_back(now);
  }
  // Processes one window's worth of SENDMEs.
  void roundTrip(uint64_t rtt, bool blocked = false) {
    refill();
    size_t acks = marked.size();
    for (size_t i = 0; i < acks && !marked.empty(); ++i) {
      now = std::max(now, marked.front() + rtt);
      marked.pop_front();
      ASSERT_EQ(cc.onSendme(now, blocked), SendmeVerdict::kOk);
      refill();
    }
  }
};

TEST(Vegas, InitialWindowAndAckedCells) {
  VegasController cc;
  EXPECT_EQ(cc.cwnd(), 124u);
  EXPECT_TRUE(cc.inSlowStart());
  int marked = 0;
  for (int i = 1; i <= 124; ++i) {
    ASSERT_TRUE(cc.canSend());
    bool acked = cc.onDataSent(1000);
    EXPECT_EQ(acked, i % 31 == 0) << i;
    marked += acked;
  }
  EXPECT_EQ(marked, 4);
  EXPECT_FALSE(cc.canSend()) << "inflight reached cwnd";
}

TEST(Vegas, SlowStartGrowsWhileRttStaysLow) {
  Sim s;
  for (int i = 0; i < 5; ++i)
    s.roundTrip(50'000);
  EXPECT_TRUE(s.cc.inSlowStart());
  EXPECT_GT(s.cc.cwnd(), 124u * 4) << "slow start adds a sendme_inc per full-window SENDME";
  EXPECT_EQ(s.cc.minRttUsec(), 50'000u);
}

TEST(Vegas, QueueingEndsSlowStartAtGamma) {
  Sim s;
  for (int i = 0; i < 4; ++i)
    s.roundTrip(50'000);
  uint64_t before = s.cc.cwnd();
  // The RTT quadruples: three quarters of the window are queued, well over gamma.
  s.roundTrip(200'000);
  s.roundTrip(200'000);
  EXPECT_FALSE(s.cc.inSlowStart());
  EXPECT_LT(s.cc.cwnd(), before);
  EXPECT_GE(s.cc.cwnd(), s.cc.params().cwndMin);
}

TEST(Vegas, BlockedChannelEndsSlowStart) {
  Sim s;
  s.roundTrip(50'000);
  s.roundTrip(50'000, /*blocked=*/true);
  EXPECT_FALSE(s.cc.inSlowStart());
}

TEST(Vegas, SlowStartIsCappedBySsMax) {
  VegasParams p;
  p.ssCwndMax = 600;
  Sim s(p);
  for (int i = 0; i < 40 && s.cc.inSlowStart(); ++i)
    s.roundTrip(50'000);
  EXPECT_FALSE(s.cc.inSlowStart());
  EXPECT_LE(s.cc.cwnd(), 600u + 31u);
}

TEST(Vegas, SteadyStateGrowsSlowlyWithoutQueueAndShrinksUnderDelay) {
  Sim s;
  for (int i = 0; i < 4; ++i)
    s.roundTrip(50'000);
  s.roundTrip(200'000);  // leave slow start
  s.roundTrip(200'000);
  ASSERT_FALSE(s.cc.inSlowStart());
  // Settle at the base RTT: the window must not shrink, and grows by cwnd_inc per update.
  uint64_t settled = s.cc.cwnd();
  for (int i = 0; i < 20; ++i)
    s.roundTrip(50'000);
  EXPECT_GE(s.cc.cwnd(), settled);
  uint64_t grown = s.cc.cwnd();
  // Heavy queueing (RTT x4): the window falls back toward BDP + delta.
  for (int i = 0; i < 10; ++i)
    s.roundTrip(200'000);
  EXPECT_LT(s.cc.cwnd(), grown);
  EXPECT_GE(s.cc.cwnd(), s.cc.params().cwndMin);
}

TEST(Vegas, ClockStallDiscardsTheSample) {
  Sim s;
  while (s.cc.canSend())
    s.cc.onDataSent(s.now);
  uint64_t cwnd = s.cc.cwnd(), inflight = s.cc.inflight();
  ASSERT_EQ(s.cc.onSendme(s.now, false), SendmeVerdict::kOk);  // zero delta: a stalled clock
  EXPECT_EQ(s.cc.cwnd(), cwnd);
  EXPECT_EQ(s.cc.ewmaRttUsec(), 0u);
  EXPECT_EQ(s.cc.inflight(), inflight - 31) << "the cells are still acknowledged";
}

TEST(Vegas, SendmeWithoutOutstandingDataIsAProtocolError) {
  VegasController cc;
  EXPECT_EQ(cc.onSendme(1000, false), SendmeVerdict::kUnexpected);
  for (int i = 0; i < 30; ++i)
    cc.onDataSent(1000);
  EXPECT_EQ(cc.onSendme(2000, false), SendmeVerdict::kUnexpected) << "30 cells cannot be acked";
  cc.onDataSent(1000);
  EXPECT_EQ(cc.onSendme(2000, false), SendmeVerdict::kOk);
  EXPECT_EQ(cc.onSendme(3000, false), SendmeVerdict::kUnexpected);
}

TEST(Vegas, ManyOutstandingSendmesKeepTheirOrder) {
  VegasParams p;
  p.cwndInit = 31 * 40;  // more outstanding SENDMEs than the ring's first size
  p.cwndMin = p.cwndInit;
  VegasController cc(p);
  for (uint64_t i = 0; i < 31 * 40; ++i)
    cc.onDataSent(1000 + i / 31);
  for (uint64_t k = 0; k < 40; ++k)
    ASSERT_EQ(cc.onSendme(1000 + k + 500, false), SendmeVerdict::kOk);
  // Every sample was exactly 500 us: the ring handed them back oldest first.
  EXPECT_EQ(cc.minRttUsec(), 500u);
  EXPECT_EQ(cc.ewmaRttUsec(), 500u);
}

// C tor's tor_relay_congestion_control gauges: N-count running averages (N = 100) of a circuit's
// state when it leaves slow start and when it closes; a circuit closed in slow start counts only
// if its RTT samples differ.
TEST(CcGauges, RunningAveragesAtSlowStartExitAndClose) {
  EXPECT_EQ(runningAverage(0, 500), 500);
  EXPECT_DOUBLE_EQ(runningAverage(500, 1510), (2 * 1510 + 99 * 500) / 101.0);

  CcGauges g;
  VegasController idle;
  g.noteClose(idle);  // in slow start with no RTT sample
  EXPECT_EQ(g.closeSsCwnd, 0);
  EXPECT_EQ(g.closeCwnd, 0);

  Sim s;
  for (int i = 0; i < 4; ++i)
    s.roundTrip(50'000);
  s.roundTrip(55'000);  // a little slower: samples differ, too little queue to leave slow start
  ASSERT_TRUE(s.cc.inSlowStart());
  g.noteClose(s.cc);
  EXPECT_EQ(g.closeSsCwnd, static_cast<double>(s.cc.cwnd()));
  EXPECT_EQ(g.closeCwnd, 0);
  s.roundTrip(200'000);
  s.roundTrip(200'000);
  ASSERT_FALSE(s.cc.inSlowStart());
  g.noteSlowStartExit(s.cc);
  EXPECT_EQ(g.exitSsCwnd, static_cast<double>(s.cc.cwnd()));
  EXPECT_EQ(g.exitSsBdp, static_cast<double>(s.cc.bdp()));
  EXPECT_EQ(g.exitSsInc, static_cast<double>(s.cc.slowStartIncrement()));
  g.noteClose(s.cc);
  EXPECT_EQ(g.closeCwnd, static_cast<double>(s.cc.cwnd()));
}

}  // namespace
}  // namespace onionsplit::flowctl

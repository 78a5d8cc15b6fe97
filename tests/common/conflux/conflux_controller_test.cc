// Tests for common/conflux/controller.h: in-order and out-of-order delivery across legs, SWITCH,
// closes on stale sequence numbers and a full queue, the sender's leg choice and its SWITCHes,
// and rule 7's teardown conditions (specs/README.md §6).
#include "common/conflux/controller.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "common/cell/constants.h"

namespace onionsplit::conflux {
namespace {

constexpr uint8_t kData = static_cast<uint8_t>(cell::RelayCmd::kData);
constexpr uint8_t kBegin = static_cast<uint8_t>(cell::RelayCmd::kBegin);
constexpr uint8_t kEnd = static_cast<uint8_t>(cell::RelayCmd::kEnd);
constexpr uint8_t kSendme = static_cast<uint8_t>(cell::RelayCmd::kSendme);
constexpr LegId kA = 1;
constexpr LegId kB = 2;
constexpr LegId kC = 3;

// Views a string literal (static storage, so a delivery that views the caller's bytes stays valid).
Bytes text(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
std::string str(Bytes b) {
  return std::string(b.begin(), b.end());
}

LegInit withRtt(uint64_t rtt) {
  LegInit i;
  i.rttUsec = rtt;
  return i;
}

struct TwoLegs : ::testing::Test {
  ConfluxController c{ConfluxParams{}, Scheduler::kLowRtt};
  std::vector<Delivery> out;
  void SetUp() override {
    c.addLeg(kA, withRtt(100));
    c.addLeg(kB, withRtt(200));
  }
  Verdict rx(LegId leg, const char* body, uint8_t cmd = kData) {
    return c.onMultiplexed(leg, cmd, 7, text(body), out);
  }
};

TEST_F(TwoLegs, InOrderOnOneLegIsDeliveredAtOnce) {
  ASSERT_EQ(rx(kA, "one").kind, Verdict::kOk);
  ASSERT_EQ(rx(kA, "two").kind, Verdict::kOk);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].seq, 1u);
  EXPECT_EQ(str(out[0].body), "one");
  EXPECT_EQ(out[1].seq, 2u);
  EXPECT_EQ(out[1].streamId, 7);
  EXPECT_EQ(c.lastSeqDelivered(), 2u);
  EXPECT_EQ(c.oooQueueLength(), 0u);
}

TEST_F(TwoLegs, OutOfOrderAcrossLegsIsQueuedThenDrained) {
  // The client sent 1,2 on A, SWITCH(2) + 3,4 on B; B's cells arrive first.
  ASSERT_EQ(c.onSwitch(kB, 2).kind, Verdict::kOk);
  EXPECT_EQ(c.leg(kB)->lastSeqRecv, 2u) << "a SWITCH is not itself counted";
  ASSERT_EQ(rx(kB, "three", kBegin).kind, Verdict::kOk);
  ASSERT_EQ(rx(kB, "four").kind, Verdict::kOk);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(c.oooQueueLength(), 2u);
  EXPECT_EQ(c.oooQueueBytes(), 5 + 4 + 2 * kQueuedOverheadBytes);
  ASSERT_EQ(rx(kA, "one").kind, Verdict::kOk);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(rx(kA, "two").kind, Verdict::kOk);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(str(out[1].body), "two");
  EXPECT_EQ(str(out[2].body), "three");
  EXPECT_EQ(out[2].cmd, kBegin);
  EXPECT_EQ(out[2].seq, 3u);
  EXPECT_EQ(str(out[3].body), "four");
  EXPECT_EQ(c.lastSeqDelivered(), 4u);
  EXPECT_EQ(c.oooQueueBytes(), 0u);
}

TEST_F(TwoLegs, SwitchOfZeroIsAcceptedAndChangesNothing) {
  ASSERT_EQ(c.onSwitch(kA, 0).kind, Verdict::kOk);
  ASSERT_EQ(rx(kA, "x").kind, Verdict::kOk);
  EXPECT_EQ(out.size(), 1u);
}

TEST_F(TwoLegs, HugeSwitchQueuesUntilTheCapThenClosesWithResourceLimit) {
  ConfluxParams p;
  p.maxOooqBytes = 3 * (10 + kQueuedOverheadBytes);
  ConfluxController small(p, Scheduler::kLowRtt);
  small.addLeg(kA, LegInit{});
  ASSERT_EQ(small.onSwitch(kA, 0xffffffffu).kind, Verdict::kOk);
  EXPECT_EQ(small.leg(kA)->lastSeqRecv, 0xffffffffu);
  std::string ten(10, 'x');
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(small.onMultiplexed(kA, kData, 1, text(ten), out).kind, Verdict::kOk);
  }
  EXPECT_EQ(small.oooQueueBytes(), p.maxOooqBytes) << "exactly at the cap is allowed";
  Verdict v = small.onMultiplexed(kA, kData, 1, text("y"), out);
  EXPECT_EQ(v.kind, Verdict::kCloseLeg);
  EXPECT_EQ(v.reason, CloseReason::kResourceLimit);
  EXPECT_LE(small.oooQueueBytes(), p.maxOooqBytes);
  EXPECT_TRUE(out.empty());
}

TEST_F(TwoLegs, SeqAtOrBelowDeliveredClosesTheLeg) {
  ASSERT_EQ(rx(kA, "1").kind, Verdict::kOk);
  ASSERT_EQ(rx(kA, "2").kind, Verdict::kOk);
  // B has counted nothing: its first cell is seq 1, already delivered.
  Verdict v = rx(kB, "again");
  EXPECT_EQ(v.kind, Verdict::kCloseLeg);
  EXPECT_EQ(v.reason, CloseReason::kInternal) << "C tor 0.4.9 conflux.c uses INTERNAL";
  EXPECT_EQ(out.size(), 2u);
}

TEST_F(TwoLegs, DuplicateOfAQueuedSeqCloses) {
  ASSERT_EQ(c.onSwitch(kA, 1).kind, Verdict::kOk);
  ASSERT_EQ(rx(kA, "2").kind, Verdict::kOk);  // queued as seq 2
  ASSERT_EQ(c.onSwitch(kB, 1).kind, Verdict::kOk);
  Verdict v = rx(kB, "2 again");
  EXPECT_EQ(v.kind, Verdict::kCloseLeg);
  EXPECT_EQ(v.reason, CloseReason::kProtocol);
}

TEST_F(TwoLegs, CellsOnUnknownLegsClose) {
  EXPECT_EQ(c.onMultiplexed(kC, kData, 1, {}, out).kind, Verdict::kCloseLeg);
  EXPECT_EQ(c.onSwitch(kC, 1).kind, Verdict::kCloseLeg);
  Verdict ack = c.onLinkedAck(kC, 5);
  EXPECT_EQ(ack.kind, Verdict::kCloseLeg);
  EXPECT_EQ(ack.reason, CloseReason::kProtocol);
  EXPECT_EQ(c.onMultiplexed(kA, kSendme, 0, {}, out).kind, Verdict::kCloseLeg)
      << "non-multiplexed commands are the caller's bug";
}

TEST(ConfluxControllerRtt, LinkedAckMeasuresFromLinkedSent) {
  ConfluxController c;
  LegInit i;
  i.linkedSentUsec = 1000;
  c.addLeg(kA, i);
  ASSERT_EQ(c.onLinkedAck(kA, 4500).kind, Verdict::kOk);
  EXPECT_EQ(c.leg(kA)->rttUsec, 3500u);
  ASSERT_EQ(c.onLinkedAck(kA, 1000).kind, Verdict::kOk) << "a stalled clock";
  EXPECT_EQ(c.leg(kA)->rttUsec, UINT64_MAX) << "leg is unusable, as C tor record_rtt_exit";
  CcFacts cc;
  cc.ewmaRttUsec = 777;
  c.onLegState(kA, cc);
  EXPECT_EQ(c.leg(kA)->rttUsec, 777u) << "CC's RTT replaces it";
}

// ---- sending ----

TEST_F(TwoLegs, FirstCellGoesOnTheLowestRttLegWithoutSwitch) {
  SendPlan p = c.send(kData);
  ASSERT_EQ(p.kind, SendPlan::kSend);
  EXPECT_EQ(p.leg, kA);
  EXPECT_FALSE(p.switchSeq);
  EXPECT_EQ(c.leg(kA)->lastSeqSent, 1u);
  EXPECT_EQ(c.currentLeg(), kA);
}

TEST_F(TwoLegs, NoSwitchBeforeTheFirstCellEvenIfTheFastLegIsBlocked) {
  CcFacts full;
  full.inflight = full.cwnd;
  c.onLegState(kA, full);
  SendPlan p = c.send(kData);
  ASSERT_EQ(p.kind, SendPlan::kSend);
  EXPECT_EQ(p.leg, kB);
  EXPECT_FALSE(p.switchSeq);
  EXPECT_EQ(c.leg(kB)->lastSeqSent, 1u);
}

TEST_F(TwoLegs, LowRttSwitchesWhenTheFastLegIsFullAndBack) {
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(c.send(kData).leg, kA);
  CcFacts full;
  full.inflight = full.cwnd;
  c.onLegState(kA, full);
  SendPlan p = c.send(kData);
  ASSERT_EQ(p.kind, SendPlan::kSend);
  EXPECT_EQ(p.leg, kB);
  ASSERT_TRUE(p.switchSeq);
  EXPECT_EQ(*p.switchSeq, 10u) << "rel = prev.last_seq_sent - new.last_seq_sent";
  EXPECT_EQ(c.leg(kB)->lastSeqSent, 11u);
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(c.send(kData).leg, kB);
  EXPECT_EQ(c.leg(kB)->lastSeqSent, 31u);
  c.onLegState(kA, CcFacts{});
  p = c.send(kEnd);
  EXPECT_EQ(p.leg, kA);
  ASSERT_TRUE(p.switchSeq);
  EXPECT_EQ(*p.switchSeq, 21u) << "proposal 329 §2.6's example";
  EXPECT_EQ(c.leg(kA)->lastSeqSent, 32u);
  EXPECT_EQ(c.maxSeqSent(), 32u);
}

TEST_F(TwoLegs, NotMultiplexedIsNotScheduled) {
  EXPECT_EQ(c.send(kSendme).kind, SendPlan::kNotMultiplexed);
  EXPECT_EQ(c.maxSeqSent(), 0u);
}

TEST_F(TwoLegs, AllBlockedStopsDataButNotOtherCommands) {
  ASSERT_EQ(c.send(kData).leg, kA);
  CcFacts full;
  full.inflight = full.cwnd;
  c.onLegState(kA, full);
  CcFacts chanBlocked;
  chanBlocked.channelBlocked = true;
  c.onLegState(kB, chanBlocked);
  EXPECT_EQ(c.send(kData).kind, SendPlan::kBlocked);
  EXPECT_FALSE(c.peekDataLeg());
  SendPlan p = c.send(kEnd);
  ASSERT_EQ(p.kind, SendPlan::kSend);
  EXPECT_EQ(p.leg, kA) << "non-DATA goes on the current leg";
  EXPECT_FALSE(p.switchSeq);
  EXPECT_EQ(c.leg(kA)->lastSeqSent, 2u);
}

TEST(ConfluxControllerSend, MinRttStaysOnTheFastLegAndStopsWhenItIsFull) {
  ConfluxController c(ConfluxParams{}, Scheduler::kMinRtt);
  c.addLeg(kA, withRtt(300));
  c.addLeg(kB, withRtt(100));
  EXPECT_EQ(c.send(kData).leg, kB);
  CcFacts full;
  full.inflight = full.cwnd;
  c.onLegState(kB, full);
  EXPECT_EQ(c.send(kData).kind, SendPlan::kBlocked) << "MinRTT does not switch (§3.1)";
  EXPECT_EQ(c.send(kBegin).leg, kB);
}

TEST(ConfluxControllerSend, UnmeasuredLegsAreSkipped) {
  ConfluxController c(ConfluxParams{}, Scheduler::kLowRtt);
  c.addLeg(kA, LegInit{});  // its LINKED_ACK has not arrived
  c.addLeg(kB, withRtt(500));
  EXPECT_EQ(c.peekDataLeg(), kB);
  EXPECT_EQ(c.send(kBegin).leg, kB);
  ConfluxController none(ConfluxParams{}, Scheduler::kLowRtt);
  none.addLeg(kA, LegInit{});
  EXPECT_EQ(none.send(kData).kind, SendPlan::kBlocked);
  SendPlan p = none.send(kBegin);
  EXPECT_EQ(p.leg, kA) << "no RTT anywhere: the first leg is current";
  EXPECT_EQ(none.send(kData).kind, SendPlan::kBlocked);
}

TEST(ConfluxControllerSend, RelativeSeqThatDoesNotFitClosesTheSet) {
  for (uint64_t gap : {uint64_t{0xfffffffe}, uint64_t{0xffffffff}, uint64_t{1} << 32}) {
    ConfluxController c(ConfluxParams{}, Scheduler::kLowRtt);
    LegInit a = withRtt(100);
    a.lastSeqSent = gap;  // as a LINK with history could set it
    c.addLeg(kA, a);
    c.addLeg(kB, withRtt(200));
    ASSERT_EQ(c.send(kData).leg, kA);  // A at gap + 1
    CcFacts full;
    full.inflight = full.cwnd;
    c.onLegState(kA, full);
    SendPlan p = c.send(kData);
    if (gap + 1 < 0xffffffffu) {
      ASSERT_EQ(p.kind, SendPlan::kSend) << gap;
      EXPECT_EQ(*p.switchSeq, gap + 1);
    } else {
      EXPECT_EQ(p.kind, SendPlan::kCloseSet) << gap;
      EXPECT_EQ(p.reason, CloseReason::kProtocol);
    }
  }
}

TEST(ConfluxControllerSend, NewLegAheadOfTheOldOneClosesTheSet) {
  ConfluxController c(ConfluxParams{}, Scheduler::kLowRtt);
  c.addLeg(kA, withRtt(100));
  LegInit b = withRtt(200);
  b.lastSeqSent = 50;
  c.addLeg(kB, b);
  ASSERT_EQ(c.send(kData).leg, kA);
  CcFacts full;
  full.inflight = full.cwnd;
  c.onLegState(kA, full);
  EXPECT_EQ(c.send(kData).kind, SendPlan::kCloseSet);
}

// ---- rule 7 ----

TEST_F(TwoLegs, ClosingAnIdleNonCurrentLegKeepsTheSet) {
  ASSERT_EQ(c.send(kData).leg, kA);
  EXPECT_FALSE(c.removeLeg(kB));
  EXPECT_EQ(c.legCount(), 1u);
  EXPECT_FALSE(c.removeLeg(kB)) << "unknown leg";
}

TEST_F(TwoLegs, ClosingTheCurrentLegTearsDown) {
  ASSERT_EQ(c.send(kData).leg, kA);
  // Even with B's counters level with A's.
  ASSERT_EQ(c.onSwitch(kB, 0).kind, Verdict::kOk);
  EXPECT_TRUE(c.removeLeg(kA));
  EXPECT_FALSE(c.currentLeg());
}

TEST_F(TwoLegs, ClosingALegWithDataInFlightTearsDown) {
  CcFacts busy;
  busy.inflight = busy.sendmeInc;
  c.onLegState(kB, busy);
  EXPECT_TRUE(c.removeLeg(kB));
  CcFacts almost;
  almost.inflight = almost.sendmeInc - 1;
  c.addLeg(kC, LegInit{});
  c.onLegState(kC, almost);
  EXPECT_FALSE(c.removeLeg(kC)) << "inflight below sendme_inc";
}

TEST_F(TwoLegs, ClosingTheLegWithTheHighestRecvSeqTearsDown) {
  ASSERT_EQ(rx(kB, "1").kind, Verdict::kOk);
  EXPECT_TRUE(c.removeLeg(kB));
}

TEST_F(TwoLegs, ClosingTheLegWithTheHighestSentSeqTearsDown) {
  ASSERT_EQ(c.send(kData).leg, kA);
  CcFacts full;
  full.inflight = full.cwnd;
  c.onLegState(kA, full);
  ASSERT_EQ(c.send(kData).leg, kB);  // current is now B, A was at 1, B at 2
  c.onLegState(kA, CcFacts{});
  c.addLeg(kC, withRtt(300));
  EXPECT_FALSE(c.removeLeg(kA)) << "A's seq 1 is below B's 2";
  // Level counters: a tie does not tear down (C tor compares with <).
  ConfluxController t;
  LegInit x;
  x.lastSeqRecv = 5;
  t.addLeg(kA, x);
  t.addLeg(kB, x);
  EXPECT_FALSE(t.removeLeg(kA));
  EXPECT_FALSE(t.removeLeg(kB)) << "the last leg: nothing to compare with";
}

}  // namespace
}  // namespace onionsplit::conflux

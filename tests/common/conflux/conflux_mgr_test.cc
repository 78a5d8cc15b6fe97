// Tests for common/conflux/mgr.h: the exit's LINK acceptance rules, set lookup by nonce, the
// LINKED counters, LINKED_ACK, and leg closes that keep or tear down a set (specs/README.md §6
// rules 1-4, 7).
#include "common/conflux/mgr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "common/cell/constants.h"

namespace onionsplit::conflux {
namespace {

constexpr uint8_t kData = static_cast<uint8_t>(cell::RelayCmd::kData);
constexpr uint8_t kBegin = static_cast<uint8_t>(cell::RelayCmd::kBegin);

Nonce nonce(uint8_t b) {
  Nonce n{};
  n.fill(b);
  return n;
}

cell::ConfluxLinkMsg link(uint8_t n, uint8_t ux = 3) {
  cell::ConfluxLinkMsg m;
  m.nonce = nonce(n);
  m.desiredUx = ux;
  return m;
}

TEST(ConfluxMgr, FreshSetLinksAtOnceWithZeroCounters) {
  ConfluxMgr m;
  LinkResult r = m.onLink(10, link(1), LegFacts{}, 5000);
  ASSERT_EQ(r.kind, LinkResult::kLinked);
  EXPECT_EQ(r.linked.nonce, nonce(1));
  EXPECT_EQ(r.linked.lastSeqnoSent, 0u);
  EXPECT_EQ(r.linked.lastSeqnoRecv, 0u);
  EXPECT_EQ(r.linked.desiredUx, 1) << "exits ask for MIN_LATENCY";
  EXPECT_TRUE(m.isLinked(10));
  ASSERT_NE(m.controllerFor(10), nullptr);
  EXPECT_EQ(m.controllerFor(10)->scheduler(), Scheduler::kLowRtt) << "HIGH_THROUGHPUT → LowRTT";
  EXPECT_EQ(m.setCount(), 1u);
}

TEST(ConfluxMgr, SameNonceAddsALegAndLinkedCarriesTheSetsHistory) {
  ConfluxMgr m;
  LinkResult a = m.onLink(10, link(1), LegFacts{}, 0);
  ASSERT_EQ(a.kind, LinkResult::kLinked);
  ConfluxController* c = m.controllerFor(10);
  ASSERT_EQ(m.onLinkedAck(10, 100).kind, Verdict::kOk);  // DATA needs a measured leg
  std::vector<Delivery> out;
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(c->onMultiplexed(10, kData, 1, {}, out).kind, Verdict::kOk);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(c->send(kData).kind, SendPlan::kSend);
  // The second LINK: the client has sent 3 and received 5 by now.
  cell::ConfluxLinkMsg l2 = link(1, 1);
  l2.lastSeqnoSent = 3;
  l2.lastSeqnoRecv = 5;
  LinkResult b = m.onLink(11, l2, LegFacts{}, 0);
  ASSERT_EQ(b.kind, LinkResult::kLinked);
  EXPECT_EQ(b.set, a.set);
  EXPECT_EQ(b.linked.lastSeqnoSent, 5u) << "max(leg.last_seq_sent) before the new leg";
  EXPECT_EQ(b.linked.lastSeqnoRecv, 3u) << "set.last_seq_delivered";
  EXPECT_EQ(m.controllerFor(11), c);
  EXPECT_EQ(c->leg(11)->lastSeqRecv, 3u) << "leg.last_seq_recv = LINK.last_seqno_sent";
  EXPECT_EQ(c->leg(11)->lastSeqSent, 5u) << "leg.last_seq_sent = LINK.last_seqno_recv";
  EXPECT_EQ(c->scheduler(), Scheduler::kMinRtt) << "the latest LINK's UX wins";
  EXPECT_EQ(m.setCount(), 1u);
  EXPECT_EQ(m.legCount(), 2u);
  // A different nonce is a different set.
  EXPECT_NE(m.onLink(12, link(2), LegFacts{}, 0).set, a.set);
}

TEST(ConfluxMgr, LinkRefusals) {
  ConfluxMgr m;
  LegFacts noCc;
  noCc.ccNegotiated = false;
  LegFacts middle;
  middle.isLastHop = false;
  LegFacts dirty;
  dirty.carriesStreams = true;
  for (const LegFacts& f : {noCc, middle, dirty}) {
    LinkResult r = m.onLink(10, link(1), f, 0);
    EXPECT_EQ(r.kind, LinkResult::kCloseLeg);
    EXPECT_EQ(r.reason, CloseReason::kProtocol);
  }
  EXPECT_EQ(m.setCount(), 0u) << "nothing recorded";
  ASSERT_EQ(m.onLink(10, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  LinkResult again = m.onLink(10, link(1), LegFacts{}, 0);
  EXPECT_EQ(again.kind, LinkResult::kCloseLeg) << "a second LINK on a linked leg";
  EXPECT_EQ(again.reason, CloseReason::kProtocol);
  EXPECT_EQ(m.onLink(10, link(2), LegFacts{}, 0).kind, LinkResult::kCloseLeg);
}

TEST(ConfluxMgr, LinkBodyDecodesAndRefusesUnknownVersions) {
  ConfluxMgr m;
  std::array<uint8_t, 64> buf{};
  Writer w(buf);
  ASSERT_TRUE(cell::encodeConfluxLink(link(1), w));
  std::vector<uint8_t> body(buf.begin(), buf.begin() + static_cast<long>(w.size()));
  EXPECT_EQ(m.onLinkBody(10, body, LegFacts{}, 0).kind, LinkResult::kLinked);
  body[0] = 2;  // VERSION
  LinkResult r = m.onLinkBody(11, body, LegFacts{}, 0);
  EXPECT_EQ(r.kind, LinkResult::kCloseLeg);
  EXPECT_EQ(r.reason, CloseReason::kProtocol);
  body[0] = 1;
  body.back() = 5;  // DESIRED_UX beyond LOW_MEM_THROUGHPUT: C tor's trunnel refuses it
  r = m.onLinkBody(13, body, LegFacts{}, 0);
  EXPECT_EQ(r.kind, LinkResult::kCloseLeg);
  EXPECT_EQ(r.reason, CloseReason::kProtocol);
  body.back() = 4;
  r = m.onLinkBody(12, Bytes(body).first(20), LegFacts{}, 0);
  EXPECT_EQ(r.kind, LinkResult::kCloseLeg) << "truncated";
  EXPECT_FALSE(m.isLinked(11));
  EXPECT_FALSE(m.isLinked(12));
}

TEST(ConfluxMgr, LegLimitPerSet) {
  ConfluxParams p;
  p.maxLegsPerSet = 3;
  ConfluxMgr m(p);
  for (LegId l = 1; l <= 3; ++l)
    ASSERT_EQ(m.onLink(l, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  LinkResult r = m.onLink(4, link(1), LegFacts{}, 0);
  EXPECT_EQ(r.kind, LinkResult::kCloseLeg);
  EXPECT_EQ(r.reason, CloseReason::kProtocol) << "C tor: link_circuit fails → TORPROTOCOL";
  EXPECT_EQ(m.controller(1)->legCount(), 3u);
  ConfluxMgr d;  // default cfx_max_legs_set = 8
  for (LegId l = 1; l <= 8; ++l)
    ASSERT_EQ(d.onLink(l, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  EXPECT_EQ(d.onLink(9, link(1), LegFacts{}, 0).kind, LinkResult::kCloseLeg);
}

TEST(ConfluxMgr, SetCap) {
  ConfluxParams p;
  p.maxSets = 2;
  ConfluxMgr m(p);
  ASSERT_EQ(m.onLink(1, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  ASSERT_EQ(m.onLink(2, link(2), LegFacts{}, 0).kind, LinkResult::kLinked);
  LinkResult r = m.onLink(3, link(3), LegFacts{}, 0);
  EXPECT_EQ(r.kind, LinkResult::kCloseLeg);
  EXPECT_EQ(r.reason, CloseReason::kResourceLimit);
  EXPECT_EQ(m.onLink(4, link(1), LegFacts{}, 0).kind, LinkResult::kLinked)
      << "joining an existing set is not a new set";
}

TEST(ConfluxMgr, LinkClaimingUndeliveredDataClosesTheSet) {
  ConfluxMgr m;
  cell::ConfluxLinkMsg l = link(1);
  l.lastSeqnoSent = 1;
  EXPECT_EQ(m.onLink(1, l, LegFacts{}, 0).kind, LinkResult::kCloseLeg) << "fresh set";
  EXPECT_EQ(m.setCount(), 0u);
  LinkResult a = m.onLink(2, link(1), LegFacts{}, 0);
  ASSERT_EQ(a.kind, LinkResult::kLinked);
  LinkResult r = m.onLink(3, l, LegFacts{}, 0);
  EXPECT_EQ(r.kind, LinkResult::kCloseSet);
  EXPECT_EQ(r.set, a.set);
  std::vector<LegId> legs;
  m.dropSet(r.set, legs);
  EXPECT_EQ(legs, std::vector<LegId>{2});
  EXPECT_EQ(m.setCount(), 0u);
  EXPECT_FALSE(m.isLinked(2));
}

// C tor 0.4.9.14, bug 41328: a LINK claiming to have received more than the set ever sent is
// refused: on a fresh set (which sent nothing) the leg closes; joining a set, the set closes.
TEST(ConfluxMgr, Bug41328ALinkClaimingMoreThanTheSetSentIsRefused) {
  ConfluxMgr m;
  cell::ConfluxLinkMsg l = link(1);
  l.lastSeqnoRecv = 1;
  LinkResult fresh = m.onLink(1, l, LegFacts{}, 0);
  EXPECT_EQ(fresh.kind, LinkResult::kCloseLeg);
  EXPECT_TRUE(fresh.recvAhead);
  EXPECT_EQ(m.setCount(), 0u);
  LinkResult a = m.onLink(2, link(1), LegFacts{}, 0);
  ASSERT_EQ(a.kind, LinkResult::kLinked);
  ASSERT_EQ(m.onLinkedAck(2, 100).kind, Verdict::kOk);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(m.controllerFor(2)->send(kData).kind, SendPlan::kSend);
  l.lastSeqnoRecv = 2;  // exactly what the set sent: joins
  LinkResult b = m.onLink(3, l, LegFacts{}, 0);
  ASSERT_EQ(b.kind, LinkResult::kLinked);
  EXPECT_FALSE(b.recvAhead);
  l.lastSeqnoRecv = 3;  // more
  LinkResult c = m.onLink(4, l, LegFacts{}, 0);
  EXPECT_EQ(c.kind, LinkResult::kCloseSet);
  EXPECT_EQ(c.reason, CloseReason::kProtocol);
  EXPECT_EQ(c.set, a.set);
  EXPECT_TRUE(c.recvAhead);
}

// The design document's LINKED_ACK deadline (C tor has none): a leg whose LINKED_ACK has not come
// params.linkedAckTimeoutUsec after its LINKED is overdue; an acknowledged one never is.
TEST(ConfluxMgr, ALegWithoutLinkedAckInTimeIsOverdue) {
  ConfluxParams p;
  p.linkedAckTimeoutUsec = 1000;
  ConfluxMgr m(p);
  ASSERT_EQ(m.onLink(1, link(1), LegFacts{}, 100).kind, LinkResult::kLinked);
  ASSERT_EQ(m.onLink(2, link(1), LegFacts{}, 200).kind, LinkResult::kLinked);
  ASSERT_EQ(m.onLink(3, link(2), LegFacts{}, 300).kind, LinkResult::kLinked);
  std::vector<LegId> overdue;
  m.overdueLinkedAcks(1099, overdue);
  EXPECT_TRUE(overdue.empty()) << "not yet";
  ASSERT_EQ(m.onLinkedAck(1, 500).kind, Verdict::kOk);
  m.overdueLinkedAcks(1200, overdue);
  EXPECT_EQ(overdue, std::vector<LegId>{2}) << "leg 1 was acknowledged, leg 3's time is not up";
  overdue.clear();
  m.overdueLinkedAcks(5000, overdue);
  std::sort(overdue.begin(), overdue.end());
  EXPECT_EQ(overdue, (std::vector<LegId>{2, 3}));
  overdue.clear();
  m.overdueLinkedAcks(50, overdue);
  EXPECT_TRUE(overdue.empty()) << "a clock before the LINKED is no timeout";
}

TEST(ConfluxMgr, LinkedAckOnlyOnLinkedLegs) {
  ConfluxMgr m;
  Verdict v = m.onLinkedAck(5, 100);
  EXPECT_EQ(v.kind, Verdict::kCloseLeg);
  EXPECT_EQ(v.reason, CloseReason::kProtocol);
  ASSERT_EQ(m.onLink(5, link(1), LegFacts{}, 1000).kind, LinkResult::kLinked);
  EXPECT_EQ(m.onLinkedAck(5, 1800).kind, Verdict::kOk);
  EXPECT_EQ(m.controllerFor(5)->leg(5)->rttUsec, 800u);
}

TEST(ConfluxMgr, IdleLegCloseKeepsTheSetAndLastLegForgetsIt) {
  ConfluxMgr m;
  ASSERT_EQ(m.onLink(1, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  ASSERT_EQ(m.onLink(2, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  std::vector<LegId> others;
  LegClosed c = m.onLegClosed(2, others);
  EXPECT_TRUE(c.wasLinked);
  EXPECT_FALSE(c.setTornDown);
  EXPECT_FALSE(c.setForgotten);
  EXPECT_TRUE(others.empty());
  c = m.onLegClosed(1, others);
  EXPECT_FALSE(c.setTornDown);
  EXPECT_TRUE(c.setForgotten);
  EXPECT_EQ(m.setCount(), 0u);
  EXPECT_FALSE(m.onLegClosed(1, others).wasLinked);
  // The nonce can start a new set afterwards.
  EXPECT_EQ(m.onLink(3, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
}

TEST(ConfluxMgr, CurrentLegCloseTearsDownAndListsTheOthers) {
  ConfluxMgr m;
  for (LegId l = 1; l <= 3; ++l)
    ASSERT_EQ(m.onLink(l, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  ConfluxController* c = m.controllerFor(1);
  EXPECT_EQ(c->send(kData).kind, SendPlan::kBlocked) << "no leg measured yet";
  SendPlan p = c->send(kBegin);  // non-DATA: the first leg becomes current
  ASSERT_EQ(p.leg, 1u);
  std::vector<LegId> others;
  LegClosed r = m.onLegClosed(1, others);
  EXPECT_TRUE(r.setTornDown);
  EXPECT_TRUE(r.setForgotten);
  EXPECT_EQ(others, (std::vector<LegId>{2, 3}));
  EXPECT_EQ(m.legCount(), 0u);
  EXPECT_FALSE(m.onLegClosed(2, others).wasLinked) << "already forgotten";
}

TEST(ConfluxMgr, LegWithDataInFlightOrNewestRecvTearsDown) {
  ConfluxMgr m;
  LegFacts busy;
  busy.cc.inflight = 31;
  ASSERT_EQ(m.onLink(1, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  ASSERT_EQ(m.onLink(2, link(1), busy, 0).kind, LinkResult::kLinked);
  std::vector<LegId> others;
  EXPECT_TRUE(m.onLegClosed(2, others).setTornDown);
  EXPECT_EQ(others, std::vector<LegId>{1});

  ConfluxMgr n;
  ASSERT_EQ(n.onLink(1, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  ASSERT_EQ(n.onLink(2, link(1), LegFacts{}, 0).kind, LinkResult::kLinked);
  std::vector<Delivery> out;
  ASSERT_EQ(n.controllerFor(2)->onMultiplexed(2, kData, 1, {}, out).kind, Verdict::kOk);
  others.clear();
  EXPECT_TRUE(n.onLegClosed(2, others).setTornDown);
}

}  // namespace
}  // namespace onionsplit::conflux

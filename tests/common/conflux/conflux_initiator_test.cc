// Tests for common/conflux/initiator.h: the client side of the handshake against the exit's
// ConfluxMgr, and the LINKED checks of proposal 329 §4.2.1.
#include "common/conflux/initiator.h"

#include <gtest/gtest.h>

#include "common/cell/constants.h"
#include "common/conflux/mgr.h"

namespace onionsplit::conflux {
namespace {

constexpr uint8_t kData = static_cast<uint8_t>(cell::RelayCmd::kData);

Nonce nonce(uint8_t b) {
  Nonce n{};
  n.fill(b);
  return n;
}

TEST(ConfluxInitiator, HandshakeWithTheExitAndDataBothWays) {
  ConfluxInitiator client(nonce(9), static_cast<uint8_t>(Ux::kHighThroughput));
  ConfluxMgr exit;
  // Legs 1 and 2 are the same two circuits seen from each end.
  cell::ConfluxLinkMsg l1 = client.linkFor(1, 0);
  cell::ConfluxLinkMsg l2 = client.linkFor(2, 0);
  EXPECT_EQ(l1.nonce, nonce(9));
  EXPECT_EQ(l1.desiredUx, 3);
  EXPECT_EQ(l1.lastSeqnoSent, 0u);
  LinkResult e1 = exit.onLink(1, l1, LegFacts{}, 100);
  LinkResult e2 = exit.onLink(2, l2, LegFacts{}, 100);
  ASSERT_EQ(e1.kind, LinkResult::kLinked);
  ASSERT_EQ(e2.kind, LinkResult::kLinked);
  LinkedResult r1 = client.onLinked(1, e1.linked, 300);
  ASSERT_EQ(r1.verdict.kind, Verdict::kOk);
  EXPECT_EQ(r1.rttUsec, 300u);
  EXPECT_FALSE(client.ready()) << "leg 2 still pending";
  ASSERT_EQ(client.onLinked(2, e2.linked, 500).verdict.kind, Verdict::kOk);
  EXPECT_TRUE(client.ready());
  EXPECT_EQ(client.controller().scheduler(), Scheduler::kMinRtt) << "the exit asked MIN_LATENCY";
  ASSERT_EQ(exit.onLinkedAck(1, 250).kind, Verdict::kOk);
  ASSERT_EQ(exit.onLinkedAck(2, 400).kind, Verdict::kOk);

  // Client → exit: the client sends on its lowest-RTT leg (1); the exit delivers in order.
  std::vector<Delivery> out;
  for (int i = 0; i < 3; ++i) {
    SendPlan p = client.controller().send(kData);
    ASSERT_EQ(p.kind, SendPlan::kSend);
    ASSERT_EQ(exit.controllerFor(p.leg)->onMultiplexed(p.leg, kData, 1, {}, out).kind,
              Verdict::kOk);
  }
  EXPECT_EQ(out.size(), 3u);
}

TEST(ConfluxInitiator, LinkedChecks) {
  ConfluxInitiator client(nonce(9), 1);
  cell::ConfluxLinkMsg good;
  good.nonce = nonce(9);
  good.desiredUx = 1;
  EXPECT_EQ(client.onLinked(1, good, 0).verdict.kind, Verdict::kCloseLeg) << "no LINK sent";
  client.linkFor(1, 0);
  cell::ConfluxLinkMsg wrong = good;
  wrong.nonce = nonce(8);
  EXPECT_EQ(client.onLinked(1, wrong, 0).verdict.kind, Verdict::kCloseLeg) << "nonce mismatch";
  cell::ConfluxLinkMsg badUx = good;
  badUx.desiredUx = 5;
  client.linkFor(5, 0);
  EXPECT_EQ(client.onLinked(5, badUx, 0).verdict.kind, Verdict::kCloseLeg) << "unknown UX";
  client.linkFor(2, 0);
  ASSERT_EQ(client.onLinked(2, good, 10).verdict.kind, Verdict::kOk);
  EXPECT_EQ(client.onLinked(2, good, 10).verdict.kind, Verdict::kCloseLeg) << "already linked";
  client.linkFor(3, 0);
  cell::ConfluxLinkMsg loss = good;
  loss.lastSeqnoSent = 4;  // the exit claims data we never delivered
  EXPECT_EQ(client.onLinked(3, loss, 10).verdict.kind, Verdict::kCloseSet);
  client.linkFor(6, 0);
  cell::ConfluxLinkMsg ahead = good;
  ahead.lastSeqnoRecv = 1;  // the exit claims more than we ever sent (bug 41328)
  EXPECT_EQ(client.onLinked(6, ahead, 10).verdict.kind, Verdict::kCloseSet);
  EXPECT_EQ(client.onLinkedBody(4, Bytes{}, 0).verdict.kind, Verdict::kCloseLeg);
}

TEST(ConfluxInitiator, LegCloses) {
  ConfluxInitiator client(nonce(1), 1);
  client.linkFor(1, 0);
  EXPECT_FALSE(client.onLegClosed(1)) << "a pending leg just goes";
  EXPECT_EQ(client.pendingLegs(), 0u);
  client.linkFor(2, 0);
  cell::ConfluxLinkMsg l;
  l.nonce = nonce(1);
  ASSERT_EQ(client.onLinked(2, l, 5).verdict.kind, Verdict::kOk);
  ASSERT_EQ(client.controller().send(kData).leg, 2u);
  EXPECT_TRUE(client.onLegClosed(2)) << "current leg";
}

}  // namespace
}  // namespace onionsplit::conflux

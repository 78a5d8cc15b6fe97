// Tests for common/flowctl/credit.h: both windows, hostile grants and overruns, and a simulation of
// a chain of daemons (source -> relay -> sink) showing fairness, bounded memory and back-pressure.
#include "common/flowctl/credit.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

namespace onionsplit::flowctl {
namespace {

CreditWindows small() {
  CreditWindows w;
  w.flowMessages = 8;
  w.connBytes = 4000;
  w.maxFlows = 4;
  return w;
}

TEST(CreditSender, StopsAtTheFlowWindowAndResumesOnGrant) {
  CreditSender s(small());
  ASSERT_TRUE(s.openFlow(1));
  int sent = 0;
  while (s.canSend(1, 100)) {
    s.onSent(1, 100);
    ++sent;
  }
  EXPECT_EQ(sent, 8);
  ASSERT_TRUE(s.onFlowGrant({1, 3}));
  EXPECT_EQ(s.flowAvailable(1), 3u);
}

TEST(CreditSender, StopsAtTheConnectionWindowAcrossFlows) {
  CreditSender s(small());
  for (FlowId f = 1; f <= 4; ++f)
    ASSERT_TRUE(s.openFlow(f));
  uint32_t bytes = 0;
  for (FlowId f = 1; f <= 4; ++f)
    while (s.canSend(f, 500)) {
      s.onSent(f, 500);
      bytes += 500;
    }
  EXPECT_EQ(bytes, 4000u);
  EXPECT_FALSE(s.canSend(4, 1));
  ASSERT_TRUE(s.onConnGrant(1000));
  EXPECT_TRUE(s.canSend(3, 500));
}

TEST(CreditSender, RefusesOverGrantsAndIgnoresGrantsForClosedFlows) {
  CreditSender s(small());
  ASSERT_TRUE(s.openFlow(1));
  EXPECT_EQ(s.onFlowGrant({1, 1}).error(), CreditErrc::kFlowOverGrant);
  EXPECT_EQ(s.onConnGrant(1).error(), CreditErrc::kConnOverGrant);
  s.onSent(1, 10);
  EXPECT_TRUE(s.onFlowGrant({1, 1}));
  EXPECT_EQ(s.onFlowGrant({1, 1}).error(), CreditErrc::kFlowOverGrant);
  EXPECT_TRUE(s.onFlowGrant({99, 1}));  // crossed a close
  EXPECT_EQ(s.onFlowGrant({1, 0xffffffffu}).error(), CreditErrc::kFlowOverGrant);
  EXPECT_EQ(s.onConnGrant(0xffffffffu).error(), CreditErrc::kConnOverGrant);
}

TEST(CreditSender, FlowLimitsAndDuplicates) {
  CreditSender s(small());
  for (FlowId f = 1; f <= 4; ++f)
    ASSERT_TRUE(s.openFlow(f));
  EXPECT_EQ(s.openFlow(5).error(), CreditErrc::kTooManyFlows);
  s.closeFlow(4);
  EXPECT_EQ(s.openFlow(3).error(), CreditErrc::kDuplicateFlow);
  EXPECT_TRUE(s.openFlow(5));
}

TEST(CreditReceiver, RefusesOverrunsOfEitherWindow) {
  CreditReceiver r(small());
  EXPECT_EQ(r.onReceived(1, 10).error(), CreditErrc::kUnknownFlow);
  ASSERT_TRUE(r.openFlow(1));
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(r.onReceived(1, 10));
  EXPECT_EQ(r.onReceived(1, 10).error(), CreditErrc::kFlowOverrun);
  ASSERT_TRUE(r.openFlow(2));
  EXPECT_EQ(r.onReceived(2, 4000).error(), CreditErrc::kConnOverrun);
}

TEST(CreditReceiver, TakenButUngrantedMessagesStillCountAgainstTheWindow) {
  CreditReceiver r(small());
  ASSERT_TRUE(r.openFlow(1));
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(r.onReceived(1, 10));
  ASSERT_TRUE(r.onEdgeTaken(1, r.generation(1), 8));
  EXPECT_EQ(r.onReceived(1, 10).error(), CreditErrc::kFlowOverrun);
  std::vector<FlowGrant> g;
  r.takeGrants(g, false);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].messages, 8u);
  EXPECT_TRUE(r.onReceived(1, 10));
}

TEST(CreditReceiver, GrantsWaitForAQuarterOfTheWindowUnlessFlushed) {
  CreditReceiver r(small());
  ASSERT_TRUE(r.openFlow(1));
  ASSERT_TRUE(r.onReceived(1, 500));
  r.onConnTaken(500);
  ASSERT_TRUE(r.onEdgeTaken(1, r.generation(1), 1));
  EXPECT_FALSE(r.hasGrantsDue());
  std::vector<FlowGrant> g;
  EXPECT_EQ(r.takeGrants(g, false), 0u);
  EXPECT_TRUE(g.empty());
  EXPECT_TRUE(r.owesAnything());
  EXPECT_EQ(r.takeGrants(g, true), 500u);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].messages, 1u);
  EXPECT_FALSE(r.owesAnything());
}

TEST(CreditReceiver, EdgeCannotTakeWhatItWasNotGiven) {
  CreditReceiver r(small());
  ASSERT_TRUE(r.openFlow(1));
  ASSERT_TRUE(r.onReceived(1, 10));
  EXPECT_EQ(r.onEdgeTaken(1, r.generation(1), 2).error(), CreditErrc::kEdgeOverTake);
  // A flow that is not open (or not in that generation) owes nothing.
  EXPECT_TRUE(r.onEdgeTaken(7, r.generation(7), 1));
  uint32_t first = r.generation(1);
  r.closeFlow(1);
  ASSERT_TRUE(r.openFlow(1));
  EXPECT_NE(r.generation(1), first);
  ASSERT_TRUE(r.onReceived(1, 10));
  EXPECT_TRUE(r.onEdgeTaken(1, first, 1));  // the previous life's token: not this life's credit
  EXPECT_EQ(r.flowHeld(1), 1u);
}

TEST(CreditReceiver, ClosedFlowsOweNothing) {
  CreditReceiver r(small());
  ASSERT_TRUE(r.openFlow(1));
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(r.onReceived(1, 10));
  ASSERT_TRUE(r.onEdgeTaken(1, r.generation(1), 4));
  r.closeFlow(1);
  std::vector<FlowGrant> g;
  r.takeGrants(g, true);
  EXPECT_TRUE(g.empty());
}

// A hop of the chain: a sender toward the next hop, the next hop's receiver, and the messages
// between them (the socket), then the next hop's per-flow queues (its edge).
struct Hop {
  explicit Hop(CreditWindows w) : tx(w), rx(w) {}
  CreditSender tx;
  CreditReceiver rx;
  std::deque<std::pair<FlowId, uint32_t>> wire;
  std::map<FlowId, std::deque<uint32_t>> queued;  // at the receiver, waiting for its edge

  void open(FlowId f) {
    ASSERT_TRUE(tx.openFlow(f));
    ASSERT_TRUE(rx.openFlow(f));
  }
  // Moves what credit allows from `from` onto the wire; returns how many moved.
  int send(FlowId f, std::deque<uint32_t>& from) {
    int n = 0;
    while (!from.empty() && tx.canSend(f, from.front())) {
      tx.onSent(f, from.front());
      wire.emplace_back(f, from.front());
      from.pop_front();
      ++n;
    }
    return n;
  }
  // The receiver's reader: everything on the wire into the per-flow queues.
  void read() {
    uint32_t bytes = 0;
    while (!wire.empty()) {
      auto [f, b] = wire.front();
      wire.pop_front();
      ASSERT_TRUE(rx.onReceived(f, b));
      queued[f].push_back(b);
      bytes += b;
    }
    rx.onConnTaken(bytes);
  }
  // The receiver's edge takes up to `n` messages of flow f (moving them to `to` if given).
  void take(FlowId f, int n, std::deque<uint32_t>* to) {
    int k = 0;
    auto& q = queued[f];
    while (k < n && !q.empty()) {
      if (to) to->push_back(q.front());
      q.pop_front();
      ++k;
    }
    if (k) {
      ASSERT_TRUE(rx.onEdgeTaken(f, rx.generation(f), static_cast<uint32_t>(k)));
    }
  }
  void grants() {
    std::vector<FlowGrant> g;
    uint32_t conn = rx.takeGrants(g, true);
    for (auto& x : g)
      ASSERT_TRUE(tx.onFlowGrant(x));
    ASSERT_TRUE(tx.onConnGrant(conn));
  }
  size_t held() const {
    size_t n = wire.size();
    for (auto& [f, q] : queued)
      n += q.size();
    return n;
  }
};

// Flows 2..4 share one connection, read round-robin one message at a time (the sender's fair
// scheduler); flow 1, when present, has a consumer that never reads. Returns messages delivered per
// live flow.
std::map<FlowId, size_t> runSharedConnection(bool withStalledFlow, size_t* stalledHeld) {
  CreditWindows w;
  w.flowMessages = 16;
  w.connBytes = 16 * 509;  // the socket carries one flow window at most
  Hop hop(w);
  std::map<FlowId, std::deque<uint32_t>> source;
  FlowId first = withStalledFlow ? 1 : 2;
  for (FlowId f = first; f <= 4; ++f) {
    hop.open(f);
    source[f].assign(100000, 509);
  }
  std::map<FlowId, size_t> delivered;
  for (int round = 0; round < 2000; ++round) {
    for (bool any = true; any;) {
      any = false;
      for (FlowId f = first; f <= 4; ++f) {
        if (source[f].empty() || !hop.tx.canSend(f, source[f].front())) continue;
        std::deque<uint32_t> one{source[f].front()};
        source[f].pop_front();
        any |= hop.send(f, one) == 1;
      }
    }
    hop.read();
    for (FlowId f = 2; f <= 4; ++f) {
      delivered[f] += hop.queued[f].size();
      hop.take(f, 1 << 20, nullptr);
    }
    hop.grants();
    if (withStalledFlow) {
      EXPECT_LE(hop.queued[1].size(), w.flowMessages);
    }
  }
  if (stalledHeld) *stalledHeld = hop.queued[1].size();
  return delivered;
}

TEST(CreditChain, AStalledFlowDoesNotSlowTheOthersOnTheSameConnection) {
  size_t held = 0;
  auto alone = runSharedConnection(false, nullptr);
  auto beside = runSharedConnection(true, &held);
  EXPECT_EQ(held, 16u);  // the stalled flow holds exactly its window, nothing more
  for (FlowId f = 2; f <= 4; ++f) {
    EXPECT_GT(alone[f], 2000u);
    // One round's share at most is lost to the stalled flow's first window.
    EXPECT_GE(beside[f] + 16, alone[f]) << "flow " << f;
  }
}

TEST(CreditChain, ASlowSinkSlowsTheSourceAndMemoryStaysWithinTheWindows) {
  CreditWindows w;
  w.flowMessages = 32;
  w.connBytes = 64 * 509;
  Hop first(w), second(w);  // source -> relay, relay -> sink
  first.open(1);
  second.open(1);
  std::deque<uint32_t> source(1000000, 509), relayOut;
  size_t startSource = source.size(), sunk = 0;
  for (int round = 0; round < 5000; ++round) {
    first.send(1, source);
    first.read();
    // The relay's edge toward the sink takes a message only when it can pass it on.
    auto& q = first.queued[1];
    int moved = 0;
    while (!q.empty() && second.tx.canSend(1, q.front())) {
      relayOut.push_back(q.front());
      q.pop_front();
      second.send(1, relayOut);
      ++moved;
    }
    if (moved) {
      ASSERT_TRUE(first.rx.onEdgeTaken(1, first.rx.generation(1), static_cast<uint32_t>(moved)));
    }
    second.read();
    if (round % 10 == 0) {  // the sink reads one message every tenth round
      size_t before = second.queued[1].size();
      second.take(1, 1, nullptr);
      sunk += before - second.queued[1].size();
    }
    first.grants();
    second.grants();
    ASSERT_LE(first.held() + second.held() + relayOut.size(), 2u * w.flowMessages);
  }
  // The source sent only what the sink consumed plus the two windows in between.
  EXPECT_EQ(startSource - source.size(), sunk + first.held() + second.held() + relayOut.size());
  EXPECT_EQ(sunk, 500u);
  EXPECT_LE(startSource - source.size(), sunk + 2 * w.flowMessages);
}

}  // namespace
}  // namespace onionsplit::flowctl

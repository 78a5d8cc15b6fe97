// Tests for channeld/net/circuitd_link.h: channeld's end of the channel_circuit boundary against a
// peer that plays circuitd over a socketpair (tests/common/ipc/pipe_harness.h), with fake channels
// and a fake outbound side. The contract decisions circuitd relies on: an extend whose circuit
// ended is never answered (bug 41393), one extend per circuit at a time, a CREATE at the flow cap
// is refused with DESTROY RESOURCELIMIT without stalling the channel, nothing names a closed
// channel, `opened` once per channel, `extended` never names the origin's own channel, and a
// cell's credit goes back only when it leaves the channel's output.
#include "channeld/net/circuitd_link.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <vector>

#include "tests/common/ipc/pipe_harness.h"

namespace onionsplit::channeld {
namespace {

using ipc::FlowId;
using ipc::testing::Peer;
using ipc::testing::waitFor;
using Traits = ipc::ChannelCircuitTraits;

constexpr uint8_t kCreate2 = 10, kRelay = 3, kDestroy = 4, kCreatedFast = 6, kCreated2 = 11;
constexpr uint8_t kReasonProtocol = 1, kReasonResourceLimit = 5;

FlowId flowOf(ChannelId ch, uint32_t circ) {
  return (FlowId{ch} << 32) | circ;
}

struct Sent {
  ChannelId channel;
  uint32_t circId;
  uint8_t command;
  uint8_t first;  // the payload's first byte (a DESTROY's reason)
};

class FakeChannels final : public ChannelPort {
 public:
  bool queueCell(ChannelId id, uint32_t circId, uint8_t command, Bytes,
                 flowctl::CreditToken credit) override {
    if (!open.count(id)) return false;
    queued.push_back({id, circId, command, std::move(credit)});
    return true;
  }
  bool sendCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload) override {
    sent.push_back({id, circId, command, payload.empty() ? uint8_t{0} : payload[0]});
    return open.count(id) != 0;
  }
  size_t dropQueued(ChannelId, uint32_t) override { return 0; }
  std::optional<uint32_t> originateCircuit(ChannelId id) override {
    if (!open.count(id)) return std::nullopt;
    ++originated;
    return 0x80000000u | nextCirc++;
  }
  void resume() override { ++resumes; }
  void resumeSoon() override { ++resumes; }
  size_t destroyAllCircuits(uint8_t) override {
    ++destroyedAll;
    return 0;
  }
  void forEachOpen(const std::function<void(ChannelId, const ChannelInfo&)>& f) const override {
    for (const auto& [id, info] : open)
      f(id, info);
  }

  struct Queued {
    ChannelId channel;
    uint32_t circId;
    uint8_t command;
    flowctl::CreditToken credit;
  };
  std::map<ChannelId, ChannelInfo> open;
  std::vector<Sent> sent;
  std::deque<Queued> queued;
  uint32_t nextCirc = 1;
  int originated = 0, resumes = 0, destroyedAll = 0;
};

ChannelInfo relayInfo(uint8_t tag) {
  ChannelInfo info;
  info.linkVersion = 5;
  PeerIdentity p;
  p.rsaId.fill(tag);
  p.edId.fill(tag);
  info.peer = p;
  return info;
}

class CircuitdLinkTest : public ::testing::Test {
 protected:
  CircuitdLinkTest() : circuitd(&ipc::testing::fromChanneldToCircuitd) {}
  ~CircuitdLinkTest() noexcept override {}

  void start(size_t maxFlows = 65536, size_t shards = 1) {
    CircuitdLinkConfig cfg;
    cfg.ourRsa.fill(0xee);
    cfg.ourEd.fill(0xee);
    cfg.allowPrivate = true;
    cfg.maxFlows = maxFlows;
    link = std::make_unique<CircuitdLink>(
        channels,
        [this](const OutboundTarget& t, OutboundChannels::Done d) {
          targets.push_back(t);
          answers.push_back(std::move(d));
        },
        cfg, shards);
    session = link->makeSession(0, [this] { dropped = true; });
    ipc::testing::connect<Traits>(loop, session->pipe, circuitd, server);
    link->attached(0);
  }
  // Two shards, channel 1 open, and the client's CREATE2 for circuits 1 to 4 on it.
  void startTwoShardsWithFourCircuits() {
    start(65536, 2);
    startShard1();
    open(1);
    for (uint32_t circ = 1; circ <= 4; ++circ)
      ASSERT_TRUE(clientCell(1, circ, kCreate2));
  }
  // Shard 1 (after start(maxFlows, 2)): a second circuitd.
  void startShard1() {
    session1 = link->makeSession(1, [this] { dropped1 = true; });
    ipc::testing::connect<Traits>(loop, session1->pipe, circuitd1, server1);
    link->attached(1);
  }
  // A channel opens (ChannelServer's `opened` hook).
  void open(ChannelId id, ChannelInfo info = {}) {
    channels.open[id] = info;
    link->opened(id, info);
  }
  void close(ChannelId id) {
    channels.open.erase(id);
    link->closed(id);
  }
  bool clientCell(ChannelId ch, uint32_t circ, uint8_t cmd, uint8_t first = 0) {
    uint8_t payload[cell::kCellPayloadLen] = {first};
    return link->cell(ch, circ, cmd, Bytes(payload));
  }
  // circuitd asks for an extend of circuit `circ` of channel `ch` to 10.0.0.<tag>:9001.
  void extend(ChannelId ch, uint32_t circ, uint8_t tag = 7) {
    auto e = circuitd.pipe.add();
    e.setChannel(ch);
    auto x = e.initExtend();
    x.setOriginCircId(circ);
    uint8_t ip[4] = {10, 0, 0, tag};
    x.setIpv4(capnp::Data::Reader(ip, 4));
    x.setIpv4Port(9001);
    std::array<uint8_t, 20> rsa{};
    rsa.fill(tag);
    x.setRsaId(capnp::Data::Reader(rsa.data(), rsa.size()));
    x.setHtype(2);
    x.initHdata(84);
    circuitd.pipe.flush();
  }
  void circuitdCell(ChannelId ch, uint32_t circ, uint8_t cmd) {
    auto e = circuitd.pipe.add();
    e.setChannel(ch);
    auto c = e.initCell();
    c.setCircId(circ);
    c.setCommand(cmd);
    c.initPayload(cell::kCellPayloadLen);
    circuitd.pipe.commit(flowOf(ch, circ), e);
  }
  void spin(int turns = 20) {
    for (int i = 0; i < turns; ++i) {
      kj::evalLater([] {}).wait(loop.waitScope());
      event_base_loop(loop.base(), EVLOOP_NONBLOCK);
    }
  }
  // What circuitd heard, by kind.
  size_t count(proto::ChannelEvent::Which which) const {
    size_t n = 0;
    for (const auto& e : circuitd.events)
      n += e->which() == which;
    return n;
  }
  const proto::ChannelEvent::Reader* lastOf(proto::ChannelEvent::Which which) const {
    for (auto it = circuitd.events.rbegin(); it != circuitd.events.rend(); ++it)
      if ((*it)->which() == which) return it->get();
    return nullptr;
  }

  // Starts the link with channel 1 open (to `peer`) and circuit 5 on it, created by the client.
  void startWithCircuit(ChannelInfo peer = ChannelInfo{}) {
    start();
    open(1, peer);
    ASSERT_TRUE(clientCell(1, 5, kCreate2));
    ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::CELL) == 1; }));
  }
  // ... and circuitd's extend for circuit 5 waiting for the registry's answer.
  void startWithPendingExtend(ChannelInfo peer = ChannelInfo{}) {
    ASSERT_NO_FATAL_FAILURE(startWithCircuit(peer));
    extend(1, 5);
    ASSERT_TRUE(waitFor(loop, [&] { return answers.size() == 1; }));
  }

  ipc::EventLoop loop;
  FakeChannels channels;
  Peer<Traits> circuitd;
  Peer<Traits> circuitd1{&ipc::testing::fromChanneldToCircuitd};
  std::unique_ptr<ipc::RpcConnection> server, server1;
  std::unique_ptr<CircuitdLink> link;
  std::unique_ptr<CircuitdSession> session, session1;
  bool dropped1 = false;
  std::vector<OutboundTarget> targets;
  std::vector<OutboundChannels::Done> answers;
  bool dropped = false;
};

TEST_F(CircuitdLinkTest, AnnouncesEachChannelOnceAndTheOpenOnesOnAttach) {
  channels.open[1] = ChannelInfo{};  // open before circuitd attached
  start();
  open(2, relayInfo(2));
  link->opened(2, relayInfo(2));  // reported twice: announced once
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::OPENED) >= 2; }));
  spin();
  EXPECT_EQ(count(proto::ChannelEvent::OPENED), 2u);
  EXPECT_TRUE(circuitd.violation.empty()) << circuitd.violation;
}

TEST_F(CircuitdLinkTest, ExtendAnsweredAfterTheClientsDestroyIsSuppressed) {  // bug 41393
  ASSERT_NO_FATAL_FAILURE(startWithPendingExtend());
  ASSERT_TRUE(clientCell(1, 5, kDestroy));  // the client leaves while the next hop connects
  open(2, relayInfo(7));
  answers[0](OutboundChannels::Result{2, {}});
  spin();
  EXPECT_EQ(count(proto::ChannelEvent::EXTENDED), 0u) << "nothing pending for a closed circuit";
  EXPECT_EQ(channels.originated, 0) << "no CREATE2 for nobody";
  EXPECT_EQ(link->counters().extendsCancelled, 1u);
  EXPECT_FALSE(dropped);
  EXPECT_TRUE(circuitd.violation.empty()) << circuitd.violation;
}

TEST_F(CircuitdLinkTest, ExtendAnsweredAfterCircuitdsDestroyIsSuppressed) {  // bug 41393
  ASSERT_NO_FATAL_FAILURE(startWithPendingExtend());
  ASSERT_TRUE(circuitd.pipe.close(flowOf(1, 5), 0));
  circuitd.pipe.flush();
  ASSERT_TRUE(waitFor(loop, [&] { return !session->pipe.inUse(flowOf(1, 5)); }));
  open(2, relayInfo(7));
  answers[0](OutboundChannels::Result{2, {}});
  spin();
  EXPECT_EQ(count(proto::ChannelEvent::EXTENDED), 0u);
  EXPECT_EQ(link->counters().extendsCancelled, 1u);
  ASSERT_FALSE(channels.sent.empty());
  EXPECT_EQ(channels.sent.back().command, kDestroy) << "the client heard circuitd's DESTROY";
  EXPECT_TRUE(circuitd.violation.empty()) << circuitd.violation;
}

TEST_F(CircuitdLinkTest, ASecondExtendForTheSameOriginIsABreach) {
  ASSERT_NO_FATAL_FAILURE(startWithPendingExtend());
  EXPECT_FALSE(dropped);
  extend(1, 5, 8);
  EXPECT_TRUE(waitFor(loop, [&] { return dropped; }));
}

TEST_F(CircuitdLinkTest, AnExtendForACircuitThatNeverExistedIsABreach) {
  start();
  open(1);
  spin();
  extend(1, 9);
  EXPECT_TRUE(waitFor(loop, [&] { return dropped; }));
}

TEST_F(CircuitdLinkTest, AnExtendOnAChannelNeverOpenedIsABreach) {
  start();
  open(1);
  spin();
  extend(3, 9);
  EXPECT_TRUE(waitFor(loop, [&] { return dropped; }));
}

TEST_F(CircuitdLinkTest, AnExtendThatCrossedTheChannelsCloseIsDropped) {
  ASSERT_NO_FATAL_FAILURE(startWithCircuit());
  close(1);
  extend(1, 5);  // sent before circuitd heard `closed`
  circuitdCell(1, 5, kRelay);
  circuitd.pipe.flush();
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::CLOSED) == 1; }));
  spin();
  EXPECT_FALSE(dropped);
  EXPECT_TRUE(answers.empty());
  EXPECT_TRUE(channels.queued.empty());
}

TEST_F(CircuitdLinkTest, NothingNamesAChannelAfterItsClosed) {
  ASSERT_NO_FATAL_FAILURE(startWithPendingExtend());
  close(1);
  link->closed(1);  // reported twice: `closed` once
  open(2, relayInfo(7));
  answers[0](OutboundChannels::Result{2, {}});
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::CLOSED) == 1; }));
  spin();
  EXPECT_EQ(count(proto::ChannelEvent::CLOSED), 1u);
  EXPECT_EQ(count(proto::ChannelEvent::EXTENDED), 0u);
  const auto* closed = lastOf(proto::ChannelEvent::CLOSED);
  size_t after = 0;
  bool seen = false;
  for (const auto& e : circuitd.events) {
    if (e.get() == closed) seen = true;
    if (seen && e.get() != closed && e->getChannel() == 1) ++after;
  }
  EXPECT_EQ(after, 0u);
}

TEST_F(CircuitdLinkTest, AnExtendedNeverNamesTheOriginsOwnChannel) {
  ASSERT_NO_FATAL_FAILURE(startWithPendingExtend(relayInfo(3)));
  answers[0](OutboundChannels::Result{1, {}});  // the registry found the origin's own channel
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::EXTENDED) == 1; }));
  auto r = lastOf(proto::ChannelEvent::EXTENDED)->getExtended();
  EXPECT_EQ(r.getNextChannel(), 0u);
  EXPECT_EQ(r.getReason(), kReasonProtocol);
  EXPECT_EQ(channels.originated, 0);
}

TEST_F(CircuitdLinkTest, AnExtendBackToThePreviousHopIsRefused) {
  ASSERT_NO_FATAL_FAILURE(startWithCircuit(relayInfo(7)));
  extend(1, 5, 7);  // the relay at the other end of channel 1
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::EXTENDED) == 1; }));
  EXPECT_TRUE(answers.empty());
  EXPECT_EQ(lastOf(proto::ChannelEvent::EXTENDED)->getExtended().getReason(), kReasonProtocol);
}

TEST_F(CircuitdLinkTest, AnExtendIsAnsweredWithTheNextHopsFlowAndCreate2) {
  ASSERT_NO_FATAL_FAILURE(startWithPendingExtend());
  open(2, relayInfo(7));
  answers[0](OutboundChannels::Result{2, {}});
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::EXTENDED) == 1; }));
  auto r = lastOf(proto::ChannelEvent::EXTENDED)->getExtended();
  EXPECT_EQ(r.getNextChannel(), 2u);
  EXPECT_EQ(r.getReason(), 0u);
  EXPECT_TRUE(session->pipe.isOpen(flowOf(2, r.getNextCircId())));
  ASSERT_FALSE(channels.sent.empty());
  EXPECT_EQ(channels.sent.back().command, kCreate2);
  // The next hop's CREATED2 goes to circuitd on the flow channeld opened with `extended`.
  circuitd.staleAllowed = true;  // the plain peer did not open it
  EXPECT_TRUE(clientCell(2, r.getNextCircId(), kCreated2));
  // And a second extend for the circuit is fine once the first was answered.
  extend(1, 5, 8);
  EXPECT_TRUE(waitFor(loop, [&] { return answers.size() == 2; }));
  EXPECT_FALSE(dropped);
}

// Found by fuzz_channeld_honest_circuitd: a next hop that answers our CREATE2 with CREATED_FAST
// (which ChannelCircuits lets in for a circuit we originated) made channeld pass a cell circuitd
// may not get, and circuitd dropped channeld with every circuit of the relay. It costs the next
// hop's circuit only.
TEST_F(CircuitdLinkTest, ANextHopsCreatedFastEndsItsCircuitNotTheConnection) {
  ASSERT_NO_FATAL_FAILURE(startWithPendingExtend());
  open(2, relayInfo(7));
  answers[0](OutboundChannels::Result{2, {}});
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::EXTENDED) == 1; }));
  uint32_t next = lastOf(proto::ChannelEvent::EXTENDED)->getExtended().getNextCircId();
  ASSERT_TRUE(circuitd.pipe.openFlow(flowOf(2, next)));  // as circuitd does on `extended`
  size_t cells = count(proto::ChannelEvent::CELL);
  EXPECT_TRUE(clientCell(2, next, kCreatedFast));
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::CELL) == cells + 1; }));
  auto c = lastOf(proto::ChannelEvent::CELL)->getCell();
  EXPECT_EQ(c.getCommand(), kDestroy);  // circuitd hears the circuit's end, not CREATED_FAST
  EXPECT_EQ(c.getPayload()[0], kReasonProtocol);
  EXPECT_FALSE(session->pipe.isOpen(flowOf(2, next)));
  ASSERT_FALSE(channels.sent.empty());
  EXPECT_EQ(channels.sent.back().channel, 2u);
  EXPECT_EQ(channels.sent.back().circId, next);
  EXPECT_EQ(channels.sent.back().command, kDestroy);
  EXPECT_EQ(channels.sent.back().first, kReasonProtocol);
  EXPECT_EQ(link->counters().refusedCommand, 1u);
  EXPECT_TRUE(circuitd.violation.empty()) << circuitd.violation;
  // The origin circuit and the connection go on.
  EXPECT_TRUE(session->pipe.isOpen(flowOf(1, 5)));
  EXPECT_TRUE(clientCell(1, 5, kRelay));
  spin();
  EXPECT_TRUE(circuitd.violation.empty()) << circuitd.violation;
  EXPECT_FALSE(dropped);
}

TEST_F(CircuitdLinkTest, ACreateAtTheFlowCapGetsDestroyResourceLimitAndTheChannelGoesOn) {
  start(2);
  open(1);
  ASSERT_TRUE(clientCell(1, 1, kCreate2));
  ASSERT_TRUE(clientCell(1, 2, kCreate2));
  EXPECT_TRUE(clientCell(1, 3, kCreate2)) << "caps refuse, never stall";
  ASSERT_FALSE(channels.sent.empty());
  EXPECT_EQ(channels.sent.back().channel, 1u);
  EXPECT_EQ(channels.sent.back().circId, 3u);
  EXPECT_EQ(channels.sent.back().command, kDestroy);
  EXPECT_EQ(channels.sent.back().first, kReasonResourceLimit);
  EXPECT_EQ(link->counters().refusedAtFlowCap, 1u);
  EXPECT_TRUE(clientCell(1, 1, kRelay)) << "the channel's other circuits go on";
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::CELL) == 3; }));
  EXPECT_FALSE(session->pipe.inUse(flowOf(1, 3)));
}

TEST_F(CircuitdLinkTest, ACellsCreditGoesBackOnlyWhenItLeavesTheChannel) {
  start();
  open(1);
  ASSERT_TRUE(clientCell(1, 5, kCreate2));
  ASSERT_TRUE(waitFor(loop, [&] { return circuitd.pipe.isOpen(flowOf(1, 5)); }));
  while (circuitd.pipe.canSend(flowOf(1, 5)))
    circuitdCell(1, 5, kRelay);
  circuitd.pipe.flush();
  ASSERT_TRUE(waitFor(loop, [&] { return channels.queued.size() == 64; }));
  spin();
  EXPECT_FALSE(circuitd.pipe.canSend(flowOf(1, 5))) << "held while the cells wait";
  // Half the window left for TLS (grants go back in chunks): their tokens go, the credit with them.
  for (int i = 0; i < 32; ++i)
    channels.queued.pop_front();
  EXPECT_TRUE(waitFor(loop, [&] { return circuitd.pipe.canSend(flowOf(1, 5)); }));
  EXPECT_EQ(circuitd.pipe.flowAvailable(flowOf(1, 5)), 32u);
}

TEST_F(CircuitdLinkTest, WithoutCircuitdCreatesAreRefused) {
  start();
  session.reset();
  channels.open[1] = ChannelInfo{};
  EXPECT_TRUE(clientCell(1, 4, kCreate2));
  ASSERT_FALSE(channels.sent.empty());
  EXPECT_EQ(channels.sent.back().first, kReasonResourceLimit);
}

// circuitd's shards: each new circuit goes to the shard with the fewest, every later cell of it
// (and its next hop's side) to that shard, and a shard that goes costs only its own circuits.
size_t cellsOn(const Peer<Traits>& p, uint32_t circ) {
  size_t n = 0;
  for (const auto& e : p.events)
    n += e->which() == proto::ChannelEvent::CELL && e->getCell().getCircId() == circ;
  return n;
}

TEST_F(CircuitdLinkTest, NewCircuitsSpreadOverTheShardsAndStayOnTheirs) {
  ASSERT_NO_FATAL_FAILURE(startTwoShardsWithFourCircuits());
  ASSERT_TRUE(waitFor(loop, [&] {
    return cellsOn(circuitd, 1) + cellsOn(circuitd1, 1) + cellsOn(circuitd, 4) +
               cellsOn(circuitd1, 4) ==
           2;
  }));
  EXPECT_EQ(session->flows(), 2u);
  EXPECT_EQ(session1->flows(), 2u);
  // Each circuit's next cells reach the shard that has it, and nothing reaches the other.
  for (uint32_t circ = 1; circ <= 4; ++circ)
    ASSERT_TRUE(clientCell(1, circ, kRelay));
  ASSERT_TRUE(waitFor(loop, [&] {
    size_t n = 0;
    for (uint32_t circ = 1; circ <= 4; ++circ)
      n += cellsOn(circuitd, circ) + cellsOn(circuitd1, circ);
    return n == 8;
  }));
  for (uint32_t circ = 1; circ <= 4; ++circ)
    EXPECT_TRUE((cellsOn(circuitd, circ) == 2 && cellsOn(circuitd1, circ) == 0) ||
                (cellsOn(circuitd, circ) == 0 && cellsOn(circuitd1, circ) == 2))
        << "circuit " << circ;
  EXPECT_EQ(count(proto::ChannelEvent::OPENED), 1u);
  EXPECT_EQ(std::count_if(circuitd1.events.begin(), circuitd1.events.end(),
                          [](const auto& e) { return e->which() == proto::ChannelEvent::OPENED; }),
            1)
      << "every shard hears every channel";
  EXPECT_TRUE(circuitd.violation.empty()) << circuitd.violation;
  EXPECT_TRUE(circuitd1.violation.empty()) << circuitd1.violation;
}

TEST_F(CircuitdLinkTest, TheNextHopsSideOfAnExtendReachesTheShardThatAskedForIt) {
  start(65536, 2);
  open(1);
  ASSERT_TRUE(clientCell(1, 5, kCreate2));  // only shard 0 is there: it gets circuit 5
  ASSERT_TRUE(waitFor(loop, [&] { return cellsOn(circuitd, 5) == 1; }));
  startShard1();
  spin();
  extend(1, 5);
  ASSERT_TRUE(waitFor(loop, [&] { return answers.size() == 1; }));
  open(2, relayInfo(7));
  answers[0](OutboundChannels::Result{2, {}});
  ASSERT_TRUE(waitFor(loop, [&] { return count(proto::ChannelEvent::EXTENDED) == 1; }));
  uint32_t next = lastOf(proto::ChannelEvent::EXTENDED)->getExtended().getNextCircId();
  // The next hop answers; shard 1, with fewer flows, would take a new circuit, not this one.
  EXPECT_TRUE(session->pipe.isOpen(flowOf(2, next)));
  EXPECT_FALSE(session1->pipe.inUse(flowOf(2, next)));
  circuitd.staleAllowed = true;  // the plain peer did not open it
  uint64_t before0 = session->pipeStats().eventsSent, before1 = session1->pipeStats().eventsSent;
  EXPECT_TRUE(clientCell(2, next, kCreated2));
  session->pipe.flush();
  session1->pipe.flush();
  EXPECT_EQ(session->pipeStats().eventsSent, before0 + 1);
  EXPECT_EQ(session1->pipeStats().eventsSent, before1);
  EXPECT_TRUE(circuitd1.violation.empty()) << circuitd1.violation;
}

TEST_F(CircuitdLinkTest, AShardThatGoesCostsOnlyItsOwnCircuits) {
  ASSERT_NO_FATAL_FAILURE(startTwoShardsWithFourCircuits());
  ASSERT_TRUE(waitFor(loop, [&] { return session->flows() + session1->flows() == 4; }));
  std::vector<uint32_t> onShard1;
  for (uint32_t circ = 1; circ <= 4; ++circ)
    if (session1->pipe.isOpen(flowOf(1, circ))) onShard1.push_back(circ);
  ASSERT_EQ(onShard1.size(), 2u);
  channels.sent.clear();
  session1.reset();  // shard 1's connection ended
  EXPECT_EQ(channels.destroyedAll, 0) << "shard 0's circuits go on";
  ASSERT_EQ(channels.sent.size(), 2u);
  for (const auto& d : channels.sent) {
    EXPECT_EQ(d.command, kDestroy);
    EXPECT_NE(std::find(onShard1.begin(), onShard1.end(), d.circId), onShard1.end());
  }
  // Shard 0 still carries its circuits, and takes the new ones.
  ASSERT_TRUE(clientCell(1, 9, kCreate2));
  ASSERT_TRUE(waitFor(loop, [&] { return cellsOn(circuitd, 9) == 1; }));
  EXPECT_EQ(session->flows(), 3u);
  // The last shard to go takes every circuit with it (as one circuitd always did).
  session.reset();
  EXPECT_EQ(channels.destroyedAll, 1);
}

}  // namespace
}  // namespace onionsplit::channeld

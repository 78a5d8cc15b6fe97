// Component test of confluxd/net/reactor.h: the real Reactor with a CircuitdSession and a
// StreamdSession, each on a real Cap'n Proto connection over a socketpair to a BatchPipe peer that
// plays circuitd (its legs) or streamd. The test is a client's two legs: LINK, LINKED_ACK, streams
// across legs (out of order too), SWITCH, what streamd answers and which leg carries it, a leg
// closing mid-transfer, and confluxd losing circuitd or streamd with sets open.
#include "confluxd/net/reactor.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/cell/relay.h"
#include "common/conflux/params.h"
#include "common/ipc/event_loop.h"
#include "confluxd/net/oom_handler.h"
#include "tests/common/ipc/pipe_harness.h"

namespace onionsplit::confluxd {
namespace {

using cell::RelayCmd;

constexpr uint8_t r(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

template <class Traits>
using Peer = ipc::testing::Peer<Traits>;

std::vector<uint8_t> linkBody(uint8_t nonceByte, uint64_t sent = 0, uint64_t recv = 0,
                              uint8_t ux = 0) {
  cell::ConfluxLinkMsg m;
  m.nonce.fill(nonceByte);
  m.lastSeqnoSent = sent;
  m.lastSeqnoRecv = recv;
  m.desiredUx = ux;
  std::vector<uint8_t> out(cell::kRelayBodyMax);
  Writer w{MutBytes(out)};
  EXPECT_TRUE(cell::encodeConfluxLink(m, w));
  out.resize(w.written().size());
  return out;
}

class ConfluxdReactorTest : public ::testing::Test {
 protected:
  ConfluxdReactorTest() {
    conflux::ConfluxParams p;
    p.maxOooqBytes = 4096;
    reactor = std::make_unique<Reactor>(p, [this] { return now += 1000; });
    cdSession = std::make_unique<CircuitdSession>(*reactor, [this] { circuitdDropped = true; });
    sdSession = std::make_unique<StreamdSession>(*reactor, [this] { streamdDropped = true; });
    reactor->setStreamdLookup([this] { return sdSession.get(); });
    connect(cdSession->pipe, circuitd, cdServer);
    connect(sdSession->pipe, streamd, sdServer);
  }
  template <class Pipe, class P>
  void connect(Pipe& ours, P& peer, std::unique_ptr<ipc::RpcConnection>& server) {
    ipc::testing::connect(loop, ours, peer, server);
  }
  // Honest peers are never dropped (issue 15), unless a test makes one break the contract.
  void TearDown() override {
    if (!dropExpected) {
      EXPECT_FALSE(circuitdDropped) << circuitd.violation;
      EXPECT_FALSE(streamdDropped) << streamd.violation;
    }
  }
  ~ConfluxdReactorTest() override {
    sdSession.reset();
    cdSession.reset();
  }
  bool waitFor(const std::function<bool()>& done) { return ipc::testing::waitFor(loop, done); }
  void settle() {
    for (int i = 0; i < 20; ++i) {
      kj::evalLater([] {}).wait(loop.waitScope());
      event_base_loop(loop.base(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  // circuitd -> confluxd.
  void link(uint64_t leg, const std::vector<uint8_t>& body, bool carriedStreams = false,
            bool cgo = false) {
    ASSERT_TRUE(circuitd.pipe.openFlow(leg));
    auto e = circuitd.pipe.add();
    e.setLeg(leg);
    auto l = e.initLink();
    l.setBody(capnp::Data::Reader(body.data(), body.size()));
    l.setCarriedStreams(carriedStreams);
    l.setRelayCellV1(cgo);
    circuitd.pipe.commit(leg, e);
  }
  void relay(uint64_t leg, RelayCmd cmd, uint16_t stream, const std::string& body) {
    ASSERT_TRUE(circuitd.pipe.canSend(leg));
    auto e = circuitd.pipe.add();
    e.setLeg(leg);
    auto m = e.initRelay();
    m.setStreamId(stream);
    m.setCommand(r(cmd));
    m.setBody(capnp::Data::Reader(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
    circuitd.pipe.commit(leg, e);
  }
  void state(uint64_t leg, bool canSend, uint32_t rttUsec, uint32_t inflight = 0) {
    auto e = circuitd.pipe.add();
    e.setLeg(leg);
    auto s = e.initState();
    s.setCanSend(canSend);
    s.setCwndCells(124);
    s.setInflightCells(inflight);
    s.setRttMinUsec(rttUsec);
    s.setRttEwmaUsec(rttUsec);
    s.setSendmeInc(31);
    circuitd.pipe.flush();
  }
  void closeLeg(uint64_t leg, uint8_t reason) { ASSERT_TRUE(circuitd.pipe.close(leg, reason)); }
  void fromStreamd(uint64_t flow, RelayCmd cmd, uint16_t stream, const std::string& body) {
    ASSERT_TRUE(streamd.pipe.canSend(flow));
    auto e = streamd.pipe.add();
    e.setFlow(flow);
    auto m = e.initRelay();
    m.setStreamId(stream);
    m.setCommand(r(cmd));
    m.setBody(capnp::Data::Reader(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
    streamd.pipe.commit(flow, e);
  }
  // Two legs (10 and 11) of one set, both LINKED and acknowledged; leg 10 is faster.
  void linkTwoLegs() {
    link(10, linkBody(7));
    link(11, linkBody(7));
    ASSERT_TRUE(waitFor([&] { return linkedOn(10) && linkedOn(11); }));
    relay(10, RelayCmd::kConfluxLinkedAck, 0, "");
    relay(11, RelayCmd::kConfluxLinkedAck, 0, "");
    state(10, true, 5000);
    state(11, true, 9000);
    settle();
  }
  bool linkedOn(uint64_t leg) {
    for (auto& e : circuitd.events)
      if (e->getLeg() == leg && e->isLinked()) return true;
    return false;
  }
  bool closedOn(uint64_t leg) { return closeReason(leg) >= 0; }
  // The reason confluxd closed `leg` with (-1: not closed).
  int closeReason(uint64_t leg) {
    for (auto& e : circuitd.events)
      if (e->getLeg() == leg && e->isClosed()) return e->getClosed();
    return -1;
  }
  bool streamSideClosed(uint64_t flow) {
    for (auto& ev : streamd.events)
      if (ev->getFlow() == flow && ev->isClosed()) return true;
    return false;
  }
  // Waits for circuitd's credit on `leg`, then sends.
  void relayWhenCredit(uint64_t leg, RelayCmd cmd, uint16_t stream, const std::string& body) {
    ASSERT_TRUE(waitFor([&] { return circuitd.pipe.canSend(leg); }));
    relay(leg, cmd, stream, body);
  }
  // The relay messages confluxd sent toward the client, as "leg:command:stream:body".
  std::vector<std::string> toClient() {
    std::vector<std::string> out;
    for (auto& e : circuitd.events) {
      if (!e->isRelay()) continue;
      auto m = e->getRelay();
      out.push_back(
          std::to_string(e->getLeg()) + ":" + std::to_string(m.getCommand()) + ":" +
          std::to_string(m.getStreamId()) + ":" +
          std::string(reinterpret_cast<const char*>(m.getBody().begin()), m.getBody().size()));
    }
    return out;
  }
  std::vector<std::string> toStreamd() {
    std::vector<std::string> out;
    for (auto& e : streamd.events) {
      if (!e->isRelay()) continue;
      auto m = e->getRelay();
      out.push_back(
          std::to_string(m.getCommand()) + ":" + std::to_string(m.getStreamId()) + ":" +
          std::string(reinterpret_cast<const char*>(m.getBody().begin()), m.getBody().size()));
    }
    return out;
  }

  ipc::EventLoop loop;
  uint64_t now = 1'000'000;
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<CircuitdSession> cdSession;
  std::unique_ptr<StreamdSession> sdSession;
  std::unique_ptr<ipc::RpcConnection> cdServer, sdServer;
  std::unique_ptr<Peer<ipc::LegTraits>> circuitdOwner =
      std::make_unique<Peer<ipc::LegTraits>>(ipc::testing::fromConfluxdToCircuitd);
  std::unique_ptr<Peer<ipc::StreamTraits>> streamdOwner =
      std::make_unique<Peer<ipc::StreamTraits>>(ipc::testing::fromConfluxdToStreamd);
  Peer<ipc::LegTraits>& circuitd = *circuitdOwner;
  Peer<ipc::StreamTraits>& streamd = *streamdOwner;
  bool circuitdDropped = false, streamdDropped = false, dropExpected = false;
};

TEST_F(ConfluxdReactorTest, TwoLinksWithOneNonceMakeOneSetAndEachGetsLinked) {
  linkTwoLegs();
  EXPECT_EQ(reactor->sets(), 1u);
  EXPECT_EQ(reactor->legs(), 2u);
  for (auto& e : circuitd.events) {
    if (!e->isLinked()) continue;
    auto body = e->getLinked().getBody();
    auto m = cell::decodeConfluxLink(Bytes(body.begin(), body.size()));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->nonce[0], 7);
    EXPECT_EQ(m->desiredUx, conflux::kExitDesiredUx);
  }
  EXPECT_EQ(reactor->counters().linkedAcks, 2u);
  EXPECT_TRUE(circuitd.violation.empty());
}

TEST_F(ConfluxdReactorTest, StreamsCrossLegsInSequenceOrderAndAnswersUseTheFastLeg) {
  linkTwoLegs();
  // seq 1 (BEGIN) on leg 10, seq 3 on leg 11 before seq 2 on leg 10: streamd sees 1, 2, 3.
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  relay(11, RelayCmd::kConfluxSwitch, 0, std::string("\0\0\0\2", 4));
  relay(11, RelayCmd::kData, 5, "third");
  settle();
  relay(10, RelayCmd::kData, 5, "second");
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 3; }));
  auto got = toStreamd();
  EXPECT_EQ(got[0].substr(0, 4), std::to_string(r(RelayCmd::kBegin)) + ":5:");
  EXPECT_EQ(got[1], std::to_string(r(RelayCmd::kData)) + ":5:second");
  EXPECT_EQ(got[2], std::to_string(r(RelayCmd::kData)) + ":5:third");
  EXPECT_TRUE(streamd.events[0]->getCongestionControl());
  uint64_t flow = streamd.events[0]->getFlow();

  fromStreamd(flow, RelayCmd::kConnected, 5, "");
  fromStreamd(flow, RelayCmd::kData, 5, "reply");
  ASSERT_TRUE(waitFor([&] { return toClient().size() >= 2; }));
  auto back = toClient();
  // The exit asks for MIN_LATENCY... the client's UX (0, no opinion) picks LowRTT: leg 10.
  EXPECT_EQ(back[0], "10:" + std::to_string(r(RelayCmd::kConnected)) + ":5:");
  EXPECT_EQ(back[1], "10:" + std::to_string(r(RelayCmd::kData)) + ":5:reply");
  EXPECT_TRUE(circuitd.violation.empty());
  EXPECT_TRUE(streamd.violation.empty());
}

// A set's stream side is sized for v1 cells (488-byte DATA) only when one of its legs runs CGO as
// it opens; a set of tor1 legs keeps v0's 498. A CGO leg that links to a set whose stream side is
// sized for v0 could not carry its messages: refused.
TEST_F(ConfluxdReactorTest, TheStreamSideIsSizedForV1CellsOnlyWhenALegRunsCgo) {
  linkTwoLegs();  // set 7: two tor1 legs
  link(40, linkBody(8));
  link(41, linkBody(8), false, /*cgo=*/true);  // set 8: one tor1 and one CGO leg
  ASSERT_TRUE(waitFor([&] { return linkedOn(40) && linkedOn(41); }));
  relay(40, RelayCmd::kConfluxLinkedAck, 0, "");
  relay(41, RelayCmd::kConfluxLinkedAck, 0, "");
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  relay(40, RelayCmd::kBegin, 6, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 2; }));
  EXPECT_FALSE(streamd.events[0]->getRelayCellV1()) << "every leg of set 7 runs tor1";
  EXPECT_TRUE(streamd.events[1]->getRelayCellV1()) << "set 8 has a CGO leg";
  EXPECT_NE(streamd.events[0]->getFlow(), streamd.events[1]->getFlow());
  uint64_t refusedBefore = reactor->counters().legsRefused;
  link(12, linkBody(7), false, /*cgo=*/true);
  ASSERT_TRUE(waitFor([&] { return closedOn(12); }));
  EXPECT_FALSE(linkedOn(12));
  EXPECT_EQ(reactor->counters().legsRefused, refusedBefore + 1);
  EXPECT_TRUE(circuitd.violation.empty());
}

TEST_F(ConfluxdReactorTest, ABlockedFastLegSendsASwitchAndUsesTheOther) {
  linkTwoLegs();
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  uint64_t flow = streamd.events[0]->getFlow();
  fromStreamd(flow, RelayCmd::kConnected, 5, "");
  ASSERT_TRUE(waitFor([&] { return toClient().size() == 1; }));
  state(10, false, 5000, 124);  // leg 10's window is full
  settle();
  fromStreamd(flow, RelayCmd::kData, 5, "more");
  ASSERT_TRUE(waitFor([&] { return toClient().size() == 3; }));
  auto back = toClient();
  EXPECT_EQ(back[1].substr(0, 3 + std::to_string(r(RelayCmd::kConfluxSwitch)).size()),
            "11:" + std::to_string(r(RelayCmd::kConfluxSwitch)));
  EXPECT_EQ(back[2], "11:" + std::to_string(r(RelayCmd::kData)) + ":5:more");
  EXPECT_EQ(reactor->counters().switchesSent, 1u);
}

TEST_F(ConfluxdReactorTest, WithEveryLegBlockedDataWaitsUntilOneCanSend) {
  linkTwoLegs();
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  uint64_t flow = streamd.events[0]->getFlow();
  state(10, false, 5000, 124);
  state(11, false, 9000, 124);
  settle();
  fromStreamd(flow, RelayCmd::kData, 5, "held");
  settle();
  EXPECT_TRUE(toClient().empty());
  EXPECT_EQ(streamd.pipe.flowAvailable(flow), 63u) << "its credit waits with it";
  state(11, true, 9000, 10);
  ASSERT_TRUE(waitFor([&] { return toClient().size() == 1; }));
  EXPECT_EQ(toClient()[0], "11:" + std::to_string(r(RelayCmd::kData)) + ":5:held");
}

TEST_F(ConfluxdReactorTest, LinkRefusals) {
  link(20, linkBody(1), /*carriedStreams=*/true);  // LINK after streams
  std::vector<uint8_t> v2 = linkBody(2);
  v2[0] = 2;  // unknown version
  link(21, v2);
  std::vector<uint8_t> ux = linkBody(3, 0, 0, 9);  // unknown UX
  link(22, ux);
  ASSERT_TRUE(waitFor([&] { return closedOn(20) && closedOn(21) && closedOn(22); }));
  EXPECT_FALSE(linkedOn(20) || linkedOn(21) || linkedOn(22));
  EXPECT_EQ(reactor->sets(), 0u);
  EXPECT_EQ(reactor->counters().legsRefused, 3u);
  EXPECT_TRUE(circuitd.violation.empty());
}

TEST_F(ConfluxdReactorTest, OneLegTooManyIsRefusedAndTheSetCarriesOn) {
  for (uint64_t leg = 30; leg < 38; ++leg)
    link(leg, linkBody(4));
  ASSERT_TRUE(waitFor([&] { return linkedOn(37); }));
  link(38, linkBody(4));
  ASSERT_TRUE(waitFor([&] { return closedOn(38); }));
  EXPECT_EQ(reactor->sets(), 1u);
  EXPECT_EQ(reactor->legs(), 8u);
}

// circuitd forwards one LINK per circuit (proto/circuit_conflux.capnp: `link` opens the leg's
// flow); a second for a leg id in use breaks the contract (the pipe's opener rule), it is not
// something a client can make an honest circuitd send.
TEST_F(ConfluxdReactorTest, ASecondLinkForALegInUseBreaksTheContract) {
  linkTwoLegs();
  dropExpected = true;
  auto e = circuitd.pipe.add();
  e.setLeg(10);
  auto body = linkBody(7);
  e.initLink().setBody(capnp::Data::Reader(body.data(), body.size()));
  circuitd.pipe.commit(10, e);
  ASSERT_TRUE(waitFor([&] { return circuitdDropped; }));
}

TEST_F(ConfluxdReactorTest, TheCurrentLegClosingMidTransferTearsTheSetDown) {
  linkTwoLegs();
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  uint64_t flow = streamd.events[0]->getFlow();
  fromStreamd(flow, RelayCmd::kData, 5, "x");
  ASSERT_TRUE(waitFor([&] { return toClient().size() == 1; }));
  closeLeg(10, static_cast<uint8_t>(cell::DestroyReason::kChannelClosed));
  // Leg 10 was the sending leg: no resumption, the other leg closes (FINISHED) and streamd hears
  // the set is gone.
  ASSERT_TRUE(waitFor([&] { return closedOn(11); }));
  bool streamClosed = false;
  ASSERT_TRUE(waitFor([&] {
    for (auto& ev : streamd.events)
      streamClosed = streamClosed || (ev->getFlow() == flow && ev->isClosed());
    return streamClosed;
  }));
  EXPECT_EQ(reactor->sets(), 0u);
  EXPECT_EQ(reactor->legs(), 0u);
}

TEST_F(ConfluxdReactorTest, AnIdleLegClosingKeepsTheSet) {
  linkTwoLegs();
  closeLeg(11, static_cast<uint8_t>(cell::DestroyReason::kChannelClosed));
  settle();
  EXPECT_FALSE(closedOn(10));
  EXPECT_EQ(reactor->sets(), 1u);
  EXPECT_EQ(reactor->legs(), 1u);
}

TEST_F(ConfluxdReactorTest, AReorderQueueOverItsCapClosesTheLeg) {
  linkTwoLegs();
  // A SWITCH far ahead on leg 11 makes everything it sends wait for seqs that never come.
  relay(11, RelayCmd::kConfluxSwitch, 0, std::string("\0\1\0\0", 4));
  std::string body(400, 'z');
  for (int i = 0; i < 12 && !closedOn(11); ++i) {
    relay(11, RelayCmd::kData, 5, body);
    settle();
  }
  EXPECT_TRUE(closedOn(11));
  EXPECT_TRUE(toStreamd().empty());
}

// The consensus' cfx_* values, as circuitd forwards them (circuit_conflux.capnp's setNetParams),
// go through confluxd's parser into the reactor: cfx_max_legs_set limits every LINK from then on,
// cfx_max_oooq_bytes the reorder queue of sets linked from then on (under confluxd's own cap).
using Wire = std::vector<std::pair<std::string_view, int32_t>>;

void applyConsensus(Reactor& reactor, const Wire& wire) {
  conflux::ConfluxParams local;
  local.maxOooqBytes = 4096;
  auto p = conflux::confluxParamsFromWire(wire, local);
  ASSERT_TRUE(p);
  reactor.setParams(*p);
}

TEST_F(ConfluxdReactorTest, TheConsensusLegLimitRefusesTheLinkOverIt) {
  applyConsensus(*reactor, {{"cfx_max_legs_set", 3}, {"cfx_num_legs_set", 5}});
  EXPECT_EQ(reactor->params().maxLegsPerSet, 3u);
  for (uint64_t leg = 30; leg < 33; ++leg)
    link(leg, linkBody(4));
  ASSERT_TRUE(waitFor([&] { return linkedOn(32); }));
  link(33, linkBody(4));
  ASSERT_TRUE(waitFor([&] { return closedOn(33); }));
  EXPECT_EQ(closeReason(33), static_cast<int>(cell::DestroyReason::kProtocol));
  EXPECT_EQ(reactor->legs(), 3u);
  // A newer consensus raises it: the same set takes a fourth leg.
  applyConsensus(*reactor, {{"cfx_max_legs_set", 4}});
  link(34, linkBody(4));
  ASSERT_TRUE(waitFor([&] { return linkedOn(34); }));
  EXPECT_EQ(reactor->legs(), 4u);
}

TEST_F(ConfluxdReactorTest, TheConsensusTurningConfluxOffRefusesLinks) {
  applyConsensus(*reactor, {{"cfx_enabled", 0}});
  link(40, linkBody(5));
  ASSERT_TRUE(waitFor([&] { return closedOn(40); }));
  EXPECT_EQ(closeReason(40), static_cast<int>(cell::DestroyReason::kProtocol));
  EXPECT_EQ(reactor->sets(), 0u);
}

TEST_F(ConfluxdReactorTest, TheConsensusReorderCapIsTheSmallerOfItsAndOurs) {
  // Below 1 (C tor's minimum is 0) clamps; above confluxd's own cap keeps confluxd's.
  applyConsensus(*reactor, {{"cfx_max_oooq_bytes", -5}});
  EXPECT_EQ(reactor->params().maxOooqBytes, 0u);
  applyConsensus(*reactor, {{"cfx_max_oooq_bytes", 1 << 30}});
  EXPECT_EQ(reactor->params().maxOooqBytes, 4096u);
  // 600 bytes: one 400-byte DATA (with its overhead) fits, the second does not.
  applyConsensus(*reactor, {{"cfx_max_oooq_bytes", 600}});
  linkTwoLegs();
  relay(11, RelayCmd::kConfluxSwitch, 0, std::string("\0\1\0\0", 4));
  relay(11, RelayCmd::kData, 5, std::string(400, 'z'));
  settle();
  EXPECT_FALSE(closedOn(11));
  relay(11, RelayCmd::kData, 5, std::string(400, 'z'));
  ASSERT_TRUE(waitFor([&] { return closedOn(11); }));
  EXPECT_EQ(closeReason(11), static_cast<int>(cell::DestroyReason::kResourceLimit));
  EXPECT_TRUE(toStreamd().empty());
}

TEST_F(ConfluxdReactorTest, StreamdGoingAwayTearsDownSetsWithStreams) {
  linkTwoLegs();
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  sdSession.reset();  // confluxd's connection to streamd ends
  ASSERT_TRUE(waitFor([&] { return closedOn(10) && closedOn(11); }));
  EXPECT_EQ(reactor->sets(), 0u);
}

TEST_F(ConfluxdReactorTest, CircuitdGoingAwayForgetsEverySet) {
  linkTwoLegs();
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  uint64_t flow = streamd.events[0]->getFlow();
  cdSession.reset();  // circuitd restarted: it destroys the legs itself
  EXPECT_EQ(reactor->sets(), 0u);
  EXPECT_EQ(reactor->legs(), 0u);
  bool streamClosed = false;
  ASSERT_TRUE(waitFor([&] {
    for (auto& ev : streamd.events)
      streamClosed = streamClosed || (ev->getFlow() == flow && ev->isClosed());
    return streamClosed;
  }));
}

// circuitd's shards (NumCPUs): a set's legs may come over two circuitd connections. Messages cross
// them in sequence order, answers use the fast leg whichever shard has it, and a shard that goes
// costs the set only its legs there (an idle one: the set goes on over the other shard's).
TEST_F(ConfluxdReactorTest, ASetsLegsOnTwoShardsWorkAndOneShardGoingKeepsTheSet) {
  Peer<ipc::LegTraits> shard1(ipc::testing::fromConfluxdToCircuitd);
  std::unique_ptr<ipc::RpcConnection> server1;
  auto cd1 =
      std::make_unique<CircuitdSession>(*reactor, [] { ADD_FAILURE() << "shard 1 dropped"; });
  connect(cd1->pipe, shard1, server1);
  link(10, linkBody(7));
  ASSERT_TRUE(shard1.pipe.openFlow(20));  // leg 20 on shard 1, same nonce
  auto e = shard1.pipe.add();
  e.setLeg(20);
  auto body = linkBody(7);
  e.initLink().setBody(capnp::Data::Reader(body.data(), body.size()));
  shard1.pipe.commit(20, e);
  auto linked1 = [&] {
    for (auto& ev : shard1.events)
      if (ev->getLeg() == 20 && ev->isLinked()) return true;
    return false;
  };
  ASSERT_TRUE(waitFor([&] { return linkedOn(10) && linked1(); }));
  EXPECT_EQ(reactor->sets(), 1u);
  EXPECT_EQ(reactor->counters().setsAcrossShards, 1u);
  relay(10, RelayCmd::kConfluxLinkedAck, 0, "");
  auto ack = shard1.pipe.add();
  ack.setLeg(20);
  ack.initRelay().setCommand(r(RelayCmd::kConfluxLinkedAck));
  shard1.pipe.commit(20, ack);
  state(10, true, 5000);
  auto st = shard1.pipe.add();
  st.setLeg(20);
  auto ls = st.initState();
  ls.setCanSend(true);
  ls.setCwndCells(124);
  ls.setRttMinUsec(9000);
  ls.setRttEwmaUsec(9000);
  ls.setSendmeInc(31);
  shard1.pipe.flush();
  settle();
  cd1.reset();  // shard 1 went while its leg was idle
  EXPECT_EQ(reactor->sets(), 1u);
  EXPECT_EQ(reactor->legs(), 1u);
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  uint64_t flow = streamd.events[0]->getFlow();
  fromStreamd(flow, RelayCmd::kConnected, 5, "");
  ASSERT_TRUE(waitFor([&] { return toClient().size() == 1; }));
  EXPECT_EQ(toClient()[0], "10:" + std::to_string(r(RelayCmd::kConnected)) + ":5:");
  EXPECT_TRUE(circuitd.violation.empty()) << circuitd.violation;
  EXPECT_TRUE(shard1.violation.empty()) << shard1.violation;
}

TEST_F(ConfluxdReactorTest, StreamdMaySendOnlyWhatAnExitSends) {
  linkTwoLegs();
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  uint64_t flow = streamd.events[0]->getFlow();
  dropExpected = true;
  fromStreamd(flow, RelayCmd::kBegin, 5, "");  // an exit never sends BEGIN
  ASSERT_TRUE(waitFor([&] { return streamdDropped; }));
}

// Issue 15, finding 3: END RESOURCELIMIT for BEGINs past a set's stream cap used to share the set's
// queue toward the client with streamd's credit. With the abuser's legs blocked and the queue
// nearly full of refusals, streamd's honest messages (within its credit) overflowed it: confluxd
// dropped streamd and every set with streams (the bystander's too). Now refusals use the queue's
// own local slots; when those are full the abuser's set closes (RESOURCELIMIT), streamd's messages
// always fit its window, and nobody else notices.
TEST_F(ConfluxdReactorTest, Finding3RefusalEndsNeverCostStreamdOrTheBystandersSet) {
  // The bystander: legs 10 and 11, one stream.
  linkTwoLegs();
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  uint64_t bystander = streamd.events[0]->getFlow();

  // The abuser: legs 20 and 21 and BEGINs up to the set's stream cap.
  link(20, linkBody(8));
  link(21, linkBody(8));
  ASSERT_TRUE(waitFor([&] { return linkedOn(20) && linkedOn(21); }));
  relay(20, RelayCmd::kConfluxLinkedAck, 0, "");
  relay(21, RelayCmd::kConfluxLinkedAck, 0, "");
  const std::string begin = std::string("example.com:80") + '\0';
  uint16_t stream = 1;
  for (; stream <= Reactor::kMaxStreamsPerSet; ++stream)
    relayWhenCredit(20, RelayCmd::kBegin, stream, begin);
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1 + Reactor::kMaxStreamsPerSet; }));
  uint64_t abuser = 0;
  for (auto& e : streamd.events)
    if (e->isRelay() && e->getFlow() != bystander) abuser = e->getFlow();
  ASSERT_NE(abuser, 0u);

  // Both legs blocked (the client withholds SENDMEs): streamd's first DATA waits at the front of
  // the set's queue toward the client, and everything else waits behind it.
  state(20, false, 5000, 124);
  state(21, false, 9000, 124);
  settle();
  fromStreamd(abuser, RelayCmd::kData, 1, "honest");
  settle();
  // Refusals nearly fill what used to be one shared queue (streamd's window + the stream cap).
  for (int i = 0; i < 560; ++i)
    relayWhenCredit(20, RelayCmd::kBegin, stream++, begin);
  ASSERT_TRUE(waitFor([&] { return reactor->counters().streamsRefused == 560; }));
  // streamd spends the rest of its window on the abuser's set: all of it waits for a leg. In the
  // shared queue this overflowed it and confluxd dropped streamd.
  for (int i = 1; i < 64; ++i) {
    ASSERT_TRUE(waitFor([&] { return streamd.pipe.canSend(abuser); }));
    fromStreamd(abuser, RelayCmd::kData, static_cast<uint16_t>(1 + i), "honest");
  }
  settle();
  EXPECT_FALSE(streamdDropped) << "streamd's messages within its credit always fit";
  EXPECT_EQ(reactor->sets(), 2u);
  EXPECT_FALSE(closedOn(20));

  // More refusals than the local slots hold: the abuser's set closes, and only it.
  for (int i = 0; i < 100 && !closedOn(20); ++i) {
    relayWhenCredit(20, RelayCmd::kBegin, stream++, begin);
    settle();
  }
  ASSERT_TRUE(waitFor([&] { return closedOn(20) && closedOn(21); }));
  EXPECT_EQ(closeReason(20), static_cast<int>(cell::DestroyReason::kResourceLimit));
  EXPECT_EQ(closeReason(21), static_cast<int>(cell::DestroyReason::kResourceLimit));
  ASSERT_TRUE(waitFor([&] { return streamSideClosed(abuser); }));
  EXPECT_EQ(reactor->counters().setsOverLocalSlots, 1u);
  EXPECT_FALSE(streamdDropped);
  EXPECT_FALSE(circuitdDropped);
  EXPECT_TRUE(streamd.violation.empty());
  EXPECT_TRUE(circuitd.violation.empty());

  // The bystander's set goes on, both ways.
  EXPECT_EQ(reactor->sets(), 1u);
  EXPECT_FALSE(closedOn(10) || closedOn(11));
  EXPECT_FALSE(streamSideClosed(bystander));
  fromStreamd(bystander, RelayCmd::kData, 5, "still here");
  ASSERT_TRUE(waitFor([&] {
    for (auto& m : toClient())
      if (m == "10:" + std::to_string(r(RelayCmd::kData)) + ":5:still here") return true;
    return false;
  }));
  relay(10, RelayCmd::kData, 5, "and up");
  ASSERT_TRUE(waitFor([&] {
    auto got = toStreamd();
    return !got.empty() && got.back() == std::to_string(r(RelayCmd::kData)) + ":5:and up";
  }));
}

// C tor 0.4.9.14, bug 41328: a LINK whose last_seqno_recv is above anything the set ever sent is
// refused: on a fresh set (which sent nothing) the leg closes; joining a set, the set closes.
TEST_F(ConfluxdReactorTest, Bug41328ALinkClaimingMoreThanTheSetSentIsRefused) {
  link(40, linkBody(9, /*sent=*/0, /*recv=*/1));
  ASSERT_TRUE(waitFor([&] { return closedOn(40); }));
  EXPECT_FALSE(linkedOn(40));
  EXPECT_EQ(closeReason(40), static_cast<int>(cell::DestroyReason::kProtocol));
  EXPECT_EQ(reactor->sets(), 0u);
  EXPECT_EQ(reactor->legs(), 0u);

  // A set that sent two messages toward the client.
  linkTwoLegs();
  relay(10, RelayCmd::kBegin, 5, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  uint64_t flow = streamd.events[0]->getFlow();
  fromStreamd(flow, RelayCmd::kConnected, 5, "");
  fromStreamd(flow, RelayCmd::kData, 5, "x");
  ASSERT_TRUE(waitFor([&] { return toClient().size() == 2; }));
  // A leg that claims to have received exactly what the set sent joins.
  link(12, linkBody(7, /*sent=*/1, /*recv=*/2));
  ASSERT_TRUE(waitFor([&] { return linkedOn(12); }));
  EXPECT_EQ(reactor->legs(), 3u);
  // One that claims more closes the set.
  link(13, linkBody(7, /*sent=*/1, /*recv=*/3));
  ASSERT_TRUE(
      waitFor([&] { return closedOn(13) && closedOn(10) && closedOn(11) && closedOn(12); }));
  EXPECT_FALSE(linkedOn(13));
  EXPECT_EQ(reactor->sets(), 0u);
  EXPECT_EQ(reactor->counters().linksSeqnoRecvAhead, 2u);
  EXPECT_FALSE(circuitdDropped);
  EXPECT_TRUE(circuitd.violation.empty());
}

// The design document's LINKED_ACK deadline: a linked leg whose LINKED_ACK does not come in time
// (ConfluxParams::linkedAckTimeoutUsec) closes (DESTROY TIMEOUT); the set goes on with its
// acknowledged legs, and a set left without legs ends.
TEST_F(ConfluxdReactorTest, ALinkedLegWithoutLinkedAckInTimeIsClosedAndAnEmptySetEnds) {
  const uint64_t deadline = conflux::ConfluxParams{}.linkedAckTimeoutUsec;
  link(50, linkBody(11));
  link(51, linkBody(11));
  link(60, linkBody(12));  // a set of one leg, never acknowledged
  ASSERT_TRUE(waitFor([&] { return linkedOn(50) && linkedOn(51) && linkedOn(60); }));
  relay(50, RelayCmd::kConfluxLinkedAck, 0, "");
  ASSERT_TRUE(waitFor([&] { return reactor->counters().linkedAcks == 1; }));
  EXPECT_EQ(reactor->sets(), 2u);

  EXPECT_EQ(reactor->expireLinkedAcks(now + deadline / 2), 0u) << "not yet";
  EXPECT_EQ(reactor->legs(), 3u);

  EXPECT_EQ(reactor->expireLinkedAcks(now + deadline), 2u);
  ASSERT_TRUE(waitFor([&] { return closedOn(51) && closedOn(60); }));
  EXPECT_EQ(closeReason(51), static_cast<int>(cell::DestroyReason::kTimeout));
  EXPECT_EQ(closeReason(60), static_cast<int>(cell::DestroyReason::kTimeout));
  EXPECT_FALSE(closedOn(50));
  EXPECT_EQ(reactor->sets(), 1u) << "the set of leg 60 had no leg left";
  EXPECT_EQ(reactor->legs(), 1u);
  EXPECT_EQ(reactor->counters().linkedAckTimeouts, 2u);
  // An acknowledged leg never expires.
  EXPECT_EQ(reactor->expireLinkedAcks(now + 100 * deadline), 0u);
  EXPECT_EQ(reactor->legs(), 1u);
}

// MaxMemInQueues (issue 18): a client that withholds a sequence number grows its set's reorder
// queue. Past confluxd's (tiny) budget the OOM handler, from the loop, tears down the set with the
// largest reorder queue, every leg closed with RESOURCELIMIT, before the set's own cap would close
// one leg; another set, holding less out of order, keeps working; the count goes back to zero.
TEST_F(ConfluxdReactorTest, OverTheMemoryBudgetTheSetWithTheLargestReorderQueueIsClosed) {
  OomHandler oom(loop.base(), *reactor);
  const uint64_t perMsg = 400 + conflux::kQueuedOverheadBytes;
  reactor->memory().setBudget(5 * perMsg + 20);  // over it with the sixth message held
  const std::string body(400, 'z');
  const std::string farAhead("\0\1\0\0", 4);  // SWITCH: 65536 ahead
  // The bystander (legs 20, 21): one message out of order.
  link(20, linkBody(8));
  link(21, linkBody(8));
  ASSERT_TRUE(waitFor([&] { return linkedOn(20) && linkedOn(21); }));
  relay(20, RelayCmd::kConfluxLinkedAck, 0, "");
  relay(21, RelayCmd::kConfluxLinkedAck, 0, "");
  relay(21, RelayCmd::kConfluxSwitch, 0, farAhead);
  relay(21, RelayCmd::kData, 5, body);
  settle();
  EXPECT_EQ(reactor->memory().bytes(), perMsg);
  // The abuser (legs 10, 11): its queue grows until the handler closes the set.
  linkTwoLegs();
  relay(11, RelayCmd::kConfluxSwitch, 0, farAhead);
  for (int i = 0; i < 8 && !closedOn(11); ++i) {
    relayWhenCredit(11, RelayCmd::kData, 5, body);
    settle();
  }
  ASSERT_TRUE(waitFor([&] { return closedOn(10) && closedOn(11); }));
  EXPECT_EQ(closeReason(10), static_cast<int>(cell::DestroyReason::kResourceLimit));
  EXPECT_EQ(closeReason(11), static_cast<int>(cell::DestroyReason::kResourceLimit));
  const ConfluxCounters& c = reactor->counters();
  EXPECT_EQ(c.oomSetsClosed, 1u);
  EXPECT_EQ(c.oomBytesFreed, 5 * perMsg) << "the abuser's five held messages";
  EXPECT_EQ(reactor->memory().bytes(), perMsg) << "the bystander's one";
  EXPECT_FALSE(closedOn(20) || closedOn(21));
  EXPECT_EQ(reactor->sets(), 1u);
  // The bystander carries on: its first leg's BEGIN is in order and reaches streamd.
  relay(20, RelayCmd::kBegin, 3, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return toStreamd().size() == 1; }));
  EXPECT_EQ(toStreamd()[0].substr(0, 4), std::to_string(r(RelayCmd::kBegin)) + ":3:");
  closeLeg(20, 0);
  closeLeg(21, 0);
  ASSERT_TRUE(waitFor([&] { return reactor->sets() == 0; }));
  EXPECT_EQ(reactor->memory().bytes(), 0u);
  EXPECT_EQ(reactor->memory().charges(), 0u);
}

}  // namespace
}  // namespace onionsplit::confluxd

// Component test of circuitd/net/reactor.h: the real Reactor with a ChanneldSession and a
// StreamdSession, each on a real Cap'n Proto connection over a socketpair to a BatchPipe peer that
// plays channeld or streamd. The test is the client: it builds a circuit with ntor v3 (congestion
// control requested), sends encrypted relay cells through "channeld", answers as "streamd", and
// reads what comes back, checking the credit chain and both kinds of close.
#include "circuitd/net/reactor.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "circuitd/net/oom_handler.h"
#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "common/cell/relay_v1.h"
#include "common/crypto/cgo.h"
#include "common/crypto/ntor_handshakes.h"
#include "common/ipc/event_loop.h"
#include "tests/common/ipc/pipe_harness.h"

namespace onionsplit::circuitd {
namespace {

using cell::RelayCmd;

template <class Traits>
using Peer = ipc::testing::Peer<Traits>;

std::array<uint8_t, 32> fill(uint8_t v) {
  std::array<uint8_t, 32> a{};
  a.fill(v);
  return a;
}

class ReactorTest : public ::testing::Test {
 protected:
  ReactorTest() {
    id.rsaId.fill(1);
    id.edId = fill(2);
    id.onionKeys.push_back(*crypto::Curve25519Keypair::fromSecret(Bytes(fill(3))));
    reactor = std::make_unique<Reactor>(
        id, CircuitParams{}, [](MutBytes o) { std::memset(o.data(), 9, o.size()); },
        [this] { return now += 1000; });
    chSession = std::make_unique<ChanneldSession>(*reactor, [this] { channeldDropped = true; });
    sdSession = std::make_unique<StreamdSession>(*reactor, [this] { streamdDropped = true; });
    cdSession = std::make_unique<ConfluxdSession>(*reactor, [this] { confluxdDropped = true; });
    reactor->setStreamdLookup([this] { return sdSession.get(); });
    reactor->setConfluxdLookup([this] { return cdSession.get(); });
    connect(chSession->pipe, channeld, chServer);
    connect(sdSession->pipe, streamd, sdServer);
    connect(cdSession->pipe, confluxd, cdServer);
    relayChannel(1);
    relayChannel(2);
  }
  template <class Pipe, class P>
  void connect(Pipe& ours, P& peer, std::unique_ptr<ipc::RpcConnection>& server) {
    ipc::testing::connect(loop, ours, peer, server);
  }
  ~ReactorTest() override {
    cdSession.reset();
    sdSession.reset();
    chSession.reset();
  }
  bool waitFor(const std::function<bool()>& done) { return ipc::testing::waitFor(loop, done); }
  // channeld -> circuitd: one cell of circuit `circ` on channel `chan`; a DESTROY closes the flow.
  void cellToCircuitd(uint32_t circ, uint8_t command, Bytes payload) {
    auto& p = channeld.pipe;
    ipc::FlowId f = (ipc::FlowId{chan} << 32) | circ;
    if (command == 4) {
      ASSERT_TRUE(p.close(f, payload.empty() ? 0 : payload[0]));
      return;
    }
    if (!p.isOpen(f)) {
      ASSERT_TRUE(p.openFlow(f));
    }
    auto e = p.add();
    e.setChannel(chan);
    auto c = e.initCell();
    c.setCircId(circ);
    c.setCommand(command);
    std::vector<uint8_t> full(509);
    std::memcpy(full.data(), payload.data(), payload.size());
    c.setPayload(capnp::Data::Reader(full.data(), full.size()));
    ASSERT_TRUE(p.canSend(f));
    p.commit(f, e);
  }
  // Builds circuit `circ` with ntor v3 and a congestion-control request.
  void build(uint32_t circ) {
    crypto::Ntor3ClientState st;
    std::vector<uint8_t> msg{1, 1, 0};
    auto hs =
        crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey), Bytes(msg),
                                  Bytes(fill(4)), crypto::kNtor3CircuitVerification, st);
    std::vector<uint8_t> p(509);
    Writer w{MutBytes(p)};
    cell::encodeCreate2(cell::Create2{3, Bytes(hs)}, w);
    size_t before = channeld.events.size();
    cellToCircuitd(circ, 10, Bytes(p));
    ASSERT_TRUE(waitFor([&] { return channeld.events.size() > before; }));
    auto& e = *channeld.events.back();
    ASSERT_TRUE(e.isCell());
    ASSERT_EQ(e.getCell().getCommand(), 11);  // CREATED2
    auto c2 = cell::decodeCreated2(Bytes(e.getCell().getPayload().begin(), 509));
    ASSERT_TRUE(c2);
    auto done = crypto::ntor3ClientComplete(st, c2->hdata);
    ASSERT_TRUE(done);
    ASSERT_TRUE(client.addHop(*crypto::Tor1Keys::fromKeyMaterial(Bytes(done->keys))));
  }
  // Builds circuit `circ` with ntor v3 asking for congestion control and CGO (Relay=6).
  void buildCgo(uint32_t circ) {
    crypto::Ntor3ClientState st;
    std::vector<uint8_t> msg{2, 1, 0, 3, 2, 2, 6};
    auto hs =
        crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey), Bytes(msg),
                                  Bytes(fill(4)), crypto::kNtor3CircuitVerification, st);
    std::vector<uint8_t> p(509);
    Writer w{MutBytes(p)};
    cell::encodeCreate2(cell::Create2{3, Bytes(hs)}, w);
    size_t before = channeld.events.size();
    cellToCircuitd(circ, 10, Bytes(p));
    ASSERT_TRUE(waitFor([&] { return channeld.events.size() > before; }));
    auto& e = *channeld.events.back();
    ASSERT_EQ(e.getCell().getCommand(), 11);  // CREATED2
    auto c2 = cell::decodeCreated2(Bytes(e.getCell().getPayload().begin(), 509));
    ASSERT_TRUE(c2);
    auto done = crypto::ntor3ClientComplete(st, c2->hdata, crypto::kCgoKeyMaterialLen + 20);
    ASSERT_TRUE(done);
    ASSERT_TRUE(cgoClient.addHop(Bytes(done->keys).first(crypto::kCgoKeyMaterialLen)));
  }
  void relayCgo(uint32_t circ, RelayCmd cmd, uint16_t stream, const std::string& body) {
    std::array<uint8_t, 509> c{};
    ASSERT_EQ(
        cell::encodeRelayCellV1(
            MutBytes(c),
            cell::RelayMsgView{static_cast<uint8_t>(cmd), stream,
                               Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size())},
            {}),
        cell::RelayEncodeErr::kNone);
    crypto::CgoTag t{};
    ASSERT_TRUE(cgoClient.originateOutbound(0, 3, crypto::RelayPayload(c), &t));
    cellToCircuitd(circ, 3, Bytes(c));
  }
  // The next relay cell circuitd sent the CGO client: "command:body length".
  std::string nextToCgoClient(size_t& from) {
    for (; from < channeld.events.size(); ++from) {
      auto cellR = channeld.events[from]->getCell();
      if (cellR.getCommand() != 3) continue;
      std::array<uint8_t, 509> c{};
      std::memcpy(c.data(), cellR.getPayload().begin(), 509);
      crypto::CgoTag t{};
      ++from;
      if (cgoClient.receiveInbound(3, crypto::RelayPayload(c), &t) != 0u) return "undecryptable";
      auto v = cell::decodeRelayCellV1(Bytes(c));
      return v ? std::to_string(v->command) + ":" + std::to_string(v->data.size()) : "undecodable";
    }
    return "";
  }
  void relay(uint32_t circ, RelayCmd cmd, uint16_t stream, const std::string& body) {
    std::array<uint8_t, 509> c{};
    cell::encodeRelayCell(MutBytes(c), cmd, stream,
                          Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
                          [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
    crypto::Tor1Digest d{};
    client.originateOutbound(0, crypto::RelayPayload(c), &d);
    cellToCircuitd(circ, 3, Bytes(c));
  }
  void fromStreamd(uint64_t flow, RelayCmd cmd, uint16_t stream, const std::string& body) {
    auto e = streamd.pipe.add();
    e.setFlow(flow);
    auto r = e.initRelay();
    r.setStreamId(stream);
    r.setCommand(static_cast<uint8_t>(cmd));
    r.setBody(capnp::Data::Reader(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
    streamd.pipe.commit(flow, e);
  }

  ipc::EventLoop loop;
  OnionIdentity id;
  uint64_t now = 1'000'000;
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<ChanneldSession> chSession;
  std::unique_ptr<StreamdSession> sdSession;
  std::unique_ptr<ConfluxdSession> cdSession;
  std::unique_ptr<ipc::RpcConnection> chServer, sdServer, cdServer;
  std::unique_ptr<Peer<ipc::LegTraits>> confluxdOwner =
      std::make_unique<Peer<ipc::LegTraits>>(ipc::testing::fromCircuitdToConfluxd);
  Peer<ipc::LegTraits>& confluxd = *confluxdOwner;
  bool confluxdDropped = false;
  std::unique_ptr<Peer<ipc::ChannelCircuitTraits>> channeldOwner =
      std::make_unique<Peer<ipc::ChannelCircuitTraits>>(ipc::testing::fromCircuitdToChanneld);
  std::unique_ptr<Peer<ipc::StreamTraits>> streamdOwner =
      std::make_unique<Peer<ipc::StreamTraits>>(ipc::testing::fromCircuitdToStreamd);
  Peer<ipc::ChannelCircuitTraits>& channeld = *channeldOwner;
  Peer<ipc::StreamTraits>& streamd = *streamdOwner;
  crypto::ClientCircuit client;
  crypto::CgoClientCircuit cgoClient;

  // The next relay cell circuitd sent to the client: "command:body".
  std::string nextToClient(size_t& from) {
    for (; from < channeld.events.size(); ++from) {
      auto cellR = channeld.events[from]->getCell();
      if (cellR.getCommand() != 3) continue;
      std::array<uint8_t, 509> c{};
      std::memcpy(c.data(), cellR.getPayload().begin(), 509);
      crypto::Tor1Digest d{};
      if (client.receiveInbound(crypto::RelayPayload(c), &d) != 0u) return "undecryptable";
      auto v = cell::decodeRelayCell(Bytes(c));
      ++from;
      return v ? std::to_string(v->header.command) + ":" +
                     std::string(v->body.begin(), v->body.end())
               : "undecodable";
    }
    return "";
  }
  // A channel from a client (no relay identity).
  void clientChannel(uint32_t channel) {
    auto e = channeld.pipe.add();
    e.setChannel(channel);
    e.initOpened();
    channeld.pipe.flush();
  }
  // A channel from a relay (it authenticated: its identities are known).
  void relayChannel(uint32_t channel) {
    auto e = channeld.pipe.add();
    e.setChannel(channel);
    auto o = e.initOpened();
    std::array<uint8_t, 20> rsa{};
    rsa.fill(static_cast<uint8_t>(0x70 + channel));
    o.setPeerRsaId(capnp::Data::Reader(rsa.data(), rsa.size()));
    channeld.pipe.flush();
  }
  uint32_t chan = 1;  // the channel cellToCircuitd() uses
  bool channeldDropped = false, streamdDropped = false;
};

TEST_F(ReactorTest, AStreamGoesThroughBothBoundariesAndBack) {
  build(7);
  relay(7, RelayCmd::kBegin, 1, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty(); }));
  auto& begin = *streamd.events[0];
  ASSERT_TRUE(begin.isRelay());
  EXPECT_EQ(begin.getRelay().getCommand(), static_cast<uint8_t>(RelayCmd::kBegin));
  EXPECT_TRUE(begin.getCongestionControl());
  uint64_t flow = begin.getFlow();

  size_t before = channeld.events.size();
  fromStreamd(flow, RelayCmd::kConnected, 1, "");
  fromStreamd(flow, RelayCmd::kData, 1, "hello");
  ASSERT_TRUE(waitFor([&] { return channeld.events.size() >= before + 2; }));
  std::vector<std::string> seen;
  for (size_t i = before; i < channeld.events.size(); ++i) {
    auto cellR = channeld.events[i]->getCell();
    EXPECT_EQ(cellR.getCommand(), 3);
    std::array<uint8_t, 509> c{};
    std::memcpy(c.data(), cellR.getPayload().begin(), 509);
    crypto::Tor1Digest d{};
    ASSERT_EQ(client.receiveInbound(crypto::RelayPayload(c), &d), 0u);
    auto v = cell::decodeRelayCell(Bytes(c));
    ASSERT_TRUE(v);
    seen.push_back(std::to_string(v->header.command) + ":" +
                   std::string(v->body.begin(), v->body.end()));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"4:", "2:hello"}));
  EXPECT_TRUE(channeld.violation.empty() && streamd.violation.empty());
}

TEST_F(ReactorTest, TheClientsDestroyClosesTheStreamSideAndIsAnswered) {
  build(9);
  relay(9, RelayCmd::kBegin, 1, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty(); }));
  uint64_t flow = streamd.events[0]->getFlow();
  uint8_t reason = 3;
  cellToCircuitd(9, 4, Bytes(&reason, 1));  // DESTROY
  ASSERT_TRUE(waitFor([&] {
    for (auto& e : streamd.events)
      if (e->isClosed() && e->getFlow() == flow) return true;
    return false;
  })) << "streamd hears the circuit closed";
  ASSERT_TRUE(waitFor([&] { return !channeld.pipe.inUse((ipc::FlowId{1} << 32) | 9); }))
      << "circuitd answers the DESTROY (the flow's second close)";
  ASSERT_TRUE(waitFor([&] { return reactor->circuits() == 0; }));
}

TEST_F(ReactorTest, ABadCellIsDestroyedAndAHostileStreamdLosesItsConnection) {
  build(11);
  std::vector<uint8_t> junk(509, 0xab);
  cellToCircuitd(11, 3, Bytes(junk));
  ASSERT_TRUE(waitFor([&] {
    auto& last = *channeld.events.back();
    return last.isCell() && last.getCell().getCommand() == 4;
  }));
  EXPECT_EQ(channeld.events.back()->getCell().getPayload()[0],
            static_cast<uint8_t>(cell::DestroyReason::kProtocol));
  EXPECT_FALSE(channeldDropped) << "a bad cell closes the circuit, not the connection";

  client = crypto::ClientCircuit();
  build(12);
  relay(12, RelayCmd::kBegin, 1, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty(); }));
  fromStreamd(streamd.events.back()->getFlow(), RelayCmd::kBegin, 1, "x");  // exits never send it
  ASSERT_TRUE(waitFor([&] { return streamdDropped; }));
  EXPECT_FALSE(channeldDropped);
}

// A CGO circuit's stream side is told its v1 format; a message that fits one v1 cell reaches the
// client (counted as a CGO circuit's cell), a longer one (it would fit a v0 cell) breaks
// circuit_stream's contract: streamd's connection goes, channeld's stays.
TEST_F(ReactorTest, OnACgoCircuitAStreamdMessageLongerThanAV1CellCostsTheConnection) {
  buildCgo(31);
  relayCgo(31, RelayCmd::kBegin, 1, std::string("example.com:80") + '\0');
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty(); }));
  EXPECT_TRUE(streamd.events[0]->getRelayCellV1());
  uint64_t flow = streamd.events[0]->getFlow();
  size_t from = channeld.events.size();
  fromStreamd(flow, RelayCmd::kConnected, 1, "");
  fromStreamd(flow, RelayCmd::kData, 1, std::string(488, 'a'));
  std::string connected, data;
  ASSERT_TRUE(waitFor([&] {
    if (connected.empty()) connected = nextToCgoClient(from);
    if (!connected.empty() && data.empty()) data = nextToCgoClient(from);
    return !data.empty();
  }));
  EXPECT_EQ(connected, "4:0");
  EXPECT_EQ(data, "2:488");
  EXPECT_FALSE(streamdDropped);
  EXPECT_EQ(reactor->counters().cgoCellsFromClient, 1u) << "the BEGIN";
  EXPECT_EQ(reactor->counters().cgoCellsToClient, 2u) << "CONNECTED and DATA";
  fromStreamd(flow, RelayCmd::kResolved, 1, std::string(489, 'r'));
  ASSERT_TRUE(waitFor([&] { return streamdDropped; }));
  EXPECT_FALSE(channeldDropped);
}

TEST_F(ReactorTest, ALinkMakesALegWhoseStreamsGoToConfluxdAndBack) {
  build(21);
  relay(21, RelayCmd::kConfluxLink, 0, std::string(50, '\1'));
  relay(21, RelayCmd::kBegin, 4, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return confluxd.events.size() >= 3; }));
  auto& link = *confluxd.events[0];
  ASSERT_TRUE(link.isLink());
  EXPECT_EQ(link.getLink().getBody().size(), 50u);
  EXPECT_FALSE(link.getLink().getCarriedStreams());
  uint64_t leg = link.getLeg();
  bool sawState = false, sawBegin = false;
  for (auto& e : confluxd.events) {
    sawState = sawState || (e->isState() && e->getLeg() == leg && e->getState().getCanSend());
    sawBegin = sawBegin || (e->isRelay() && e->getRelay().getCommand() == 1);
  }
  EXPECT_TRUE(sawState) << "the leg's congestion state is reported";
  EXPECT_TRUE(sawBegin) << "a leg's BEGIN goes to confluxd";
  EXPECT_TRUE(streamd.events.empty()) << "and not to streamd";

  size_t from = channeld.events.size();
  auto ev = confluxd.pipe.add();
  ev.setLeg(leg);
  std::string linked(50, '\2');
  ev.initLinked().setBody(
      capnp::Data::Reader(reinterpret_cast<const uint8_t*>(linked.data()), linked.size()));
  confluxd.pipe.commit(leg, ev);
  auto data = confluxd.pipe.add();
  data.setLeg(leg);
  auto m = data.initRelay();
  m.setStreamId(4);
  m.setCommand(static_cast<uint8_t>(RelayCmd::kConnected));
  confluxd.pipe.commit(leg, data);
  ASSERT_TRUE(waitFor([&] { return channeld.events.size() >= from + 2; }));
  EXPECT_EQ(nextToClient(from),
            std::to_string(static_cast<int>(RelayCmd::kConfluxLinked)) + ":" + linked);
  EXPECT_EQ(nextToClient(from), std::to_string(static_cast<int>(RelayCmd::kConnected)) + ":");

  // confluxd closes the leg: circuitd DESTROYs the circuit with that reason.
  ASSERT_TRUE(confluxd.pipe.close(leg, static_cast<uint8_t>(cell::DestroyReason::kFinished)));
  ASSERT_TRUE(waitFor([&] {
    auto& last = *channeld.events.back();
    return last.isCell() && last.getCell().getCommand() == 4;
  }));
  EXPECT_EQ(channeld.events.back()->getCell().getPayload()[0],
            static_cast<uint8_t>(cell::DestroyReason::kFinished));
  EXPECT_FALSE(confluxdDropped);
}

TEST_F(ReactorTest, LegsDieWithConfluxdAndSinglePathCircuitsCarryOn) {
  build(23);
  relay(23, RelayCmd::kConfluxLink, 0, std::string(50, '\1'));
  ASSERT_TRUE(waitFor([&] { return !confluxd.events.empty(); }));
  client = crypto::ClientCircuit();
  build(24);
  cdSession.reset();  // confluxd's connection ends
  ASSERT_TRUE(waitFor([&] {
    for (auto& e : channeld.events)
      if (e->isCell() && e->getCell().getCircId() == 23 && e->getCell().getCommand() == 4)
        return true;
    return false;
  })) << "the leg is destroyed";
  relay(24, RelayCmd::kBegin, 1, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty(); })) << "the other circuit works";
}

TEST_F(ReactorTest, ABeginFromAClientOneHopAwayIsRefused) {
  clientChannel(5);
  chan = 5;
  build(31);
  size_t from = channeld.events.size();
  relay(31, RelayCmd::kBegin, 2, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return channeld.events.size() > from; }));
  std::string end = nextToClient(from);
  EXPECT_EQ(end, std::to_string(static_cast<int>(RelayCmd::kEnd)) + ":" +
                     std::string(1, static_cast<char>(cell::EndReason::kTorProtocol)));
  EXPECT_TRUE(streamd.events.empty());
  EXPECT_EQ(reactor->counters().singleHopRefused, 1u);
}

// refuseunknownexits (known_relays.h): once channeld has sent the consensus' relays, a BEGIN from
// a previous hop whose relay key the consensus does not list gets END MISC, as in C tor; a listed
// relay's goes on to streamd, and with the parameter at 0 nobody is refused for it.
TEST_F(ReactorTest, ABeginFromARelayTheConsensusDoesNotListIsRefused) {
  std::array<uint8_t, 40> wire{};  // two relays, not in order: another one and channel 1's key
  std::fill(wire.begin(), wire.begin() + 20, static_cast<uint8_t>(0x99));
  std::fill(wire.begin() + 20, wire.end(), static_cast<uint8_t>(0x70 + 1));
  auto known = KnownRelays::fromWire(Bytes(wire.data(), wire.size()));
  ASSERT_TRUE(known);
  reactor->setKnownRelays(std::move(*known));
  build(41);  // on channel 1: a relay the consensus lists
  relay(41, RelayCmd::kBegin, 2, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty(); }));

  relayChannel(6);  // a relay key nobody listed
  chan = 6;
  client = crypto::ClientCircuit();
  build(42);
  size_t from = channeld.events.size();
  relay(42, RelayCmd::kBegin, 3, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return channeld.events.size() > from; }));
  EXPECT_EQ(nextToClient(from), std::to_string(static_cast<int>(RelayCmd::kEnd)) + ":" +
                                    std::string(1, static_cast<char>(cell::EndReason::kMisc)));
  EXPECT_EQ(reactor->counters().unknownRelayRefused, 1u);

  CircuitParams lenient = reactor->params();
  lenient.refuseUnknownExits = false;  // the consensus says refuseunknownexits=0
  reactor->setParams(lenient);
  size_t before = streamd.events.size();
  relay(42, RelayCmd::kBegin, 4, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return streamd.events.size() > before; }));
  EXPECT_EQ(reactor->counters().unknownRelayRefused, 1u);
}

}  // namespace
}  // namespace onionsplit::circuitd

namespace onionsplit::circuitd {
namespace {

// The middle role between real pipes: EXTEND2 -> `extend` to channeld -> `extended` and CREATED2
// from the next hop -> EXTENDED2 to the client; then cells both ways and the next hop's DESTROY.
class MiddleReactorTest : public ReactorTest {
 protected:
  static constexpr uint32_t kNextChannel = 2, kNextCirc = 0x80000001u;
  ipc::FlowId nextFlow() const { return (ipc::FlowId{kNextChannel} << 32) | kNextCirc; }
  void cellOn(uint32_t channel, uint32_t circ, uint8_t command, Bytes payload) {
    auto& p = channeld.pipe;
    ipc::FlowId f = (ipc::FlowId{channel} << 32) | circ;
    if (command == 4) {
      EXPECT_TRUE(p.close(f, payload.empty() ? 0 : payload[0]));
      return;
    }
    auto e = p.add();
    e.setChannel(channel);
    auto c = e.initCell();
    c.setCircId(circ);
    c.setCommand(command);
    std::vector<uint8_t> full(509);
    std::memcpy(full.data(), payload.data(), payload.size());
    c.setPayload(capnp::Data::Reader(full.data(), full.size()));
    p.commit(f, e);
  }
  std::vector<uint8_t> extend2Body() {
    std::array<uint8_t, 6> v4{127, 0, 0, 1, 0x23, 0x29};
    std::array<uint8_t, 20> rsa{};
    rsa.fill(0x99);
    std::vector<uint8_t> hdata(84, 0x42);
    cell::Extend2Msg m;
    m.specs[m.specCount++] = {cell::LinkSpecifier::kIpv4, Bytes(v4)};
    m.specs[m.specCount++] = {cell::LinkSpecifier::kRsaId, Bytes(rsa)};
    m.htype = 2;
    m.hdata = Bytes(hdata);
    std::vector<uint8_t> out(498);
    Writer w{MutBytes(out)};
    EXPECT_TRUE(cell::encodeExtend2(m, w));
    out.resize(w.written().size());
    return out;
  }
  // The client's relay message for hop `hop` on circuit 7 (RELAY_EARLY with `early`).
  void clientSends(size_t hop, RelayCmd cmd, Bytes body, bool early) {
    std::array<uint8_t, 509> c{};
    cell::encodeRelayCell(MutBytes(c), cmd, 0, body,
                          [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
    crypto::Tor1Digest d{};
    client.originateOutbound(hop, crypto::RelayPayload(c), &d);
    cellOn(1, 7, early ? 9 : 3, Bytes(c));
  }
  const proto::ChannelEvent::Reader* find(
      const std::function<bool(proto::ChannelEvent::Reader)>& f) {
    for (auto& e : channeld.events)
      if (f(*e)) return e.get();
    return nullptr;
  }
  // Up to EXTENDED2: the client then has hop 1 (keys shared with `next`).
  void extendCircuit() {
    build(7);
    auto body = extend2Body();
    clientSends(0, RelayCmd::kExtend2, Bytes(body), true);
    ASSERT_TRUE(waitFor([&] { return find([](auto e) { return e.isExtend(); }) != nullptr; }));
    auto x = find([](auto e) { return e.isExtend(); })->getExtend();
    EXPECT_EQ(x.getOriginCircId(), 7u);
    EXPECT_EQ(x.getIpv4Port(), 9001);
    EXPECT_EQ(x.getRsaId()[0], 0x99);
    EXPECT_EQ(x.getHtype(), 2);
    EXPECT_EQ(x.getHdata().size(), 84u);
    size_t from = channeld.events.size();  // nextToClient() reads cells only
    // channeld opened the next hop and sent CREATE2 there.
    ASSERT_TRUE(channeld.pipe.openFlow(nextFlow()));
    auto ev = channeld.pipe.add();
    ev.setChannel(1);
    auto r = ev.initExtended();
    r.setOriginCircId(7);
    r.setNextChannel(kNextChannel);
    r.setNextCircId(kNextCirc);
    std::vector<uint8_t> reply(64, 0x5c), created(509);
    Writer w{MutBytes(created)};
    cell::encodeCreated2(cell::Created2{Bytes(reply)}, w);
    cellOn(kNextChannel, kNextCirc, 11, Bytes(created));
    std::string got;
    ASSERT_TRUE(waitFor([&] { return !(got = nextToClient(from)).empty(); }));
    EXPECT_EQ(got.substr(0, 3), "15:") << "EXTENDED2";
    std::array<uint8_t, 72> km{};
    km.fill(0x3c);
    auto k = crypto::Tor1Keys::fromKeyMaterial(Bytes(km));
    ASSERT_TRUE(client.addHop(*k));
    next = crypto::RelayLayer::create(*k);
  }
  // The client on circuit 7 asks for an EXTEND2; circuitd's `extend` reaches channeld.
  void requestExtend() {
    auto body = extend2Body();
    clientSends(0, RelayCmd::kExtend2, Bytes(body), true);
    ASSERT_TRUE(waitFor([&] { return find([](auto e) { return e.isExtend(); }) != nullptr; }));
  }
  // channeld's `extended` for circuit 7, filled in by `fill`.
  void answerExtend(const std::function<void(proto::ExtendResult::Builder)>& fill) {
    auto ev = channeld.pipe.add();
    ev.setChannel(1);
    auto r = ev.initExtended();
    r.setOriginCircId(7);
    fill(r);
    channeld.pipe.flush();
  }
  // circuit 7 asked for its next hop, and channeld answered with it (its flow open, no CREATED2
  // yet).
  void extendAnswered() {
    ASSERT_NO_FATAL_FAILURE(requestExtend());
    ASSERT_TRUE(channeld.pipe.openFlow(nextFlow()));
    answerExtend([](proto::ExtendResult::Builder r) {
      r.setNextChannel(kNextChannel);
      r.setNextCircId(kNextCirc);
    });
    ASSERT_TRUE(waitFor([&] { return reactor->counters().extended == 1; }));
  }
  // The next hop's CREATED2 payload.
  static std::vector<uint8_t> created2() {
    std::vector<uint8_t> reply(64, 0x5c), created(509);
    Writer w{MutBytes(created)};
    cell::encodeCreated2(cell::Created2{Bytes(reply)}, w);
    return created;
  }
  std::optional<crypto::RelayLayer> next;
};

TEST_F(MiddleReactorTest, ExtendsAndForwardsBothWays) {
  extendCircuit();
  ASSERT_TRUE(next);
  // Client -> next hop: our layer comes off, RELAY_EARLY stays.
  uint8_t x = 'x';
  clientSends(1, RelayCmd::kDrop, Bytes(&x, 1), true);
  const proto::ChannelEvent::Reader* out = nullptr;
  ASSERT_TRUE(waitFor([&] {
    return (out = find([](auto e) { return e.isCell() && e.getChannel() == kNextChannel; }));
  }));
  EXPECT_EQ(out->getCell().getCircId(), kNextCirc);
  EXPECT_EQ(out->getCell().getCommand(), 9);
  std::array<uint8_t, 509> c{};
  std::memcpy(c.data(), out->getCell().getPayload().begin(), 509);
  crypto::Tor1Digest d{};
  EXPECT_EQ(next->processOutbound(crypto::RelayPayload(c), &d, true),
            crypto::RelayLayer::Outbound::kRecognized);

  // Next hop -> client: our layer goes on.
  std::array<uint8_t, 509> back{};
  cell::encodeRelayCell(MutBytes(back), RelayCmd::kData, 3, Bytes(&x, 1),
                        [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
  next->originateInbound(crypto::RelayPayload(back), &d);
  size_t before = channeld.events.size();
  cellOn(kNextChannel, kNextCirc, 3, Bytes(back));
  ASSERT_TRUE(waitFor([&] {
    for (size_t i = before; i < channeld.events.size(); ++i) {
      auto e = *channeld.events[i];
      if (e.isCell() && e.getChannel() == 1 && e.getCell().getCommand() == 3) return true;
    }
    return false;
  }));
  for (size_t i = before; i < channeld.events.size(); ++i) {
    auto e = *channeld.events[i];
    if (!e.isCell() || e.getChannel() != 1) continue;
    std::memcpy(c.data(), e.getCell().getPayload().begin(), 509);
    EXPECT_EQ(client.receiveInbound(crypto::RelayPayload(c), &d), 1u) << "from the second hop";
  }

  // The next hop's DESTROY: the client's circuit closes with DESTROYED, and the flow's close is
  // answered.
  uint8_t reason = 5;
  cellOn(kNextChannel, kNextCirc, 4, Bytes(&reason, 1));
  ASSERT_TRUE(waitFor([&] { return reactor->circuits() == 0; }));
  bool toClient = false;
  for (auto& e : channeld.events)
    if (e->isCell() && e->getCell().getCommand() == 4 && e->getChannel() == 1)
      toClient = e->getCell().getPayload()[0] == 11;
  bool answered = waitFor([&] { return !channeld.pipe.inUse(nextFlow()); });
  EXPECT_TRUE(toClient) << "DESTROY (DESTROYED) to the client";
  EXPECT_TRUE(answered);
  EXPECT_TRUE(channeld.violation.empty());
  EXPECT_FALSE(channeldDropped);
}

TEST_F(MiddleReactorTest, ManyCellsBothWaysKeepTheirCredit) {
  extendCircuit();
  ASSERT_TRUE(next);
  uint8_t x = 'x';
  crypto::Tor1Digest d{};
  for (int i = 0; i < 300; ++i) {
    std::array<uint8_t, 509> back{};
    cell::encodeRelayCell(MutBytes(back), RelayCmd::kData, 3, Bytes(&x, 1),
                          [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
    next->originateInbound(crypto::RelayPayload(back), &d);
    ASSERT_TRUE(waitFor([&] { return channeld.pipe.canSend(nextFlow()); })) << i;
    cellOn(kNextChannel, kNextCirc, 3, Bytes(back));
    clientSends(1, RelayCmd::kDrop, Bytes(&x, 1), false);
    ASSERT_TRUE(waitFor([&] { return channeld.pipe.canSend((ipc::FlowId{1} << 32) | 7); })) << i;
  }
  size_t toClient = 0, toNext = 0;
  ASSERT_TRUE(waitFor([&] {
    toClient = toNext = 0;
    for (auto& e : channeld.events) {
      if (!e->isCell() || e->getCell().getCommand() != 3) continue;
      (e->getChannel() == 1 ? toClient : toNext)++;
    }
    return toClient >= 301 && toNext >= 300;  // and EXTENDED2
  })) << toClient
      << " " << toNext;
}

TEST_F(MiddleReactorTest, TheClientsDestroyReachesTheNextHop) {
  extendCircuit();
  uint8_t reason = 3;
  cellOn(1, 7, 4, Bytes(&reason, 1));
  ASSERT_TRUE(waitFor([&] {
    return find([](auto e) {
             return e.isCell() && e.getChannel() == kNextChannel && e.getCell().getCommand() == 4;
           }) != nullptr;
  }));
  ASSERT_TRUE(waitFor([&] { return reactor->circuits() == 0; }));
}

TEST_F(MiddleReactorTest, AFailedExtendDestroysTheCircuit) {
  build(7);
  ASSERT_NO_FATAL_FAILURE(requestExtend());
  answerExtend([](proto::ExtendResult::Builder r) { r.setReason(6); });
  ASSERT_TRUE(waitFor([&] {
    return find([](auto e) {
             return e.isCell() && e.getChannel() == 1 && e.getCell().getCommand() == 4 &&
                    e.getCell().getPayload()[0] == 6;
           }) != nullptr;
  })) << "DESTROY (CONNECTFAILED)";
}

TEST_F(MiddleReactorTest, AnExtendedNamingAFlowAlreadyOpenCostsChanneldItsConnection) {
  build(7);
  build(8);
  ASSERT_NO_FATAL_FAILURE(requestExtend());
  // The "next hop" channeld names is client circuit 8 on channel 1: that circuit could be neither
  // used as a next hop nor closed as one.
  answerExtend([](proto::ExtendResult::Builder r) {
    r.setNextChannel(1);
    r.setNextCircId(8);
  });
  EXPECT_TRUE(waitFor([&] { return channeldDropped; }));
}

// Issue 15, finding 1: the next hop's honest CREATED2 crosses the client's TRUNCATE (circuitd has
// closed the next hop's flow already). It is dropped; channeld keeps its connection, and the
// circuit goes on.
TEST_F(MiddleReactorTest, Finding1_ACreated2CrossingATruncateIsDroppedNotABreach) {
  build(7);
  ASSERT_NO_FATAL_FAILURE(extendAnswered());
  // In one batch: the client's TRUNCATE, then the next hop's CREATED2 that crossed it.
  uint8_t reason = 0;
  clientSends(0, RelayCmd::kTruncate, Bytes(&reason, 0), false);
  std::vector<uint8_t> created = created2();
  cellOn(kNextChannel, kNextCirc, 11, Bytes(created));
  ASSERT_TRUE(waitFor([&] { return !channeld.pipe.inUse(nextFlow()); }))
      << "the next hop's flow is closed both ways";
  EXPECT_FALSE(channeldDropped);
  EXPECT_TRUE(channeld.violation.empty());
  EXPECT_EQ(reactor->circuits(), 1u) << "the client's circuit lives on (it may extend again)";
  EXPECT_GE(chSession->pipeStats().crossedClose, 1u);
}

// The same with the client's DESTROY: everything of the circuit crosses it.
TEST_F(MiddleReactorTest, Finding1_ACreated2CrossingTheClientsDestroyIsDropped) {
  build(7);
  ASSERT_NO_FATAL_FAILURE(extendAnswered());
  std::vector<uint8_t> created = created2();
  uint8_t reason = 9;
  cellOn(1, 7, 4, Bytes(&reason, 1));
  cellOn(kNextChannel, kNextCirc, 11, Bytes(created));
  ASSERT_TRUE(waitFor([&] { return reactor->circuits() == 0; }));
  ASSERT_TRUE(waitFor([&] { return !channeld.pipe.inUse(nextFlow()); }));
  EXPECT_FALSE(channeldDropped);
}

// channeld's `extended` crossed our DESTROY of the origin (a bad cell closed the circuit while
// channeld connected): accepted, and the next hop it opened is closed at once.
TEST_F(MiddleReactorTest, AnExtendedCrossingOurDestroyClosesItsNextHop) {
  build(7);
  ASSERT_NO_FATAL_FAILURE(requestExtend());
  std::vector<uint8_t> junk(509, 0xab);
  cellOn(1, 7, 3, Bytes(junk));  // circuitd destroys circuit 7 for it
  ASSERT_TRUE(channeld.pipe.openFlow(nextFlow()));
  answerExtend([](proto::ExtendResult::Builder r) {  // same batch: it crossed our DESTROY
    r.setNextChannel(kNextChannel);
    r.setNextCircId(kNextCirc);
  });
  ASSERT_TRUE(waitFor([&] { return !channeld.pipe.inUse(nextFlow()); }));
  ASSERT_TRUE(waitFor([&] { return reactor->circuits() == 0; }));
  EXPECT_FALSE(channeldDropped);
}

// An `extended` nobody asked for (or a second answer) is channeld's breach.
TEST_F(MiddleReactorTest, AnExtendedNobodyAskedForCostsChanneldItsConnection) {
  build(7);
  answerExtend([](proto::ExtendResult::Builder r) { r.setReason(6); });
  EXPECT_TRUE(waitFor([&] { return channeldDropped; }));
}

// Issue 15, finding 2 at the reactor: a client provokes TRUNCATED answers while streamd's honest
// messages fill BWD's queue. Its circuit closes (RESOURCELIMIT); streamd keeps its connection and
// a bystander's stream goes on.
TEST_F(ReactorTest, Finding2_TruncatedAnswersCostTheCircuitNeverStreamd) {
  build(7);
  relay(7, RelayCmd::kBegin, 1, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty(); }));
  uint64_t flow = streamd.events.back()->getFlow();
  // streamd sends within its credit until circuitd stops granting it: the client's window (the
  // client sends no SENDME) is full, BWD's queue holds streamd's whole window.
  std::string chunk(400, 'd');
  int sent = 0;
  auto creditBack = [&] {
    for (int turn = 0; turn < 200 && !streamd.pipe.canSend(flow); ++turn) {
      kj::evalLater([] {}).wait(loop.waitScope());
      event_base_loop(loop.base(), EVLOOP_NONBLOCK);
    }
    return streamd.pipe.canSend(flow);
  };
  for (int i = 0; i < 400; ++i) {
    if (!creditBack()) break;
    fromStreamd(flow, RelayCmd::kData, 1, chunk);
    ++sent;
  }
  ASSERT_GT(sent, 64);
  ASSERT_FALSE(streamd.pipe.canSend(flow));
  // 60 TRUNCATEs: more answers than the circuit may keep.
  for (int i = 0; i < 60; ++i)
    relay(7, RelayCmd::kTruncate, 0, "");
  ASSERT_TRUE(waitFor([&] { return reactor->circuits() == 0; }));
  const proto::ChannelEvent::Reader* destroy = nullptr;
  for (auto& e : channeld.events)
    if (e->isCell() && e->getCell().getCircId() == 7 && e->getCell().getCommand() == 4)
      destroy = e.get();
  ASSERT_NE(destroy, nullptr);
  EXPECT_EQ(destroy->getCell().getPayload()[0],
            static_cast<uint8_t>(cell::DestroyReason::kResourceLimit));
  client = crypto::ClientCircuit();
  build(8);
  size_t before = streamd.events.size();
  relay(8, RelayCmd::kBegin, 1, std::string("b:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return streamd.events.size() > before; })) << "the bystander";
  EXPECT_FALSE(streamdDropped);
  EXPECT_FALSE(channeldDropped);
  EXPECT_TRUE(streamd.violation.empty());
}

// channeld's connection ends while its circuits have stream sides and legs: they close toward
// streamd and confluxd, whose connections stay (and nothing of the gone session is touched).
TEST_F(ReactorTest, ChanneldsEndClosesItsCircuitsAndKeepsTheOtherDaemons) {
  build(7);
  relay(7, RelayCmd::kBegin, 1, std::string("a:1") + '\0');
  client = crypto::ClientCircuit();
  build(8);
  relay(8, RelayCmd::kConfluxLink, 0, std::string(50, '\1'));
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty() && !confluxd.events.empty(); }));
  uint64_t flow = streamd.events[0]->getFlow();
  uint64_t leg = confluxd.events[0]->getLeg();
  chSession.reset();
  ASSERT_TRUE(waitFor([&] { return !streamd.pipe.inUse(flow) && !confluxd.pipe.inUse(leg); }));
  EXPECT_EQ(reactor->circuits(), 0u);
  EXPECT_FALSE(streamdDropped);
  EXPECT_FALSE(confluxdDropped);
}

// Caps refuse, never stall: past the circuit cap a CREATE gets DESTROY RESOURCELIMIT and the
// circuits already open go on.
TEST_F(ReactorTest, ACreatePastTheCircuitCapIsRefusedWithResourceLimit) {
  reactor->setMaxCircuits(1);
  build(7);
  crypto::Ntor3ClientState st;
  std::vector<uint8_t> msg{1, 1, 0};
  auto hs = crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey), Bytes(msg),
                                      Bytes(fill(4)), crypto::kNtor3CircuitVerification, st);
  std::vector<uint8_t> p(509);
  Writer w{MutBytes(p)};
  cell::encodeCreate2(cell::Create2{3, Bytes(hs)}, w);
  cellToCircuitd(8, 10, Bytes(p));
  ASSERT_TRUE(waitFor([&] { return reactor->counters().circuitCapRefused == 1; }));
  ASSERT_TRUE(waitFor([&] { return !channeld.pipe.inUse((ipc::FlowId{1} << 32) | 8); }));
  bool refused = false;
  for (auto& e : channeld.events)
    refused =
        refused ||
        (e->isCell() && e->getCell().getCircId() == 8 && e->getCell().getCommand() == 4 &&
         e->getCell().getPayload()[0] == static_cast<uint8_t>(cell::DestroyReason::kResourceLimit));
  EXPECT_TRUE(refused);
  relay(7, RelayCmd::kBegin, 1, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return !streamd.events.empty(); })) << "circuit 7 goes on";
}

// The DESTROY circuitd sent channeld for circuit `circ` (its reason), or -1 if none.
int destroyReasonOf(Peer<ipc::ChannelCircuitTraits>& channeld, uint32_t circ) {
  for (auto& e : channeld.events)
    if (e->isCell() && e->getCell().getCircId() == circ && e->getCell().getCommand() == 4)
      return e->getCell().getPayload()[0];
  return -1;
}

bool streamSideClosed(Peer<ipc::StreamTraits>& streamd, uint64_t flow) {
  for (auto& e : streamd.events)
    if (e->isClosed() && e->getFlow() == flow) return true;
  return false;
}

// MaxMemInQueues (issue 18): a client that ignores SENDMEs stops its circuit's congestion window,
// so what streamd sends for it waits in the circuit's BWD queue. Past circuitd's (tiny) budget the
// OOM handler, from the loop, destroys that circuit with RESOURCELIMIT (toward the client, and its
// stream side closes); another circuit keeps working, and the count goes back to zero.
TEST_F(ReactorTest, OverTheMemoryBudgetTheCircuitWithTheOldestQueuedCellIsDestroyed) {
  OomHandler oom(loop.base(), *reactor);
  reactor->memory().setBudget(24 * flowctl::MsgQueue::kMsgBytes);
  build(8);  // the other circuit: one stream, read by its client
  relay(8, RelayCmd::kBegin, 1, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return streamd.events.size() == 1; }));
  uint64_t other = streamd.events[0]->getFlow();
  crypto::ClientCircuit otherClient = std::move(client);
  client = crypto::ClientCircuit();
  build(7);
  relay(7, RelayCmd::kBegin, 1, std::string("a:1") + '\0');
  ASSERT_TRUE(waitFor([&] { return streamd.events.size() == 2; }));
  uint64_t flow = streamd.events[1]->getFlow();
  for (int i = 0; i < 1000 && destroyReasonOf(channeld, 7) < 0; ++i) {
    ASSERT_TRUE(waitFor([&] {
      return streamd.pipe.canSend(flow) || destroyReasonOf(channeld, 7) >= 0;
    })) << reactor->memory().bytes()
        << " bytes held";
    if (streamd.pipe.canSend(flow)) fromStreamd(flow, RelayCmd::kData, 1, std::string(498, 'x'));
  }
  EXPECT_EQ(destroyReasonOf(channeld, 7), static_cast<int>(cell::DestroyReason::kResourceLimit));
  ASSERT_TRUE(waitFor([&] { return streamSideClosed(streamd, flow); }));
  const CircuitCounters& c = reactor->counters();
  EXPECT_EQ(c.oomCircuitsClosed, 1u);
  EXPECT_GT(c.oomBytesFreed, 24 * flowctl::MsgQueue::kMsgBytes);
  EXPECT_EQ(reactor->memory().bytes(), 0u);
  EXPECT_EQ(reactor->circuits(), 1u);

  client = std::move(otherClient);
  size_t from = channeld.events.size();
  fromStreamd(other, RelayCmd::kData, 1, "still here");
  std::string got;
  ASSERT_TRUE(waitFor([&] { return !(got = nextToClient(from)).empty(); }));
  EXPECT_EQ(got, "2:still here");
  EXPECT_EQ(destroyReasonOf(channeld, 8), -1);
  EXPECT_FALSE(streamSideClosed(streamd, other));
  EXPECT_TRUE(channeld.violation.empty() && streamd.violation.empty());
  EXPECT_FALSE(channeldDropped || streamdDropped);

  uint8_t reason = 3;
  cellToCircuitd(8, 4, Bytes(&reason, 1));
  ASSERT_TRUE(waitFor([&] { return reactor->circuits() == 0; }));
  EXPECT_EQ(reactor->memory().bytes(), 0u);
  EXPECT_EQ(reactor->memory().charges(), 0u);
}

}  // namespace
}  // namespace onionsplit::circuitd

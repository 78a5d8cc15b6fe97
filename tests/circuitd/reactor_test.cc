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

#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "common/crypto/ntor_handshakes.h"
#include "common/ipc/event_loop.h"

namespace onionsplit::circuitd {
namespace {

using cell::RelayCmd;

template <class Traits>
struct Peer final : ipc::BatchPipe<Traits>::Handler {
  using Event = typename Traits::Event;
  Peer() : pipe(ipc::defaultWindows(), *this) {}
  ipc::UnknownFlow onUnknownFlow(typename Event::Reader e) override {
    return Traits::opensFlow(e) ? ipc::UnknownFlow::kOpen : ipc::UnknownFlow::kDrop;
  }
  bool onEvent(typename Event::Reader e) override {
    events.push_back(capnp::clone(e));
    auto f = Traits::flowOf(e);
    if (f && !Traits::closesFlow(e)) pipe.taken(*f, 1);
    return true;
  }
  void onCredit() override {}
  void onViolation(const std::string& why) override { violation = why; }
  ipc::BatchPipe<Traits> pipe;
  std::vector<kj::Own<typename Event::Reader>> events;
  std::string violation;
  std::unique_ptr<ipc::RpcConnection> conn;
};

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
  }
  template <class Pipe, class P>
  void connect(Pipe& ours, P& peer, std::unique_ptr<ipc::RpcConnection>& server) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    server = std::make_unique<ipc::RpcConnection>(loop.base(), sv[0], true, ours.makeLocalSink());
    peer.conn =
        std::make_unique<ipc::RpcConnection>(loop.base(), sv[1], false, peer.pipe.makeLocalSink());
    using Sink = typename std::remove_reference_t<decltype(peer.pipe)>::Sink;
    ours.setPeer(server->template bootstrap<Sink>());
    peer.pipe.setPeer(peer.conn->template bootstrap<Sink>());
  }
  ~ReactorTest() override {
    cdSession.reset();
    sdSession.reset();
    chSession.reset();
  }
  bool waitFor(const std::function<bool()>& done) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      kj::evalLater([] {}).wait(loop.waitScope());
      event_base_loop(loop.base(), EVLOOP_NONBLOCK);
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return done();
  }
  // channeld -> circuitd: one cell of circuit `circ` on channel 1.
  void cellToCircuitd(uint32_t circ, uint8_t command, Bytes payload) {
    auto& p = channeld.pipe;
    ipc::FlowId f = (ipc::FlowId{1} << 32) | circ;
    if (!p.isOpen(f)) {
      ASSERT_TRUE(p.openFlow(f));
    }
    auto e = p.add();
    e.setChannel(1);
    auto c = e.initCell();
    c.setCircId(circ);
    c.setCommand(command);
    std::vector<uint8_t> full(509);
    std::memcpy(full.data(), payload.data(), payload.size());
    c.setPayload(capnp::Data::Reader(full.data(), full.size()));
    if (command == 4) {
      p.commit(f, e);  // a close
    } else {
      ASSERT_TRUE(p.canSend(f));
      p.commit(f, e);
    }
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
  std::unique_ptr<Peer<ipc::LegTraits>> confluxdOwner = std::make_unique<Peer<ipc::LegTraits>>();
  Peer<ipc::LegTraits>& confluxd = *confluxdOwner;
  bool confluxdDropped = false;
  std::unique_ptr<Peer<ipc::ChannelCircuitTraits>> channeldOwner =
      std::make_unique<Peer<ipc::ChannelCircuitTraits>>();
  std::unique_ptr<Peer<ipc::StreamTraits>> streamdOwner =
      std::make_unique<Peer<ipc::StreamTraits>>();
  Peer<ipc::ChannelCircuitTraits>& channeld = *channeldOwner;
  Peer<ipc::StreamTraits>& streamd = *streamdOwner;
  crypto::ClientCircuit client;

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
  ASSERT_TRUE(waitFor([&] {
    auto& last = *channeld.events.back();
    return last.isCell() && last.getCell().getCommand() == 4;
  })) << "circuitd answers the DESTROY (the flow's second close)";
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
  auto close = confluxd.pipe.add();
  ipc::LegTraits::fillClose(close, leg, static_cast<uint8_t>(cell::DestroyReason::kFinished));
  confluxd.pipe.commit(leg, close);
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
  clientChannel(1);
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

}  // namespace
}  // namespace onionsplit::circuitd

// fuzz/fuzz_circuitd_honest_peers.cc: the oracle of issue 15, "honest peers are never dropped", for
// circuitd. The real Reactor runs with its three sessions (channeld's, streamd's, confluxd's), each
// paired with a model of that daemon which keeps the contract: it sends only what its .capnp lets
// it send, within credit, never on a flow after its close, never answers an extend after the
// origin's DESTROY, and says nothing more of a channel it announced closed. The network is not
// honest: the input decides what clients send on their circuits (valid ntor v3 circuits with any
// relay command and body, or garbage), what next hops answer (CREATED2 of any shape, cells,
// DESTROY), what exit servers make streamd say and what sets make confluxd say, and the order of
// all of it, including closes that cross messages in flight.
//
// The run fails (abort) if circuitd finds any model in breach of the contract (whatever the network
// did, circuitd may close flows, never a connection), or if a model finds circuitd in breach.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "circuitd/net/reactor.h"
#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "common/crypto/ntor_handshakes.h"
#include "common/crypto/tor1.h"
#include "common/ipc/relay_commands.h"
#include "fuzz/circuitd_fuzz.h"
#include "fuzz/honest_peer_fuzz.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;

namespace {

using fuzz::fail;
using fuzz::filled;
using fuzz::Input;
using fuzz::pick;

using cell::RelayCmd;
using ipc::FlowId;

FlowId flowOf(uint32_t channel, uint32_t circ) {
  return (FlowId{channel} << 32) | circ;
}

// ---- honest channeld ----
struct ClientCircuit {
  uint32_t channel = 0, circ = 0;
  crypto::ClientCircuit keys;
  std::optional<crypto::Ntor3ClientState> pending;  // CREATE2 sent, CREATED2 not yet here
  bool built = false;
};

class ChanneldModel final : public ipc::PeerSession<ipc::ChannelCircuitTraits> {
 public:
  ChanneldModel() : PeerSession("circuitd (seen by channeld)", ipc::defaultWindows(), [] {}) {}
  ipc::Verdict admit(proto::ChannelEvent::Reader e) override {
    return ipc::ChannelCircuitTraits::admitFromCircuitd(e);
  }
  ipc::Verdict onControl(proto::ChannelEvent::Reader e) override {
    if (!e.isExtend()) return ipc::Verdict::breach("a control event circuitd does not send");
    FlowId origin = flowOf(e.getChannel(), e.getExtend().getOriginCircId());
    if (closedChannels.count(e.getChannel())) return ipc::Verdict::accept();  // crossed `closed`
    if (!pipe.isOpen(origin)) {
      // It crossed our DESTROY of the origin; channeld drops it (it never answers).
      return ipc::Verdict::accept();
    }
    if (!pendingExtends.insert(origin).second)
      return ipc::Verdict::breach("a second extend for one origin");
    return ipc::Verdict::accept();
  }
  ipc::FlowVerdict onFlowEvent(FlowId f, ipc::NoState&, proto::ChannelEvent::Reader e,
                               ipc::CreditToken) override {
    auto c = e.getCell();
    if (c.getCommand() == static_cast<uint8_t>(cell::CellCmd::kCreated2)) {
      for (auto& cc : circuits) {
        if (flowOf(cc.channel, cc.circ) != f || !cc.pending) continue;
        auto c2 = cell::decodeCreated2(Bytes(c.getPayload().begin(), c.getPayload().size()));
        if (c2) {
          auto done = crypto::ntor3ClientComplete(*cc.pending, c2->hdata);
          if (done) {
            auto k = crypto::Tor1Keys::fromKeyMaterial(Bytes(done->keys));
            if (k && cc.keys.addHop(*k)) cc.built = true;
          }
        }
        cc.pending.reset();
      }
    }
    return ipc::FlowVerdict::accept();
  }
  void onPeerClose(FlowId f, ipc::NoState&, proto::ChannelEvent::Reader) override {
    pendingExtends.erase(f);  // after the origin's DESTROY channeld never answers its extend
  }
  void onViolation(const std::string& why) override { fail("channeld model", why); }
  // circuitd's events for a channel we closed may cross our `closed`.
  bool mayBeStale(proto::ChannelEvent::Reader e) override {
    return closedChannels.count(e.getChannel()) != 0;
  }

  std::set<uint32_t> openChannels, closedChannels;
  std::set<FlowId> pendingExtends;
  std::set<FlowId> nextFlows;  // next hops we opened with `extended`
  std::vector<ClientCircuit> circuits;
  uint32_t nextCirc = 0x80000001u;
};

// ---- honest streamd ----
class StreamdModel final : public ipc::PeerSession<ipc::StreamTraits> {
 public:
  StreamdModel() : PeerSession("circuitd (seen by streamd)", ipc::defaultWindows(), [] {}) {}
  ipc::Verdict admit(proto::StreamEvent::Reader e) override {
    return ipc::StreamTraits::admit(ipc::Side::kCircuitd, ipc::Side::kStreamd, e);
  }
  ipc::Verdict onControl(proto::StreamEvent::Reader) override {
    return ipc::Verdict::breach("a stream event without a flow");
  }
  ipc::FlowVerdict onFlowEvent(FlowId f, ipc::NoState&, proto::StreamEvent::Reader e,
                               ipc::CreditToken) override {
    flows.insert(f);
    if (e.isRelay()) streams[f].insert(e.getRelay().getStreamId());
    return ipc::FlowVerdict::accept();
  }
  void onPeerClose(FlowId f, ipc::NoState&, proto::StreamEvent::Reader) override {
    flows.erase(f);
    streams.erase(f);
  }
  void onViolation(const std::string& why) override { fail("streamd model", why); }

  std::set<FlowId> flows;
  std::map<FlowId, std::set<uint16_t>> streams;
};

// ---- honest confluxd ----
class ConfluxdModel final : public ipc::PeerSession<ipc::LegTraits> {
 public:
  ConfluxdModel() : PeerSession("circuitd (seen by confluxd)", ipc::defaultWindows(), [] {}) {}
  ipc::Verdict admit(proto::LegEvent::Reader e) override {
    return ipc::LegTraits::admitFromCircuitd(e);
  }
  ipc::Verdict onControl(proto::LegEvent::Reader) override { return ipc::Verdict::accept(); }
  ipc::FlowVerdict onFlowEvent(FlowId f, ipc::NoState&, proto::LegEvent::Reader,
                               ipc::CreditToken) override {
    legs.insert(f);
    return ipc::FlowVerdict::accept();
  }
  void onPeerClose(FlowId f, ipc::NoState&, proto::LegEvent::Reader) override { legs.erase(f); }
  void onViolation(const std::string& why) override { fail("confluxd model", why); }

  std::set<FlowId> legs;
};

struct World {
  World(circuitd::Reactor& r, circuitd::OnionIdentity identity)
      : reactor(r), id(std::move(identity)) {}

  circuitd::Reactor& reactor;
  const circuitd::OnionIdentity id;  // the reactor's: what a client's handshakes need
  ChanneldModel channeld;
  StreamdModel streamd;
  ConfluxdModel confluxd;

  void openChannel(Input& in) {
    uint32_t ch = 1 + in.byte() % 6;
    if (channeld.openChannels.count(ch) || channeld.closedChannels.count(ch)) return;
    auto e = channeld.pipe.add();
    e.setChannel(ch);
    auto o = e.initOpened();
    if (in.byte() & 1) {  // a relay
      std::array<uint8_t, 20> rsa{};
      rsa.fill(static_cast<uint8_t>(0x40 + ch));
      o.setPeerRsaId(capnp::Data::Reader(rsa.data(), rsa.size()));
    }
    channeld.openChannels.insert(ch);
  }
  void closeChannel(Input& in) {
    const uint32_t* ch = pick(channeld.openChannels, in.byte());
    if (!ch) return;
    uint32_t c = *ch;
    auto e = channeld.pipe.add();
    e.setChannel(c);
    e.setClosed();
    auto on = [c](FlowId f) { return static_cast<uint32_t>(f >> 32) == c; };
    channeld.pipe.forgetFlows(on);
    std::erase_if(channeld.pendingExtends, on);
    std::erase_if(channeld.nextFlows, on);
    std::erase_if(channeld.circuits, [c](const ClientCircuit& cc) { return cc.channel == c; });
    channeld.openChannels.erase(c);
    channeld.closedChannels.insert(c);
  }
  bool sendCell(FlowId f, uint8_t command, Bytes payload) {
    if (!channeld.pipe.canSend(f)) return false;
    auto e = channeld.pipe.add();
    e.setChannel(static_cast<uint32_t>(f >> 32));
    auto c = e.initCell();
    c.setCircId(static_cast<uint32_t>(f));
    c.setCommand(command);
    std::array<uint8_t, cell::kCellPayloadLen> full{};
    if (!payload.empty())
      std::memcpy(full.data(), payload.data(), std::min(payload.size(), full.size()));
    c.setPayload(capnp::Data::Reader(full.data(), full.size()));
    channeld.pipe.commit(f, e);
    return true;
  }
  // A client's CREATE2 (valid ntor v3 with a CC request, or garbage) on a fresh circuit id.
  void create(Input& in) {
    const uint32_t* ch = pick(channeld.openChannels, in.byte());
    if (!ch) return;
    uint32_t circ = 1 + in.byte() % 16;
    FlowId f = flowOf(*ch, circ);
    if (channeld.pipe.inUse(f) || !channeld.pipe.openFlow(f)) return;
    std::array<uint8_t, cell::kCellPayloadLen> p{};
    ClientCircuit cc;
    cc.channel = *ch;
    cc.circ = circ;
    if (in.byte() % 4 != 0) {
      crypto::Ntor3ClientState st;
      std::vector<uint8_t> msg{1, 1, 0};
      auto hs =
          crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey), Bytes(msg),
                                    Bytes(filled(4)), crypto::kNtor3CircuitVerification, st);
      Writer w{MutBytes(p)};
      cell::encodeCreate2(cell::Create2{3, Bytes(hs)}, w);
      cc.pending = st;
    } else {
      Bytes junk = in.take(in.byte());
      if (!junk.empty()) std::memcpy(p.data(), junk.data(), junk.size());
    }
    sendCell(f, static_cast<uint8_t>(cell::CellCmd::kCreate2), Bytes(p));
    channeld.circuits.push_back(std::move(cc));
  }
  ClientCircuit* circuit(Input& in) {
    std::erase_if(channeld.circuits, [this](const ClientCircuit& cc) {
      return !channeld.pipe.isOpen(flowOf(cc.channel, cc.circ));
    });
    if (channeld.circuits.empty()) return nullptr;
    return &channeld.circuits[in.byte() % channeld.circuits.size()];
  }
  // A client's relay cell: any command, stream and body, encrypted for hop 0 when it can be.
  void clientRelay(Input& in) {
    ClientCircuit* cc = circuit(in);
    if (!cc) return;
    uint8_t command = in.byte();
    uint16_t stream = in.byte() % 4;
    uint8_t flags = in.byte();
    Bytes body = in.take(in.byte() * 2u + ((flags >> 6) & 1));
    std::array<uint8_t, cell::kCellPayloadLen> c{};
    if (cc->built && !(flags & 0x80)) {
      cell::encodeRelayCell(MutBytes(c), static_cast<RelayCmd>(command), stream,
                            body.subspan(0, std::min<size_t>(body.size(), cell::kRelayBodyMax)),
                            [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
      crypto::Tor1Digest d{};
      cc->keys.originateOutbound(0, crypto::RelayPayload(c), &d);
    } else {
      if (!body.empty()) std::memcpy(c.data(), body.data(), std::min(body.size(), c.size()));
    }
    auto cellCmd = (flags & 1) ? cell::CellCmd::kRelayEarly : cell::CellCmd::kRelay;
    sendCell(flowOf(cc->channel, cc->circ), static_cast<uint8_t>(cellCmd), Bytes(c));
  }
  void clientDestroy(Input& in) {
    ClientCircuit* cc = circuit(in);
    if (!cc) return;
    FlowId f = flowOf(cc->channel, cc->circ);
    channeld.pipe.close(f, in.byte() % 16);
    channeld.pendingExtends.erase(f);  // channeld never answers the extend of a circuit that ended
  }
  // channeld answers a pending extend: a next hop on another open channel, or a failure.
  void answerExtend(Input& in) {
    const FlowId* o = pick(channeld.pendingExtends, in.byte());
    if (!o) return;
    FlowId origin = *o;
    channeld.pendingExtends.erase(origin);
    uint32_t originChannel = static_cast<uint32_t>(origin >> 32);
    const uint32_t* nextCh = pick(channeld.openChannels, in.byte());
    bool ok = (in.byte() & 3) != 0 && nextCh && *nextCh != originChannel;
    FlowId next = ok ? flowOf(*nextCh, channeld.nextCirc++) : 0;
    if (ok && !channeld.pipe.openFlow(next)) ok = false;
    auto e = channeld.pipe.add();
    e.setChannel(originChannel);
    auto r = e.initExtended();
    r.setOriginCircId(static_cast<uint32_t>(origin));
    if (ok) {
      r.setNextChannel(static_cast<uint32_t>(next >> 32));
      r.setNextCircId(static_cast<uint32_t>(next));
      channeld.nextFlows.insert(next);
    } else {
      r.setReason(in.byte() % 16);
    }
  }
  // What a next hop sends: CREATED2 of any shape, a RELAY or RELAY_EARLY cell, or DESTROY.
  void nextHop(Input& in) {
    std::erase_if(channeld.nextFlows, [this](FlowId f) { return !channeld.pipe.isOpen(f); });
    const FlowId* n = pick(channeld.nextFlows, in.byte());
    if (!n) return;
    FlowId f = *n;
    uint8_t what = in.byte() % 4;
    if (what == 3) {
      channeld.pipe.close(f, in.byte() % 16);
      return;
    }
    uint8_t command = what == 0   ? static_cast<uint8_t>(cell::CellCmd::kCreated2)
                      : what == 1 ? static_cast<uint8_t>(cell::CellCmd::kRelay)
                                  : static_cast<uint8_t>(cell::CellCmd::kRelayEarly);
    sendCell(f, command, in.take(in.byte() * 2u));
  }
  // streamd speaks for an exit server: any command streamd may send, on a stream it saw or not.
  void fromStreamd(Input& in) {
    const FlowId* f = pick(streamd.flows, in.byte());
    if (!f || !streamd.pipe.isOpen(*f)) return;
    uint8_t command = in.byte();
    uint16_t stream = in.byte() % 4;
    if (in.byte() == 0xff) {
      streamd.pipe.close(*f, in.byte());
      streamd.flows.erase(*f);
      return;
    }
    if (!ipc::maySend(ipc::Side::kStreamd, ipc::Side::kCircuitd, command, stream != 0)) return;
    if (!streamd.pipe.canSend(*f)) return;
    Bytes body = in.take(in.byte() * 2u);
    body = body.subspan(0, std::min<size_t>(body.size(), ipc::kRelayBodyMaxBytes));
    auto e = streamd.pipe.add();
    e.setFlow(*f);
    auto m = e.initRelay();
    m.setStreamId(stream);
    m.setCommand(command);
    m.setBody(capnp::Data::Reader(body.data(), body.size()));
    streamd.pipe.commit(*f, e);
  }
  // confluxd speaks for a set: LINKED, multiplexed messages, or the leg's close.
  void fromConfluxd(Input& in) {
    const FlowId* l = pick(confluxd.legs, in.byte());
    if (!l || !confluxd.pipe.isOpen(*l)) return;
    FlowId leg = *l;
    uint8_t what = in.byte() % 3;
    if (what == 2) {
      confluxd.pipe.close(leg, in.byte() % 16);
      confluxd.legs.erase(leg);
      return;
    }
    if (!confluxd.pipe.canSend(leg)) return;
    Bytes body = in.take(in.byte() * 2u);
    body = body.subspan(0, std::min<size_t>(body.size(), ipc::kRelayBodyMaxBytes));
    if (what == 0) {
      auto e = confluxd.pipe.add();
      e.setLeg(leg);
      e.initLinked().setBody(capnp::Data::Reader(body.data(), body.size()));
      confluxd.pipe.commit(leg, e);
      return;
    }
    uint8_t command = in.byte();
    uint16_t stream = in.byte() % 4;
    if (!ipc::maySend(ipc::Side::kConfluxd, ipc::Side::kCircuitd, command, stream != 0)) return;
    auto e = confluxd.pipe.add();
    e.setLeg(leg);
    auto m = e.initRelay();
    m.setStreamId(stream);
    m.setCommand(command);
    m.setBody(capnp::Data::Reader(body.data(), body.size()));
    confluxd.pipe.commit(leg, e);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = [] {  // HONEST_PEERS_LOG=1: circuitd's log, with the breach it saw
    spdlog::set_level(std::getenv("HONEST_PEERS_LOG") ? spdlog::level::debug : spdlog::level::off);
    return true;
  }();
  (void)quiet;
  fuzz::fuzzLoop();  // before any session: they live on its KJ loop
  uint64_t now = 1'000'000;
  std::unique_ptr<circuitd::Reactor> reactorOwner = fuzz::fuzzReactor(now);
  circuitd::Reactor& reactor = *reactorOwner;
  auto dropped = [](const char* who) {
    return [who] { fail(who, "circuitd dropped an honest peer"); };
  };
  auto ch = std::make_unique<circuitd::ChanneldSession>(reactor, dropped("channeld"));
  auto sd = std::make_unique<circuitd::StreamdSession>(reactor, dropped("streamd"));
  auto cd = std::make_unique<circuitd::ConfluxdSession>(reactor, dropped("confluxd"));
  reactor.setStreamdLookup([&sd] { return sd.get(); });
  reactor.setConfluxdLookup([&cd] { return cd.get(); });
  auto world = std::make_unique<World>(reactor, fuzz::fuzzOnionIdentity());
  fuzz::pairUp(*ch, world->channeld);
  fuzz::pairUp(*sd, world->streamd);
  fuzz::pairUp(*cd, world->confluxd);

  Input in{data, size};
  for (int step = 0; step < 2000 && !in.done(); ++step) {
    switch (in.byte() % 11) {
      case 0:
        world->openChannel(in);
        break;
      case 1:
        world->create(in);
        break;
      case 2:
      case 3:
        world->clientRelay(in);
        break;
      case 4:
        world->clientDestroy(in);
        break;
      case 5:
        world->answerExtend(in);
        break;
      case 6:
        world->nextHop(in);
        break;
      case 7:
        world->fromStreamd(in);
        break;
      case 8:
        world->fromConfluxd(in);
        break;
      case 9:
        world->closeChannel(in);
        break;
      default:
        fuzz::turnLoop(1 + in.byte() % 16);  // let batches and grants travel (or not yet)
        break;
    }
  }
  fuzz::turnLoop(16);
  fuzz::tearingDown() = true;
  // Tear down as the daemons do: circuitd's sessions go with their connections.
  cd.reset();
  sd.reset();
  ch.reset();
  fuzz::turnLoop(2);
  world.reset();
  fuzz::turnLoop(2);
  fuzz::tearingDown() = false;
  return 0;
}

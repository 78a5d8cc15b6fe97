// fuzz/fuzz_channeld_honest_circuitd.cc: the oracle of issue 15, "honest peers are never dropped",
// for channeld. channeld's real side of the circuitd boundary (channeld/net/circuitd_link.h
// CircuitdLink and CircuitdSession) runs over channels that pass cells on as ChannelServer does
// (fuzz/channeld_fuzz.h), paired with a model of circuitd that keeps proto/channel_circuit.capnp:
// it sends only the cells circuitd may send (relay_commands.h), within channeld's credit, never on
// a flow after its close, answers a CREATE once with its own CREATED, sends RELAY_EARLY only toward
// next hops, asks at most one well-formed extend per circuit and only on channels announced. The
// network is not honest: the input decides which channels open (clients, relays with any
// identity) and close, the cells their peers send (CREATE, CREATE_FAST, CREATE2, RELAY,
// RELAY_EARLY, DESTROY, CREATED2, CREATED_FAST and any other command, on any circuit id, ours or
// not), what the extends ask for (addresses, identities, handshakes), whether and how next hops'
// channels are found (an open channel, a new one, the origin's, a closed one, none, at once or
// later), when TLS takes queued cells, and the order of all of it.
//
// The run fails (abort) if channeld drops the honest circuitd (its drop callback), or if the model
// finds channeld in breach of the contract: a cell command channeld may not pass on, `opened`
// twice for one channel, anything naming a channel not open, an `extended` nobody waits for (or
// for a circuit that ended), naming the origin's channel or a flow in use, a CREATED for a circuit
// channeld did not originate, or more than the model's credit.
#include <spdlog/spdlog.h>

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "channeld/net/circuitd_link.h"
#include "common/cell/cells.h"
#include "fuzz/channeld_fuzz.h"
#include "fuzz/honest_peer_fuzz.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;
using namespace onionsplit::channeld;

namespace {

using cell::CellCmd;
using fuzz::fail;
using fuzz::Input;
using fuzz::pick;
using ipc::FlowId;

constexpr uint8_t cmdOf(CellCmd c) {
  return static_cast<uint8_t>(c);
}

FlowId flowOf(uint32_t channel, uint32_t circ) {
  return (FlowId{channel} << 32) | circ;
}
uint32_t channelOf(FlowId f) {
  return static_cast<uint32_t>(f >> 32);
}

// ---- honest circuitd ----
class CircuitdModel final : public ipc::PeerSession<ipc::ChannelCircuitTraits> {
 public:
  CircuitdModel() : PeerSession("channeld (seen by circuitd)", ipc::defaultWindows(), [] {}) {}
  ipc::Verdict admit(proto::ChannelEvent::Reader e) override {
    return ipc::ChannelCircuitTraits::admitFromChanneld(e);
  }
  ipc::Verdict onControl(proto::ChannelEvent::Reader e) override {
    uint32_t ch = e.getChannel();
    if (e.isOpened()) {
      if (!announced.insert(ch).second) return ipc::Verdict::breach("`opened` twice");
      auto rsa = e.getOpened().getPeerRsaId();
      auto& peer = channels[ch];
      if (rsa.size() == 20) std::copy_n(rsa.begin(), 20, peer.emplace().begin());
      return ipc::Verdict::accept();
    }
    if (!channels.count(ch)) return ipc::Verdict::breach("an event naming a channel not open");
    if (e.isClosed()) {
      channels.erase(ch);
      auto on = [ch](FlowId f) { return channelOf(f) == ch; };
      pipe.forgetFlows(on);
      std::erase_if(pendingExtends, on);
      std::erase_if(origins, [ch](const auto& kv) { return channelOf(kv.first) == ch; });
      std::erase_if(nextHops, on);
      return ipc::Verdict::accept();
    }
    if (e.isExtended()) return extended(ch, e.getExtended());
    return ipc::Verdict::breach("a control event channeld does not send");
  }
  ipc::FlowVerdict onFlowEvent(FlowId f, ipc::NoState&, proto::ChannelEvent::Reader e,
                               ipc::CreditToken credit) override {
    uint8_t command = e.getCell().getCommand();
    if (!channels.count(channelOf(f))) onViolation("a cell of a channel not open");
    if (ipc::isCreate(command)) {
      origins[f] = Origin{command, false};
    } else if (command == cmdOf(CellCmd::kCreated2) || command == cmdOf(CellCmd::kCreatedFast)) {
      if (!nextHops.count(f)) onViolation("a CREATED for a circuit channeld did not originate");
    }
    held.push_back(std::move(credit));  // until circuitd's crypto took it (`take`)
    return ipc::FlowVerdict::accept();
  }
  void onPeerClose(FlowId f, ipc::NoState&, proto::ChannelEvent::Reader) override { forget(f); }
  void onClosed(FlowId f) override { forget(f); }
  bool mayBeStale(proto::ChannelEvent::Reader) override { return false; }
  void onViolation(const std::string& why) override { fail("circuitd model", why); }

  void forget(FlowId f) {
    pendingExtends.erase(f);  // channeld never answers the extend of a circuit that ended
    origins.erase(f);
    nextHops.erase(f);
  }
  ipc::Verdict extended(uint32_t ch, proto::ExtendResult::Reader x) {
    FlowId origin = flowOf(ch, x.getOriginCircId());
    if (!pendingExtends.erase(origin))
      return ipc::Verdict::breach("an `extended` nobody asked for");
    uint32_t nextCh = x.getNextChannel();
    if (nextCh == 0) return ipc::Verdict::accept();  // failed: the reason goes to the client
    FlowId next = flowOf(nextCh, x.getNextCircId());
    if (nextCh == ch) return ipc::Verdict::breach("an `extended` naming the origin's channel");
    if (!channels.count(nextCh)) return ipc::Verdict::breach("an `extended` naming no channel");
    if (!pipe.openFlow(next)) return ipc::Verdict::breach("an `extended` naming a flow in use");
    if (!pipe.isOpen(origin))
      pipe.close(next, 9);  // it crossed our DESTROY of the origin: the next hop goes too
    else
      nextHops.insert(next);
    return ipc::Verdict::accept();
  }

  bool sendCell(FlowId f, uint8_t command, Bytes payload) {
    if (!pipe.canSend(f)) return false;
    auto e = pipe.add();
    e.setChannel(channelOf(f));
    auto c = e.initCell();
    c.setCircId(static_cast<uint32_t>(f));
    c.setCommand(command);
    std::array<uint8_t, cell::kCellPayloadLen> full{};
    std::memcpy(full.data(), payload.data(), std::min(payload.size(), full.size()));
    c.setPayload(capnp::Data::Reader(full.data(), full.size()));
    pipe.commit(f, e);
    return true;
  }
  void take(size_t n) {
    n = std::min(n, held.size());
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(n));
  }

  struct Origin {
    uint8_t create;
    bool answered;
  };
  std::set<uint32_t> announced;                                        // every channel ever opened
  std::map<uint32_t, std::optional<crypto::RsaFingerprint>> channels;  // open ones
  std::map<FlowId, Origin> origins;  // circuits clients made (channeld opened the flow)
  std::set<FlowId> nextHops;         // circuits extends made (`extended` opened the flow)
  std::set<FlowId> pendingExtends;
  std::vector<ipc::CreditToken> held;
};

struct World {
  World(CircuitdLinkConfig cfg, bool answerAtOnce)
      : link(
            channels,
            [this, answerAtOnce](const OutboundTarget& t, OutboundChannels::Done done) {
              if (answerAtOnce)
                done(OutboundChannels::Result{std::nullopt, "refused at once"});
              else if (connects.size() < 16)
                connects.push_back({t, std::move(done)});
            },
            cfg),
        session(link.makeSession(0, [] { fail("channeld", "dropped the honest circuitd"); })),
        circuitd(std::make_unique<CircuitdModel>()) {
    fuzz::pairUp(*session, *circuitd);
    link.attached(0);
  }

  fuzz::FakeChannels channels;
  std::vector<std::pair<OutboundTarget, OutboundChannels::Done>> connects;
  CircuitdLink link;
  std::unique_ptr<CircuitdSession> session;
  std::unique_ptr<CircuitdModel> circuitd;

  static ChannelInfo info(Input& in) {
    ChannelInfo i;
    i.linkVersion = 5;
    if (in.byte() & 1) {  // a relay, with one of a few identities
      i.peer.emplace();
      i.peer->rsaId.fill(static_cast<uint8_t>(0x40 + in.byte() % 4));
      i.peer->edId.fill(static_cast<uint8_t>(0x50 + in.byte() % 4));
    }
    return i;
  }
  const uint32_t* channel(Input& in) {
    std::set<uint32_t> ids;
    for (auto& [id, c] : channels.open)
      ids.insert(id);
    const uint32_t* p = pick(ids, in.byte());
    picked = p ? *p : 0;
    return p ? &picked : nullptr;
  }
  uint32_t picked = 0;

  // ---- the network ----
  void openChannel(Input& in) {
    if (channels.open.size() < 8) channels.add(info(in), in.byte() & 1, &link);
  }
  void closeChannel(Input& in) {
    if (const uint32_t* ch = channel(in)) channels.close(*ch, link);
  }
  // A peer's cell: any command on a small circuit id or one of ours.
  void peerCell(Input& in) {
    const uint32_t* ch = channel(in);
    if (!ch) return;
    static constexpr std::array<CellCmd, 9> kCommands = {
        CellCmd::kCreate,  CellCmd::kCreateFast,  CellCmd::kCreate2,
        CellCmd::kRelay,   CellCmd::kRelayEarly,  CellCmd::kDestroy,
        CellCmd::kCreated, CellCmd::kCreatedFast, CellCmd::kCreated2};
    uint8_t c = in.byte();
    uint8_t command = c < 0xf0 ? cmdOf(kCommands[c % kCommands.size()]) : in.byte();
    uint8_t which = in.byte();
    uint32_t circ = which % 8;  // 0 included
    const auto& ours = channels.open[*ch].ours;
    if ((which & 0x80) && !ours.empty()) circ = *pick(ours, which);
    std::array<uint8_t, cell::kCellPayloadLen> payload{};  // a fixed cell's, as the link reads it
    Bytes b = in.take(in.byte() * 2u);
    std::memcpy(payload.data(), b.data(), std::min(b.size(), payload.size()));
    channels.fromPeer(*ch, circ, command, Bytes(payload), link);
  }
  // A next hop's channel is found (an open one, a new one with the target's identity), or not.
  void answerConnect(Input& in) {
    if (connects.empty()) return;
    size_t i = in.byte() % connects.size();
    auto [target, done] = std::move(connects[i]);
    connects.erase(connects.begin() + static_cast<std::ptrdiff_t>(i));
    OutboundChannels::Result r;
    switch (in.byte() % 4) {
      case 0:
        if (const uint32_t* ch = channel(in)) r.channel = *ch;
        break;
      case 1: {
        ChannelInfo ni;
        ni.linkVersion = 5;
        ni.peer.emplace();
        if (target.rsaId) ni.peer->rsaId = *target.rsaId;
        if (target.edId) ni.peer->edId = *target.edId;
        r.channel = channels.add(ni, true, &link);
        break;
      }
      case 2:
        r.channel = channels.lastId + 1 + in.byte() % 2;  // gone, or never opened
        break;
      default:
        r.why = "connect failed";
        break;
    }
    done(r);
  }

  // ---- circuitd ----
  const FlowId* origin(Input& in, bool answered) {
    std::set<FlowId> s;
    for (auto& [f, o] : circuitd->origins)
      if (circuitd->pipe.isOpen(f) && o.answered == answered) s.insert(f);
    const FlowId* p = pick(s, in.byte());
    pickedFlow = p ? *p : 0;
    return p ? &pickedFlow : nullptr;
  }
  FlowId pickedFlow = 0;

  void answerCreate(Input& in) {
    const FlowId* f = origin(in, false);
    if (!f) return;
    auto& o = circuitd->origins[*f];
    if (o.create == cmdOf(CellCmd::kCreate) || (in.byte() % 8) == 0) {  // TAP, or a bad handshake
      circuitd->pipe.close(*f, in.byte() % 16);
      return;
    }
    uint8_t answer = o.create == cmdOf(CellCmd::kCreateFast) ? cmdOf(CellCmd::kCreatedFast)
                                                             : cmdOf(CellCmd::kCreated2);
    if (circuitd->sendCell(*f, answer, in.take(in.byte()))) o.answered = true;
  }
  void relay(Input& in) {
    std::set<FlowId> s(circuitd->nextHops.begin(), circuitd->nextHops.end());
    for (auto& [f, o] : circuitd->origins)
      if (o.answered) s.insert(f);
    const FlowId* f = pick(s, in.byte());
    if (!f) return;
    uint8_t flags = in.byte();
    bool early = (flags & 1) && circuitd->nextHops.count(*f);
    circuitd->sendCell(*f, cmdOf(early ? CellCmd::kRelayEarly : CellCmd::kRelay),
                       in.take(in.byte() * 2u));
  }
  void destroy(Input& in) {
    std::set<FlowId> s(circuitd->nextHops.begin(), circuitd->nextHops.end());
    for (auto& [f, o] : circuitd->origins)
      s.insert(f);
    if (const FlowId* f = pick(s, in.byte())) circuitd->pipe.close(*f, in.byte() % 16);
  }
  // A client's EXTEND2, checked by circuitd: any address, identity and handshake.
  void extend(Input& in) {
    const FlowId* f = origin(in, true);
    if (!f || circuitd->pendingExtends.count(*f)) return;
    uint8_t flags = in.byte();
    auto e = circuitd->pipe.add();
    e.setChannel(channelOf(*f));
    auto x = e.initExtend();
    x.setOriginCircId(static_cast<uint32_t>(*f));
    std::array<uint8_t, 16> addr{};
    addr[0] = flags & 1 ? 127 : in.byte();
    addr[3] = in.byte();
    if (!(flags & 2) || (flags & 4)) {
      x.setIpv4(capnp::Data::Reader(addr.data(), 4));
      x.setIpv4Port(in.u16());
    }
    if (flags & 2) {
      x.setIpv6(capnp::Data::Reader(addr.data(), 16));
      x.setIpv6Port(in.u16());
    }
    crypto::RsaFingerprint rsa{};
    rsa.fill(static_cast<uint8_t>(0x40 + in.byte() % 5));  // a channel's peer, or nobody's
    x.setRsaId(capnp::Data::Reader(rsa.data(), rsa.size()));
    std::array<uint8_t, 32> ed{};
    ed.fill(static_cast<uint8_t>(0x50 + in.byte() % 5));
    if (flags & 8) x.setEd25519Id(capnp::Data::Reader(ed.data(), ed.size()));
    x.setHtype(in.byte() % 4);
    Bytes h = in.take(in.byte() * 2u);
    x.setHdata(capnp::Data::Reader(h.data(), std::min<size_t>(h.size(), ipc::kRelayBodyMaxBytes)));
    circuitd->pendingExtends.insert(*f);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = [] {  // HONEST_PEERS_LOG=1: channeld's log
    spdlog::set_level(std::getenv("HONEST_PEERS_LOG") ? spdlog::level::debug : spdlog::level::off);
    return true;
  }();
  (void)quiet;
  fuzz::fuzzLoop();
  Input in{data, size};
  CircuitdLinkConfig cfg;
  uint8_t setup = in.byte();
  cfg.allowPrivate = setup & 1;
  cfg.maxFlows = 4 + (setup >> 2) % 32;
  cfg.ourRsa.fill(0x44);  // one of the identities a relay may claim
  auto world = std::make_unique<World>(cfg, setup & 2);
  for (int step = 0; step < 1000 && !in.done(); ++step) {
    world->channels.resumeIfAsked(world->link);
    switch (in.byte() % 13) {
      case 0:
        world->openChannel(in);
        break;
      case 1:
        world->closeChannel(in);
        break;
      case 2:
      case 3:
        world->peerCell(in);
        break;
      case 4:
        world->answerConnect(in);
        break;
      case 5:
        world->channels.transmit(1 + in.byte() % 16);
        break;
      case 6:
        world->answerCreate(in);
        break;
      case 7:
        world->relay(in);
        break;
      case 8:
        world->destroy(in);
        break;
      case 9:
        world->extend(in);
        break;
      case 10:
        world->circuitd->take(1 + in.byte() % 16);
        break;
      default:
        fuzz::turnLoop(1 + in.byte() % 8);
        break;
    }
  }
  world->channels.transmit(SIZE_MAX);
  world->circuitd->take(SIZE_MAX);
  fuzz::turnLoop(8);
  world->channels.resumeIfAsked(world->link);
  fuzz::turnLoop(8);
  fuzz::tearingDown() = true;
  world->session.reset();  // circuitd's connection ends: every circuit is destroyed
  fuzz::turnLoop(2);
  world.reset();
  fuzz::turnLoop(2);
  fuzz::tearingDown() = false;
  return 0;
}

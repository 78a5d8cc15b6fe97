// circuitd/net/channeld_adapter.cc: circuitd's side of channel_circuit.capnp: channeld's channels
// announced and gone, the circuits they carry (CREATE*, RELAY, RELAY_EARLY, DESTROY), and the
// contract channeld keeps (checked in admit() and onControl()).
//
// Verdicts: what a client sends (any cell on a circuit, any CREATE) costs at most that circuit; a
// breach of the contract by channeld itself (a cell on a channel it never announced, a channel
// announced twice or closed without being announced, an `extended` nobody asked for) costs the
// connection.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "circuitd/net/reactor.h"
#include "circuitd/net/reactor_io.h"

namespace onionsplit::circuitd {
namespace {

using ipc::FlowVerdict;
using ipc::Verdict;

constexpr uint8_t kRelay = static_cast<uint8_t>(cell::CellCmd::kRelay);
constexpr uint8_t kRelayEarly = static_cast<uint8_t>(cell::CellCmd::kRelayEarly);

uint8_t reasonOf(cell::DestroyReason r) {
  return static_cast<uint8_t>(r);
}

}  // namespace

ChanneldSession::ChanneldSession(Reactor& r, std::function<void()> drop)
    : PeerSession("channeld", ipc::defaultWindows(), std::move(drop)),
      reactor_(r),
      id_(r.newConnection()) {
  reactor_.channelds_[id_] = this;
}

ChanneldSession::~ChanneldSession() noexcept(false) {
  reactor_.channeldGone(id_);
  reactor_.channelds_.erase(id_);
}

Verdict ChanneldSession::admit(proto::ChannelEvent::Reader e) {
  if (Verdict v = ipc::ChannelCircuitTraits::admitFromChanneld(e); !v.ok()) return v;
  // Every cell names a channel channeld announced (`opened` comes before its first cell).
  if (e.isCell() && !channels_.count(e.getChannel()))
    return Verdict::breach("a cell on a channel never opened");
  return Verdict::accept();
}

Verdict ChanneldSession::onControl(proto::ChannelEvent::Reader e) {
  uint32_t ch = e.getChannel();
  switch (e.which()) {
    case proto::ChannelEvent::OPENED: {
      auto o = e.getOpened();
      Channel c;
      if (o.getPeerRsaId().size() == 20) {
        c.relay = true;
        std::copy_n(o.getPeerRsaId().begin(), 20, c.rsa.emplace().begin());
        if (o.getPeerEd25519Id().size() == 32)
          std::copy_n(o.getPeerEd25519Id().begin(), 32, c.ed.emplace().begin());
      }
      if (!channels_.emplace(ch, c).second) return Verdict::breach("a channel opened twice");
      return Verdict::accept();
    }
    case proto::ChannelEvent::CLOSED:
      if (!channels_.count(ch)) return Verdict::breach("a channel closed that was never opened");
      reactor_.channelClosed(*this, ch);
      return Verdict::accept();
    case proto::ChannelEvent::EXTENDED:
      return reactor_.onExtended(*this, ch, e.getExtended());
    case proto::ChannelEvent::CELL:
    case proto::ChannelEvent::EXTEND:
      break;
  }
  return Verdict::breach("an event channeld does not send");
}

FlowVerdict ChanneldSession::onFlowEvent(FlowId f, ChanFlow& s, proto::ChannelEvent::Reader e,
                                         ipc::CreditToken credit) {
  auto c = e.getCell();
  uint8_t command = c.getCommand();
  Bytes payload(c.getPayload().begin(), c.getPayload().size());
  if (s.origin != 0)
    return reactor_.fromNextHop(*this, f, s.origin, command, payload, std::move(credit));
  if (ipc::isCreate(command)) return reactor_.create(*this, f, command, payload);
  Entry* entry = reactor_.table_.find(CircKey{id_, f});
  if (!entry) {
    // A CREATE that was refused closed its flow at once; an open flow without a circuit cannot
    // be. Close it rather than leave it.
    return FlowVerdict::closeFlow(reasonOf(cell::DestroyReason::kInternal));
  }
  if (command == kRelay || command == kRelayEarly)
    return reactor_.relayCell(*entry, command == kRelayEarly, payload, std::move(credit));
  // CREATED2 on a client's circuit (channeld passes it only on a next hop's flow): the circuit
  // cannot go on.
  reactor_.kill(entry->key, cell::DestroyReason::kProtocol, false);
  return FlowVerdict::closeFlow(reasonOf(cell::DestroyReason::kProtocol));
}

void ChanneldSession::onPeerClose(FlowId f, ChanFlow& s, proto::ChannelEvent::Reader) {
  if (s.origin != 0) return reactor_.nextHopClosed(*this, s.origin);
  // The client (or its channel's end) destroyed the circuit; channeld does not want ours back.
  if (reactor_.table_.find(CircKey{id_, f})) ++reactor_.counters_.destroyedByClient;
  reactor_.kill(CircKey{id_, f}, cell::DestroyReason::kNone, false);
}

void ChanneldSession::onClosed(FlowId f) {
  // Nothing of the flow's previous life can arrive now: an extend it asked for is answered or
  // cancelled by channeld.
  pendingExtends_.erase(f);
}

void ChanneldSession::onCredit() {
  reactor_.onChanneldCredit(id_);
}

// ---- circuits ----

FlowVerdict Reactor::create(ChanneldSession& s, FlowId flow, uint8_t command, Bytes payload) {
  auto refuse = [](cell::DestroyReason r) { return FlowVerdict::closeFlow(reasonOf(r)); };
  if (table_.size() >= maxCircuits_) {  // caps refuse, never stall
    ++counters_.circuitCapRefused;
    return refuse(cell::DestroyReason::kResourceLimit);
  }
  std::array<uint8_t, 32> rnd{};
  random_(MutBytes(rnd));
  auto created = answerCreate(command, payload, id_, params_, Bytes(rnd));
  std::optional<Circuit> circuit;
  if (created) circuit = Circuit::create(*created, params_);
  if (!circuit) {
    ++counters_.refusedCreates;
    auto reason = created ? cell::DestroyReason::kInternal : created.error();
    spdlog::debug("circuit {:x}: CREATE (command {}) refused, reason {}", flow, command,
                  static_cast<int>(reason));
    return refuse(reason);
  }
  switch (created->htype) {
    case 1:
      ++counters_.createdFast;
      break;
    case 2:
      ++counters_.createdNtor;
      break;
    default:
      ++counters_.createdNtor3;
      break;
  }
  if (created->ccEnabled) ++counters_.createdCc;
  if (created->cgo) ++counters_.createdCgo;
  ChanneldSession::Channel* chan = s.channel(static_cast<uint32_t>(flow >> 32));
  HopIdentities hops;
  hops.ourRsa = id_.rsaId;
  hops.ourEd = id_.edId;
  if (chan && chan->relay) {
    hops.prevRsa = chan->rsa;
    hops.prevEd = chan->ed;
  }
  circuit->setHopIdentities(hops);
  circuit->account(memory_);  // its queues' cells count against circuitd's budget
  table_.add(CircKey{s.id(), flow}, std::move(*circuit));
  // A new flow has its whole window: the reply goes at once.
  auto ev = s.pipe.add();
  ev.setChannel(static_cast<uint32_t>(flow >> 32));
  auto c = ev.initCell();
  c.setCircId(static_cast<uint32_t>(flow));
  c.setCommand(created->command);
  c.setPayload(capnp::Data::Reader(created->payload.data(), created->payload.size()));
  s.pipe.commit(flow, ev);
  return FlowVerdict::accept();
}

FlowVerdict Reactor::relayCell(Entry& e, bool early, Bytes payload, ipc::CreditToken credit) {
  ++counters_.cellsFromClient;
  if (e.circuit.isCgo()) ++counters_.cgoCellsFromClient;
  std::array<uint8_t, cell::kCellPayloadLen> buf;
  std::copy(payload.begin(), payload.end(), buf.begin());
  Io io(*this, e);
  bool alive = e.circuit.fromClient(early, std::span<uint8_t, cell::kCellPayloadLen>(buf), now_(),
                                    io, std::move(credit));
  if (!alive) {
    ++counters_.destroyedByUs;
    cell::DestroyReason r = e.circuit.destroyReason();
    spdlog::debug("circuit {:x}: destroyed (reason {})", e.key.flow, static_cast<int>(r));
    kill(e.key, r, false);  // the verdict closes the flow
    return FlowVerdict::closeFlow(reasonOf(r));
  }
  pump(e);
  return FlowVerdict::accept();
}

void Reactor::channelClosed(ChanneldSession& s, uint32_t channel) {
  // The channel is gone with its circuits; channeld forgot their flows.
  auto onChannel = [channel](FlowId f) { return static_cast<uint32_t>(f >> 32) == channel; };
  std::vector<CircKey> circuits =
      table_.select([&](const Entry& e) { return e.key.conn == s.id() && onChannel(e.key.flow); });
  // Circuits whose next hop was on the channel: C tor closes them (DESTROY to the client).
  std::vector<CircKey> orphans = table_.select([&](const Entry& e) {
    return e.key.conn == s.id() && e.next != 0 && onChannel(e.next) && !onChannel(e.key.flow);
  });
  for (const CircKey& k : circuits) {
    if (Entry* e = table_.find(k); e && e->next != 0 && onChannel(e->next)) e->next = 0;
    kill(k, cell::DestroyReason::kChannelClosed, false);
  }
  for (const CircKey& k : orphans) {
    Entry* e = table_.find(k);
    if (!e) continue;
    e->next = 0;
    e->circuit.nextHopGone();
    ++counters_.destroyedByUs;
    kill(k, cell::DestroyReason::kChannelClosed, true);
  }
  s.pipe.forgetFlows(onChannel);
  std::erase_if(s.pendingExtends_, onChannel);
  s.channels_.erase(channel);
}

void Reactor::channeldGone(ConnId conn) {
  // Its circuits are gone with the connection (channeld destroys them toward the clients).
  for (const CircKey& k : table_.select([conn](const Entry& e) { return e.key.conn == conn; })) {
    if (Entry* e = table_.find(k)) e->next = 0;  // forgotten with the connection
    kill(k, cell::DestroyReason::kChannelClosed, false);
  }
}

}  // namespace onionsplit::circuitd

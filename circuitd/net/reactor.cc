// circuitd/net/reactor.cc: the circuit table's life cycle (kill, pump, track) and the circuit's
// view of its boundaries (Reactor::Io). The adapters are in channeld_adapter.cc,
// streamd_adapter.cc, confluxd_adapter.cc and middle_role.cc.
#include "circuitd/net/reactor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "circuitd/net/reactor_io.h"

namespace onionsplit::circuitd {

ipc::Verdict fitsOneCell(const Circuit& c, uint8_t command, size_t length) {
  if (length <= cell::relayDataMax(c.cellFormat(), command)) return ipc::Verdict::accept();
  return ipc::Verdict::breach("a relay message longer than one cell of its circuit's format");
}

Reactor::Reactor(OnionIdentity id, CircuitParams params, std::function<void(MutBytes)> random,
                 std::function<uint64_t()> nowUsec)
    : id_(std::move(id)), params_(params), random_(std::move(random)), now_(std::move(nowUsec)) {}

Reactor::~Reactor() = default;

Reactor::CcSnapshot Reactor::ccSnapshot() const {
  CcSnapshot snap;
  table_.forEach([&snap](const Entry& e) {
    const flowctl::VegasController* v = e.circuit.vegas();
    if (!v) return;
    snap.inSlowStart += v->inSlowStart();
    if (v->cwnd() < snap.cwndMax ||
        (v->cwnd() == snap.cwndMax && v->ewmaRttUsec() <= snap.ewmaRttUsec))
      return;
    snap.cwndMax = v->cwnd();
    snap.minRttUsec = v->minRttUsec();
    snap.ewmaRttUsec = v->ewmaRttUsec();
  });
  return snap;
}

void Reactor::kill(CircKey k, cell::DestroyReason reason, bool toChanneld) {
  Entry* e = table_.find(k);
  if (!e) return;
  auto r = static_cast<uint8_t>(reason);
  ChanneldSession* s = channeld(k.conn);
  if (s && e->next != 0) s->pipe.close(e->next, r);
  if (StreamdSession* sd = streamd(); e->streams && sd && sd->id() == e->streams.conn)
    sd->pipe.close(e->streams.flow, static_cast<uint8_t>(cell::EndReason::kDestroy));
  if (ConfluxdSession* cd = confluxd(); e->leg && cd && cd->id() == e->leg.conn)
    cd->pipe.close(e->leg.flow, r);
  if (toChanneld && s) s->pipe.close(k.flow, r);
  if (const flowctl::VegasController* v = e->circuit.vegas()) ccGauges_.noteClose(*v);
  table_.erase(k);  // its queues go, and with them the credit they held
}

void Reactor::settle(Entry& e, bool alive) {
  if (!alive) {
    ++counters_.destroyedByUs;
    if (e.circuit.destroyReason() == cell::DestroyReason::kProtocol) ++counters_.protocolViolations;
    spdlog::debug("circuit {:x}: destroyed (reason {})", e.key.flow,
                  static_cast<int>(e.circuit.destroyReason()));
    kill(e.key, e.circuit.destroyReason(), true);
    return;
  }
  pump(e);
}

void Reactor::pump(Entry& e) {
  Io io(*this, e);
  if (!e.circuit.pump(now_(), io)) {
    ++counters_.destroyedByUs;
    if (e.circuit.destroyReason() == cell::DestroyReason::kProtocol) ++counters_.protocolViolations;
    kill(e.key, e.circuit.destroyReason(), true);
    return;
  }
  track(e);
}

void Reactor::track(Entry& e) {
  const flowctl::VegasController* v = e.circuit.vegas();
  if (v && !v->inSlowStart() && !e.leftSlowStart) {
    e.leftSlowStart = true;
    ccGauges_.noteSlowStartExit(*v);
  }
  if (e.leg) reportLeg(e);
  // A leg reported unable to send waits for channeld's credit too: its report must flip back.
  bool legBlocked = e.leg && e.reported && !e.reportedCanSend;
  table_.track(e, legBlocked);
  if (memory_.over() && overBudget_) overBudget_();  // runs later, from the loop
}

uint64_t Reactor::handleOom() {
  if (!memory_.over()) return 0;  // drained since it was scheduled
  ++counters_.oomRuns;
  oomCandidates_.clear();
  oomKeys_.clear();
  table_.forEach([this](const Entry& e) {
    if (uint64_t held = e.circuit.memHeld()) {
      // The oldest queued cell first: its stamp, inverted, is the rank.
      oomCandidates_.push_back({~e.circuit.oldestQueued(), held, oomKeys_.size()});
      oomKeys_.push_back(e.key);
    }
  });
  size_t n = flowctl::chooseOomVictims(oomCandidates_, memory_.bytes(), memory_.lowWater());
  uint64_t freed = 0;
  for (size_t i = 0; i < n; ++i) {
    CircKey k = oomKeys_[oomCandidates_[i].ref];
    const Entry* e = table_.find(k);
    if (!e) continue;
    freed += e->circuit.memHeld();
    ++counters_.oomCircuitsClosed;
    ++counters_.destroyedByUs;
    kill(k, cell::DestroyReason::kResourceLimit, true);
  }
  counters_.oomBytesFreed += freed;
  return freed;
}

void Reactor::onChanneldCredit(ConnId conn) {
  for (const CircKey& k : table_.waitingForChanneld(conn))
    if (Entry* e = table_.find(k)) pump(*e);
}

void Reactor::onSideCredit(bool legs) {
  for (const CircKey& k : table_.waitingForSide()) {
    Entry* e = table_.find(k);
    if (!e || e->circuit.isLeg() != legs) continue;
    Io io(*this, *e);
    settle(*e, e->circuit.drainHeld(now_(), io));
  }
}

// ---- the circuit's view of its boundaries ----

bool Reactor::Io::canSendCell() {
  return ch_ && ch_->pipe.canSend(e_.key.flow);
}

void Reactor::Io::sendCell(Bytes payload) {
  auto ev = ch_->pipe.add();
  ev.setChannel(e_.key.channel());
  auto c = ev.initCell();
  c.setCircId(static_cast<uint32_t>(e_.key.flow));
  c.setCommand(static_cast<uint8_t>(cell::CellCmd::kRelay));
  c.setPayload(capnp::Data::Reader(payload.data(), payload.size()));
  ch_->pipe.commit(e_.key.flow, ev);
  ++r_.counters_.cellsToClient;
  if (e_.circuit.isCgo()) ++r_.counters_.cgoCellsToClient;
}

bool Reactor::Io::canDeliver() {
  if (e_.circuit.isLeg()) {
    ConfluxdSession* cd = r_.confluxd();
    // Without confluxd (or before the leg's flow exists) deliver() decides.
    if (!cd || !e_.leg || e_.leg.conn != cd->id()) return true;
    return cd->pipe.canSend(e_.leg.flow);
  }
  StreamdSession* sd = r_.streamd();
  // Without streamd (or with a stream side on a connection that is gone) deliver() refuses, and a
  // new stream side starts with a full window.
  if (!sd || !e_.streams || e_.streams.conn != sd->id()) return true;
  return sd->pipe.canSend(e_.streams.flow);
}

Delivery Reactor::Io::deliver(cell::StreamId streamId, uint8_t command, Bytes body) {
  if (e_.circuit.isLeg()) return toConfluxd(streamId, command, body);
  StreamdSession* sd = r_.streamd();
  bool opener = ipc::opensStreamSide(command);
  if (e_.streams && (!sd || e_.streams.conn != sd->id()) && !r_.detachStreams(e_))
    return {Delivery::kDestroy, static_cast<uint8_t>(cell::DestroyReason::kResourceLimit)};
  if (command == static_cast<uint8_t>(cell::RelayCmd::kBegin) && ch_) {
    // A client one hop away asks us to be its exit: C tor refuses single-hop exit use (it
    // attracts abuse and gives its users nothing a proxy would not), and so do we; and a previous
    // hop with a relay key the consensus does not list is a client too (known_relays.h).
    const ChanneldSession::Channel* chan = ch_->channel(e_.key.channel());
    switch (beginGate(chan && chan->relay ? chan->rsa : std::nullopt, r_.knownRelays_,
                      r_.params_.refuseUnknownExits)) {
      case BeginGate::kAllow:
        break;
      case BeginGate::kRefuseClient:
        ++r_.counters_.singleHopRefused;
        return {Delivery::kRefused, static_cast<uint8_t>(cell::EndReason::kTorProtocol)};
      case BeginGate::kRefuseUnknownRelay:
        ++r_.counters_.unknownRelayRefused;
        return {Delivery::kRefused, static_cast<uint8_t>(cell::EndReason::kMisc)};
    }
  }
  constexpr uint8_t kResourceLimit = static_cast<uint8_t>(cell::EndReason::kResourceLimit);
  if (!sd) return opener ? Delivery{Delivery::kRefused, kResourceLimit} : Delivery{};
  if (!e_.streams) {
    if (!opener) return {};  // no stream side: the stream it names does not exist
    uint64_t f = r_.nextStreamFlow_++;
    if (!sd->pipe.openFlow(f, e_.key)) return {Delivery::kRefused, kResourceLimit};
    e_.streams = Binding{sd->id(), f};
    e_.hadStreams = true;
  }
  if (opener) {
    if (e_.openStreams.size() >= kMaxStreamsPerCircuit) return {Delivery::kRefused, kResourceLimit};
    e_.openStreams.push_back(streamId);
  } else if (command == static_cast<uint8_t>(cell::RelayCmd::kEnd)) {
    std::erase(e_.openStreams, streamId);
  }
  auto ev = sd->pipe.add();
  ev.setFlow(e_.streams.flow);
  ev.setCongestionControl(e_.circuit.ccEnabled());
  ev.setRelayCellV1(e_.circuit.isCgo());
  auto m = ev.initRelay();
  m.setStreamId(streamId);
  m.setCommand(command);
  m.setBody(capnp::Data::Reader(body.data(), body.size()));
  sd->pipe.commit(e_.streams.flow, ev);
  ++r_.counters_.streamMessagesOut;
  return {};
}

Delivery Reactor::Io::toConfluxd(cell::StreamId streamId, uint8_t command, Bytes body) {
  constexpr uint8_t kResourceLimit = static_cast<uint8_t>(cell::DestroyReason::kResourceLimit);
  ConfluxdSession* cd = r_.confluxd();
  if (!cd) {  // a leg without confluxd: no set can take it
    ++r_.counters_.legsRefused;
    return {Delivery::kDestroy, kResourceLimit};
  }
  if (command == static_cast<uint8_t>(cell::RelayCmd::kConfluxLink)) {
    uint64_t f = r_.nextLegFlow_++;
    if (!cd->pipe.openFlow(f, e_.key)) {
      ++r_.counters_.legsRefused;
      return {Delivery::kDestroy, kResourceLimit};
    }
    e_.leg = Binding{cd->id(), f};
    ++r_.counters_.legsLinking;
    auto ev = cd->pipe.add();
    ev.setLeg(f);
    auto l = ev.initLink();
    l.setBody(capnp::Data::Reader(body.data(), body.size()));
    l.setCarriedStreams(e_.hadStreams);
    l.setRelayCellV1(e_.circuit.isCgo());
    cd->pipe.commit(f, ev);
    return {};
  }
  // confluxd restarted since the leg linked: the set is gone (confluxdGone closed the leg).
  if (!e_.leg || e_.leg.conn != cd->id())
    return {Delivery::kDestroy, static_cast<uint8_t>(cell::DestroyReason::kInternal)};
  auto ev = cd->pipe.add();
  ev.setLeg(e_.leg.flow);
  auto m = ev.initRelay();
  m.setStreamId(streamId);
  m.setCommand(command);
  m.setBody(capnp::Data::Reader(body.data(), body.size()));
  cd->pipe.commit(e_.leg.flow, ev);
  ++r_.counters_.legMessagesOut;
  return {};
}

void Reactor::Io::random(MutBytes out) {
  r_.random_(out);
}

bool Reactor::Io::canSendNext() {
  return ch_ && e_.next != 0 && ch_->pipe.canSend(e_.next);
}

void Reactor::Io::sendNext(bool early, Bytes payload) {
  auto ev = ch_->pipe.add();
  ev.setChannel(static_cast<uint32_t>(e_.next >> 32));
  auto c = ev.initCell();
  c.setCircId(static_cast<uint32_t>(e_.next));
  c.setCommand(static_cast<uint8_t>(early ? cell::CellCmd::kRelayEarly : cell::CellCmd::kRelay));
  c.setPayload(capnp::Data::Reader(payload.data(), payload.size()));
  ch_->pipe.commit(e_.next, ev);
  ++r_.counters_.cellsForwarded;
}

void Reactor::Io::extend(ExtendTarget target) {
  r_.requestExtend(e_, target);
}

void Reactor::Io::destroyNextHop(uint8_t reason) {
  ++r_.counters_.truncates;
  r_.destroyNextHop(e_, reason);
}

}  // namespace onionsplit::circuitd

// circuitd/net/reactor.cc: see reactor.h.
#include "circuitd/net/reactor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

namespace onionsplit::circuitd {
namespace {

using cell::CellCmd;
using cell::RelayCmd;
using ipc::FlowId;

constexpr uint8_t kRelay = static_cast<uint8_t>(CellCmd::kRelay);
constexpr uint8_t kRelayEarly = static_cast<uint8_t>(CellCmd::kRelayEarly);
constexpr uint8_t kDestroy = static_cast<uint8_t>(CellCmd::kDestroy);
constexpr uint8_t kEndResourceLimit = static_cast<uint8_t>(cell::EndReason::kResourceLimit);
constexpr uint8_t kEndProtocol = static_cast<uint8_t>(cell::EndReason::kTorProtocol);

bool opensStream(uint8_t c) {
  return c == static_cast<uint8_t>(RelayCmd::kBegin) ||
         c == static_cast<uint8_t>(RelayCmd::kResolve) ||
         c == static_cast<uint8_t>(RelayCmd::kBeginDir);
}

// Bytes of a capnp Data reader.
Bytes bytesOf(capnp::Data::Reader d) {
  return Bytes(d.begin(), d.size());
}

}  // namespace

struct Reactor::Entry {
  ChanneldSession* ch = nullptr;
  FlowId flow = 0;
  std::optional<Circuit> circuit;  // empty once the circuit is dying
  uint64_t streamFlow = 0;         // 0: no stream side
  StreamdSession* streamSession = nullptr;
  std::vector<uint16_t> streams;  // open stream ids, for END when streamd goes away
  // Streams that get END (stream id, reason) from here: openers streamd could not take, streams
  // whose stream side went away.
  std::vector<std::pair<uint16_t, uint8_t>> refused;
  bool hadStreams = false;  // a stream side was ever opened (a later LINK is refused)
  uint64_t legFlow = 0;     // 0: not a conflux leg on the current confluxd connection
  ConfluxdSession* legSession = nullptr;
  bool legFailed = false;        // a LINK or leg message found no confluxd: the circuit must go
  bool owesDestroy = false;      // our DESTROY to channeld
  bool owesStreamClose = false;  // our `closed` to streamd
  bool owesLegClose = false;     // our `closed` to confluxd
  uint8_t reason = 0;
  FlowId next = 0;  // the next hop's flow (a middle's circuit after EXTEND2), 0 if none
  // The leg's last `state` report (reportLeg sends a new one when these change).
  bool reported = false, reportedCanSend = false;
  uint64_t reportedCwnd = 0, reportedRtt = 0;
};

// The circuit's view of its boundaries, for one call.
class Reactor::Io final : public CircuitIo {
 public:
  Io(Reactor& r, Entry& e) : r_(r), e_(e) {}
  bool canSendCell() override { return e_.ch->pipe.canSend(e_.flow); }
  void sendCell(Bytes payload) override {
    auto ev = e_.ch->pipe.add();
    ev.setChannel(static_cast<uint32_t>(e_.flow >> 32));
    auto c = ev.initCell();
    c.setCircId(static_cast<uint32_t>(e_.flow));
    c.setCommand(kRelay);
    c.setPayload(capnp::Data::Reader(payload.data(), payload.size()));
    e_.ch->pipe.commit(e_.flow, ev);
    ++r_.counters_.cellsToClient;
  }
  bool canDeliver() override {
    if (e_.circuit && e_.circuit->isLeg()) {
      ConfluxdSession* cd = r_.confluxd();
      if (!cd || e_.legFlow == 0 || e_.legSession != cd) return true;  // deliver() refuses
      return cd->pipe.canSend(e_.legFlow);
    }
    StreamdSession* sd = r_.streamd();
    // Without streamd (or with a stream side on a session that is gone) deliver() refuses, and
    // a new stream side starts with a full window.
    if (!sd || e_.streamFlow == 0 || e_.streamSession != sd) return true;
    return sd->pipe.canSend(e_.streamFlow);
  }
  void deliver(uint16_t streamId, uint8_t command, Bytes body) override {
    if (e_.circuit && e_.circuit->isLeg()) return toConfluxd(streamId, command, body);
    StreamdSession* sd = r_.streamd();
    bool opener = opensStream(command);
    if (e_.streamFlow != 0 && e_.streamSession != sd) r_.detachStreams(e_);
    if (command == static_cast<uint8_t>(RelayCmd::kBegin) &&
        r_.clientChannels_.count(Key{e_.ch, e_.flow >> 32})) {
      // A client one hop away asks us to be its exit: C tor refuses single-hop exit use (it
      // attracts abuse and gives its users nothing a proxy would not), and so do we.
      ++r_.counters_.singleHopRefused;
      e_.refused.emplace_back(streamId, kEndProtocol);
      return;
    }
    if (!sd) {
      if (opener) e_.refused.emplace_back(streamId, kEndResourceLimit);
      return;
    }
    if (e_.streamFlow == 0) {
      if (!opener) return;  // no stream side: the stream it names does not exist
      uint64_t f = r_.nextStreamFlow_++;
      if (!sd->pipe.openFlow(f) || !sd->pipe.canSend(f)) {
        e_.refused.emplace_back(streamId, kEndResourceLimit);
        return;
      }
      e_.streamFlow = f;
      e_.streamSession = sd;
      e_.hadStreams = true;
      r_.byStreamFlow_[f] = &e_;
    }
    if (opener) {
      if (e_.streams.size() >= kMaxTrackedStreams) {
        e_.refused.emplace_back(streamId, kEndResourceLimit);
        return;
      }
      e_.streams.push_back(streamId);
    } else if (command == static_cast<uint8_t>(RelayCmd::kEnd)) {
      std::erase(e_.streams, streamId);
    }
    auto ev = sd->pipe.add();
    ev.setFlow(e_.streamFlow);
    ev.setCongestionControl(e_.circuit && e_.circuit->ccEnabled());
    auto m = ev.initRelay();
    m.setStreamId(streamId);
    m.setCommand(command);
    m.setBody(capnp::Data::Reader(body.data(), body.size()));
    sd->pipe.commit(e_.streamFlow, ev);
    ++r_.counters_.streamMessagesOut;
  }
  void random(MutBytes out) override { r_.random_(out); }
  bool canSendNext() override { return e_.next != 0 && e_.ch->pipe.canSend(e_.next); }
  void sendNext(bool early, Bytes payload) override {
    auto ev = e_.ch->pipe.add();
    ev.setChannel(static_cast<uint32_t>(e_.next >> 32));
    auto c = ev.initCell();
    c.setCircId(static_cast<uint32_t>(e_.next));
    c.setCommand(early ? kRelayEarly : kRelay);
    c.setPayload(capnp::Data::Reader(payload.data(), payload.size()));
    e_.ch->pipe.commit(e_.next, ev);
    ++r_.counters_.cellsForwarded;
  }

  // A leg's message for confluxd: its first LINK opens the leg's flow; later ones (the manager
  // refuses a second LINK) and everything else travel as they came.
  void toConfluxd(uint16_t streamId, uint8_t command, Bytes body) {
    ConfluxdSession* cd = r_.confluxd();
    bool link = command == static_cast<uint8_t>(RelayCmd::kConfluxLink);
    if (e_.legFlow != 0 && e_.legSession != cd) {  // its confluxd connection is gone
      r_.byLegFlow_.erase(e_.legFlow);
      e_.legFlow = 0;
      e_.legSession = nullptr;
      e_.legFailed = true;
    }
    if (e_.legFailed) return;
    if (e_.legFlow == 0) {
      uint64_t f = r_.nextLegFlow_++;
      if (!link || !cd || !cd->pipe.openFlow(f) || !cd->pipe.canSend(f)) {
        e_.legFailed = true;
        return;
      }
      e_.legFlow = f;
      e_.legSession = cd;
      r_.byLegFlow_[f] = &e_;
      ++r_.counters_.legsLinking;
    }
    auto ev = cd->pipe.add();
    ev.setLeg(e_.legFlow);
    if (link) {
      auto l = ev.initLink();
      l.setBody(capnp::Data::Reader(body.data(), body.size()));
      l.setCarriedStreams(e_.hadStreams || e_.streamFlow != 0);
    } else {
      auto m = ev.initRelay();
      m.setStreamId(streamId);
      m.setCommand(command);
      m.setBody(capnp::Data::Reader(body.data(), body.size()));
    }
    cd->pipe.commit(e_.legFlow, ev);
    ++r_.counters_.legMessagesOut;
  }

  // streamd keeps at most this many streams per circuit too; beyond it the opener is refused here.
  static constexpr size_t kMaxTrackedStreams = 512;

 private:
  Reactor& r_;
  Entry& e_;
};

// ---- sessions ----

ChanneldSession::ChanneldSession(Reactor& r, std::function<void()> drop)
    : PeerSession("channeld", ipc::defaultWindows(), std::move(drop)), reactor_(r) {}
ChanneldSession::~ChanneldSession() noexcept(false) {
  reactor_.channeldGone(*this);
}
ipc::UnknownFlow ChanneldSession::onUnknownFlow(proto::ChannelEvent::Reader e) {
  // A CREATE opens a circuit; anything else names a circuit that is gone (it crossed a close).
  return ipc::ChannelCircuitTraits::opensFlow(e) ? ipc::UnknownFlow::kOpen
                                                 : ipc::UnknownFlow::kDrop;
}
bool ChanneldSession::onEvent(proto::ChannelEvent::Reader e) {
  return reactor_.onChanneldEvent(*this, e);
}
void ChanneldSession::onCredit() {
  reactor_.onChanneldCredit(*this);
}

StreamdSession::StreamdSession(Reactor& r, std::function<void()> drop)
    : PeerSession("streamd", ipc::defaultWindows(), std::move(drop)), reactor_(r) {}
StreamdSession::~StreamdSession() noexcept(false) {
  reactor_.streamdGone(*this);
}
bool StreamdSession::onEvent(proto::StreamEvent::Reader e) {
  return reactor_.onStreamdEvent(*this, e);
}
void StreamdSession::onCredit() {
  reactor_.onStreamdCredit(*this);
}

ConfluxdSession::ConfluxdSession(Reactor& r, std::function<void()> drop)
    : PeerSession("confluxd", ipc::defaultWindows(), std::move(drop)), reactor_(r) {}
ConfluxdSession::~ConfluxdSession() noexcept(false) {
  reactor_.confluxdGone(*this);
}
bool ConfluxdSession::onEvent(proto::LegEvent::Reader e) {
  return reactor_.onConfluxdEvent(*this, e);
}
void ConfluxdSession::onCredit() {
  reactor_.onConfluxdCredit(*this);
}

// ---- the reactor ----

Reactor::Reactor(OnionIdentity id, CircuitParams params, std::function<void(MutBytes)> random,
                 std::function<uint64_t()> nowUsec)
    : id_(std::move(id)), params_(params), random_(std::move(random)), now_(std::move(nowUsec)) {}

Reactor::~Reactor() = default;

Reactor::CcSnapshot Reactor::ccSnapshot() const {
  CcSnapshot snap;
  for (const auto& [key, e] : entries_) {
    const flowctl::VegasController* v = e->circuit ? e->circuit->vegas() : nullptr;
    if (!v) continue;
    snap.inSlowStart += v->inSlowStart();
    if (v->cwnd() < snap.cwndMax ||
        (v->cwnd() == snap.cwndMax && v->ewmaRttUsec() <= snap.ewmaRttUsec))
      continue;
    snap.cwndMax = v->cwnd();
    snap.minRttUsec = v->minRttUsec();
    snap.ewmaRttUsec = v->ewmaRttUsec();
  }
  return snap;
}

bool Reactor::onChanneldEvent(ChanneldSession& s, proto::ChannelEvent::Reader e) {
  if (e.isOpened()) {
    auto o = e.getOpened();
    if (o.getPeerRsaId().size() == 0) {
      clientChannels_.insert_or_assign(Key{&s, e.getChannel()}, CreateLimiter(now_()));
    } else {
      PeerIds ids;
      if (o.getPeerRsaId().size() == 20) {
        ids.rsa.emplace();
        std::copy_n(o.getPeerRsaId().begin(), 20, ids.rsa->begin());
      }
      if (o.getPeerEd25519Id().size() == 32) {
        ids.ed.emplace();
        std::copy_n(o.getPeerEd25519Id().begin(), 32, ids.ed->begin());
      }
      relayChannels_.insert_or_assign(Key{&s, e.getChannel()}, ids);
    }
    return true;
  }
  if (e.isExtended()) return onExtended(s, e.getChannel(), e.getExtended());
  if (e.isExtend()) return false;  // only circuitd sends it
  if (e.isClosed()) {  // the channel is gone with its circuits; channeld forgot their flows
    uint32_t channel = e.getChannel();
    clientChannels_.erase(Key{&s, channel});
    relayChannels_.erase(Key{&s, channel});
    std::vector<Entry*> gone, orphans;
    for (auto& [key, entry] : entries_)
      if (key.first == &s && (key.second >> 32) == channel) gone.push_back(entry.get());
    for (auto& [key, entry] : byNextHop_)
      if (key.first == &s && (key.second >> 32) == channel) orphans.push_back(entry);
    for (Entry* g : gone)
      kill(*g, cell::DestroyReason::kChannelClosed, false);
    // Circuits whose next hop was on the channel: C tor closes them (DESTROY to the client).
    for (Entry* o : orphans) {
      byNextHop_.erase(Key{&s, o->next});
      o->next = 0;
      if (o->circuit) {
        ++counters_.destroyedByUs;
        kill(*o, cell::DestroyReason::kChannelClosed, true);
      }
    }
    s.pipe.forgetFlows([channel](FlowId f) { return (f >> 32) == channel; });
    return true;
  }
  auto c = e.getCell();
  if (c.getPayload().size() != cell::kCellPayloadLen || c.getCircId() == 0) return false;
  FlowId flow = ipc::ChannelCircuitTraits::flowOf(e).value_or(0);
  uint8_t command = c.getCommand();
  Bytes payload = bytesOf(c.getPayload());
  auto it = entries_.find({&s, flow});
  if (it == entries_.end()) {
    if (auto n = byNextHop_.find({&s, flow}); n != byNextHop_.end()) {
      fromNextHop(*n->second, flow, command, payload);
      return true;
    }
  }
  if (command == kDestroy) {  // a close: not taken
    if (it == entries_.end()) {
      // A circuit whose CREATE failed already has our DESTROY; answer one we never saw.
      if (s.pipe.canClose(flow)) {
        auto ev = s.pipe.add();
        ipc::ChannelCircuitTraits::fillClose(ev, flow, payload[0]);
        s.pipe.commit(flow, ev);
      }
      return true;
    }
    if (it->second->circuit) ++counters_.destroyedByClient;
    kill(*it->second, static_cast<cell::DestroyReason>(payload[0]), true);
    return true;
  }
  if (ipc::ChannelCircuitTraits::opensFlow(e)) {
    s.pipe.taken(flow, 1);
    if (it != entries_.end()) return true;  // a second CREATE for a live circuit: dropped
    create(s, flow, command, payload);
    return true;
  }
  if (command != kRelay && command != kRelayEarly) return false;  // channeld filters the rest
  if (it == entries_.end() || !it->second->circuit) {
    s.pipe.taken(flow, 1);  // a dying circuit: dropped
    return true;
  }
  relayCell(*it->second, command == kRelayEarly, payload);
  return true;
}

void Reactor::create(ChanneldSession& s, FlowId flow, uint8_t command, Bytes payload) {
  auto limiter = clientChannels_.find(Key{&s, flow >> 32});
  if (limiter != clientChannels_.end() && !limiter->second.allow(now_())) {
    ++counters_.rateLimitedCreates;
    auto ev = s.pipe.add();
    ipc::ChannelCircuitTraits::fillClose(ev, flow,
                                         static_cast<uint8_t>(cell::DestroyReason::kResourceLimit));
    s.pipe.commit(flow, ev);
    return;
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
    if (s.pipe.canClose(flow)) {
      auto ev = s.pipe.add();
      ipc::ChannelCircuitTraits::fillClose(ev, flow, static_cast<uint8_t>(reason));
      s.pipe.commit(flow, ev);
    }
    return;
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
  HopIdentities hops;
  hops.ourRsa = id_.rsaId;
  hops.ourEd = id_.edId;
  if (auto p = relayChannels_.find(Key{&s, flow >> 32}); p != relayChannels_.end()) {
    hops.prevRsa = p->second.rsa;
    hops.prevEd = p->second.ed;
  }
  circuit->setHopIdentities(hops);
  auto entry = std::make_unique<Entry>();
  entry->ch = &s;
  entry->flow = flow;
  entry->circuit = std::move(circuit);
  // A new flow has its whole window: the reply goes at once.
  auto ev = s.pipe.add();
  ev.setChannel(static_cast<uint32_t>(flow >> 32));
  auto c = ev.initCell();
  c.setCircId(static_cast<uint32_t>(flow));
  c.setCommand(created->command);
  c.setPayload(capnp::Data::Reader(created->payload.data(), created->payload.size()));
  s.pipe.commit(flow, ev);
  entries_.emplace(Key{&s, flow}, std::move(entry));
}

void Reactor::relayCell(Entry& e, bool early, Bytes payload) {
  ++counters_.cellsFromClient;
  std::array<uint8_t, cell::kCellPayloadLen> buf;
  std::copy(payload.begin(), payload.end(), buf.begin());
  Io io(*this, e);
  auto r = e.circuit->fromClient(early, std::span<uint8_t, cell::kCellPayloadLen>(buf), now_(), io);
  switch (r) {
    case Circuit::Fwd::kTaken:
      e.ch->pipe.taken(e.flow, 1);
      break;
    case Circuit::Fwd::kHeld:
      break;  // its credit comes back from drainHeld or pumpForward
    case Circuit::Fwd::kExtend:
      e.ch->pipe.taken(e.flow, 1);
      if (auto t = e.circuit->takeExtend()) requestExtend(e, *t);
      break;
    case Circuit::Fwd::kTruncate:
      e.ch->pipe.taken(e.flow, 1);
      ++counters_.truncates;
      closeNextHop(e, e.circuit->truncateReason());
      break;
    case Circuit::Fwd::kDestroy:
      ++counters_.destroyedByUs;
      e.ch->pipe.taken(e.flow, 1);
      spdlog::debug("circuit {:x}: destroyed (reason {})", e.flow,
                    static_cast<int>(e.circuit->destroyReason()));
      kill(e, e.circuit->destroyReason(), true);
      return;
  }
  if (e.legFailed) {  // a leg without confluxd: no set can take it
    ++counters_.legsRefused;
    ++counters_.destroyedByUs;
    kill(e, cell::DestroyReason::kResourceLimit, true);
    return;
  }
  refuseStreams(e);
  pump(e);
  track(e);
}

void Reactor::refuseStreams(Entry& e) {
  if (e.refused.empty() || !e.circuit) return;
  Io io(*this, e);
  for (auto [id, reason] : e.refused)
    (void)e.circuit->fromStreams(id, static_cast<uint8_t>(RelayCmd::kEnd), Bytes(&reason, 1),
                                 now_(), io);
  e.refused.clear();
}

void Reactor::pump(Entry& e) {
  if (!e.circuit) return;
  Io io(*this, e);
  if (e.circuit->fwdWaiting()) {
    uint32_t moved = e.circuit->pumpForward(io);
    if (moved > 0) e.ch->pipe.taken(e.flow, moved);
  }
  if (!e.circuit->bwdWaiting()) return;
  uint32_t sent = e.circuit->pump(now_(), io);
  // The next hop's cells go after our own answers (pumpRelayed waits for BWD's queue).
  if (uint32_t relayed = e.circuit->pumpRelayed(io); relayed > 0 && e.next != 0) {
    counters_.cellsRelayedBack += relayed;
    e.ch->pipe.taken(e.next, relayed);
  }
  if (sent == 0) return;
  if (e.circuit->isLeg()) {
    ConfluxdSession* cd = confluxd();
    if (cd && e.legFlow != 0 && e.legSession == cd) cd->pipe.taken(e.legFlow, sent);
    return;
  }
  StreamdSession* sd = streamd();
  if (e.streamFlow != 0 && e.streamSession == sd && sd) sd->pipe.taken(e.streamFlow, sent);
}

void Reactor::drain(Entry& e) {
  if (!e.circuit || e.circuit->held() == 0) return;
  Io io(*this, e);
  uint32_t n = e.circuit->drainHeld(io);
  if (n > 0) e.ch->pipe.taken(e.flow, n);
}

void Reactor::track(Entry& e) {
  Key k{e.ch, e.flow};
  if (e.legFlow != 0) reportLeg(e);
  // A leg reported unable to send waits for channeld's credit too: its report must flip back.
  bool legBlocked = e.legFlow != 0 && e.reported && !e.reportedCanSend;
  if (e.circuit && (e.circuit->bwdWaiting() || e.circuit->fwdWaiting() || legBlocked)) {
    waitChanneld_.insert(k);
  } else {
    waitChanneld_.erase(k);
  }
  if (e.circuit && e.circuit->held() > 0) {
    waitSide_.insert(k);
  } else {
    waitSide_.erase(k);
  }
}

void Reactor::reportLeg(Entry& e) {
  ConfluxdSession* cd = confluxd();
  const flowctl::VegasController* v = e.circuit ? e.circuit->vegas() : nullptr;
  if (!cd || e.legSession != cd || !v) return;
  // The leg can take another DATA cell now: its window has room and its channel is not holding
  // our credit (C tor's "channel blocked" signal is its outbuf; ours is channeld's credit).
  bool canSend = v->canSend() && e.ch->pipe.canSend(e.flow);
  if (e.reported && e.reportedCanSend == canSend && e.reportedCwnd == v->cwnd() &&
      e.reportedRtt == v->ewmaRttUsec())
    return;
  e.reported = true;
  e.reportedCanSend = canSend;
  e.reportedCwnd = v->cwnd();
  e.reportedRtt = v->ewmaRttUsec();
  auto clamp = [](uint64_t x) { return static_cast<uint32_t>(std::min<uint64_t>(x, UINT32_MAX)); };
  auto ev = cd->pipe.add();  // flow-less: a report costs no credit
  ev.setLeg(e.legFlow);
  auto st = ev.initState();
  st.setCanSend(canSend);
  st.setCwndCells(clamp(v->cwnd()));
  st.setInflightCells(clamp(v->inflight()));
  st.setRttMinUsec(clamp(v->minRttUsec()));
  st.setRttEwmaUsec(clamp(v->ewmaRttUsec()));
  st.setSendmeInc(e.circuit->sendmeInc());
  ++counters_.legStateReports;
}

void Reactor::onChanneldCredit(ChanneldSession& s) {
  // Only the circuits that wait for channeld's credit are visited, not every circuit.
  scratch_.clear();
  for (const Key& k : waitChanneld_)
    if (k.first == &s) scratch_.push_back(k);
  for (const Key& k : scratch_) {
    auto it = entries_.find(k);
    if (it == entries_.end()) continue;
    pump(*it->second);
    track(*it->second);
  }
}

void Reactor::kill(Entry& e, cell::DestroyReason reason, bool toChanneld) {
  if (!e.circuit) return;
  closeNextHop(e, static_cast<uint8_t>(reason));
  e.circuit.reset();
  e.reason = static_cast<uint8_t>(reason);
  e.owesDestroy = toChanneld;
  if (e.streamFlow != 0 && e.streamSession == streamd() && e.streamSession) {
    e.owesStreamClose = true;
  } else if (e.streamFlow != 0) {
    byStreamFlow_.erase(e.streamFlow);
    e.streamFlow = 0;
  }
  if (e.legFlow != 0 && e.legSession == confluxd() && e.legSession) {
    e.owesLegClose = true;
  } else if (e.legFlow != 0) {
    byLegFlow_.erase(e.legFlow);
    e.legFlow = 0;
  }
  settle(e);
}

void Reactor::settle(Entry& e) {
  if (e.owesDestroy && e.ch->pipe.canClose(e.flow)) {
    auto ev = e.ch->pipe.add();
    ipc::ChannelCircuitTraits::fillClose(ev, e.flow, e.reason);
    e.ch->pipe.commit(e.flow, ev);
    e.owesDestroy = false;
  } else if (e.owesDestroy && !e.ch->pipe.isOpen(e.flow)) {
    e.owesDestroy = false;  // the flow is gone (channeld's own close completed it)
  }
  if (e.owesStreamClose) {
    StreamdSession* sd = streamd();
    if (sd && sd == e.streamSession && sd->pipe.canClose(e.streamFlow)) {
      auto ev = sd->pipe.add();
      ipc::StreamTraits::fillClose(ev, e.streamFlow,
                                   static_cast<uint8_t>(cell::EndReason::kDestroy));
      sd->pipe.commit(e.streamFlow, ev);
    }
    e.owesStreamClose = false;
    byStreamFlow_.erase(e.streamFlow);
    e.streamFlow = 0;
  }
  if (e.owesLegClose) {
    ConfluxdSession* cd = confluxd();
    if (cd && cd == e.legSession && cd->pipe.canClose(e.legFlow)) {
      auto ev = cd->pipe.add();
      ipc::LegTraits::fillClose(ev, e.legFlow, e.reason);
      cd->pipe.commit(e.legFlow, ev);
    }
    e.owesLegClose = false;
    byLegFlow_.erase(e.legFlow);
    e.legFlow = 0;
  }
  if (!e.circuit && !e.owesDestroy && !e.owesStreamClose && !e.owesLegClose) {
    Key k{e.ch, e.flow};
    waitChanneld_.erase(k);
    waitSide_.erase(k);
    entries_.erase(k);
  }
}

void Reactor::channeldGone(ChanneldSession& s) {
  std::erase_if(clientChannels_, [&s](const auto& kv) { return kv.first.first == &s; });
  std::erase_if(relayChannels_, [&s](const auto& kv) { return kv.first.first == &s; });
  for (auto it = byNextHop_.begin(); it != byNextHop_.end();) {
    if (it->first.first == &s) {
      it->second->next = 0;  // channeld forgot it with the connection
      it = byNextHop_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<Entry*> gone;
  for (auto& [key, entry] : entries_)
    if (key.first == &s) gone.push_back(entry.get());
  for (Entry* g : gone) {
    g->owesDestroy = false;
    if (g->circuit) {
      kill(*g, cell::DestroyReason::kChannelClosed, false);
    } else {
      settle(*g);
    }
  }
}

// ---- the middle role ----

void Reactor::requestExtend(Entry& e, const ExtendTarget& t) {
  ++counters_.extendsRequested;
  auto data = [](const auto& a) { return capnp::Data::Reader(a.data(), a.size()); };
  auto ev = e.ch->pipe.add();  // flow-less: one per circuit at a time
  ev.setChannel(static_cast<uint32_t>(e.flow >> 32));
  auto x = ev.initExtend();
  x.setOriginCircId(static_cast<uint32_t>(e.flow));
  if (t.ipv4) {
    x.setIpv4(data(*t.ipv4));
    x.setIpv4Port(t.ipv4Port);
  }
  if (t.ipv6) {
    x.setIpv6(data(*t.ipv6));
    x.setIpv6Port(t.ipv6Port);
  }
  x.setRsaId(data(t.rsaId));
  if (t.edId) x.setEd25519Id(data(*t.edId));
  x.setHtype(t.htype);
  x.setHdata(data(t.hdata));
}

bool Reactor::onExtended(ChanneldSession& s, uint32_t channel, proto::ExtendResult::Reader r) {
  FlowId origin = (FlowId{channel} << 32) | r.getOriginCircId();
  auto it = entries_.find(Key{&s, origin});
  Entry* e = it == entries_.end() ? nullptr : it->second.get();
  bool ok = r.getNextChannel() != 0 && r.getNextCircId() != 0;
  FlowId next = ok ? (FlowId{r.getNextChannel()} << 32) | r.getNextCircId() : 0;
  // channeld opened the next hop's flow with this event: so do we, before anything can use it. A
  // flow we cannot open could be neither used nor closed: channeld broke the contract.
  if (ok && (byNextHop_.count(Key{&s, next}) || !s.pipe.openFlow(next))) {
    spdlog::warn("circuit {:x}: channeld's next hop {:x} is already open or beyond the limit",
                 origin, next);
    return false;
  }
  bool failed = false;
  bool keep = e && e->circuit && e->circuit->extendResult(ok, &failed);
  if (keep) {
    ++counters_.extended;
    e->next = next;
    byNextHop_[Key{&s, next}] = e;
    pump(*e);
    track(*e);
    return true;
  }
  if (ok && s.pipe.canClose(next)) {  // nobody wants it now (the client truncated or left)
    auto ev = s.pipe.add();
    ipc::ChannelCircuitTraits::fillClose(ev, next,
                                         static_cast<uint8_t>(cell::DestroyReason::kNone));
    s.pipe.commit(next, ev);
  }
  if (failed && e) {
    ++counters_.extendsFailed;
    ++counters_.destroyedByUs;
    uint8_t reason = r.getReason();
    kill(*e,
         reason != 0 && reason <= static_cast<uint8_t>(cell::DestroyReason::kNoSuchService)
             ? static_cast<cell::DestroyReason>(reason)
             : cell::DestroyReason::kConnectFailed,
         true);
  }
  return true;
}

void Reactor::fromNextHop(Entry& e, FlowId flow, uint8_t command, Bytes payload) {
  ChanneldSession& s = *e.ch;
  if (command == kDestroy) {
    // The next hop ended the circuit: C tor (0.4.7 on) closes the whole circuit and tells the
    // client DESTROYED without the next hop's reason. Our close answers channeld's.
    byNextHop_.erase(Key{&s, flow});
    e.next = 0;
    if (s.pipe.canClose(flow)) {
      auto ev = s.pipe.add();
      ipc::ChannelCircuitTraits::fillClose(ev, flow, payload[0]);
      s.pipe.commit(flow, ev);
    }
    if (e.circuit) {
      ++counters_.destroyedByNextHop;
      kill(e, cell::DestroyReason::kDestroyed, true);
    }
    return;
  }
  if (!e.circuit) {
    s.pipe.taken(flow, 1);
    return;
  }
  std::array<uint8_t, cell::kCellPayloadLen> buf;
  std::copy(payload.begin(), payload.end(), buf.begin());
  Io io(*this, e);
  switch (e.circuit->fromNextHop(command, std::span<uint8_t, cell::kCellPayloadLen>(buf), io)) {
    case Circuit::Next::kSent:
      s.pipe.taken(flow, 1);
      if (command == static_cast<uint8_t>(CellCmd::kRelay)) ++counters_.cellsRelayedBack;
      break;
    case Circuit::Next::kQueued:
      break;
    case Circuit::Next::kDestroy:
      spdlog::debug("circuit {:x}: next hop's cell {} refused (reason {})", e.flow, command,
                    static_cast<int>(e.circuit->destroyReason()));
      s.pipe.taken(flow, 1);
      ++counters_.destroyedByUs;
      kill(e, e.circuit->destroyReason(), true);
      return;
  }
  pump(e);
  track(e);
}

void Reactor::closeNextHop(Entry& e, uint8_t reason) {
  if (e.circuit) {
    uint32_t dropped = e.circuit->dropForward();
    if (dropped > 0) e.ch->pipe.taken(e.flow, dropped);
  }
  if (e.next == 0) return;
  ChanneldSession& s = *e.ch;
  byNextHop_.erase(Key{&s, e.next});
  if (s.pipe.canClose(e.next)) {
    auto ev = s.pipe.add();
    ipc::ChannelCircuitTraits::fillClose(ev, e.next, reason);
    s.pipe.commit(e.next, ev);
  }
  e.next = 0;
}

// ---- streamd ----

bool Reactor::onStreamdEvent(StreamdSession& s, proto::StreamEvent::Reader e) {
  uint64_t flow = e.getFlow();
  auto it = byStreamFlow_.find(flow);
  Entry* entry = it == byStreamFlow_.end() ? nullptr : it->second;
  if (entry && entry->streamSession != &s) entry = nullptr;
  if (e.isClosed()) {  // streamd dropped the stream side: END for every stream still open
    if (!entry) return true;
    byStreamFlow_.erase(flow);
    if (s.pipe.canClose(flow)) {
      auto ev = s.pipe.add();
      ipc::StreamTraits::fillClose(ev, flow, e.getClosed());
      s.pipe.commit(flow, ev);
    }
    entry->streamFlow = 0;
    entry->streamSession = nullptr;
    for (uint16_t id : entry->streams)
      entry->refused.emplace_back(id, e.getClosed());
    entry->streams.clear();
    if (entry->circuit) {
      refuseStreams(*entry);
      pump(*entry);
      track(*entry);
    }
    return true;
  }
  ++counters_.streamMessagesIn;
  if (!entry || !entry->circuit) {
    s.pipe.taken(flow, 1);  // its circuit is gone: dropped
    return true;
  }
  auto m = e.getRelay();
  if (m.getCommand() == static_cast<uint8_t>(RelayCmd::kEnd))
    std::erase(entry->streams, m.getStreamId());
  else if (m.getCommand() == static_cast<uint8_t>(RelayCmd::kResolved))
    std::erase(entry->streams, m.getStreamId());
  Io io(*this, *entry);
  switch (entry->circuit->fromStreams(m.getStreamId(), m.getCommand(), bytesOf(m.getBody()), now_(),
                                      io)) {
    case Circuit::Bwd::kSent:
      s.pipe.taken(flow, 1);
      return true;
    case Circuit::Bwd::kQueued:
      track(*entry);
      return true;
    case Circuit::Bwd::kViolation:
      return false;
  }
  return false;
}

void Reactor::onStreamdCredit(StreamdSession& s) {
  scratch_.assign(waitSide_.begin(), waitSide_.end());
  for (const Key& k : scratch_) {
    auto it = entries_.find(k);
    if (it == entries_.end()) continue;
    Entry& e = *it->second;
    if (!e.circuit || e.circuit->isLeg() || (e.streamSession != &s && e.streamFlow != 0)) continue;
    drain(e);
    refuseStreams(e);
    pump(e);
    track(e);
  }
}

void Reactor::detachStreams(Entry& e) {
  byStreamFlow_.erase(e.streamFlow);
  e.streamFlow = 0;
  e.streamSession = nullptr;
  // The streams died with streamd's connection: the client hears END (MISC) for each.
  for (uint16_t id : e.streams)
    e.refused.emplace_back(id, static_cast<uint8_t>(cell::EndReason::kMisc));
  e.streams.clear();
}

void Reactor::streamdGone(StreamdSession& s) {
  for (auto& [key, entry] : entries_) {
    if (entry->streamSession != &s) continue;
    entry->owesStreamClose = false;
    detachStreams(*entry);
  }
  std::vector<Entry*> touched;
  for (auto& [key, entry] : entries_)
    if (!entry->refused.empty() || !entry->circuit) touched.push_back(entry.get());
  for (Entry* e : touched) {
    if (e->circuit) {
      refuseStreams(*e);
      pump(*e);
      track(*e);
    } else {
      settle(*e);
    }
  }
}

// ---- confluxd ----

bool Reactor::onConfluxdEvent(ConfluxdSession& s, proto::LegEvent::Reader e) {
  uint64_t leg = e.getLeg();
  auto it = byLegFlow_.find(leg);
  Entry* entry = it == byLegFlow_.end() ? nullptr : it->second;
  if (entry && entry->legSession != &s) entry = nullptr;
  switch (e.which()) {
    case proto::LegEvent::LINK:
    case proto::LegEvent::STATE:
      return false;  // only circuitd sends these
    case proto::LegEvent::CLOSED: {
      if (!entry) return true;  // crossed our own close
      byLegFlow_.erase(leg);
      if (s.pipe.canClose(leg)) {
        auto ev = s.pipe.add();
        ipc::LegTraits::fillClose(ev, leg, e.getClosed());
        s.pipe.commit(leg, ev);
      }
      entry->legFlow = 0;
      entry->legSession = nullptr;
      if (entry->circuit) {
        ++counters_.legsClosedByConfluxd;
        ++counters_.destroyedByUs;
        uint8_t r = e.getClosed();
        kill(*entry,
             r <= static_cast<uint8_t>(cell::DestroyReason::kNoSuchService)
                 ? static_cast<cell::DestroyReason>(r)
                 : cell::DestroyReason::kInternal,
             true);
      }
      return true;
    }
    case proto::LegEvent::LINKED:
    case proto::LegEvent::RELAY:
      break;
  }
  if (!entry || !entry->circuit) {
    s.pipe.taken(leg, 1);  // its circuit is gone: dropped
    return true;
  }
  ++counters_.legMessagesIn;
  uint16_t streamId = 0;
  uint8_t command = static_cast<uint8_t>(RelayCmd::kConfluxLinked);
  Bytes body;
  if (e.isLinked()) {
    body = bytesOf(e.getLinked().getBody());
  } else {
    auto m = e.getRelay();
    streamId = m.getStreamId();
    command = m.getCommand();
    body = bytesOf(m.getBody());
  }
  Io io(*this, *entry);
  switch (entry->circuit->fromStreams(streamId, command, body, now_(), io, true)) {
    case Circuit::Bwd::kSent:
      s.pipe.taken(leg, 1);
      break;
    case Circuit::Bwd::kQueued:
      break;
    case Circuit::Bwd::kViolation:
      return false;
  }
  track(*entry);
  return true;
}

void Reactor::onConfluxdCredit(ConfluxdSession& s) {
  scratch_.assign(waitSide_.begin(), waitSide_.end());
  for (const Key& k : scratch_) {
    auto it = entries_.find(k);
    if (it == entries_.end()) continue;
    Entry& e = *it->second;
    if (!e.circuit || !e.circuit->isLeg() || e.legSession != &s) continue;
    drain(e);
    pump(e);
    track(e);
  }
}

void Reactor::confluxdGone(ConfluxdSession& s) {
  // The sets' sequence state died with the connection (DESIGN.md section 4): every leg closes,
  // single-path circuits carry on.
  std::vector<Entry*> legs;
  for (auto& [key, entry] : entries_)
    if (entry->legSession == &s) legs.push_back(entry.get());
  for (Entry* e : legs) {
    byLegFlow_.erase(e->legFlow);
    e->legFlow = 0;
    e->legSession = nullptr;
    e->owesLegClose = false;
    if (e->circuit) {
      ++counters_.destroyedByUs;
      kill(*e, cell::DestroyReason::kInternal, true);
    } else {
      settle(*e);
    }
  }
}

}  // namespace onionsplit::circuitd

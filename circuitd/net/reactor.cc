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
  std::vector<uint16_t> refused;  // openers streamd could not take: END goes back
  bool owesDestroy = false;       // our DESTROY to channeld
  bool owesStreamClose = false;   // our `closed` to streamd
  uint8_t reason = 0;
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
    StreamdSession* sd = r_.streamd();
    // Without streamd (or with a stream side on a session that is gone) deliver() refuses, and
    // a new stream side starts with a full window.
    if (!sd || e_.streamFlow == 0 || e_.streamSession != sd) return true;
    return sd->pipe.canSend(e_.streamFlow);
  }
  void deliver(uint16_t streamId, uint8_t command, Bytes body) override {
    StreamdSession* sd = r_.streamd();
    bool opener = opensStream(command);
    if (e_.streamFlow != 0 && e_.streamSession != sd) r_.detachStreams(e_);
    if (!sd) {
      if (opener) e_.refused.push_back(streamId);
      return;
    }
    if (e_.streamFlow == 0) {
      if (!opener) return;  // no stream side: the stream it names does not exist
      uint64_t f = r_.nextStreamFlow_++;
      if (!sd->pipe.openFlow(f) || !sd->pipe.canSend(f)) {
        e_.refused.push_back(streamId);
        return;
      }
      e_.streamFlow = f;
      e_.streamSession = sd;
      r_.byStreamFlow_[f] = &e_;
    }
    if (opener) {
      if (e_.streams.size() >= kMaxTrackedStreams) {
        e_.refused.push_back(streamId);
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
    if (e.getOpened().getPeerRsaId().size() == 0)
      clientChannels_.insert_or_assign(Key{&s, e.getChannel()}, CreateLimiter(now_()));
    return true;
  }
  if (e.isClosed()) {  // the channel is gone with its circuits; channeld forgot their flows
    uint32_t channel = e.getChannel();
    clientChannels_.erase(Key{&s, channel});
    std::vector<Entry*> gone;
    for (auto& [key, entry] : entries_)
      if (key.first == &s && (key.second >> 32) == channel) gone.push_back(entry.get());
    for (Entry* g : gone)
      kill(*g, cell::DestroyReason::kChannelClosed, false);
    s.pipe.forgetFlows([channel](FlowId f) { return (f >> 32) == channel; });
    return true;
  }
  auto c = e.getCell();
  if (c.getPayload().size() != cell::kCellPayloadLen || c.getCircId() == 0) return false;
  FlowId flow = ipc::ChannelCircuitTraits::flowOf(e).value_or(0);
  uint8_t command = c.getCommand();
  Bytes payload = bytesOf(c.getPayload());
  auto it = entries_.find({&s, flow});
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
      break;  // its credit comes back from drainHeld
    case Circuit::Fwd::kDestroy:
      ++counters_.destroyedByUs;
      e.ch->pipe.taken(e.flow, 1);
      spdlog::debug("circuit {:x}: destroyed (reason {})", e.flow,
                    static_cast<int>(e.circuit->destroyReason()));
      kill(e, e.circuit->destroyReason(), true);
      return;
  }
  refuseStreams(e);
  pump(e);
  track(e);
}

void Reactor::refuseStreams(Entry& e) {
  if (e.refused.empty() || !e.circuit) return;
  Io io(*this, e);
  uint8_t end = static_cast<uint8_t>(cell::EndReason::kResourceLimit);
  for (uint16_t id : e.refused)
    (void)e.circuit->fromStreams(id, static_cast<uint8_t>(RelayCmd::kEnd), Bytes(&end, 1), now_(),
                                 io);
  e.refused.clear();
}

void Reactor::pump(Entry& e) {
  if (!e.circuit || !e.circuit->bwdWaiting()) return;
  Io io(*this, e);
  uint32_t sent = e.circuit->pump(now_(), io);
  StreamdSession* sd = streamd();
  if (sent > 0 && e.streamFlow != 0 && e.streamSession == sd && sd)
    sd->pipe.taken(e.streamFlow, sent);
}

void Reactor::track(Entry& e) {
  Key k{e.ch, e.flow};
  if (e.circuit && e.circuit->bwdWaiting()) {
    waitChanneld_.insert(k);
  } else {
    waitChanneld_.erase(k);
  }
  if (e.circuit && e.circuit->held() > 0) {
    waitStreamd_.insert(k);
  } else {
    waitStreamd_.erase(k);
  }
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
  e.circuit.reset();
  e.reason = static_cast<uint8_t>(reason);
  e.owesDestroy = toChanneld;
  if (e.streamFlow != 0 && e.streamSession == streamd() && e.streamSession) {
    e.owesStreamClose = true;
  } else if (e.streamFlow != 0) {
    byStreamFlow_.erase(e.streamFlow);
    e.streamFlow = 0;
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
  if (!e.circuit && !e.owesDestroy && !e.owesStreamClose) {
    Key k{e.ch, e.flow};
    waitChanneld_.erase(k);
    waitStreamd_.erase(k);
    entries_.erase(k);
  }
}

void Reactor::channeldGone(ChanneldSession& s) {
  std::erase_if(clientChannels_, [&s](const auto& kv) { return kv.first.first == &s; });
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
    entry->refused = std::move(entry->streams);
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
  scratch_.assign(waitStreamd_.begin(), waitStreamd_.end());
  for (const Key& k : scratch_) {
    auto it = entries_.find(k);
    if (it == entries_.end()) continue;
    Entry& e = *it->second;
    if (!e.circuit || (e.streamSession != &s && e.streamFlow != 0)) continue;
    Io io(*this, e);
    uint32_t n = e.circuit->drainHeld(io);
    if (n > 0) e.ch->pipe.taken(e.flow, n);
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
    e.refused.push_back(id);
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

}  // namespace onionsplit::circuitd

// confluxd/net/reactor.cc: see reactor.h.
#include "confluxd/net/reactor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "common/cell/relay.h"

namespace onionsplit::confluxd {
namespace {

using cell::RelayCmd;
using conflux::LegId;
using conflux::SetId;

constexpr uint8_t rcmd(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

Bytes bytesOf(capnp::Data::Reader d) {
  return Bytes(d.begin(), d.size());
}

bool opensStream(uint8_t c) {
  return c == rcmd(RelayCmd::kBegin) || c == rcmd(RelayCmd::kResolve);
}

// What streamd may send toward the client of a set (all multiplexed, all for a stream).
bool streamdSends(uint8_t c) {
  switch (static_cast<RelayCmd>(c)) {
    case RelayCmd::kConnected:
    case RelayCmd::kData:
    case RelayCmd::kEnd:
    case RelayCmd::kResolved:
    case RelayCmd::kXon:
    case RelayCmd::kXoff:
      return true;
    default:
      return false;
  }
}

// Leg ids are unique across circuitd connections: the connection's generation above the leg's
// flow id (circuitd's ids start again at 1 when it restarts).
constexpr unsigned kFlowBits = 40;

constexpr uint8_t kEndResourceLimit = static_cast<uint8_t>(cell::EndReason::kResourceLimit);
constexpr uint8_t kEndDestroy = static_cast<uint8_t>(cell::EndReason::kDestroy);

}  // namespace

struct Reactor::Leg {
  LegId id = 0;
  CircuitdSession* s = nullptr;
  FlowId flow = 0;
  bool linked = false;
  SetId set = 0;
};

struct Reactor::Set {
  Set(SetId i, CircuitdSession* c, size_t toStreamdMax, size_t toClientMax)
      : id(i), s(c), toStreamd(toStreamdMax), toClient(toClientMax) {}
  SetId id;
  CircuitdSession* s;             // the connection of its legs
  StreamdSession* sd = nullptr;   // its stream side's connection, while streamOpen
  bool streamOpen = false;        // a flow on streamd's boundary with id = set id
  flowctl::MsgQueue toStreamd;    // in order, waiting for streamd's credit (tag: owed leg)
  flowctl::MsgQueue toClient;     // from streamd (or our ENDs), waiting for a leg
  std::vector<uint16_t> streams;  // open stream ids, for END when streamd drops the set
};

// ---- sessions ----

CircuitdSession::CircuitdSession(Reactor& r, std::function<void()> drop)
    : PeerSession("circuitd", ipc::defaultWindows(), std::move(drop)), reactor_(r) {
  reactor_.sessionGen_[this] = reactor_.nextGen_++;
}
CircuitdSession::~CircuitdSession() noexcept(false) {
  reactor_.circuitdGone(*this);
}
bool CircuitdSession::onEvent(proto::LegEvent::Reader e) {
  return reactor_.onLegEvent(*this, e);
}
void CircuitdSession::onCredit() {
  reactor_.onLegCredit(*this);
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

Reactor::Reactor(const conflux::ConfluxParams& params, std::function<uint64_t()> nowUsec)
    : params_(params), now_(std::move(nowUsec)), mgr_(params) {}

Reactor::~Reactor() = default;

Reactor::Leg* Reactor::findLeg(CircuitdSession& s, FlowId flow) {
  auto g = sessionGen_.find(&s);
  if (g == sessionGen_.end() || flow >= (uint64_t{1} << kFlowBits)) return nullptr;
  auto it = legs_.find((g->second << kFlowBits) | flow);
  return it == legs_.end() ? nullptr : it->second.get();
}

Reactor::Set* Reactor::setOf(LegId leg) {
  auto l = legs_.find(leg);
  if (l == legs_.end() || !l->second->linked) return nullptr;
  auto it = sets_.find(l->second->set);
  return it == sets_.end() ? nullptr : it->second.get();
}

bool Reactor::onLegEvent(CircuitdSession& s, proto::LegEvent::Reader e) {
  FlowId flow = e.getLeg();
  switch (e.which()) {
    case proto::LegEvent::LINKED:
      return false;  // only confluxd sends it
    case proto::LegEvent::LINK:
      return onLink(s, flow, e.getLink());
    case proto::LegEvent::CLOSED:
      onLegClosed(s, flow, e.getClosed());
      return true;
    case proto::LegEvent::STATE: {
      Leg* leg = findLeg(s, flow);
      if (!leg || !leg->linked) return true;  // a leg refused or closed meanwhile
      auto st = e.getState();
      conflux::CcFacts cc;
      cc.cwnd = st.getCwndCells();
      cc.inflight = st.getInflightCells();
      cc.sendmeInc = st.getSendmeInc();
      cc.channelBlocked = !st.getCanSend();
      cc.ewmaRttUsec = st.getRttEwmaUsec();
      LegId id = leg->id;
      if (conflux::ConfluxController* ctl = mgr_.controllerFor(id)) ctl->onLegState(id, cc);
      if (Set* set = setOf(id)) flushToClient(*set);
      return true;
    }
    case proto::LegEvent::RELAY: {
      Leg* leg = findLeg(s, flow);
      if (!leg) {
        s.pipe.taken(flow, 1);  // a leg we closed: dropped
        return true;
      }
      return onLegRelay(*leg, e.getRelay());
    }
  }
  return false;
}

bool Reactor::onLink(CircuitdSession& s, FlowId flow, proto::Link::Reader l) {
  ++counters_.linksReceived;
  auto body = l.getBody();
  if (flow >= (uint64_t{1} << kFlowBits) || body.size() > cell::kRelayBodyMax) return false;
  s.pipe.taken(flow, 1);
  Leg* leg = findLeg(s, flow);
  if (!leg) {
    auto fresh = std::make_unique<Leg>();
    fresh->id = (sessionGen_.at(&s) << kFlowBits) | flow;
    fresh->s = &s;
    fresh->flow = flow;
    leg = fresh.get();
    legs_.emplace(fresh->id, std::move(fresh));
  }
  LegId id = leg->id;
  conflux::LegFacts facts;
  facts.carriesStreams = l.getCarriedStreams();
  facts.ccNegotiated = true;  // circuitd forwards a LINK only from a circuit with CC
  auto r = mgr_.onLinkBody(id, bytesOf(body), facts, now_());
  switch (r.kind) {
    case conflux::LinkResult::kLinked: {
      std::array<uint8_t, cell::kRelayBodyMax> buf;
      Writer w{MutBytes(buf)};
      if (!cell::encodeConfluxLink(r.linked, w) || !s.pipe.canSend(flow)) {
        // Cannot happen with a fresh flow's window; close rather than leave the client waiting.
        std::vector<LegId> others;
        mgr_.onLegClosed(id, others);
        closeLeg(id, static_cast<uint8_t>(cell::DestroyReason::kInternal));
        for (LegId o : others)
          closeLeg(o, static_cast<uint8_t>(cell::DestroyReason::kFinished));
        return true;
      }
      leg->linked = true;
      leg->set = r.set;
      auto [it, fresh] = sets_.try_emplace(r.set);
      if (fresh) {
        size_t toStreamdMax = size_t{params_.maxLegsPerSet} * ipc::defaultWindows().flowMessages +
                              params_.maxOooqBytes / conflux::kQueuedOverheadBytes + 64;
        it->second = std::make_unique<Set>(r.set, &s, toStreamdMax,
                                           ipc::defaultWindows().flowMessages + kMaxStreamsPerSet);
        ++counters_.setsLinked;
      }
      ++counters_.legsLinked;
      auto ev = s.pipe.add();
      ev.setLeg(flow);
      ev.initLinked().setBody(capnp::Data::Reader(w.written().data(), w.written().size()));
      s.pipe.commit(flow, ev);
      return true;
    }
    case conflux::LinkResult::kCloseLeg:
      ++counters_.legsRefused;
      closeLeg(id, static_cast<uint8_t>(r.reason));
      return true;
    case conflux::LinkResult::kCloseSet:
      ++counters_.legsRefused;
      closeLeg(id, static_cast<uint8_t>(r.reason));
      tearDown(r.set, static_cast<uint8_t>(r.reason));
      return true;
  }
  return true;
}

bool Reactor::onLegRelay(Leg& leg, proto::RelayMsg::Reader m) {
  const LegId id = leg.id;
  CircuitdSession& s = *leg.s;
  const FlowId flow = leg.flow;
  const uint8_t cmd = m.getCommand();
  const uint16_t streamId = m.getStreamId();
  const Bytes body = bytesOf(m.getBody());
  if (body.size() > cell::kRelayBodyMax) return false;
  conflux::ConfluxController* ctl = mgr_.controllerFor(id);
  Set* set = setOf(id);
  if (!leg.linked || !ctl || !set) {
    s.pipe.taken(flow, 1);
    return true;
  }
  switch (static_cast<RelayCmd>(cmd)) {
    case RelayCmd::kConfluxLinkedAck:
      s.pipe.taken(flow, 1);
      ++counters_.linkedAcks;
      apply(id, mgr_.onLinkedAck(id, now_()));
      return true;
    case RelayCmd::kConfluxSwitch: {
      s.pipe.taken(flow, 1);
      auto sw = cell::decodeConfluxSwitch(body);
      if (!sw) {
        closeLeg(id, static_cast<uint8_t>(cell::DestroyReason::kProtocol));
        return true;
      }
      ++counters_.switchesReceived;
      apply(id, ctl->onSwitch(id, sw->relativeSeq));
      return true;
    }
    case RelayCmd::kBeginDir: {
      // Not multiplexed (it belongs to the leg's own circuit); an exit serves no directory.
      s.pipe.taken(flow, 1);
      uint8_t reason = static_cast<uint8_t>(cell::EndReason::kNotDirectory);
      if (streamId != 0) sendOnLeg(leg, streamId, rcmd(RelayCmd::kEnd), Bytes(&reason, 1));
      return true;
    }
    default:
      break;
  }
  if (!cell::isConfluxMultiplexed(cmd) || streamId == 0) {
    s.pipe.taken(flow, 1);  // e.g. a stream-level SENDME, unused with congestion control: dropped
    return true;
  }
  deliveries_.clear();
  auto v = ctl->onMultiplexed(id, cmd, streamId, body, deliveries_);
  if (v.kind != conflux::Verdict::kOk) {
    s.pipe.taken(flow, 1);
    apply(id, v);
    return true;
  }
  const uint64_t seq = ctl->leg(id)->lastSeqRecv;
  if (deliveries_.empty() || deliveries_.front().seq != seq) {
    // Waits in the reorder queue, whose byte cap bounds it: its credit goes back now.
    s.pipe.taken(flow, 1);
    ++counters_.reorderedMessages;
    counters_.reorderBytesMax = std::max<uint64_t>(counters_.reorderBytesMax, ctl->oooQueueBytes());
    return true;
  }
  toStreams(*set, id, seq);
  return true;
}

void Reactor::toStreams(Set& set, LegId owedLeg, uint64_t owedSeq) {
  auto release = [this](LegId leg) {
    auto it = legs_.find(leg);
    if (it != legs_.end()) it->second->s->pipe.taken(it->second->flow, 1);
  };
  StreamdSession* sd = streamd();
  for (const conflux::Delivery& d : deliveries_) {
    LegId owed = d.seq == owedSeq ? owedLeg : 0;
    if (opensStream(d.cmd)) {
      bool ok = set.streams.size() < kMaxStreamsPerSet && sd != nullptr;
      if (ok && !set.streamOpen) {
        ok = sd->pipe.openFlow(set.id);
        if (ok) {
          set.streamOpen = true;
          set.sd = sd;
        }
      }
      ok = ok && set.sd == sd;
      if (!ok) {
        if (owed) release(owed);
        uint8_t reason = kEndResourceLimit;
        if (!set.toClient.push(d.streamId, rcmd(RelayCmd::kEnd), Bytes(&reason, 1), false))
          return tearDown(set.id, static_cast<uint8_t>(cell::DestroyReason::kResourceLimit));
        continue;
      }
      set.streams.push_back(d.streamId);
    } else if (!set.streamOpen || set.sd != sd) {
      if (owed) release(owed);  // no stream side: the stream it names does not exist
      continue;
    } else if (d.cmd == rcmd(RelayCmd::kEnd)) {
      std::erase(set.streams, d.streamId);
    }
    // Nothing waits and streamd has credit (the usual case): straight out, no copy.
    if (set.toStreamd.empty() && sd->pipe.canSend(set.id)) {
      sendToStreamd(set, *sd, d.streamId, d.cmd, d.body, owed);
      continue;
    }
    if (!set.toStreamd.push(d.streamId, d.cmd, d.body, owed != 0, owed)) {
      if (owed) release(owed);
      return tearDown(set.id, static_cast<uint8_t>(cell::DestroyReason::kResourceLimit));
    }
  }
  flushToStreamd(set);
  flushToClient(set);  // refusals
}

void Reactor::sendToStreamd(Set& set, StreamdSession& sd, uint16_t streamId, uint8_t command,
                            Bytes body, LegId owedLeg) {
  auto ev = sd.pipe.add();
  ev.setFlow(set.id);
  ev.setCongestionControl(true);  // conflux legs always negotiated it
  auto r = ev.initRelay();
  r.setStreamId(streamId);
  r.setCommand(command);
  r.setBody(capnp::Data::Reader(body.data(), body.size()));
  sd.pipe.commit(set.id, ev);
  ++counters_.messagesToStreamd;
  if (owedLeg) {
    auto it = legs_.find(owedLeg);
    if (it != legs_.end()) it->second->s->pipe.taken(it->second->flow, 1);
  }
}

void Reactor::flushToStreamd(Set& set) {
  StreamdSession* sd = streamd();
  if (!sd || set.sd != sd || !set.streamOpen) {  // no stream side: what waits is dropped
    for (; !set.toStreamd.empty(); set.toStreamd.pop()) {
      const flowctl::QueuedMsg& m = set.toStreamd.front();
      auto it = legs_.find(m.tag);
      if (m.owed && it != legs_.end()) it->second->s->pipe.taken(it->second->flow, 1);
    }
    waitStreamd_.erase(set.id);
    return;
  }
  while (!set.toStreamd.empty() && sd->pipe.canSend(set.id)) {
    const flowctl::QueuedMsg& m = set.toStreamd.front();
    sendToStreamd(set, *sd, m.streamId, m.command, m.bytes(), m.owed ? m.tag : 0);
    set.toStreamd.pop();
  }
  if (set.toStreamd.empty()) {
    waitStreamd_.erase(set.id);
  } else {
    waitStreamd_.insert(set.id);
  }
}

bool Reactor::sendOnLeg(const Leg& leg, uint16_t streamId, uint8_t command, Bytes body) {
  if (!leg.s->pipe.canSend(leg.flow)) return false;
  auto ev = leg.s->pipe.add();
  ev.setLeg(leg.flow);
  auto r = ev.initRelay();
  r.setStreamId(streamId);
  r.setCommand(command);
  r.setBody(capnp::Data::Reader(body.data(), body.size()));
  leg.s->pipe.commit(leg.flow, ev);
  return true;
}

Reactor::ToClient Reactor::sendToClient(Set& set, conflux::ConfluxController& ctl,
                                        uint16_t streamId, uint8_t command, Bytes body, bool owed) {
  auto pick = ctl.peekLeg(command);
  if (!pick) return ToClient::kWait;  // no leg may send DATA now: streamd's reads wait
  auto l = legs_.find(*pick);
  if (l == legs_.end()) return ToClient::kWait;
  const Leg& leg = *l->second;
  // Room for the message and the SWITCH that may precede it.
  if (!leg.s->pipe.canSend(leg.flow) || leg.s->pipe.flowAvailable(leg.flow) < 2)
    return ToClient::kWait;
  conflux::SendPlan plan = ctl.send(command);
  if (plan.kind == conflux::SendPlan::kCloseSet) {
    tearDown(set.id, static_cast<uint8_t>(plan.reason));
    return ToClient::kSetGone;
  }
  if (plan.kind != conflux::SendPlan::kSend || plan.leg != leg.id) return ToClient::kWait;
  if (plan.switchSeq) {
    std::array<uint8_t, 4> buf;
    Writer w{MutBytes(buf)};
    cell::encodeConfluxSwitch(cell::ConfluxSwitchMsg{*plan.switchSeq}, w);
    sendOnLeg(leg, 0, rcmd(RelayCmd::kConfluxSwitch), w.written());
    ++counters_.switchesSent;
  }
  sendOnLeg(leg, streamId, command, body);
  ++counters_.messagesToClient;
  if (owed && set.streamOpen && set.sd == streamd() && set.sd) set.sd->pipe.taken(set.id, 1);
  return ToClient::kSent;
}

void Reactor::flushToClient(Set& set) {
  conflux::ConfluxController* ctl = mgr_.controller(set.id);
  if (!ctl) return;
  const SetId id = set.id;
  while (!set.toClient.empty()) {
    const flowctl::QueuedMsg& m = set.toClient.front();
    ToClient r = sendToClient(set, *ctl, m.streamId, m.command, m.bytes(), m.owed);
    if (r == ToClient::kSetGone) return;
    if (r == ToClient::kWait) break;
    set.toClient.pop();
  }
  if (set.toClient.empty()) {
    waitLegs_.erase(id);
  } else {
    waitLegs_.insert(id);
  }
}

bool Reactor::apply(LegId leg, const conflux::Verdict& v) {
  switch (v.kind) {
    case conflux::Verdict::kOk:
      return true;
    case conflux::Verdict::kCloseLeg: {
      SetId set = legs_.count(leg) ? legs_.at(leg)->set : 0;
      closeLeg(leg, static_cast<uint8_t>(v.reason));
      return sets_.count(set) != 0;
    }
    case conflux::Verdict::kCloseSet: {
      Set* s = setOf(leg);
      if (s) tearDown(s->id, static_cast<uint8_t>(v.reason));
      return false;
    }
  }
  return false;
}

void Reactor::closeLeg(LegId id, uint8_t reason) {
  auto it = legs_.find(id);
  if (it == legs_.end()) return;
  Leg& leg = *it->second;
  if (leg.s->pipe.canClose(leg.flow)) {
    auto ev = leg.s->pipe.add();
    ipc::LegTraits::fillClose(ev, leg.flow, reason);
    leg.s->pipe.commit(leg.flow, ev);
  }
  legGone(id);
}

void Reactor::legGone(LegId id) {
  legs_.erase(id);
  if (!mgr_.isLinked(id)) return;
  legScratch_.clear();
  conflux::LegClosed r = mgr_.onLegClosed(id, legScratch_);
  if (r.setTornDown) {
    ++counters_.setsTornDown;
    std::vector<LegId> others;
    others.swap(legScratch_);
    for (LegId o : others)
      closeLeg(o, static_cast<uint8_t>(cell::DestroyReason::kFinished));
  }
  if (r.setForgotten) {
    forgetSet(r.set);
    return;
  }
  auto s = sets_.find(r.set);
  if (s != sets_.end()) flushToClient(*s->second);  // another leg may carry what waits
}

void Reactor::tearDown(SetId set, uint8_t reason) {
  if (!sets_.count(set)) return;
  ++counters_.setsTornDown;
  std::vector<LegId> legs;
  mgr_.dropSet(set, legs);
  for (LegId l : legs)
    closeLeg(l, reason);
  forgetSet(set);
}

void Reactor::forgetSet(SetId id) {
  auto it = sets_.find(id);
  if (it == sets_.end()) return;
  Set& set = *it->second;
  StreamdSession* sd = streamd();
  if (set.streamOpen && set.sd == sd && sd && sd->pipe.canClose(id)) {
    auto ev = sd->pipe.add();
    ipc::StreamTraits::fillClose(ev, id, kEndDestroy);
    sd->pipe.commit(id, ev);
  }
  waitLegs_.erase(id);
  waitStreamd_.erase(id);
  sets_.erase(it);
}

void Reactor::onLegClosed(CircuitdSession& s, FlowId flow, uint8_t reason) {
  if (s.pipe.canClose(flow)) {  // the second phase of the close
    auto ev = s.pipe.add();
    ipc::LegTraits::fillClose(ev, flow, reason);
    s.pipe.commit(flow, ev);
  }
  Leg* leg = findLeg(s, flow);
  if (!leg) return;  // crossed our own close
  ++counters_.legsClosedByCircuitd;
  legGone(leg->id);
}

void Reactor::onLegCredit(CircuitdSession& s) {
  setScratch_.assign(waitLegs_.begin(), waitLegs_.end());
  for (SetId id : setScratch_) {
    auto it = sets_.find(id);
    if (it != sets_.end() && it->second->s == &s) flushToClient(*it->second);
  }
}

void Reactor::circuitdGone(CircuitdSession& s) {
  // circuitd destroys the legs itself (it lost us); the sets' state goes with them.
  setScratch_.clear();
  for (auto& [id, set] : sets_)
    if (set->s == &s) setScratch_.push_back(id);
  for (SetId id : setScratch_) {
    std::vector<LegId> legs;
    mgr_.dropSet(id, legs);
    forgetSet(id);
  }
  std::erase_if(legs_, [&s](const auto& kv) { return kv.second->s == &s; });
  sessionGen_.erase(&s);
}

// ---- streamd ----

bool Reactor::onStreamdEvent(StreamdSession& sd, proto::StreamEvent::Reader e) {
  FlowId flow = e.getFlow();
  auto it = sets_.find(flow);
  Set* set = it != sets_.end() && it->second->streamOpen && it->second->sd == &sd ? it->second.get()
                                                                                  : nullptr;
  if (e.isClosed()) {  // streamd dropped the set's stream side: END for every open stream
    if (!set) return true;
    if (sd.pipe.canClose(flow)) {
      auto ev = sd.pipe.add();
      ipc::StreamTraits::fillClose(ev, flow, e.getClosed());
      sd.pipe.commit(flow, ev);
    }
    set->streamOpen = false;
    set->sd = nullptr;
    uint8_t reason = e.getClosed();
    for (uint16_t s : set->streams)
      (void)set->toClient.push(s, rcmd(RelayCmd::kEnd), Bytes(&reason, 1), false);
    set->streams.clear();
    flushToStreamd(*set);  // drops what waited, returning the legs' credit
    flushToClient(*set);
    return true;
  }
  auto m = e.getRelay();
  if (!streamdSends(m.getCommand()) || m.getStreamId() == 0 ||
      m.getBody().size() > cell::kRelayBodyMax)
    return false;
  if (!set) {
    sd.pipe.taken(flow, 1);  // its set is gone: dropped
    return true;
  }
  uint8_t cmd = m.getCommand();
  if (cmd == rcmd(RelayCmd::kEnd) || cmd == rcmd(RelayCmd::kResolved))
    std::erase(set->streams, m.getStreamId());
  conflux::ConfluxController* ctl = mgr_.controller(set->id);
  if (set->toClient.empty() && ctl) {  // nothing waits: straight to a leg if one may send
    ToClient r = sendToClient(*set, *ctl, m.getStreamId(), cmd, bytesOf(m.getBody()), true);
    if (r != ToClient::kWait) return true;
    if (!set->toClient.push(m.getStreamId(), cmd, bytesOf(m.getBody()))) return false;
    waitLegs_.insert(set->id);
    return true;
  }
  if (!set->toClient.push(m.getStreamId(), cmd, bytesOf(m.getBody()))) return false;
  flushToClient(*set);
  return true;
}

void Reactor::onStreamdCredit(StreamdSession& sd) {
  setScratch_.assign(waitStreamd_.begin(), waitStreamd_.end());
  for (SetId id : setScratch_) {
    auto it = sets_.find(id);
    if (it != sets_.end() && it->second->sd == &sd) flushToStreamd(*it->second);
  }
}

void Reactor::streamdGone(StreamdSession& sd) {
  // The stream sides are gone with their sockets; a set without its streams cannot go on
  // (proto/conflux_stream.capnp): its legs close, sets that never had streams carry on.
  setScratch_.clear();
  for (auto& [id, set] : sets_) {
    if (set->sd != &sd) continue;
    set->streamOpen = false;
    set->sd = nullptr;
    setScratch_.push_back(id);
  }
  for (SetId id : setScratch_)
    tearDown(id, static_cast<uint8_t>(cell::DestroyReason::kInternal));
}

}  // namespace onionsplit::confluxd

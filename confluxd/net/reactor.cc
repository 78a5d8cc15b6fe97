// confluxd/net/reactor.cc: see reactor.h.
#include "confluxd/net/reactor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "common/cell/relay.h"
#include "common/ipc/relay_commands.h"

namespace onionsplit::confluxd {
namespace {

using cell::RelayCmd;
using conflux::LegId;
using conflux::SetId;
using flowctl::MsgQueue;
using ipc::CreditToken;
using ipc::FlowVerdict;
using ipc::Side;

constexpr uint8_t rcmd(RelayCmd c) {
  return static_cast<uint8_t>(c);
}
constexpr uint8_t destroyReason(cell::DestroyReason r) {
  return static_cast<uint8_t>(r);
}

Bytes bytesOf(capnp::Data::Reader d) {
  return Bytes(d.begin(), d.size());
}

constexpr uint8_t kEndMisc = static_cast<uint8_t>(cell::EndReason::kMisc);
constexpr uint8_t kEndResourceLimit = static_cast<uint8_t>(cell::EndReason::kResourceLimit);
constexpr uint8_t kEndDestroy = static_cast<uint8_t>(cell::EndReason::kDestroy);
constexpr uint8_t kEndNotDirectory = static_cast<uint8_t>(cell::EndReason::kNotDirectory);

// An END never carries reason 0 (C tor bug 41353): 0 becomes MISC.
constexpr uint8_t endReason(uint8_t r) {
  return r == 0 ? kEndMisc : r;
}

}  // namespace

struct Reactor::Leg {
  LegId id = 0;
  SessionId session = 0;  // its circuitd session
  FlowId flow = 0;        // its flow there (circuitd's leg id)
  bool linked = false;
  SetId set = 0;
};

struct Reactor::Set {
  Set(SetId i, size_t toStreamdPeer, size_t toStreamdLocal)
      : id(i),
        toStreamd(toStreamdPeer, toStreamdLocal),
        toClient(ipc::defaultWindows().flowMessages, kMaxStreamsPerSet + kRefusalSlotsPerSet) {}
  SetId id;
  SessionId firstLeg = 0;  // the circuitd connection (shard) of its first leg
  bool acrossShards = false;
  SessionId streamd = 0;    // its stream side's connection, while streamOpen
  bool streamOpen = false;  // a flow on streamd's boundary with id = set id
  // A leg that linked runs CGO (v1 cells); the stream side is sized for v1 if one did as it opened
  // (streamV1, circuit_stream.capnp's relayCellV1): a message must fit one cell of any leg.
  bool anyLegV1 = false;
  bool streamV1 = false;
  // In order, waiting for streamd's credit: a leg's message with the leg's credit (peer), or one
  // released from the reorder queue, whose credit went back when it was queued there (local).
  MsgQueue toStreamd;
  // Toward the client, waiting for a leg: streamd's messages with its credit (peer slots, never
  // more than its window), confluxd's own ENDs (local slots).
  MsgQueue toClient;
  std::vector<uint16_t> streams;  // open stream ids, for END when streamd drops the set
};

// ---- sessions ----

CircuitdSession::CircuitdSession(Reactor& r, std::function<void()> drop)
    : PeerSession("circuitd", ipc::defaultWindows(), std::move(drop)),
      reactor_(r),
      id_(r.addSession()) {
  reactor_.circuitdSessions_[id_] = this;
}
CircuitdSession::~CircuitdSession() noexcept(false) {
  reactor_.circuitdGone(*this);
}
ipc::Verdict CircuitdSession::onControl(proto::LegEvent::Reader e) {
  if (!e.isState()) return ipc::Verdict::breach("a leg event without a leg");
  // A leg unknown here was refused or closed meanwhile (the report crossed our close).
  if (LegFlow* lf = pipe.state(e.getLeg()); lf && lf->leg)
    reactor_.onLegState(lf->leg, e.getState());
  return ipc::Verdict::accept();
}
FlowVerdict CircuitdSession::onFlowEvent(FlowId f, LegFlow& s, proto::LegEvent::Reader e,
                                         CreditToken credit) {
  if (e.isLink()) return reactor_.onLink(*this, f, s, e.getLink());  // its credit goes now
  // LINKED is refused by admit(), `closed` is onPeerClose.
  if (!e.isRelay()) return FlowVerdict::accept();
  FlowVerdict v = reactor_.onLegRelay(s.leg, e.getRelay(), std::move(credit));
  reactor_.noteMemory();
  return v;
}
void CircuitdSession::onPeerClose(FlowId, LegFlow& s, proto::LegEvent::Reader) {
  reactor_.onLegClosedByCircuitd(s.leg);
}
void CircuitdSession::onCredit() {
  reactor_.onLegCredit(*this);
}

StreamdSession::StreamdSession(Reactor& r, std::function<void()> drop)
    : PeerSession("streamd", ipc::defaultWindows(), std::move(drop)),
      reactor_(r),
      id_(r.addSession()) {}
StreamdSession::~StreamdSession() noexcept(false) {
  reactor_.streamdGone(*this);
}
FlowVerdict StreamdSession::onFlowEvent(FlowId f, ipc::NoState&, proto::StreamEvent::Reader e,
                                        CreditToken credit) {
  if (!e.isRelay()) return FlowVerdict::accept();  // `closed` is onPeerClose
  FlowVerdict v = reactor_.onStreamdRelay(*this, f, e.getRelay(), std::move(credit));
  reactor_.noteMemory();
  return v;
}
void StreamdSession::onPeerClose(FlowId f, ipc::NoState&, proto::StreamEvent::Reader e) {
  reactor_.onStreamdClosed(*this, f, e.getClosed());
}
void StreamdSession::onCredit() {
  reactor_.onStreamdCredit(*this);
}

// ---- the reactor ----

Reactor::Reactor(const conflux::ConfluxParams& params, std::function<uint64_t()> nowUsec)
    : params_(params), now_(std::move(nowUsec)), mgr_(params) {}

Reactor::~Reactor() = default;

CircuitdSession* Reactor::circuitd(SessionId id) {
  auto it = circuitdSessions_.find(id);
  return it == circuitdSessions_.end() ? nullptr : it->second;
}

Reactor::Set* Reactor::findSet(SetId id) {
  auto it = sets_.find(id);
  return it == sets_.end() ? nullptr : it->second.get();
}

Reactor::Set* Reactor::setOf(LegId leg) {
  auto l = legs_.find(leg);
  if (l == legs_.end() || !l->second.linked) return nullptr;
  return findSet(l->second.set);
}

bool Reactor::streamSideOn(const Set& set, const StreamdSession* sd) const {
  return sd != nullptr && set.streamOpen && set.streamd == sd->id();
}

// ---- circuitd ----

void Reactor::onLegState(LegId id, proto::LegState::Reader st) {
  auto l = legs_.find(id);
  if (l == legs_.end() || !l->second.linked) return;
  conflux::CcFacts cc;
  cc.cwnd = st.getCwndCells();
  cc.inflight = st.getInflightCells();
  cc.sendmeInc = st.getSendmeInc();
  cc.channelBlocked = !st.getCanSend();
  cc.ewmaRttUsec = st.getRttEwmaUsec();
  if (conflux::ConfluxController* ctl = mgr_.controllerFor(id)) ctl->onLegState(id, cc);
  if (Set* set = setOf(id)) flushToClient(set->id);
}

FlowVerdict Reactor::onLink(CircuitdSession& s, FlowId flow, LegFlow& lf, proto::Link::Reader l) {
  ++counters_.linksReceived;
  const LegId id = nextLeg_++;
  lf.leg = id;
  Leg& newLeg = legs_[id];
  newLeg.id = id;
  newLeg.session = s.id();
  newLeg.flow = flow;
  const Bytes body = bytesOf(l.getBody());
  conflux::LegFacts facts;
  facts.carriesStreams = l.getCarriedStreams();
  facts.ccNegotiated = true;  // circuitd forwards a LINK only from a circuit with CC
  const uint64_t now = now_();
  auto r = mgr_.onLinkBody(id, body, facts, now);
  if (r.recvAhead) ++counters_.linksSeqnoRecvAhead;  // bug 41328
  switch (r.kind) {
    case conflux::LinkResult::kLinked:
      break;
    case conflux::LinkResult::kCloseLeg:
      ++counters_.legsRefused;
      legs_.erase(id);
      return FlowVerdict::closeFlow(static_cast<uint8_t>(r.reason));
    case conflux::LinkResult::kCloseSet:
      ++counters_.legsRefused;
      legs_.erase(id);
      tearDown(r.set, static_cast<uint8_t>(r.reason));
      return FlowVerdict::closeFlow(static_cast<uint8_t>(r.reason));
  }
  // A CGO leg cannot carry what a stream side sized for v0 cells sends: refused.
  const bool legV1 = l.getRelayCellV1();
  if (const Set* set = findSet(r.set); legV1 && set && set->streamOpen && !set->streamV1)
    return unlink(id, destroyReason(cell::DestroyReason::kInternal));
  std::array<uint8_t, cell::kRelayBodyMax> buf;
  Writer w{MutBytes(buf)};
  if (!cell::encodeConfluxLink(r.linked, w) || !s.pipe.canSend(flow))
    return unlink(id, destroyReason(cell::DestroyReason::kInternal));
  Leg& leg = legs_.at(id);
  leg.linked = true;
  leg.set = r.set;
  auto [it, fresh] = sets_.try_emplace(r.set);
  if (fresh) {
    size_t peer = size_t{params_.maxLegsPerSet} * ipc::defaultWindows().flowMessages;
    size_t local = params_.maxOooqBytes / conflux::kQueuedOverheadBytes + 64;
    it->second = std::make_unique<Set>(r.set, peer, local);
    it->second->firstLeg = s.id();
    it->second->toStreamd.account(memory_);
    it->second->toClient.account(memory_);
    if (conflux::ConfluxController* ctl = mgr_.controller(r.set)) ctl->account(memory_);
    ++counters_.setsLinked;
  }
  it->second->anyLegV1 = it->second->anyLegV1 || legV1;
  if (it->second->firstLeg != s.id() && !std::exchange(it->second->acrossShards, true))
    ++counters_.setsAcrossShards;
  ++counters_.legsLinked;
  auto ev = s.pipe.add();
  ev.setLeg(flow);
  ev.initLinked().setBody(capnp::Data::Reader(w.written().data(), w.written().size()));
  s.pipe.commit(flow, ev);
  return FlowVerdict::accept();
}

FlowVerdict Reactor::unlink(LegId id, uint8_t reason) {
  // The leg joined the manager's set: it leaves again. A set that had other legs sees it as a leg
  // holding data it never sent (rule 7) and is torn down; a fresh set is forgotten.
  ++counters_.legsRefused;
  legScratch_.clear();
  conflux::LegClosed c = mgr_.onLegClosed(id, legScratch_);
  legs_.erase(id);
  std::vector<LegId> others;
  others.swap(legScratch_);
  if (c.setTornDown) ++counters_.setsTornDown;
  for (LegId o : others)
    closeLeg(o, reason);
  if (c.setForgotten) forgetSet(c.set);
  return FlowVerdict::closeFlow(reason);
}

FlowVerdict Reactor::onLegRelay(LegId id, proto::RelayMsg::Reader m, CreditToken credit) {
  const uint8_t cmd = m.getCommand();
  const uint16_t streamId = m.getStreamId();
  const Bytes body = bytesOf(m.getBody());
  auto li = legs_.find(id);
  conflux::ConfluxController* ctl = mgr_.controllerFor(id);
  Set* set = setOf(id);
  if (li == legs_.end() || !li->second.linked || !ctl || !set) return FlowVerdict::accept();
  switch (static_cast<RelayCmd>(cmd)) {
    case RelayCmd::kConfluxLinkedAck:
      ++counters_.linkedAcks;
      apply(id, mgr_.onLinkedAck(id, now_()));
      return FlowVerdict::accept();
    case RelayCmd::kConfluxSwitch: {
      auto sw = cell::decodeConfluxSwitch(body);
      if (!sw) {
        closeLeg(id, destroyReason(cell::DestroyReason::kProtocol));
        return FlowVerdict::accept();
      }
      ++counters_.switchesReceived;
      apply(id, ctl->onSwitch(id, sw->relativeSeq));
      return FlowVerdict::accept();
    }
    case RelayCmd::kBeginDir:
      // Not multiplexed (it belongs to the leg's own circuit); an exit serves no directory.
      if (streamId != 0)
        sendOnLeg(li->second, streamId, rcmd(RelayCmd::kEnd), Bytes(&kEndNotDirectory, 1));
      return FlowVerdict::accept();
    default:
      break;
  }
  if (!cell::isConfluxMultiplexed(cmd) || streamId == 0)
    return FlowVerdict::accept();  // e.g. a stream-level SENDME, unused with CC: dropped
  deliveries_.clear();
  auto v = ctl->onMultiplexed(id, cmd, streamId, body, deliveries_);
  if (v.kind != conflux::Verdict::kOk) {
    apply(id, v);
    return FlowVerdict::accept();
  }
  const uint64_t seq = ctl->leg(id)->lastSeqRecv;
  if (deliveries_.empty() || deliveries_.front().seq != seq) {
    // Waits in the reorder queue, whose byte cap bounds it: its credit goes back now.
    ++counters_.reorderedMessages;
    counters_.reorderBytesMax = std::max<uint64_t>(counters_.reorderBytesMax, ctl->oooQueueBytes());
    return FlowVerdict::accept();
  }
  toStreams(set->id, seq, std::move(credit));
  return FlowVerdict::accept();
}

bool Reactor::toStreams(SetId setId, uint64_t owedSeq, CreditToken owed) {
  Set* set = findSet(setId);
  if (!set) return false;
  StreamdSession* sd = streamd();
  for (const conflux::Delivery& d : deliveries_) {
    CreditToken credit = d.seq == owedSeq ? std::move(owed) : CreditToken{};
    // What the client may not make us send streamd (relay_commands.h) goes nowhere.
    if (!ipc::maySend(Side::kConfluxd, Side::kStreamd, d.cmd, d.streamId != 0)) continue;
    if (ipc::opensStreamSide(d.cmd)) {
      bool ok = set->streams.size() < kMaxStreamsPerSet && sd != nullptr;
      if (ok && !set->streamOpen) {
        ok = sd->pipe.openFlow(set->id);
        if (ok) {
          set->streamOpen = true;
          set->streamd = sd->id();
          set->streamV1 = set->anyLegV1;
        }
      }
      ok = ok && streamSideOn(*set, sd);
      if (!ok) {
        ++counters_.streamsRefused;
        if (!refuse(*set, d.streamId, kEndResourceLimit)) return false;
        continue;  // its credit goes back here
      }
      set->streams.push_back(d.streamId);
    } else if (!streamSideOn(*set, sd)) {
      continue;  // no stream side: the stream it names does not exist
    } else if (d.cmd == rcmd(RelayCmd::kEnd)) {
      std::erase(set->streams, d.streamId);
    }
    // Nothing waits and streamd has credit (the usual case): straight out, no copy.
    if (set->toStreamd.empty() && sd->pipe.canSend(set->id)) {
      sendToStreamd(*set, *sd, d.streamId, d.cmd, d.body);
      continue;
    }
    if (set->toStreamd.push(d.streamId, d.cmd, d.body, std::move(credit)) != MsgQueue::Push::kOk) {
      tearDown(set->id, destroyReason(cell::DestroyReason::kResourceLimit));
      return false;
    }
  }
  flushToStreamd(*set);
  return flushToClient(setId);  // refusals
}

bool Reactor::refuse(Set& set, uint16_t streamId, uint8_t reason) {
  const uint8_t r = endReason(reason);
  if (set.toClient.pushLocal(streamId, rcmd(RelayCmd::kEnd), Bytes(&r, 1)) == MsgQueue::Push::kOk) {
    waitLegs_.insert(set.id);
    return true;
  }
  // Our own answers filled their slots: the set that caused them closes, nobody else's.
  ++counters_.setsOverLocalSlots;
  tearDown(set.id, destroyReason(cell::DestroyReason::kResourceLimit));
  return false;
}

void Reactor::sendToStreamd(Set& set, StreamdSession& sd, uint16_t streamId, uint8_t command,
                            Bytes body) {
  auto ev = sd.pipe.add();
  ev.setFlow(set.id);
  ev.setCongestionControl(true);    // conflux legs always negotiated it
  ev.setRelayCellV1(set.streamV1);  // v1 if a leg ran CGO as it opened (circuit_stream.capnp)
  auto r = ev.initRelay();
  r.setStreamId(streamId);
  r.setCommand(command);
  r.setBody(capnp::Data::Reader(body.data(), body.size()));
  sd.pipe.commit(set.id, ev);
  ++counters_.messagesToStreamd;
}

void Reactor::flushToStreamd(Set& set) {
  StreamdSession* sd = streamd();
  if (!streamSideOn(set, sd)) {  // no stream side: what waits is dropped, its credit goes back
    set.toStreamd.clear();
    waitStreamd_.erase(set.id);
    return;
  }
  while (!set.toStreamd.empty() && sd->pipe.canSend(set.id)) {
    const flowctl::QueuedMsg& m = set.toStreamd.front();
    sendToStreamd(set, *sd, m.streamId, m.command, m.bytes());
    set.toStreamd.pop();
  }
  if (set.toStreamd.empty()) {
    waitStreamd_.erase(set.id);
  } else {
    waitStreamd_.insert(set.id);
  }
}

bool Reactor::sendOnLeg(const Leg& leg, uint16_t streamId, uint8_t command, Bytes body) {
  CircuitdSession* s = circuitd(leg.session);
  if (!s || !s->pipe.canSend(leg.flow)) return false;
  auto ev = s->pipe.add();
  ev.setLeg(leg.flow);
  auto r = ev.initRelay();
  r.setStreamId(streamId);
  r.setCommand(command);
  r.setBody(capnp::Data::Reader(body.data(), body.size()));
  s->pipe.commit(leg.flow, ev);
  return true;
}

Reactor::ToClient Reactor::sendToClient(Set& set, conflux::ConfluxController& ctl,
                                        uint16_t streamId, uint8_t command, Bytes body) {
  auto pick = ctl.peekLeg(command);
  if (!pick) return ToClient::kWait;  // no leg may send DATA now: streamd's reads wait
  auto l = legs_.find(*pick);
  if (l == legs_.end()) return ToClient::kWait;
  const Leg leg = l->second;
  CircuitdSession* s = circuitd(leg.session);
  // Room for the message and the SWITCH that may precede it.
  if (!s || !s->pipe.canSend(leg.flow) || s->pipe.flowAvailable(leg.flow) < 2)
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
  return ToClient::kSent;
}

bool Reactor::flushToClient(SetId id) {
  Set* set = findSet(id);
  if (!set) return false;
  conflux::ConfluxController* ctl = mgr_.controller(id);
  if (!ctl) return true;
  while (!set->toClient.empty()) {
    const flowctl::QueuedMsg& m = set->toClient.front();
    ToClient r = sendToClient(*set, *ctl, m.streamId, m.command, m.bytes());
    if (r == ToClient::kSetGone) return false;
    if (r == ToClient::kWait) break;
    set->toClient.pop();  // streamd's credit for it goes back
  }
  if (set->toClient.empty()) {
    waitLegs_.erase(id);
  } else {
    waitLegs_.insert(id);
  }
  return true;
}

bool Reactor::apply(LegId leg, const conflux::Verdict& v) {
  switch (v.kind) {
    case conflux::Verdict::kOk:
      return true;
    case conflux::Verdict::kCloseLeg: {
      auto it = legs_.find(leg);
      SetId set = it != legs_.end() ? it->second.set : 0;
      closeLeg(leg, static_cast<uint8_t>(v.reason));
      return findSet(set) != nullptr;
    }
    case conflux::Verdict::kCloseSet: {
      if (Set* s = setOf(leg)) tearDown(s->id, static_cast<uint8_t>(v.reason));
      return false;
    }
  }
  return false;
}

void Reactor::closeLeg(LegId id, uint8_t reason) {
  auto it = legs_.find(id);
  if (it == legs_.end()) return;
  if (CircuitdSession* s = circuitd(it->second.session)) s->pipe.close(it->second.flow, reason);
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
      closeLeg(o, destroyReason(cell::DestroyReason::kFinished));
  }
  if (r.setForgotten) {
    forgetSet(r.set);
    return;
  }
  flushToClient(r.set);  // another leg may carry what waits
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
  StreamdSession* sd = streamd();
  if (streamSideOn(*it->second, sd)) sd->pipe.close(id, kEndDestroy);
  waitLegs_.erase(id);
  waitStreamd_.erase(id);
  sets_.erase(it);  // what waits in its queues goes, and with it the peers' credit
}

uint64_t Reactor::handleOom() {
  if (!memory_.over()) return 0;  // drained since it was scheduled
  ++counters_.oomRuns;
  oomCandidates_.clear();
  oomSets_.clear();
  for (const auto& [id, set] : sets_) {
    const conflux::ConfluxController* ctl = mgr_.controller(id);
    uint64_t ooo = ctl ? ctl->oooQueueBytes() : 0;
    uint64_t all = ooo + set->toStreamd.memHeld() + set->toClient.memHeld();
    if (all == 0) continue;
    oomCandidates_.push_back({ooo, all, oomSets_.size()});
    oomSets_.push_back(id);
  }
  size_t n = flowctl::chooseOomVictims(oomCandidates_, memory_.bytes(), memory_.lowWater());
  uint64_t freed = 0;
  for (size_t i = 0; i < n; ++i) {
    SetId id = oomSets_[oomCandidates_[i].ref];
    if (!sets_.count(id)) continue;
    freed += oomCandidates_[i].bytes;
    ++counters_.oomSetsClosed;
    tearDown(id, destroyReason(cell::DestroyReason::kResourceLimit));
  }
  counters_.oomBytesFreed += freed;
  return freed;
}

size_t Reactor::expireLinkedAcks(uint64_t nowUsec) {
  legScratch_.clear();
  mgr_.overdueLinkedAcks(nowUsec, legScratch_);
  std::vector<LegId> overdue;
  overdue.swap(legScratch_);
  // Each goes as any closed leg (rule 7): the set carries on with its other legs, or ends.
  for (LegId id : overdue) {
    if (!legs_.count(id)) continue;  // closed meanwhile with its set
    ++counters_.linkedAckTimeouts;
    closeLeg(id, destroyReason(cell::DestroyReason::kTimeout));
  }
  return overdue.size();
}

void Reactor::onLegClosedByCircuitd(LegId id) {
  if (!legs_.count(id)) return;
  ++counters_.legsClosedByCircuitd;
  legGone(id);  // the pipe answers the close
}

void Reactor::onLegCredit(CircuitdSession&) {
  // A set's legs may be on several circuitd shards: any set that waits may go on now.
  setScratch_.assign(waitLegs_.begin(), waitLegs_.end());
  for (SetId id : setScratch_)
    if (findSet(id)) flushToClient(id);
}

void Reactor::circuitdGone(CircuitdSession& s) {
  // circuitd destroys these legs itself (it lost us). Each is gone as if it had closed: a set
  // whose legs were all there goes with them, a set with legs on another shard goes on over those
  // unless a lost leg held data it never sent (then the set is torn down and its others close).
  circuitdSessions_.erase(s.id());
  std::vector<LegId> rest;
  for (auto& [id, leg] : legs_)
    if (leg.session == s.id()) rest.push_back(id);
  for (LegId id : rest)
    legGone(id);
}

// ---- streamd ----

FlowVerdict Reactor::onStreamdRelay(StreamdSession& sd, FlowId flow, proto::RelayMsg::Reader m,
                                    CreditToken credit) {
  Set* set = findSet(flow);
  // A stream side is open on the pipe exactly while its set has it (forgetSet closes it).
  if (!set || !streamSideOn(*set, &sd)) return FlowVerdict::closeFlow(kEndDestroy);
  const uint8_t cmd = m.getCommand();
  const uint16_t streamId = m.getStreamId();
  const Bytes body = bytesOf(m.getBody());
  if (cmd == rcmd(RelayCmd::kEnd) || cmd == rcmd(RelayCmd::kResolved))
    std::erase(set->streams, streamId);
  conflux::ConfluxController* ctl = mgr_.controller(set->id);
  const bool waiting = !set->toClient.empty();
  if (!waiting && ctl) {  // nothing waits: straight to a leg if one may send
    ToClient r = sendToClient(*set, *ctl, streamId, cmd, body);
    if (r != ToClient::kWait) return FlowVerdict::accept();  // sent, or the set is gone
  }
  // streamd keeps to its window, which is the peer slots' bound: only our bug could overflow it.
  if (set->toClient.push(streamId, cmd, body, std::move(credit)) != MsgQueue::Push::kOk) {
    tearDown(set->id, destroyReason(cell::DestroyReason::kResourceLimit));
    return FlowVerdict::accept();
  }
  if (waiting) {
    flushToClient(flow);
  } else {
    waitLegs_.insert(flow);
  }
  return FlowVerdict::accept();
}

void Reactor::onStreamdClosed(StreamdSession& sd, FlowId flow, uint8_t reason) {
  // streamd dropped the set's stream side: END for every open stream (the pipe answers the close).
  Set* set = findSet(flow);
  if (!set || !streamSideOn(*set, &sd)) return;
  set->streamOpen = false;
  set->streamd = 0;
  std::vector<uint16_t> streams;
  streams.swap(set->streams);
  for (uint16_t s : streams)
    if (!refuse(*set, s, reason)) return;  // the set closed
  flushToStreamd(*set);                    // drops what waited, returning the legs' credit
  flushToClient(flow);
}

void Reactor::onStreamdCredit(StreamdSession& sd) {
  setScratch_.assign(waitStreamd_.begin(), waitStreamd_.end());
  for (SetId id : setScratch_) {
    Set* set = findSet(id);
    if (set && set->streamd == sd.id()) flushToStreamd(*set);
  }
}

void Reactor::streamdGone(StreamdSession& sd) {
  // The stream sides are gone with their sockets; a set without its streams cannot go on
  // (proto/conflux_stream.capnp): its legs close, sets that never had streams carry on.
  setScratch_.clear();
  for (auto& [id, set] : sets_) {
    if (set->streamd != sd.id() || !set->streamOpen) continue;
    set->streamOpen = false;
    set->streamd = 0;
    setScratch_.push_back(id);
  }
  std::vector<SetId> gone;
  gone.swap(setScratch_);
  for (SetId id : gone)
    tearDown(id, destroyReason(cell::DestroyReason::kInternal));
}

}  // namespace onionsplit::confluxd

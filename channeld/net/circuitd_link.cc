// channeld/net/circuitd_link.cc: see circuitd_link.h.
#include "channeld/net/circuitd_link.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <utility>

#include "common/cell/cells.h"
#include "common/config/relay_options.h"

namespace onionsplit::channeld {
namespace {

using cell::CellCmd;
using cell::DestroyReason;
using ipc::FlowId;
using ipc::FlowVerdict;
using ipc::Verdict;

constexpr uint8_t kDestroy = static_cast<uint8_t>(CellCmd::kDestroy);

uint8_t reasonOf(DestroyReason r) {
  return static_cast<uint8_t>(r);
}

FlowId flowOf(ChannelId ch, uint32_t circId) {
  return (FlowId{ch} << 32) | circId;
}

}  // namespace

// ---- CircuitdLink ----

CircuitdLink::CircuitdLink(ChannelPort& channels, Connect connect, CircuitdLinkConfig config,
                           size_t shards)
    : channels_(channels),
      connect_(std::move(connect)),
      config_(config),
      current_(std::max<size_t>(shards, 1), nullptr) {}

CircuitdLink::~CircuitdLink() {
  *self_ = nullptr;
}

std::unique_ptr<CircuitdSession> CircuitdLink::makeSession(size_t shard,
                                                           std::function<void()> drop) {
  return std::make_unique<CircuitdSession>(*this, shard, nextSession_++, std::move(drop));
}

void CircuitdLink::attached(size_t shard) {
  if (shard < current_.size() && current_[shard]) current_[shard]->attached();
}

CircuitdSession* CircuitdLink::session(size_t shard) {
  auto* s = shard < current_.size() ? current_[shard] : nullptr;
  return s && s->live() ? s : nullptr;
}

CircuitdSession* CircuitdLink::sessionById(uint64_t id) {
  for (auto* s : current_)
    if (s && s->id() == id) return s;
  return nullptr;
}

CircuitdSession* CircuitdLink::owner(uint64_t f) {
  for (auto* s : current_)
    if (s && s->live() && s->pipe.inUse(f)) return s;
  return nullptr;
}

CircuitdSession* CircuitdLink::pick() {
  CircuitdSession* best = nullptr;
  for (auto* s : current_)
    if (s && s->live() && (!best || s->flows() < best->flows())) best = s;
  return best;
}

bool CircuitdLink::othersAttached(const CircuitdSession* self) {
  for (auto* s : current_)
    if (s && s != self && s->live()) return true;
  return false;
}

void CircuitdLink::opened(ChannelId id, const ChannelInfo& info) {
  for (auto* s : current_)
    if (s && s->live()) s->announce(id, info);
}

bool CircuitdLink::cell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload) {
  // The shard that has the circuit; a new circuit goes to the least loaded one; a cell for no
  // circuit is counted (and dropped) by any. With one shard (the default on two cores) there is
  // nothing to choose, so the cell's flow is looked up once, by the session.
  CircuitdSession* s = current_.size() == 1 ? session(0) : owner(flowOf(id, circId));
  if (!s) s = pick();
  if (s) return s->fromChannel(id, circId, command, payload);
  // No circuitd is there: refuse new circuits, drop the rest.
  ++counters_.refusedNoCircuitd;
  if (ipc::isCreate(command)) {
    uint8_t reason[cell::kCellPayloadLen] = {reasonOf(DestroyReason::kResourceLimit)};
    channels_.sendCell(id, circId, kDestroy, Bytes(reason));
  }
  return true;
}

void CircuitdLink::closed(ChannelId id) {
  for (auto* s : current_)
    if (s && s->live()) s->channelClosed(id);
}

// ---- CircuitdSession ----

CircuitdSession::CircuitdSession(CircuitdLink& link, size_t shard, uint64_t id,
                                 std::function<void()> drop)
    : PeerSession("circuitd", ipc::defaultWindows(), std::move(drop)),
      link_(link),
      shard_(shard < link.current_.size() ? shard : 0),
      id_(id) {
  link_.current_[shard_] = this;
}

CircuitdSession::~CircuitdSession() noexcept(false) {
  if (link_.current_[shard_] == this) link_.current_[shard_] = nullptr;
  if (!live_) return;
  size_t n = 0;
  if (!link_.othersAttached(this)) {
    // The only shard there: every circuit channeld knows was its.
    n = link_.channels_.destroyAllCircuits(reasonOf(DestroyReason::kInternal));
  } else {
    // The others' circuits go on; this shard's clients hear DESTROY.
    std::vector<FlowId> lost;
    pipe.forEachOpen([&lost](FlowId f, CircuitFlow&) { lost.push_back(f); });
    for (FlowId f : lost)
      link_.channels_.destroyCircuit(static_cast<ChannelId>(f >> 32), static_cast<uint32_t>(f),
                                     reasonOf(DestroyReason::kInternal));
    n = lost.size();
  }
  if (n)
    spdlog::info("{}'s connection ended: {} circuits destroyed",
                 config::circuitdShardName(static_cast<unsigned>(shard_)), n);
}

void CircuitdSession::attached() {
  if (live_) return;
  live_ = true;
  link_.channels_.forEachOpen(
      [this](ChannelId id, const ChannelInfo& info) { announce(id, info); });
}

void CircuitdSession::announce(ChannelId id, const ChannelInfo& info) {
  if (!live_ || open_.count(id)) return;  // `opened` once per channel
  std::optional<crypto::RsaFingerprint> rsa;
  if (info.peer) rsa = info.peer->rsaId;
  open_.emplace(id, rsa);
  maxAnnounced_ = std::max(maxAnnounced_, id);
  auto e = pipe.add();
  e.setChannel(id);
  auto o = e.initOpened();
  o.setLinkProtocol(info.linkVersion);
  if (info.peer) {
    o.setPeerRsaId(capnp::Data::Reader(info.peer->rsaId.data(), info.peer->rsaId.size()));
    o.setPeerEd25519Id(capnp::Data::Reader(info.peer->edId.data(), info.peer->edId.size()));
  }
}

void CircuitdSession::channelClosed(ChannelId id) {
  if (open_.erase(id) == 0) return;
  auto e = pipe.add();
  e.setChannel(id);
  e.setClosed();
  // Both sides forget the channel's flows with it; their states go, and with them every extend
  // the channel's circuits wait on: nothing more names this channel.
  pipe.forgetFlows([id](FlowId f) { return (f >> 32) == id; });
}

void CircuitdSession::refuse(ChannelId id, uint32_t circId, DestroyReason reason) {
  uint8_t payload[cell::kCellPayloadLen] = {reasonOf(reason)};
  link_.channels_.sendCell(id, circId, kDestroy, Bytes(payload));
}

bool CircuitdSession::fromChannel(ChannelId id, uint32_t circId, uint8_t command, Bytes payload) {
  auto& n = link_.counters_;
  if (!open_.count(id)) {  // cannot be: ChannelServer reports a channel open before its cells
    ++n.noCircuit;
    if (ipc::isCreate(command)) refuse(id, circId, DestroyReason::kInternal);
    return true;
  }
  FlowId f = flowOf(id, circId);
  if (!ipc::channeldMaySend(command)) {
    // A cell circuitd may not get (a next hop's CREATED_FAST answering our CREATE2): the next hop
    // broke the protocol, which costs its circuit (DESTROY PROTOCOL both ways, as C tor's failed
    // handshake), never circuitd's connection.
    ++n.refusedCommand;
    if (pipe.close(f, reasonOf(DestroyReason::kProtocol)))
      refuse(id, circId, DestroyReason::kProtocol);
    return true;
  }
  if (command == kDestroy) {
    // The client ended the circuit: our close (a second DESTROY, or one for a circuit circuitd
    // already closed, is dropped). The flow's state goes, and any extend it waits on.
    if (!pipe.close(f, payload.empty() ? 0 : payload[0])) ++n.noCircuit;
    return true;
  }
  if (!pipe.isOpen(f)) {
    if (!ipc::isCreate(command)) {  // a cell for a circuit that does not exist (any more)
      ++n.noCircuit;
      return true;
    }
    if (pipe.inUse(f)) {
      // The id's previous life is closing: circuitd's answer to our DESTROY is on its way, and
      // onClosed() resumes the channel.
      ++n.waited;
      return false;
    }
    // Caps refuse, never stall: the client hears DESTROY, the channel's other circuits go on.
    if (pipe.openFlows() >= link_.config_.maxFlows || !pipe.openFlow(f)) {
      ++n.refusedAtFlowCap;
      refuse(id, circId, DestroyReason::kResourceLimit);
      return true;
    }
  }
  if (!pipe.canSend(f)) {  // circuitd's credit for the circuit is spent: the channel waits
    ++n.waited;
    return false;
  }
  auto e = pipe.add();
  e.setChannel(id);
  auto c = e.initCell();
  c.setCircId(circId);
  c.setCommand(command);
  c.setPayload(capnp::Data::Reader(payload.data(), payload.size()));
  pipe.commit(f, e);
  ++n.toCircuitd;
  return true;
}

// ---- what circuitd sends ----

Verdict CircuitdSession::admit(Event::Reader e) {
  // The direction table: cells circuitd may send (relay_commands.h), extends well formed, no
  // channel events.
  return ipc::ChannelCircuitTraits::admitFromCircuitd(e);
}

Verdict CircuitdSession::onControl(Event::Reader e) {
  if (!e.isExtend()) return Verdict::breach("a control event circuitd does not send");
  auto x = e.getExtend();
  ChannelId ch = e.getChannel();
  if (!open_.count(ch)) {
    if (ch != 0 && ch <= maxAnnounced_) {  // it crossed the channel's `closed`
      ++link_.counters_.crossedClose;
      return Verdict::accept();
    }
    return Verdict::breach("an extend on a channel never opened");
  }
  FlowId origin = flowOf(ch, x.getOriginCircId());
  CircuitFlow* st = pipe.state(origin);
  if (!st) {
    if (pipe.inUse(origin)) {  // it crossed our DESTROY of the circuit
      ++link_.counters_.crossedClose;
      return Verdict::accept();
    }
    return Verdict::breach("an extend for a circuit that does not exist");
  }
  if (st->pendingExtend != 0)
    return Verdict::breach("a second extend for a circuit that waits for one");
  st->pendingExtend = link_.nextTicket_++;
  extend(ch, st->pendingExtend, x);
  return Verdict::accept();
}

FlowVerdict CircuitdSession::onFlowEvent(FlowId f, CircuitFlow&, Event::Reader e,
                                         ipc::CreditToken credit) {
  // The cell waits in its channel's scheduler with its credit, which goes back when it leaves for
  // TLS, so a slow reader holds at most its circuits' windows here. If the channel cannot take it
  // the cell is dropped and its credit goes back now.
  auto c = e.getCell();
  (void)link_.channels_.queueCell(static_cast<ChannelId>(f >> 32), c.getCircId(), c.getCommand(),
                                  Bytes(c.getPayload().begin(), c.getPayload().size()),
                                  std::move(credit));
  return FlowVerdict::accept();
}

void CircuitdSession::onPeerClose(FlowId f, CircuitFlow&, Event::Reader e) {
  // circuitd ended the circuit: its queued cells are not sent, the peer hears DESTROY, and an
  // extend the circuit waited on goes with the flow's state. The pipe answers with our close.
  auto ch = static_cast<ChannelId>(f >> 32);
  auto circId = static_cast<uint32_t>(f);
  auto c = e.getCell();
  link_.channels_.dropQueued(ch, circId);
  link_.channels_.sendCell(ch, circId, kDestroy,
                           Bytes(c.getPayload().begin(), c.getPayload().size()));
}

void CircuitdSession::onClosed(FlowId) {
  // The id is free again, and a CREATE that reuses it may be waiting on a stalled channel.
  link_.channels_.resumeSoon();
}

bool CircuitdSession::mayBeStale(Event::Reader e) {
  // A cell for a flow we do not know: its channel closed (and both sides forgot its flows) after
  // circuitd sent it. A flow of a channel still open that we do not know was never announced.
  ChannelId ch = e.getChannel();
  return ch != 0 && ch <= maxAnnounced_ && !open_.count(ch);
}

void CircuitdSession::onCredit() {
  link_.channels_.resume();
}

// ---- the middle role ----

void CircuitdSession::sendExtended(uint32_t originChannel, uint32_t originCirc, ChannelId next,
                                   uint32_t nextCircId, uint8_t reason) {
  auto e = pipe.add();  // flow-less
  e.setChannel(originChannel);
  auto r = e.initExtended();
  r.setOriginCircId(originCirc);
  r.setNextChannel(next);
  r.setNextCircId(nextCircId);
  r.setReason(reason);
}

// An EXTEND2 circuitd checked: a channel to the next hop (reused or opened), a circuit id on it,
// our CREATE2, and the answer; refusals and failures answer with the DESTROY reason for the
// client's circuit (as C tor: a private address or extending back to the previous hop is a
// protocol violation, an unreachable relay or ourselves CONNECTFAILED).
void CircuitdSession::extend(uint32_t originChannel, uint64_t ticket,
                             proto::ExtendRequest::Reader x) {
  auto& n = link_.counters_;
  auto& cfg = link_.config_;
  ++n.extendsRequested;
  uint32_t originCirc = x.getOriginCircId();
  OutboundTarget t;
  char ip[INET6_ADDRSTRLEN] = {};
  if (x.getIpv4().size() == 4 && x.getIpv4Port() != 0) {
    inet_ntop(AF_INET, x.getIpv4().begin(), ip, sizeof ip);
    t.port = x.getIpv4Port();
  } else if (x.getIpv6().size() == 16 && x.getIpv6Port() != 0) {
    inet_ntop(AF_INET6, x.getIpv6().begin(), ip, sizeof ip);
    t.port = x.getIpv6Port();
  }
  t.ip = ip;
  if (x.getRsaId().size() == 20) std::copy_n(x.getRsaId().begin(), 20, t.rsaId.emplace().begin());
  if (x.getEd25519Id().size() == 32)
    std::copy_n(x.getEd25519Id().begin(), 32, t.edId.emplace().begin());
  const auto& previous = open_.at(originChannel);
  DestroyReason refusal = DestroyReason::kNone;
  if (t.ip.empty() || !t.rsaId || x.getHdata().size() > cell::kRelayBodyMax) {
    refusal = DestroyReason::kProtocol;
  } else if (t.rsaId == cfg.ourRsa || t.edId == cfg.ourEd) {
    refusal = DestroyReason::kConnectFailed;  // C tor does not connect to itself
  } else if (previous && t.rsaId == *previous) {
    refusal = DestroyReason::kProtocol;  // "extend back to the previous hop" (C tor)
  } else if (!cfg.allowPrivate && isPrivateAddress(t.ip)) {
    refusal = DestroyReason::kProtocol;  // ExtendAllowPrivateAddresses is off
  }
  if (refusal != DestroyReason::kNone) {
    ++n.extendsRefused;
    if (CircuitFlow* st = pipe.state(flowOf(originChannel, originCirc))) st->pendingExtend = 0;
    sendExtended(originChannel, originCirc, 0, 0, reasonOf(refusal));
    return;
  }
  std::array<uint8_t, cell::kCellPayloadLen> create{};
  Writer w{MutBytes(create)};
  cell::encodeCreate2(cell::Create2{x.getHtype(), Bytes(x.getHdata().begin(), x.getHdata().size())},
                      w);
  std::string where = t.ip + ":" + std::to_string(t.port);
  // The answer may come at once or on a later turn; it finds the session and the circuit by id.
  std::weak_ptr<CircuitdLink*> self = link_.self_;
  uint64_t session = id_;
  link_.connect_(t, [self, session, originChannel, originCirc, ticket, create,
                     where](const OutboundChannels::Result& r) {
    auto l = self.lock();
    if (!l || !*l) return;
    CircuitdSession* s = (*l)->sessionById(session);
    if (!s) return;  // circuitd's connection changed meanwhile: the circuit that asked is gone
    s->answerExtend(originChannel, originCirc, ticket, r, Bytes(create), where);
  });
}

void CircuitdSession::answerExtend(uint32_t originChannel, uint32_t originCirc, uint64_t ticket,
                                   const OutboundChannels::Result& r, Bytes create,
                                   const std::string& where) {
  auto& n = link_.counters_;
  CircuitFlow* st = pipe.state(flowOf(originChannel, originCirc));
  if (!st || st->pendingExtend != ticket) {
    // The circuit (or its channel) ended while we waited: nothing is pending for it any more, on
    // either side (bug 41393). A channel opened for it stays for others (and idles out).
    ++n.extendsCancelled;
    return;
  }
  st->pendingExtend = 0;
  std::optional<ChannelId> next = r.channel;
  std::string why = r.why;
  DestroyReason failure = DestroyReason::kConnectFailed;
  if (next && *next == originChannel) {  // never the origin's own channel
    why = "the next hop is the previous hop";
    failure = DestroyReason::kProtocol;
    next.reset();
  } else if (next && !open_.count(*next)) {
    why = "the next hop's channel closed";
    next.reset();
  }
  std::optional<uint32_t> circId;
  if (next) {
    circId = link_.channels_.originateCircuit(*next);
    failure = DestroyReason::kResourceLimit;  // from here on, what fails is a resource
    if (!circId) why = "no circuit id free";
  }
  if (circId &&
      (pipe.openFlows() >= link_.config_.maxFlows || !pipe.openFlow(flowOf(*next, *circId)))) {
    refuse(*next, *circId, DestroyReason::kNone);  // unregisters it
    circId.reset();
    why = "too many flows";
  }
  if (!circId) {
    ++n.extendsFailed;
    spdlog::info("extend to {}: {}", where, why);
    sendExtended(originChannel, originCirc, 0, 0, reasonOf(failure));
    return;
  }
  link_.channels_.sendCell(*next, *circId, static_cast<uint8_t>(CellCmd::kCreate2), create);
  ++n.extendsCreated;
  sendExtended(originChannel, originCirc, *next, *circId, 0);
}

}  // namespace onionsplit::channeld

// circuitd/net/middle_role.cc: the middle role's side of channel_circuit.capnp: the `extend`
// circuitd asks channeld for, channeld's `extended` answer, the next hop's flow (its cells and its
// DESTROY) and the next hop circuitd destroys itself (TRUNCATE, the circuit's end).
//
// Contract (proto/channel_circuit.capnp, issue 15): one `extend` per origin circuit is outstanding
// at a time; channeld answers it at most once, never after the origin's flow was closed (either
// way), and never with a next hop on the origin's own channel or on a flow in use. An answer that
// crosses our close of the origin is expected (it was on the wire), so the outstanding extend is
// remembered until the origin's two-phase close completes (ChanneldSession::onClosed). Everything
// else here is what a client or a relay can cause, and costs at most that circuit.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "circuitd/net/reactor.h"
#include "circuitd/net/reactor_io.h"

namespace onionsplit::circuitd {
namespace {

constexpr uint8_t kRelay = static_cast<uint8_t>(cell::CellCmd::kRelay);

FlowId flowOf(uint32_t channel, uint32_t circId) {
  return (FlowId{channel} << 32) | circId;
}

// channeld's failure reason as a DESTROY reason for the client (CONNECTFAILED if it gave none).
cell::DestroyReason failureReason(uint8_t r) {
  if (r == 0 || r > static_cast<uint8_t>(cell::DestroyReason::kNoSuchService))
    return cell::DestroyReason::kConnectFailed;
  return static_cast<cell::DestroyReason>(r);
}

}  // namespace

void Reactor::requestExtend(Entry& e, const ExtendTarget& t) {
  ChanneldSession* s = channeld(e.key.conn);
  if (!s) return;  // its connection is going: the circuit goes with it
  ++counters_.extendsRequested;
  s->pendingExtends_.insert(e.key.flow);
  auto data = [](const auto& a) { return capnp::Data::Reader(a.data(), a.size()); };
  auto ev = s->pipe.add();  // flow-less: one per circuit at a time
  ev.setChannel(e.key.channel());
  auto x = ev.initExtend();
  x.setOriginCircId(static_cast<uint32_t>(e.key.flow));
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

ipc::Verdict Reactor::onExtended(ChanneldSession& s, uint32_t channel,
                                 proto::ExtendResult::Reader r) {
  FlowId origin = flowOf(channel, r.getOriginCircId());
  if (s.pendingExtends_.erase(origin) == 0)
    return ipc::Verdict::breach("an extended for an extend never asked for (or answered twice)");
  bool ok = r.getNextChannel() != 0;
  FlowId next = ok ? flowOf(r.getNextChannel(), r.getNextCircId()) : 0;
  if (ok) {
    // channeld opened the next hop's flow with this event: so do we, before anything can use it.
    if (r.getNextCircId() == 0) return ipc::Verdict::breach("an extended with circuit id 0");
    if (r.getNextChannel() == channel)
      return ipc::Verdict::breach("an extended naming the origin's own channel");
    if (!s.channel(r.getNextChannel()))
      return ipc::Verdict::breach("an extended on a channel never opened");
    if (s.pipe.inUse(next)) return ipc::Verdict::breach("an extended naming a flow in use");
    if (!s.pipe.openFlow(next, ChanFlow{origin}))
      return ipc::Verdict::breach("an extended beyond the flow limit");
  }
  Entry* e = s.pipe.isOpen(origin) ? table_.find(CircKey{s.id(), origin}) : nullptr;
  Middle::Extended result = e ? e->circuit.extendResult(ok) : Middle::Extended::kUnwanted;
  switch (result) {
    case Middle::Extended::kKeep:
      ++counters_.extended;
      e->next = next;
      pump(*e);
      break;
    case Middle::Extended::kUnwanted:
      // The client truncated or left meanwhile: nobody wants the next hop.
      if (ok) s.pipe.close(next, static_cast<uint8_t>(cell::DestroyReason::kNone));
      break;
    case Middle::Extended::kFailed:
      // C tor closes the circuit when it cannot reach the next hop (DESTROY to the client).
      ++counters_.extendsFailed;
      ++counters_.destroyedByUs;
      kill(e->key, failureReason(r.getReason()), true);
      break;
  }
  return ipc::Verdict::accept();
}

ipc::FlowVerdict Reactor::fromNextHop(ChanneldSession& s, FlowId next, FlowId origin,
                                      uint8_t command, Bytes payload, ipc::CreditToken credit) {
  Entry* e = table_.find(CircKey{s.id(), origin});
  if (!e || e->next != next)  // cannot be: a circuit's end closes its next hop
    return ipc::FlowVerdict::closeFlow(static_cast<uint8_t>(cell::DestroyReason::kInternal));
  std::array<uint8_t, cell::kCellPayloadLen> buf{};
  std::copy_n(payload.begin(), std::min(payload.size(), buf.size()), buf.begin());
  Io io(*this, *e);
  bool alive = e->circuit.fromNextHop(command, std::span<uint8_t, cell::kCellPayloadLen>(buf), io,
                                      std::move(credit));
  if (command == kRelay) ++counters_.cellsRelayedBack;
  if (!alive) {
    spdlog::debug("circuit {:x}: next hop's cell {} refused (reason {})", origin, command,
                  static_cast<int>(e->circuit.destroyReason()));
    settle(*e, false);  // closes the next hop's flow too
    return ipc::FlowVerdict::accept();
  }
  pump(*e);
  return ipc::FlowVerdict::accept();
}

void Reactor::nextHopClosed(ChanneldSession& s, FlowId origin) {
  Entry* e = table_.find(CircKey{s.id(), origin});
  if (!e) return;
  // The next hop ended the circuit: C tor (0.4.7 on) closes the whole circuit and tells the client
  // DESTROYED without the next hop's reason. The pipe answers channeld's close itself.
  e->next = 0;
  e->circuit.nextHopGone();
  ++counters_.destroyedByNextHop;
  ++counters_.destroyedByUs;
  kill(e->key, cell::DestroyReason::kDestroyed, true);
}

void Reactor::destroyNextHop(Entry& e, uint8_t reason) {
  if (e.next == 0) return;
  if (ChanneldSession* s = channeld(e.key.conn)) s->pipe.close(e.next, reason);
  e.next = 0;
}

}  // namespace onionsplit::circuitd

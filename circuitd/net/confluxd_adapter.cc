// circuitd/net/confluxd_adapter.cc: circuitd's side of circuit_conflux.capnp toward confluxd: the
// legs (flows circuitd opens when a client's CONFLUX_LINK arrives), what the set's controller sends
// on a leg (`linked`, multiplexed messages), the leg closed by confluxd, the legs' congestion state
// reports, and confluxd's end.
//
// Verdicts: what confluxd sends on a leg is what clients and exits made the set send; at most the
// leg's circuit pays for it. Only what confluxd may not send at all (admit(): `link`, `state`, a
// relay command of the wrong direction; admitOnFlow(): a message longer than one cell of the leg's
// format) costs the connection.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "circuitd/net/reactor.h"
#include "circuitd/net/reactor_io.h"

namespace onionsplit::circuitd {
namespace {

constexpr uint8_t kInternal = static_cast<uint8_t>(cell::DestroyReason::kInternal);

Bytes bytesOf(capnp::Data::Reader d) {
  return Bytes(d.begin(), d.size());
}

cell::DestroyReason destroyReasonOf(uint8_t r) {
  return r <= static_cast<uint8_t>(cell::DestroyReason::kNoSuchService)
             ? static_cast<cell::DestroyReason>(r)
             : cell::DestroyReason::kInternal;
}

}  // namespace

ConfluxdSession::ConfluxdSession(Reactor& r, std::function<void()> drop)
    : PeerSession("confluxd", ipc::defaultWindows(), std::move(drop)),
      reactor_(r),
      id_(r.newConnection()) {}

ConfluxdSession::~ConfluxdSession() noexcept(false) {
  reactor_.confluxdGone(id_);
}

ipc::Verdict ConfluxdSession::admit(proto::LegEvent::Reader e) {
  return ipc::LegTraits::admitFromConfluxd(e);
}

ipc::Verdict ConfluxdSession::admitOnFlow(FlowId, CircKey& k, proto::LegEvent::Reader e) {
  Entry* entry = reactor_.table_.find(k);
  if (!entry || entry->leg.conn != id_) return ipc::Verdict::accept();
  if (e.isLinked())
    return fitsOneCell(entry->circuit, static_cast<uint8_t>(cell::RelayCmd::kConfluxLinked),
                       e.getLinked().getBody().size());
  if (!e.isRelay()) return ipc::Verdict::accept();
  return fitsOneCell(entry->circuit, e.getRelay().getCommand(), e.getRelay().getBody().size());
}

ipc::FlowVerdict ConfluxdSession::onFlowEvent(FlowId, CircKey& k, proto::LegEvent::Reader e,
                                              ipc::CreditToken credit) {
  Entry* entry = reactor_.table_.find(k);
  // A circuit's end closes its leg first, so an open leg always has its circuit.
  if (!entry || entry->leg.conn != id_) return ipc::FlowVerdict::closeFlow(kInternal);
  return reactor_.fromConfluxd(*entry, e, std::move(credit));
}

void ConfluxdSession::onPeerClose(FlowId, CircKey& k, proto::LegEvent::Reader e) {
  if (Entry* entry = reactor_.table_.find(k); entry && entry->leg.conn == id_)
    reactor_.legClosed(*entry, e.getClosed());
}

void ConfluxdSession::onCredit() {
  reactor_.onSideCredit(true);
}

ipc::FlowVerdict Reactor::fromConfluxd(Entry& e, proto::LegEvent::Reader ev,
                                       ipc::CreditToken credit) {
  ++counters_.legMessagesIn;
  Io io(*this, e);
  bool alive = true;
  if (ev.isLinked()) {
    alive = e.circuit.linked(bytesOf(ev.getLinked().getBody()), now_(), io, std::move(credit));
  } else {  // admit() lets only `linked` and `relay` through as flow events
    auto m = ev.getRelay();
    alive = e.circuit.fromStreams(m.getStreamId(), m.getCommand(), bytesOf(m.getBody()), now_(), io,
                                  std::move(credit), true);
  }
  settle(e, alive);
  return ipc::FlowVerdict::accept();
}

void Reactor::legClosed(Entry& e, uint8_t reason) {
  // The set's controller closed the leg: its circuit closes with the controller's reason. The
  // pipe answers confluxd's close itself.
  e.leg = Binding{};
  ++counters_.legsClosedByConfluxd;
  ++counters_.destroyedByUs;
  kill(e.key, destroyReasonOf(reason), true);
}

void Reactor::confluxdGone(ConnId conn) {
  // The sets' sequence state died with the connection (DESIGN.md section 4): every leg closes,
  // single-path circuits carry on.
  for (const CircKey& k : table_.select([conn](const Entry& e) { return e.leg.conn == conn; })) {
    Entry* e = table_.find(k);
    if (!e) continue;
    e->leg = Binding{};
    ++counters_.destroyedByUs;
    kill(k, cell::DestroyReason::kInternal, true);
  }
}

void Reactor::reportLeg(Entry& e) {
  ConfluxdSession* cd = confluxd();
  const flowctl::VegasController* v = e.circuit.vegas();
  if (!cd || !e.leg || e.leg.conn != cd->id() || !v) return;
  // The leg can take another DATA cell now: its window has room and its channel is not holding
  // our credit (C tor's "channel blocked" signal is its outbuf; ours is channeld's credit).
  ChanneldSession* ch = channeld(e.key.conn);
  bool canSend = v->canSend() && ch && ch->pipe.canSend(e.key.flow);
  if (e.reported && e.reportedCanSend == canSend && e.reportedCwnd == v->cwnd() &&
      e.reportedRtt == v->ewmaRttUsec())
    return;
  e.reported = true;
  e.reportedCanSend = canSend;
  e.reportedCwnd = v->cwnd();
  e.reportedRtt = v->ewmaRttUsec();
  auto clamp = [](uint64_t x) { return static_cast<uint32_t>(std::min<uint64_t>(x, UINT32_MAX)); };
  auto ev = cd->pipe.add();  // flow-less: a report costs no credit
  ev.setLeg(e.leg.flow);
  auto st = ev.initState();
  st.setCanSend(canSend);
  st.setCwndCells(clamp(v->cwnd()));
  st.setInflightCells(clamp(v->inflight()));
  st.setRttMinUsec(clamp(v->minRttUsec()));
  st.setRttEwmaUsec(clamp(v->ewmaRttUsec()));
  st.setSendmeInc(e.circuit.sendmeInc());
  ++counters_.legStateReports;
}

}  // namespace onionsplit::circuitd

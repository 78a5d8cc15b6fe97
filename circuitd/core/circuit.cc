// circuitd/core/circuit.cc: see circuit.h.
#include "circuitd/core/circuit.h"

#include <algorithm>
#include <cstring>

#include "common/cell/cells.h"
#include "common/cell/relay_v1.h"
#include "common/ipc/relay_commands.h"

namespace onionsplit::circuitd {
namespace {

using cell::CellCmd;
using cell::DestroyReason;
using cell::RelayCmd;

constexpr uint8_t cmd(CellCmd c) {
  return static_cast<uint8_t>(c);
}
constexpr uint8_t rcmd(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

}  // namespace

const Circuit::FwdHandler Circuit::kFwdChain[6] = {
    &Circuit::dropHandler,    &Circuit::sendmeHandler, &Circuit::middleHandler,
    &Circuit::confluxHandler, &Circuit::streamHandler, &Circuit::exitOnlyHandler,
};

std::optional<Circuit> Circuit::create(const Created& c, const CircuitParams& params) {
  // The v1 format has no stream-level SENDMEs: CGO needs congestion control (create.h refuses
  // the handshake otherwise; this is the circuit's own guard).
  if (c.cgo && !c.ccEnabled) return std::nullopt;
  auto crypto = HopCrypto::create(c);
  if (!crypto) return std::nullopt;
  return Circuit(std::move(*crypto), params, c.ccEnabled, c.sendmeInc);
}

Circuit::Circuit(HopCrypto crypto, const CircuitParams& p, bool cc, uint8_t sendmeInc)
    : crypto_(std::move(crypto)),
      params_(p),
      fwd_{flowctl::DeliverWindow(cc ? sendmeInc : flowctl::kCircWindowIncrement)},
      sendmeInc_(cc ? sendmeInc : 0) {
  bwd_.classic = flowctl::ClassicSendWindow(p.circWindow);  // circwindow (no CC: else unused)
  if (cc) {
    flowctl::VegasParams v = p.vegas;
    v.sendmeInc = sendmeInc;
    cc_.emplace(v);
  }
}

// ---- FWD ----

bool Circuit::fromClient(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload,
                         uint64_t nowUsec, CircuitIo& io, CreditToken credit) {
  ++fwd_.cells;
  if (early && ++fwd_.relayEarly > params_.maxRelayEarly) return destroy(DestroyReason::kProtocol);
  flowctl::SendmeTag digest{};
  // Without a next hop, a cell this relay cannot recognize has nowhere to go (tor-spec §5.5.2.1);
  // with one, it goes there (a middle).
  bool lastHop = !middle_.hasNextHop();
  switch (crypto_.processOutbound(early, payload, &digest, lastHop)) {
    case crypto::RelayLayer::Outbound::kRecognized:
      break;
    case crypto::RelayLayer::Outbound::kNotRecognized:
      if (!lastHop) return forward(early, payload, io, std::move(credit));
      return destroy(DestroyReason::kProtocol);
    case crypto::RelayLayer::Outbound::kError:
      return destroy(DestroyReason::kInternal);
  }
  auto view = cell::decodeRelayMsgView(crypto_.format(), Bytes(payload.data(), payload.size()));
  if (!view) return destroy(DestroyReason::kProtocol);
  cell::RelayHeader h;
  h.command = view->command;
  h.streamId = view->streamId;
  h.length = static_cast<uint16_t>(view->data.size());
  // The DATA window counts every DATA cell as it arrives, held or not; the SENDME that
  // acknowledges it carries the digest right after it (proposal 289).
  if (h.command == rcmd(RelayCmd::kData) && fwd_.deliver.onDataReceived()) {
    bwd_.dueSendmes.push(digest);
    if (bwd_.dueSendmes.size() > kMaxDueSendmes) return destroy(DestroyReason::kResourceLimit);
  }
  // Messages keep their order: once one waits for the stream side, the ones after it wait too
  // (circuit SENDMEs excepted: they are flow control, not stream data).
  bool circuitSendme = h.command == rcmd(RelayCmd::kSendme) && h.streamId == 0;
  if (!fwd_.held.empty() && !circuitSendme) {
    if (fwd_.held.push(h.streamId, h.command, view->data, std::move(credit)) != MsgQueue::Push::kOk)
      return destroy(DestroyReason::kResourceLimit);  // beyond channeld's window: not possible
    fwd_.held.back().early = early;  // an EXTEND2 must still know it came as RELAY_EARLY
    return true;
  }
  FwdMsg m{h, view->data, early, nowUsec, credit};
  return dispatch(m, io);
}

bool Circuit::dispatch(FwdMsg& m, CircuitIo& io) {
  for (FwdHandler step : kFwdChain) {
    switch ((this->*step)(m, io)) {
      case Step::kNext:
        continue;
      case Step::kDone:
        return true;
      case Step::kDead:
        return false;
    }
  }
  return true;
}

bool Circuit::drainHeld(uint64_t nowUsec, CircuitIo& io) {
  while (!fwd_.held.empty() && io.canDeliver()) {
    flowctl::QueuedMsg& q = fwd_.held.front();
    CreditToken credit = std::move(q.credit);
    bool early = q.early;
    cell::RelayHeader h;
    h.command = q.command;
    h.streamId = q.streamId;
    h.length = q.length;
    // The body is copied out: the chain may queue answers behind it, never into `held` again
    // (the stream side can take this one now).
    std::array<uint8_t, cell::kRelayBodyMax> body;
    std::memcpy(body.data(), q.body.data(), q.length);
    fwd_.held.pop();
    FwdMsg m{h, Bytes(body.data(), h.length), early, nowUsec, credit};
    if (!dispatch(m, io)) return false;
  }
  return true;
}

// DROP (long-range padding) and commands this relay does not know are dropped (tor-spec §6.1).
Circuit::Step Circuit::dropHandler(FwdMsg& m, CircuitIo& io) {
  switch (static_cast<RelayCmd>(m.header.command)) {
    case RelayCmd::kBegin:
    case RelayCmd::kData:
    case RelayCmd::kEnd:
    case RelayCmd::kConnected:
    case RelayCmd::kSendme:
    case RelayCmd::kExtend:
    case RelayCmd::kExtended:
    case RelayCmd::kTruncate:
    case RelayCmd::kTruncated:
    case RelayCmd::kResolve:
    case RelayCmd::kResolved:
    case RelayCmd::kBeginDir:
    case RelayCmd::kExtend2:
    case RelayCmd::kExtended2:
    case RelayCmd::kConfluxLink:
    case RelayCmd::kConfluxLinked:
    case RelayCmd::kConfluxLinkedAck:
    case RelayCmd::kConfluxSwitch:
    case RelayCmd::kXoff:
    case RelayCmd::kXon:
      return Step::kNext;
    case RelayCmd::kDrop:
      io.droppedCell();
      return Step::kDone;
  }
  // rend-spec's ESTABLISH_INTRO (32), ESTABLISH_RENDEZVOUS (33), INTRODUCE1 (34), RENDEZVOUS1 (36):
  // onionsplit serves no onion service role; they are dropped as unknown, and counted.
  const uint8_t c = m.header.command;
  if (c == 32 || c == 33 || c == 34 || c == 36) io.unservedOnionServiceCell(c);
  return Step::kDone;
}

// Circuit-level SENDMEs acknowledge what BWD sent (the design doc's sendme_tx).
Circuit::Step Circuit::sendmeHandler(FwdMsg& m, CircuitIo&) {
  if (m.header.command != rcmd(RelayCmd::kSendme) || m.header.streamId != 0) return Step::kNext;
  auto s = cell::decodeSendme(m.body);
  if (!s) return dead(DestroyReason::kProtocol);
  std::optional<Bytes> tag;
  if (s->version == 1) tag = s->tag;
  if (flowctl::checkCircuitSendme(bwd_.sentTags, tag, params_.acceptSendmeV0,
                                  crypto_.sendmeTagLen()) != flowctl::SendmeCheck::kOk)
    return dead(DestroyReason::kProtocol);
  if (cc_) {
    // C tor's local congestion signal is its channel's outbuf over the high watermark. Here that
    // state is channeld's (it holds our credit meanwhile, which the queues feel); an exhausted
    // credit window alone is IPC latency, not congestion, so it is not reported.
    if (cc_->onSendme(m.nowUsec, false) != flowctl::SendmeVerdict::kOk)
      return dead(DestroyReason::kProtocol);
  } else if (!bwd_.classic.onSendme()) {
    return dead(DestroyReason::kProtocol);
  }
  return Step::kDone;
}

// The middle role: EXTEND (TAP), EXTEND2, TRUNCATE.
Circuit::Step Circuit::middleHandler(FwdMsg& m, CircuitIo& io) {
  switch (static_cast<RelayCmd>(m.header.command)) {
    case RelayCmd::kExtend: {
      // The TAP-based EXTEND: no relay of this network accepts TAP any more. Answered as a failed
      // extension, which leaves the client's circuit usable up to this hop (tor-spec §5.4).
      uint8_t reason = static_cast<uint8_t>(DestroyReason::kConnectFailed);
      return answer(rcmd(RelayCmd::kTruncated), Bytes(&reason, 1)) ? Step::kDone : Step::kDead;
    }
    case RelayCmd::kExtend2: {
      auto t = middle_.onExtend2(m.header.streamId, m.body, m.early);
      if (!t) return dead(t.error());
      if (*t) io.extend(std::move(**t));
      return Step::kDone;
    }
    case RelayCmd::kTruncate: {
      // tor-spec §5.4: the next hop gets DESTROY (the client's reason, if it gave one) and the
      // client TRUNCATED (REQUESTED), after which it may extend again.
      uint8_t requested = static_cast<uint8_t>(DestroyReason::kRequested);
      if (!answer(rcmd(RelayCmd::kTruncated), Bytes(&requested, 1))) return Step::kDead;
      if (auto reason = middle_.onTruncate(m.body)) {
        middle_.dropForward();
        middle_.dropBack();  // the old hop's cells: the client removed that hop
        io.destroyNextHop(*reason);
      }
      return Step::kDone;
    }
    default:
      return Step::kNext;
  }
}

// Conflux (proposal 329): LINK makes the circuit a leg; LINKED_ACK and SWITCH belong to a leg.
// From then on the stream handler's messages go to confluxd instead of streamd (the shell routes
// them by isLeg()).
Circuit::Step Circuit::confluxHandler(FwdMsg& m, CircuitIo& io) {
  switch (static_cast<RelayCmd>(m.header.command)) {
    case RelayCmd::kConfluxLink:
      // Conflux needs congestion control on the leg (proposal 329 §2.2; C tor
      // conflux_is_enabled); a circuit links once. Whether it may join a set is confluxd's
      // decision (its ConfluxMgr).
      if (!cc_ || m.header.streamId != 0 || leg_) return dead(DestroyReason::kProtocol);
      leg_ = true;
      return toStreams(m, io);
    case RelayCmd::kConfluxLinkedAck:
    case RelayCmd::kConfluxSwitch:
      if (!leg_ || m.header.streamId != 0) return dead(DestroyReason::kProtocol);
      return toStreams(m, io);
    default:
      return Step::kNext;
  }
}

// Stream messages go to the stream side.
Circuit::Step Circuit::streamHandler(FwdMsg& m, CircuitIo& io) {
  switch (static_cast<RelayCmd>(m.header.command)) {
    case RelayCmd::kData:
      if (m.header.streamId == 0) return dead(DestroyReason::kProtocol);
      return toStreams(m, io);
    case RelayCmd::kSendme:  // a stream-level SENDME (circuit ones were taken before)
    case RelayCmd::kBegin:
    case RelayCmd::kEnd:
    case RelayCmd::kResolve:
    case RelayCmd::kBeginDir:
    case RelayCmd::kXon:
    case RelayCmd::kXoff:
      if (m.header.streamId == 0) return Step::kDone;  // tor-spec: dropped
      return toStreams(m, io);
    default:
      return Step::kNext;
  }
}

// What only an exit (or the next hop) sends: a client that sends it breaks the protocol.
Circuit::Step Circuit::exitOnlyHandler(FwdMsg&, CircuitIo&) {
  return dead(DestroyReason::kProtocol);
}

Circuit::Step Circuit::toStreams(FwdMsg& m, CircuitIo& io) {
  const cell::RelayHeader& h = m.header;
  // The contract's table: what circuitd may pass to the stream side at all. The chain passes
  // nothing else; a message it would is dropped here rather than breach the boundary.
  auto side = leg_ ? ipc::Side::kConfluxd : ipc::Side::kStreamd;
  if (!ipc::maySend(ipc::Side::kCircuitd, side, h.command, h.streamId != 0) &&
      h.command != rcmd(RelayCmd::kConfluxLink))
    return Step::kDone;
  if (!io.canDeliver()) {
    if (fwd_.held.push(h.streamId, h.command, m.body, std::move(m.credit)) != MsgQueue::Push::kOk)
      return dead(DestroyReason::kResourceLimit);  // beyond channeld's window: not possible
    return Step::kDone;
  }
  Delivery d = io.deliver(h.streamId, h.command, m.body);
  switch (d.kind) {
    case Delivery::kDelivered:
      return Step::kDone;
    case Delivery::kRefused:
      return endStream(h.streamId, d.reason) ? Step::kDone : Step::kDead;
    case Delivery::kDestroy:
      return dead(static_cast<DestroyReason>(d.reason));
  }
  return Step::kDone;
}

bool Circuit::forward(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload, CircuitIo& io,
                      CreditToken credit) {
  if (middle_.forward().empty() && io.canSendNext()) {
    io.sendNext(early, Bytes(payload.data(), payload.size()));
    return true;
  }
  if (!middle_.queueForward(early, payload, std::move(credit)))
    return destroy(DestroyReason::kResourceLimit);  // beyond channeld's window: not possible
  return true;
}

// ---- BWD ----

bool Circuit::answer(uint8_t command, Bytes body) {
  if (bwd_.queue.pushLocal(0, command, body) == MsgQueue::Push::kOk) return true;
  return destroy(DestroyReason::kResourceLimit);  // a client that provokes answers it won't read
}

bool Circuit::endStream(cell::StreamId streamId, uint8_t reason) {
  if (streamId == 0) return true;
  // END never carries reason 0 (C tor bug 41353): MISC stands for "no better reason".
  if (reason == 0) reason = static_cast<uint8_t>(cell::EndReason::kMisc);
  if (bwd_.endsDue.size() >= kMaxEndsDue) return destroy(DestroyReason::kResourceLimit);
  bwd_.endsDue.emplace_back(streamId, reason);
  return true;
}

bool Circuit::originate(cell::StreamId streamId, uint8_t command, Bytes body, CircuitIo& io,
                        flowctl::SendmeTag* digest) {
  std::array<uint8_t, cell::kCellPayloadLen> cellBuf;
  if (cell::encodeRelayMsgView(
          crypto_.format(), MutBytes(cellBuf), cell::RelayMsgView{command, streamId, body},
          [&io](MutBytes out) { io.random(out); }) != cell::RelayEncodeErr::kNone)
    return false;
  if (!crypto_.originateInbound(crypto::RelayPayload(cellBuf), digest)) return false;
  io.sendCell(Bytes(cellBuf));
  ++bwd_.cells;
  return true;
}

bool Circuit::dataWindowOpen() const {
  return cc_ ? cc_->canSend() : bwd_.classic.canSend();
}

void Circuit::dataSent(const flowctl::SendmeTag& digest, uint64_t nowUsec) {
  bool acked = cc_ ? cc_->onDataSent(nowUsec) : bwd_.classic.onDataSent();
  if (acked) bwd_.sentTags.push(digest);
}

bool Circuit::fromStreams(cell::StreamId streamId, uint8_t command, Bytes body, uint64_t nowUsec,
                          CircuitIo& io, CreditToken credit, bool fromConflux) {
  // The boundary's table checked the command (the pipe's admit); a SWITCH belongs to a leg.
  if (streamId == 0 && !(fromConflux && leg_)) return true;  // dropped
  // A v1 cell has no room for a stream id on the other commands (a stream-level SENDME, which a
  // circuit with congestion control never has): dropped, as a message v1 cannot carry.
  if (crypto_.format() == cell::RelayCellFormat::kV1 && streamId != 0 &&
      !cell::carriesStreamIdV1(command))
    return true;
  // END never carries reason 0 (C tor bug 41353), whoever made it: MISC instead.
  std::array<uint8_t, cell::kRelayBodyMax> end;
  if (command == rcmd(RelayCmd::kEnd) && !body.empty() && body[0] == 0 &&
      body.size() <= end.size()) {
    std::copy(body.begin(), body.end(), end.begin());
    end[0] = static_cast<uint8_t>(cell::EndReason::kMisc);
    body = Bytes(end.data(), body.size());
  }
  return toClient(streamId, command, body, nowUsec, io, std::move(credit));
}

bool Circuit::linked(Bytes body, uint64_t nowUsec, CircuitIo& io, CreditToken credit) {
  if (!leg_) return true;  // not a leg (cannot happen: only legs have a flow to confluxd)
  return toClient(0, rcmd(RelayCmd::kConfluxLinked), body, nowUsec, io, std::move(credit));
}

bool Circuit::toClient(cell::StreamId streamId, uint8_t command, Bytes body, uint64_t nowUsec,
                       CircuitIo& io, CreditToken credit) {
  bool isData = command == rcmd(RelayCmd::kData);
  bool nothingBefore = bwd_.queue.empty() && bwd_.dueSendmes.size() == 0 && bwd_.endsDue.empty();
  // DATA the stream side made for a v0 cell (498 bytes) does not fit one v1 cell: it goes as two
  // cells, from the queue (each waits for the window in turn).
  bool oneCell = !isData || body.size() <= cell::relayDataMax(crypto_.format(), command);
  if (nothingBefore && oneCell && io.canSendCell() && (!isData || dataWindowOpen())) {
    flowctl::SendmeTag digest{};
    if (!originate(streamId, command, body, io, &digest)) return destroy(DestroyReason::kInternal);
    if (isData) dataSent(digest, nowUsec);
    return true;  // the credit goes back with the token
  }
  if (bwd_.queue.push(streamId, command, body, std::move(credit)) != MsgQueue::Push::kOk)
    return destroy(DestroyReason::kInternal);  // beyond the stream side's window: not possible
  if (nothingBefore && !oneCell) return pumpQueue(nowUsec, io);
  return true;
}

bool Circuit::pump(uint64_t nowUsec, CircuitIo& io) {
  while (bwd_.dueSendmes.size() > 0 && io.canSendCell()) {
    auto tag = bwd_.dueSendmes.pop();
    uint8_t body[3 + flowctl::kSendmeTagLen];
    Writer w{MutBytes(body)};
    cell::encodeSendme(cell::SendmeMsg{1, Bytes(tag->data(), crypto_.sendmeTagLen())}, w);
    flowctl::SendmeTag ignored{};
    if (!originate(0, rcmd(RelayCmd::kSendme), w.written(), io, &ignored))
      return destroy(DestroyReason::kInternal);
  }
  if (!pumpQueue(nowUsec, io)) return false;
  if (!pumpRelayed(io)) return false;
  pumpForward(io);
  return true;
}

bool Circuit::pumpQueue(uint64_t nowUsec, CircuitIo& io) {
  while (!bwd_.queue.empty() && io.canSendCell()) {
    flowctl::QueuedMsg& m = bwd_.queue.front();
    bool isData = m.command == rcmd(RelayCmd::kData);
    if (isData && !dataWindowOpen()) return true;
    // DATA longer than the circuit's cells hold (a v1 circuit) goes in pieces; the message keeps
    // its place and credit until its last piece left.
    size_t n = m.length;
    if (isData) n = std::min(n, cell::relayDataMax(crypto_.format(), m.command));
    flowctl::SendmeTag digest{};
    if (!originate(m.streamId, m.command, Bytes(m.body.data(), n), io, &digest))
      return destroy(DestroyReason::kInternal);
    if (isData) dataSent(digest, nowUsec);
    if (n < m.length) {
      std::memmove(m.body.data(), m.body.data() + n, m.length - n);
      m.length = static_cast<uint16_t>(m.length - n);
      continue;
    }
    bwd_.queue.pop();  // its credit (if a peer's) goes back
  }
  // Our ENDs go after everything the stream side sent before (its last DATA of the stream).
  size_t sent = 0;
  while (bwd_.queue.empty() && sent < bwd_.endsDue.size() && io.canSendCell()) {
    auto [id, reason] = bwd_.endsDue[sent];
    flowctl::SendmeTag ignored{};
    if (!originate(id, rcmd(RelayCmd::kEnd), Bytes(&reason, 1), io, &ignored))
      return destroy(DestroyReason::kInternal);
    ++sent;
  }
  bwd_.endsDue.erase(bwd_.endsDue.begin(), bwd_.endsDue.begin() + static_cast<long>(sent));
  return true;
}

// The next hop's cells go after our own answers (EXTENDED2 first: the client cannot read the next
// hop's cells before it).
bool Circuit::pumpRelayed(CircuitIo& io) {
  while (!middle_.back().empty() && bwd_.queue.empty() && io.canSendCell()) {
    WaitingCell& c = middle_.frontBack();
    if (!crypto_.relayInbound(crypto::RelayPayload(c.payload)))
      return destroy(DestroyReason::kInternal);
    io.sendCell(Bytes(c.payload));
    ++bwd_.cells;
    middle_.popBack();  // its credit on the next hop's flow goes back
  }
  return true;
}

void Circuit::pumpForward(CircuitIo& io) {
  const auto& fwd = middle_.forward();
  while (!fwd.empty() && io.canSendNext()) {
    io.sendNext(fwd.front().early, Bytes(fwd.front().payload));
    middle_.popForward();  // its client credit goes back
  }
}

uint64_t Circuit::oldestQueued() const {
  uint64_t oldest = 0;
  for (uint64_t s : {fwd_.held.oldestStamp(), bwd_.queue.oldestStamp(), middle_.oldestStamp()})
    if (s != 0 && (oldest == 0 || s < oldest)) oldest = s;
  return oldest;
}

bool Circuit::fromNextHop(uint8_t cellCmd, std::span<uint8_t, cell::kCellPayloadLen> payload,
                          CircuitIo& io, CreditToken credit) {
  if (cellCmd == cmd(CellCmd::kCreated2)) {
    auto body = middle_.onCreated2(Bytes(payload.data(), payload.size()), crypto_.format());
    if (!body) return destroy(body.error());
    return answer(rcmd(RelayCmd::kExtended2), Bytes(*body));
  }
  if (!middle_.acceptsFromNext(cellCmd)) return destroy(DestroyReason::kProtocol);
  if (middle_.back().empty() && bwd_.queue.empty() && io.canSendCell()) {
    if (!crypto_.relayInbound(payload)) return destroy(DestroyReason::kInternal);
    io.sendCell(Bytes(payload.data(), payload.size()));
    ++bwd_.cells;
    return true;
  }
  if (!middle_.queueBack(payload, std::move(credit)))
    return destroy(DestroyReason::kResourceLimit);  // beyond the next hop's window: not possible
  return true;
}

}  // namespace onionsplit::circuitd

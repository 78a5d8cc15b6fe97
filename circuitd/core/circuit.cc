// circuitd/core/circuit.cc: see circuit.h.
#include "circuitd/core/circuit.h"

#include <algorithm>
#include <cstring>

#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "common/crypto/ntor_handshakes.h"

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

// ntor's CREATE2 handshake data: ID, B, X (tor-spec §5.1.4).
constexpr size_t kNtorOnionskinLen = 20 + 32 + 32;

// What an exit's stream side may send toward the client.
bool streamSideSends(uint8_t c) {
  switch (static_cast<RelayCmd>(c)) {
    case RelayCmd::kConnected:
    case RelayCmd::kData:
    case RelayCmd::kEnd:
    case RelayCmd::kResolved:
    case RelayCmd::kSendme:
    case RelayCmd::kXon:
    case RelayCmd::kXoff:
      return true;
    default:
      return false;
  }
}

Expected<Created, DestroyReason> finish(uint8_t replyCmd, Bytes reply, Bytes keyMaterial, bool cc,
                                        uint8_t sendmeInc, uint16_t htype) {
  auto keys = crypto::Tor1Keys::fromKeyMaterial(keyMaterial);
  if (!keys) return fail(DestroyReason::kInternal);
  Created c;
  c.command = replyCmd;
  c.keys = *keys;
  c.ccEnabled = cc;
  c.sendmeInc = sendmeInc;
  c.htype = htype;
  Writer w{MutBytes(c.payload)};
  if (replyCmd == cmd(CellCmd::kCreated2)) {
    if (!cell::encodeCreated2(cell::Created2{reply}, w)) return fail(DestroyReason::kInternal);
  } else {
    w.bytes(reply);
    if (w.overflowed()) return fail(DestroyReason::kInternal);
  }
  return c;
}

}  // namespace

Expected<Created, DestroyReason> answerCreate(uint8_t command, Bytes payload,
                                              const OnionIdentity& id, const CircuitParams& params,
                                              Bytes random32) {
  if (command == cmd(CellCmd::kCreateFast)) {
    auto fast = cell::decodeCreateFast(payload);
    if (!fast) return fail(DestroyReason::kProtocol);
    auto r = crypto::fastServer(Bytes(fast->x), random32.first(crypto::kFastLen));
    if (!r) return fail(DestroyReason::kProtocol);
    return finish(cmd(CellCmd::kCreatedFast), Bytes(r->reply), Bytes(r->keys), false, 0, 1);
  }
  if (command != cmd(CellCmd::kCreate2)) return fail(DestroyReason::kProtocol);  // TAP CREATE
  auto c2 = cell::decodeCreate2(payload);
  if (!c2) return fail(DestroyReason::kProtocol);
  std::span<const crypto::Curve25519Keypair> keys(id.onionKeys);
  switch (static_cast<cell::HandshakeType>(c2->htype)) {
    case cell::HandshakeType::kNtor: {
      auto r = crypto::ntorServer(Bytes(id.rsaId), keys, c2->hdata, random32);
      if (!r) return fail(DestroyReason::kProtocol);
      return finish(cmd(CellCmd::kCreated2), Bytes(r->reply), Bytes(r->keys), false, 0, 2);
    }
    case cell::HandshakeType::kNtorV3: {
      bool cc = false;
      crypto::Ntor3Reply reply = [&](Bytes clientMessage) -> std::optional<std::vector<uint8_t>> {
        auto n = cell::negotiateExit(clientMessage, params.cc);
        if (!n) return std::nullopt;
        cc = n->ccEnabled;
        return std::vector<uint8_t>(n->reply.begin(), n->reply.begin() + n->replyLen);
      };
      auto r = crypto::ntor3Server(Bytes(id.edId), keys, c2->hdata, random32, reply,
                                   crypto::kNtor3CircuitVerification);
      if (!r) return fail(DestroyReason::kProtocol);
      return finish(cmd(CellCmd::kCreated2), Bytes(r->reply), Bytes(r->keys), cc,
                    params.cc.sendmeInc, 3);
    }
    default:
      return fail(DestroyReason::kProtocol);
  }
}

Expected<ExtendTarget, DestroyReason> checkExtend2(Bytes body, const HopIdentities& ids) {
  auto m = cell::decodeExtend2(body);
  if (!m) return fail(DestroyReason::kProtocol);
  ExtendTarget t;
  bool haveRsa = false, haveEd = false, seen4 = false, seen6 = false;
  auto allZero = [](Bytes b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
  };
  auto port = [](Bytes b) { return static_cast<uint16_t>((b[0] << 8) | b[1]); };
  for (uint8_t i = 0; i < m->specCount; ++i) {
    const cell::LinkSpecifier& s = m->specs[i];
    switch (s.type) {
      case cell::LinkSpecifier::kIpv4:
        if (std::exchange(seen4, true)) break;
        // An address is usable with a nonzero address and port (C tor's tor_addr_port_is_valid).
        if (allZero(s.value.first(4)) || port(s.value.subspan(4)) == 0) break;
        t.ipv4.emplace();
        std::copy_n(s.value.begin(), 4, t.ipv4->begin());
        t.ipv4Port = port(s.value.subspan(4));
        break;
      case cell::LinkSpecifier::kIpv6:
        if (std::exchange(seen6, true)) break;
        if (allZero(s.value.first(16)) || port(s.value.subspan(16)) == 0) break;
        t.ipv6.emplace();
        std::copy_n(s.value.begin(), 16, t.ipv6->begin());
        t.ipv6Port = port(s.value.subspan(16));
        break;
      case cell::LinkSpecifier::kRsaId:
        if (std::exchange(haveRsa, true)) break;
        std::copy_n(s.value.begin(), 20, t.rsaId.begin());
        break;
      case cell::LinkSpecifier::kEd25519Id:
        if (std::exchange(haveEd, true) || allZero(s.value)) break;
        t.edId.emplace();
        std::copy_n(s.value.begin(), 32, t.edId->begin());
        break;
      default:
        break;  // unknown specifiers are ignored
    }
  }
  // No RSA identity (or an all-zero one): C tor refuses, it would mean an unauthenticated
  // connection for each such request.
  if (!haveRsa || allZero(Bytes(t.rsaId))) return fail(DestroyReason::kProtocol);
  if (!t.ipv4 && !t.ipv6) return fail(DestroyReason::kProtocol);
  if ((ids.prevRsa && *ids.prevRsa == t.rsaId) || (ids.prevEd && t.edId && *ids.prevEd == *t.edId))
    return fail(DestroyReason::kProtocol);  // back to the previous hop
  if (t.rsaId == ids.ourRsa || (t.edId && *t.edId == ids.ourEd))
    return fail(DestroyReason::kConnectFailed);  // to ourselves
  switch (static_cast<cell::HandshakeType>(m->htype)) {
    case cell::HandshakeType::kNtor:
      if (m->hdata.size() != kNtorOnionskinLen) return fail(DestroyReason::kProtocol);
      break;
    case cell::HandshakeType::kNtorV3:
      if (m->hdata.empty()) return fail(DestroyReason::kProtocol);
      break;
    default:
      return fail(DestroyReason::kProtocol);  // TAP, CREATE_FAST or unknown
  }
  t.htype = m->htype;
  t.hdata.assign(m->hdata.begin(), m->hdata.end());
  return t;
}

bool CreateLimiter::allow(uint64_t nowUsec) {
  if (nowUsec > last_ && rate_ > 0) {
    uint64_t earned = (nowUsec - last_) * rate_ / 1'000'000;
    if (earned > 0) {
      tokens_ = std::min<uint64_t>(burst_, tokens_ + earned);
      last_ += earned * 1'000'000 / rate_;
    }
  }
  if (tokens_ == 0) return false;
  --tokens_;
  return true;
}

std::optional<Circuit> Circuit::create(const Created& c, const CircuitParams& params) {
  auto layer = crypto::RelayLayer::create(c.keys);
  if (!layer) return std::nullopt;
  return Circuit(std::move(*layer), params, c.ccEnabled, c.sendmeInc);
}

Circuit::Circuit(crypto::RelayLayer layer, const CircuitParams& p, bool cc, uint8_t sendmeInc)
    : layer_(std::move(layer)),
      params_(p),
      fwd_{flowctl::DeliverWindow(cc ? sendmeInc : flowctl::kCircWindowIncrement)},
      sendmeInc_(cc ? sendmeInc : 0) {
  if (cc) {
    flowctl::VegasParams v = p.vegas;
    v.sendmeInc = sendmeInc;
    cc_.emplace(v);
  }
}

Circuit::Fwd Circuit::destroy(DestroyReason r) {
  destroyReason_ = r;
  return Fwd::kDestroy;
}

Circuit::Fwd Circuit::fromClient(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload,
                                 uint64_t nowUsec, CircuitIo& io) {
  ++fwd_.cells;
  if (early && ++fwd_.relayEarly > params_.maxRelayEarly) return destroy(DestroyReason::kProtocol);
  crypto::Tor1Digest digest{};
  // Without a next hop, a cell this relay cannot recognize has nowhere to go (tor-spec §5.5.2.1);
  // with one, it goes there (a middle).
  bool lastHop = !hasNextHop();
  switch (layer_.processOutbound(payload, &digest, lastHop)) {
    case crypto::RelayLayer::Outbound::kRecognized:
      break;
    case crypto::RelayLayer::Outbound::kNotRecognized:
      if (!lastHop) return forward(early, payload, io);
      return destroy(DestroyReason::kProtocol);
    case crypto::RelayLayer::Outbound::kError:
      return destroy(DestroyReason::kInternal);
  }
  auto view = cell::decodeRelayCell(Bytes(payload.data(), payload.size()));
  if (!view) return destroy(DestroyReason::kProtocol);
  // Messages keep their order: once one waits for the stream side, the ones after it wait too.
  bool circuitSendme =
      view->header.command == rcmd(RelayCmd::kSendme) && view->header.streamId == 0;
  if (!fwd_.held.empty() && !circuitSendme) {
    if (view->header.command == rcmd(RelayCmd::kData) && fwd_.deliver.onDataReceived())
      bwd_.dueSendmes.push(digest);
    return fwd_.held.push(view->header.streamId, view->header.command, view->body)
               ? Fwd::kHeld
               : destroy(DestroyReason::kResourceLimit);
  }
  return dispatch(view->header, view->body, digest, early, nowUsec, io);
}

Circuit::Fwd Circuit::dispatch(const cell::RelayHeader& h, Bytes body,
                               const crypto::Tor1Digest& digest, bool early, uint64_t nowUsec,
                               CircuitIo& io) {
  switch (static_cast<RelayCmd>(h.command)) {
    case RelayCmd::kData:
      if (h.streamId == 0) return destroy(DestroyReason::kProtocol);
      // The SENDME that acknowledges this cell carries the digest right after it (proposal 289).
      if (fwd_.deliver.onDataReceived()) bwd_.dueSendmes.push(digest);
      return toStreams(h, body, io);
    case RelayCmd::kSendme: {
      if (h.streamId != 0) return toStreams(h, body, io);  // a stream-level SENDME
      auto m = cell::decodeSendme(body);
      if (!m) return destroy(DestroyReason::kProtocol);
      std::optional<Bytes> tag;
      if (m->version == 1) tag = m->tag;
      if (flowctl::checkCircuitSendme(bwd_.sentTags, tag, params_.acceptSendmeV0) !=
          flowctl::SendmeCheck::kOk)
        return destroy(DestroyReason::kProtocol);
      if (cc_) {
        // C tor's local congestion signal is its channel's outbuf over the high watermark. Here
        // that state is channeld's (it holds our credit meanwhile, which the queues feel); an
        // exhausted credit window alone is IPC latency, not congestion, so it is not reported.
        if (cc_->onSendme(nowUsec, false) != flowctl::SendmeVerdict::kOk)
          return destroy(DestroyReason::kProtocol);
      } else if (!bwd_.classic.onSendme()) {
        return destroy(DestroyReason::kProtocol);
      }
      return Fwd::kTaken;
    }
    case RelayCmd::kBegin:
    case RelayCmd::kEnd:
    case RelayCmd::kResolve:
    case RelayCmd::kBeginDir:
    case RelayCmd::kXon:
    case RelayCmd::kXoff:
      if (h.streamId == 0) return Fwd::kTaken;  // tor-spec: dropped
      return toStreams(h, body, io);
    case RelayCmd::kDrop:
      return Fwd::kTaken;
    case RelayCmd::kExtend: {
      // The TAP-based EXTEND: no relay of this network accepts TAP any more. Answered as a failed
      // extension, which leaves the client's circuit usable up to this hop (tor-spec §5.4).
      uint8_t reason = static_cast<uint8_t>(DestroyReason::kConnectFailed);
      if (!answer(rcmd(RelayCmd::kTruncated), Bytes(&reason, 1)))
        return destroy(DestroyReason::kResourceLimit);
      return Fwd::kTaken;
    }
    case RelayCmd::kExtend2:
      return extend2(h, body, early);
    case RelayCmd::kTruncate:
      return truncate(body);
    case RelayCmd::kConfluxLink:
      // Conflux needs congestion control on the leg (proposal 329 §2.2; C tor
      // conflux_is_enabled). Whether the circuit may join a set is confluxd's decision (its
      // ConfluxMgr): from here on every multiplexed message of the circuit goes there, in order.
      if (!cc_ || h.streamId != 0) return destroy(DestroyReason::kProtocol);
      leg_ = true;
      return toStreams(h, body, io);
    case RelayCmd::kConfluxLinkedAck:
    case RelayCmd::kConfluxSwitch:
      if (!leg_ || h.streamId != 0) return destroy(DestroyReason::kProtocol);
      return toStreams(h, body, io);
    case RelayCmd::kConnected:
    case RelayCmd::kExtended:
    case RelayCmd::kExtended2:
    case RelayCmd::kTruncated:
    case RelayCmd::kResolved:
    case RelayCmd::kConfluxLinked:  // only an exit sends it
      return destroy(DestroyReason::kProtocol);
    default:
      return Fwd::kTaken;  // unknown commands are dropped (tor-spec §6.1)
  }
}

Circuit::Fwd Circuit::toStreams(const cell::RelayHeader& h, Bytes body, CircuitIo& io) {
  if (io.canDeliver()) {
    io.deliver(h.streamId, h.command, body);
    return Fwd::kTaken;
  }
  return fwd_.held.push(h.streamId, h.command, body) ? Fwd::kHeld
                                                     : destroy(DestroyReason::kResourceLimit);
}

bool Circuit::answer(uint8_t command, Bytes body) {
  return bwd_.queue.push(0, command, body, false);
}

Circuit::Fwd Circuit::extend2(const cell::RelayHeader& h, Bytes body, bool early) {
  // C tor drops an EXTEND2 on a stream, and one outside RELAY_EARLY (tor-spec §5.6: the limit of
  // RELAY_EARLY cells bounds the length of circuits; AllowNonearlyExtend defaults to 0).
  if (h.streamId != 0 || !early) return Fwd::kTaken;
  // One next hop per circuit: a second EXTEND2 (or one while the first is under way) is an attack.
  if (hop_ != Hop::kNone) return destroy(DestroyReason::kProtocol);
  auto t = checkExtend2(body, ids_);
  if (!t) return destroy(t.error());
  extend_ = std::move(*t);
  hop_ = Hop::kPending;
  cancelled_ = false;
  return Fwd::kExtend;
}

Circuit::Fwd Circuit::truncate(Bytes body) {
  // tor-spec §5.4: the next hop gets DESTROY (the client's reason, if it gave one) and the client
  // TRUNCATED (REQUESTED), after which it may extend again.
  uint8_t requested = static_cast<uint8_t>(DestroyReason::kRequested);
  if (!answer(rcmd(RelayCmd::kTruncated), Bytes(&requested, 1)))
    return destroy(DestroyReason::kResourceLimit);
  switch (hop_) {
    case Hop::kNone:
      return Fwd::kTaken;
    case Hop::kPending:
      cancelled_ = true;  // channeld's answer closes the next hop it opened
      return Fwd::kTaken;
    case Hop::kCreateSent:
    case Hop::kOpen:
      break;
  }
  truncateReason_ = body.empty() ? 0 : body[0];
  hop_ = Hop::kNone;
  return Fwd::kTruncate;
}

Circuit::Fwd Circuit::forward(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload,
                              CircuitIo& io) {
  if (toNext_.empty() && io.canSendNext()) {
    io.sendNext(early, Bytes(payload.data(), payload.size()));
    return Fwd::kTaken;
  }
  if (toNext_.size() >= kMaxWaitingCells) return destroy(DestroyReason::kResourceLimit);
  RawCell& c = toNext_.emplace_back();
  c.early = early;
  std::copy(payload.begin(), payload.end(), c.payload.begin());
  return Fwd::kHeld;  // its credit comes back from pumpForward
}

uint32_t Circuit::pumpForward(CircuitIo& io) {
  uint32_t n = 0;
  while (!toNext_.empty() && io.canSendNext()) {
    io.sendNext(toNext_.front().early, Bytes(toNext_.front().payload));
    toNext_.pop_front();
    ++n;
  }
  return n;
}

uint32_t Circuit::dropForward() {
  auto n = static_cast<uint32_t>(toNext_.size());
  toNext_.clear();
  return n;
}

bool Circuit::extendResult(bool ok, bool* kill) {
  *kill = false;
  if (hop_ != Hop::kPending) return false;  // no extend of ours: the flow is not wanted
  if (std::exchange(cancelled_, false)) {
    hop_ = Hop::kNone;
    return false;
  }
  if (!ok) {
    hop_ = Hop::kNone;
    *kill = true;  // C tor closes the circuit when it cannot reach the next hop
    return false;
  }
  hop_ = Hop::kCreateSent;
  return true;
}

Circuit::Next Circuit::fromNextHop(uint8_t command,
                                   std::span<uint8_t, cell::kCellPayloadLen> payload,
                                   CircuitIo& io) {
  auto refuse = [this](DestroyReason r) {
    destroyReason_ = r;
    return Next::kDestroy;
  };
  if (command == cmd(CellCmd::kCreated2)) {
    if (hop_ != Hop::kCreateSent) return refuse(DestroyReason::kProtocol);
    auto created = cell::decodeCreated2(Bytes(payload.data(), payload.size()));
    if (!created) return refuse(DestroyReason::kProtocol);
    std::array<uint8_t, cell::kRelayBodyMax> body{};
    Writer w{MutBytes(body)};
    if (!cell::encodeExtended2(cell::Extended2Msg{created->hdata}, w))
      return refuse(DestroyReason::kProtocol);  // too long for a relay message
    if (!answer(rcmd(RelayCmd::kExtended2), w.written()))
      return refuse(DestroyReason::kResourceLimit);
    hop_ = Hop::kOpen;
    return Next::kSent;
  }
  // RELAY_EARLY travels outbound only: an inbound one closes the circuit, as C tor has since
  // 0.2.4.23 (it was the injection channel of the 2014 relay-early attack).
  if (command != cmd(CellCmd::kRelay) || hop_ != Hop::kOpen)
    return refuse(DestroyReason::kProtocol);
  // Behind our own answers (EXTENDED2 first): the client cannot read the next hop's cells before.
  if (toClient_.empty() && bwd_.queue.empty() && io.canSendCell()) {
    if (!layer_.relayInbound(payload)) return refuse(DestroyReason::kInternal);
    io.sendCell(Bytes(payload.data(), payload.size()));
    ++bwd_.cells;
    return Next::kSent;
  }
  if (toClient_.size() >= kMaxWaitingCells) return refuse(DestroyReason::kResourceLimit);
  RawCell& c = toClient_.emplace_back();
  std::copy(payload.begin(), payload.end(), c.payload.begin());
  return Next::kQueued;
}

uint32_t Circuit::pumpRelayed(CircuitIo& io) {
  uint32_t n = 0;
  while (!toClient_.empty() && bwd_.queue.empty() && io.canSendCell()) {
    RawCell& c = toClient_.front();
    if (!layer_.relayInbound(crypto::RelayPayload(c.payload))) break;
    io.sendCell(Bytes(c.payload));
    ++bwd_.cells;
    toClient_.pop_front();
    ++n;
  }
  return n;
}

uint32_t Circuit::drainHeld(CircuitIo& io) {
  uint32_t n = 0;
  while (!fwd_.held.empty() && io.canDeliver()) {
    const QueuedMsg& m = fwd_.held.front();
    io.deliver(m.streamId, m.command, Bytes(m.body.data(), m.length));
    fwd_.held.pop();
    ++n;
  }
  return n;
}

bool Circuit::originate(uint16_t streamId, uint8_t command, Bytes body, CircuitIo& io,
                        crypto::Tor1Digest* digest) {
  std::array<uint8_t, cell::kCellPayloadLen> cellBuf;
  if (!cell::encodeRelayCell(MutBytes(cellBuf), static_cast<RelayCmd>(command), streamId, body,
                             [&io](MutBytes out) { io.random(out); }))
    return false;
  if (!layer_.originateInbound(crypto::RelayPayload(cellBuf), digest)) return false;
  io.sendCell(Bytes(cellBuf));
  ++bwd_.cells;
  return true;
}

bool Circuit::dataWindowOpen() const {
  return cc_ ? cc_->canSend() : bwd_.classic.canSend();
}

void Circuit::dataSent(const crypto::Tor1Digest& digest, uint64_t nowUsec) {
  bool acked = cc_ ? cc_->onDataSent(nowUsec) : bwd_.classic.onDataSent();
  if (acked) bwd_.sentTags.push(digest);
}

Circuit::Bwd Circuit::fromStreams(uint16_t streamId, uint8_t command, Bytes body, uint64_t nowUsec,
                                  CircuitIo& io, bool fromConflux) {
  bool allowed = streamId != 0 ? streamSideSends(command)
                               : fromConflux && leg_ &&
                                     (command == rcmd(RelayCmd::kConfluxLinked) ||
                                      command == rcmd(RelayCmd::kConfluxSwitch));
  if (!allowed || body.size() > cell::kRelayBodyMax) return Bwd::kViolation;
  bool isData = command == rcmd(RelayCmd::kData);
  if (bwd_.queue.empty() && bwd_.dueSendmes.size() == 0 && io.canSendCell() &&
      (!isData || dataWindowOpen())) {
    crypto::Tor1Digest digest{};
    if (originate(streamId, command, body, io, &digest)) {
      if (isData) dataSent(digest, nowUsec);
      return Bwd::kSent;
    }
  }
  return bwd_.queue.push(streamId, command, body) ? Bwd::kQueued : Bwd::kViolation;
}

uint32_t Circuit::pump(uint64_t nowUsec, CircuitIo& io) {
  while (bwd_.dueSendmes.size() > 0 && io.canSendCell()) {
    auto tag = bwd_.dueSendmes.pop();
    uint8_t body[3 + flowctl::kSendmeTagLen];
    Writer w{MutBytes(body)};
    cell::encodeSendme(cell::SendmeMsg{1, Bytes(*tag)}, w);
    crypto::Tor1Digest ignored{};
    originate(0, rcmd(RelayCmd::kSendme), w.written(), io, &ignored);
  }
  uint32_t sent = 0;
  while (!bwd_.queue.empty() && io.canSendCell()) {
    const QueuedMsg& m = bwd_.queue.front();
    bool isData = m.command == rcmd(RelayCmd::kData);
    if (isData && !dataWindowOpen()) break;
    crypto::Tor1Digest digest{};
    if (!originate(m.streamId, m.command, Bytes(m.body.data(), m.length), io, &digest)) break;
    if (isData) dataSent(digest, nowUsec);
    if (m.owed) ++sent;  // our own answers (TRUNCATED) owe the stream side nothing
    bwd_.queue.pop();
  }
  return sent;
}

}  // namespace onionsplit::circuitd

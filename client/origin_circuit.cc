// client/origin_circuit.cc: see origin_circuit.h.
#include "client/origin_circuit.h"

#include "common/cell/cells.h"
#include "common/cell/relay.h"

namespace onionsplit::client {

namespace {

using cell::RelayCmd;

uint8_t rcmd(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

// The ntor v3 client message: one extension, the congestion-control request (type 1, empty); or
// no extension at all.
constexpr std::array<uint8_t, 3> kCcRequestMessage = {1, 1, 0};
constexpr std::array<uint8_t, 1> kNoExtensionsMessage = {0};
// Two extensions: the CC request and the SUBPROTO request (type 3) for Relay (2) = 6, CGO.
constexpr std::array<uint8_t, 7> kCcCgoRequestMessage = {2, 1, 0, 3, 2, 2, 6};
// ntor v3's KDF (SHAKE-256) output is read for CGO's 160 bytes of seed whatever was asked: tor1's
// 72 bytes are the same prefix of it.
constexpr size_t kNtor3KeyLen = crypto::kCgoKeyMaterialLen + 20;

}  // namespace

Inbound OriginCircuit::error(std::string why) {
  state_ = State::kClosed;
  Inbound in;
  in.kind = Inbound::kError;
  in.error = std::move(why);
  return in;
}

std::array<uint8_t, cell::kCellPayloadLen> OriginCircuit::create2(const RelayInfo& first) {
  std::array<uint8_t, cell::kCellPayloadLen> payload{};
  std::array<uint8_t, 32> x{};
  random_(MutBytes(x));
  std::array<uint8_t, crypto::kNtorOnionskinLen> skin{};
  ntor_ = crypto::ntorClientCreate(Bytes(first.rsaId), Bytes(first.ntorKey), Bytes(x), skin);
  Writer w{MutBytes(payload)};
  cell::encodeCreate2(cell::Create2{static_cast<uint16_t>(cell::HandshakeType::kNtor), Bytes(skin)},
                      w);
  state_ = State::kCreateSent;
  return payload;
}

std::array<uint8_t, cell::kCellPayloadLen> OriginCircuit::createFast() {
  std::array<uint8_t, cell::kCellPayloadLen> payload{};
  fastX_.emplace();
  random_(MutBytes(*fastX_));
  std::memcpy(payload.data(), fastX_->data(), fastX_->size());
  state_ = State::kCreateSent;
  return payload;
}

std::optional<std::string> OriginCircuit::onCreatedFast(Bytes payload) {
  if (state_ != State::kCreateSent || !fastX_) {
    state_ = State::kClosed;
    return "CREATED_FAST that we did not ask for";
  }
  auto keys = crypto::fastClientComplete(
      Bytes(*fastX_), payload.first(std::min<size_t>(payload.size(), 2 * crypto::kFastLen)));
  fastX_.reset();
  auto k = keys ? crypto::Tor1Keys::fromKeyMaterial(Bytes(*keys)) : std::nullopt;
  if (!k || !crypto_.addTor1(*k)) {
    state_ = State::kClosed;
    return keys ? "cannot set up the first hop's relay crypto"
                : "first hop's CREATED_FAST: " + std::string(crypto::toString(keys.error()));
  }
  state_ = State::kOpen;
  return std::nullopt;
}

std::optional<std::string> OriginCircuit::onCreated2(Bytes payload) {
  if (state_ != State::kCreateSent || fastX_) {
    state_ = State::kClosed;
    return "CREATED2 that we did not ask for";
  }
  auto c2 = cell::decodeCreated2(payload);
  if (!c2) {
    state_ = State::kClosed;
    return std::string("malformed CREATED2: ") + c2.error().field;
  }
  auto keys = crypto::ntorClientComplete(ntor_, c2->hdata);
  if (!keys) {
    state_ = State::kClosed;
    return std::string("first hop's ntor reply: ") + crypto::toString(keys.error());
  }
  auto k = crypto::Tor1Keys::fromKeyMaterial(Bytes(*keys));
  if (!k || !crypto_.addTor1(*k)) {
    state_ = State::kClosed;
    return "cannot set up the first hop's relay crypto";
  }
  state_ = State::kOpen;
  return std::nullopt;
}

bool OriginCircuit::extend(const RelayInfo& next, crypto::RelayPayload out) {
  if (state_ != State::kOpen) return false;
  std::array<uint8_t, 32> x{};
  random_(MutBytes(x));
  Bytes msg = requestCc_ ? (requestCgo_ ? Bytes(kCcCgoRequestMessage) : Bytes(kCcRequestMessage))
                         : Bytes(kNoExtensionsMessage);
  std::vector<uint8_t> hs =
      crypto::ntor3ClientCreate(Bytes(next.edId), Bytes(next.ntorKey), msg, Bytes(x),
                                crypto::kNtor3CircuitVerification, ntor3_);
  ccRequested_ = requestCc_;
  cgoRequested_ = requestCc_ && requestCgo_;
  std::array<uint8_t, 6> addr{};
  std::copy(next.ipv4.begin(), next.ipv4.end(), addr.begin());
  addr[4] = static_cast<uint8_t>(next.orPort >> 8);
  addr[5] = static_cast<uint8_t>(next.orPort);
  cell::Extend2Msg m;
  m.specs[0] = {cell::LinkSpecifier::kIpv4, Bytes(addr)};
  m.specs[1] = {cell::LinkSpecifier::kRsaId, Bytes(next.rsaId)};
  m.specs[2] = {cell::LinkSpecifier::kEd25519Id, Bytes(next.edId)};
  m.specCount = 3;
  m.htype = static_cast<uint16_t>(cell::HandshakeType::kNtorV3);
  m.hdata = Bytes(hs);
  std::array<uint8_t, cell::kRelayBodyMax> body{};
  Writer w{MutBytes(body)};
  if (!cell::encodeExtend2(m, w)) return false;
  if (!originateAs(true, rcmd(RelayCmd::kExtend2), 0, w.written(), out)) return false;
  state_ = State::kExtendSent;
  return true;
}

Inbound OriginCircuit::onExtended2(Bytes body) {
  auto e2 = cell::decodeExtended2(body);
  if (!e2) return error(std::string("malformed EXTENDED2: ") + e2.error().field);
  auto done = crypto::ntor3ClientComplete(ntor3_, e2->hdata, kNtor3KeyLen);
  if (!done) return error(std::string("ntor v3 reply: ") + crypto::toString(done.error()));
  auto cc = cell::checkExitReply(Bytes(done->serverMessage), ccConsensus_, ccRequested_);
  if (!cc)
    return error(
        "the new hop's congestion-control reply is malformed, out of range or not asked for");
  if (cgoRequested_) {
    // A relay that accepted the handshake accepted the request (C tor refuses the handshake
    // otherwise).
    if (!cc->ccEnabled) return error("the new hop accepted CGO without congestion control");
    if (!crypto_.addCgo(Bytes(done->keys))) return error("cannot set up the new hop's CGO layer");
  } else {
    auto k = crypto::Tor1Keys::fromKeyMaterial(Bytes(done->keys));
    if (!k || !crypto_.addTor1(*k)) return error("cannot set up the new hop's relay crypto");
  }
  cc_.reset();
  deliver_.reset();
  if (cc->ccEnabled) {
    cc_ = *cc;
    deliver_.emplace(cc->sendmeInc);
  } else {
    deliver_.emplace(flowctl::kCircWindowIncrement);
  }
  state_ = State::kOpen;
  Inbound in;
  in.kind = Inbound::kExtended;
  return in;
}

Inbound OriginCircuit::onRelay(crypto::RelayPayload cell) {
  if (state_ != State::kOpen && state_ != State::kExtendSent)
    return error("RELAY cell on a circuit that is not open");
  if (sendmeDue_) return error("caller's bug: a SENDME is due and was not sent");
  flowctl::SendmeTag digest{};
  auto hop = crypto_.receiveInbound(cell, &digest);
  if (!hop) return error("RELAY cell that no hop recognizes (wrong digest)");
  auto rc = cell::decodeRelayMsgView(crypto_.format(*hop), Bytes(cell.data(), cell.size()));
  if (!rc) return error(std::string("malformed relay cell: ") + rc.error().field);
  const uint8_t cmd = rc->command;
  const size_t last = crypto_.hops() - 1;
  if (state_ == State::kExtendSent) {
    if (*hop != last || cmd != rcmd(RelayCmd::kExtended2))
      return error("expected EXTENDED2, got relay command " + std::to_string(cmd) + " from hop " +
                   std::to_string(*hop));
    return onExtended2(rc->data);
  }
  if (*hop != last && cmd == rcmd(RelayCmd::kTruncated))  // a C tor middle's word for DESTROY
    return error("truncated at hop " + std::to_string(*hop) + ", reason " +
                 std::to_string(rc->data.empty() ? -1 : int{rc->data[0]}));
  if (*hop != last)
    return error("relay command " + std::to_string(cmd) + " from middle hop " +
                 std::to_string(*hop));
  if (cmd == rcmd(RelayCmd::kSendme) && rc->streamId == 0) {
    const uint64_t inc = cc_ ? cc_->sendmeInc : flowctl::kCircWindowIncrement;
    if ((sendmesReceived_ + 1) * inc > dataCellsSent_)
      return error("circuit-level SENDME from the exit, but we never filled its window");
    ++sendmesReceived_;
    Inbound in;
    in.kind = Inbound::kWindowOpened;
    return in;
  }
  if (cmd == rcmd(RelayCmd::kData)) {
    ++dataCells_;
    if (deliver_ && deliver_->onDataReceived()) sendmeDue_ = digest;
  }
  Inbound in;
  in.kind = Inbound::kMessage;
  in.cmd = cmd;
  in.streamId = rc->streamId;
  in.body = rc->data;
  return in;
}

bool OriginCircuit::originateSendme(crypto::RelayPayload out) {
  if (!sendmeDue_) return false;
  return originateHeldSendme(*std::exchange(sendmeDue_, {}), out);
}

bool OriginCircuit::originateHeldSendme(const crypto::Tor1Digest& digest,
                                        crypto::RelayPayload out) {
  if (crypto_.hops() == 0) return false;
  std::array<uint8_t, 3 + crypto::kTor1DigestLen> body{};
  Writer w{MutBytes(body)};
  Bytes tag(digest.data(), crypto_.tagLen(crypto_.hops() - 1));
  if (!cell::encodeSendme(cell::SendmeMsg{1, tag}, w)) return false;
  if (!originate(rcmd(RelayCmd::kSendme), 0, w.written(), out)) return false;
  ++sendmesSent_;
  return true;
}

bool OriginCircuit::originate(uint8_t cmd, uint16_t streamId, Bytes body,
                              crypto::RelayPayload out) {
  return originateAs(false, cmd, streamId, body, out);
}

bool OriginCircuit::originateAs(bool early, uint8_t cmd, uint16_t streamId, Bytes body,
                                crypto::RelayPayload out) {
  if (crypto_.hops() == 0 || state_ != State::kOpen) return false;
  size_t last = crypto_.hops() - 1;
  if (cell::encodeRelayMsgView(crypto_.format(last), MutBytes(out.data(), out.size()),
                               cell::RelayMsgView{cmd, streamId, body},
                               random_) != cell::RelayEncodeErr::kNone)
    return false;
  if (!crypto_.originateOutbound(last, early, out, nullptr)) return false;
  if (cmd == rcmd(RelayCmd::kData)) ++dataCellsSent_;
  return true;
}

}  // namespace onionsplit::client

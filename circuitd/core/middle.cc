// circuitd/core/middle.cc: see middle.h.
#include "circuitd/core/middle.h"

#include <algorithm>

#include "common/cell/cells.h"
#include "common/cell/relay.h"

namespace onionsplit::circuitd {
namespace {

using cell::CellCmd;
using cell::DestroyReason;

// ntor's CREATE2 handshake data: ID, B, X (tor-spec §5.1.4).
constexpr size_t kNtorOnionskinLen = 20 + 32 + 32;

}  // namespace

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

Expected<std::optional<ExtendTarget>, DestroyReason> Middle::onExtend2(cell::StreamId streamId,
                                                                       Bytes body, bool early) {
  // C tor drops an EXTEND2 on a stream, and one outside RELAY_EARLY (tor-spec §5.6: the limit of
  // RELAY_EARLY cells bounds the length of circuits; AllowNonearlyExtend defaults to 0).
  if (streamId != 0 || !early) return std::optional<ExtendTarget>{};
  // One next hop per circuit: a second EXTEND2 (or one while the first is under way) is an attack.
  if (hop_ != Hop::kNone) return fail(DestroyReason::kProtocol);
  auto t = checkExtend2(body, ids_);
  if (!t) return fail(t.error());
  hop_ = Hop::kPending;
  cancelled_ = false;
  return std::optional<ExtendTarget>(std::move(*t));
}

std::optional<uint8_t> Middle::onTruncate(Bytes body) {
  switch (hop_) {
    case Hop::kNone:
      return std::nullopt;
    case Hop::kPending:
      cancelled_ = true;  // channeld's answer closes the next hop it opened
      return std::nullopt;
    case Hop::kCreateSent:
    case Hop::kOpen:
      break;
  }
  hop_ = Hop::kNone;
  return body.empty() ? uint8_t{0} : body[0];
}

Middle::Extended Middle::extendResult(bool ok) {
  if (hop_ != Hop::kPending) return Extended::kUnwanted;  // no extend of ours
  if (std::exchange(cancelled_, false)) {
    hop_ = Hop::kNone;
    return Extended::kUnwanted;
  }
  if (!ok) {
    hop_ = Hop::kNone;
    return Extended::kFailed;  // C tor closes the circuit when it cannot reach the next hop
  }
  hop_ = Hop::kCreateSent;
  return Extended::kKeep;
}

Expected<std::vector<uint8_t>, DestroyReason> Middle::onCreated2(Bytes payload509,
                                                                 cell::RelayCellFormat format) {
  if (hop_ != Hop::kCreateSent) return fail(DestroyReason::kProtocol);
  auto created = cell::decodeCreated2(payload509);
  if (!created) return fail(DestroyReason::kProtocol);
  std::vector<uint8_t> body(
      cell::relayDataMax(format, static_cast<uint8_t>(cell::RelayCmd::kExtended2)));
  Writer w{MutBytes(body)};
  if (!cell::encodeExtended2(cell::Extended2Msg{created->hdata}, w))
    return fail(DestroyReason::kProtocol);  // too long for a relay message
  body.resize(w.written().size());
  hop_ = Hop::kOpen;
  return body;
}

bool Middle::acceptsFromNext(uint8_t cellCmd) const {
  return cellCmd == static_cast<uint8_t>(CellCmd::kRelay) && hop_ == Hop::kOpen;
}

bool Middle::queueForward(bool early, std::span<const uint8_t, cell::kCellPayloadLen> payload,
                          flowctl::CreditToken credit) {
  if (toNext_.size() >= kMaxWaitingCells) return false;
  WaitingCell& c = toNext_.emplace_back();
  c.early = early;
  std::copy(payload.begin(), payload.end(), c.payload.begin());
  c.credit = std::move(credit);
  c.stamp = charge_.stamp();
  charge_.add(kCellBytes);
  return true;
}

bool Middle::queueBack(std::span<const uint8_t, cell::kCellPayloadLen> payload,
                       flowctl::CreditToken credit) {
  if (toClient_.size() >= kMaxWaitingCells) return false;
  WaitingCell& c = toClient_.emplace_back();
  std::copy(payload.begin(), payload.end(), c.payload.begin());
  c.credit = std::move(credit);
  c.stamp = charge_.stamp();
  charge_.add(kCellBytes);
  return true;
}

void Middle::popForward() {
  if (toNext_.empty()) return;
  toNext_.pop_front();
  charge_.sub(kCellBytes);
}

void Middle::popBack() {
  if (toClient_.empty()) return;
  toClient_.pop_front();
  charge_.sub(kCellBytes);
}

void Middle::dropForward() {
  charge_.sub(toNext_.size() * kCellBytes);
  toNext_.clear();
}

void Middle::dropBack() {
  charge_.sub(toClient_.size() * kCellBytes);
  toClient_.clear();
}

uint64_t Middle::oldestStamp() const {
  uint64_t a = toNext_.empty() ? 0 : toNext_.front().stamp;
  uint64_t b = toClient_.empty() ? 0 : toClient_.front().stamp;
  return a == 0 ? b : b == 0 ? a : std::min(a, b);
}

}  // namespace onionsplit::circuitd

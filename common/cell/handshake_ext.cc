// common/cell/handshake_ext.cc: see handshake_ext.h.
#include "common/cell/handshake_ext.h"

namespace onionsplit::cell {

const HandshakeExt* HandshakeExtList::find(HandshakeExtType t) const {
  for (uint8_t i = 0; i < count; ++i)
    if (items[i].type == static_cast<uint8_t>(t)) return &items[i];
  return nullptr;
}

Parsed<HandshakeExtList> decodeHandshakeExts(Bytes msg) {
  Reader r(msg);
  HandshakeExtList list;
  uint8_t n = r.u8("extension count");
  if (!r.failed() && n > kMaxHandshakeExtensions)
    return fail(ParseError{ParseErrc::kTooLong, "extension count"});
  for (uint8_t i = 0; i < n && !r.failed(); ++i) {
    HandshakeExt e;
    e.type = r.u8("extension type");
    uint8_t len = r.u8("extension length");
    e.body = r.bytes(len, "extension body");
    list.items[list.count++] = e;
  }
  r.expectEnd("extension list");
  if (r.failed()) return fail(r.error());
  return list;
}

bool encodeHandshakeExts(const HandshakeExtList& list, Writer& out) {
  out.u8(list.count);
  for (uint8_t i = 0; i < list.count; ++i) {
    const HandshakeExt& e = list.items[i];
    if (e.body.size() > 255) return false;
    out.u8(e.type);
    out.u8(static_cast<uint8_t>(e.body.size()));
    out.bytes(e.body);
  }
  return !out.overflowed();
}

std::optional<bool> relayReadsSubprotoRequest(Bytes body) {
  if (body.size() % 2 != 0) return std::nullopt;
  bool cgo = false;
  for (size_t i = 0; i < body.size(); i += 2) {
    if (i > 0) {
      // Strictly increasing (protocol id, capability): sorted and without duplicates.
      unsigned prev = unsigned{body[i - 2]} << 8 | body[i - 1];
      unsigned cur = unsigned{body[i]} << 8 | body[i + 1];
      if (cur <= prev) return std::nullopt;
    }
    if (body[i] != kSubprotoRelay || body[i + 1] != kRelayCryptCgo) return std::nullopt;
    cgo = true;
  }
  return cgo;
}

bool encodeSubprotoRequest(std::span<const SubprotoRequest> reqs, Writer& out) {
  for (const SubprotoRequest& r : reqs) {
    out.u8(r.protocolId);
    out.u8(r.capability);
  }
  return !out.overflowed();
}

std::optional<ExitNegotiation> negotiateExit(Bytes clientMessage, const CcConsensus& consensus) {
  auto list = decodeHandshakeExts(clientMessage);
  if (!list) return std::nullopt;
  ExitNegotiation out;
  const HandshakeExt* cc = list->find(HandshakeExtType::kCcRequest);
  out.ccEnabled = cc != nullptr && consensus.ccAlg != 0;
  if (const HandshakeExt* sub = list->find(HandshakeExtType::kSubprotoRequest)) {
    auto cgo = relayReadsSubprotoRequest(sub->body);
    if (!cgo) return std::nullopt;
    out.cgo = *cgo;
  }
  // The v1 format has no stream-level SENDME, so CGO needs congestion control (C tor refuses).
  if (out.cgo && !out.ccEnabled) return std::nullopt;
  if (out.ccEnabled) {
    out.reply = {1, static_cast<uint8_t>(HandshakeExtType::kCcResponse), 1, consensus.sendmeInc};
    out.replyLen = 4;
  } else {
    out.reply = {0};
    out.replyLen = 1;
  }
  return out;
}

std::optional<ClientCcResult> checkExitReply(Bytes serverMessage, const CcConsensus& consensus,
                                             bool requested) {
  auto list = decodeHandshakeExts(serverMessage);
  if (!list) return std::nullopt;
  ClientCcResult r;
  const HandshakeExt* cc = list->find(HandshakeExtType::kCcResponse);
  if (!cc) return r;
  if (!requested) return std::nullopt;  // an answer to nothing (TROVE-2026-032)
  if (cc->body.size() != 1) return std::nullopt;
  uint8_t inc = cc->body[0];
  int diff = int{inc} - int{consensus.sendmeInc};
  if (inc == 0 || diff > 1 || diff < -1) return std::nullopt;
  r.ccEnabled = true;
  r.sendmeInc = inc;
  return r;
}

}  // namespace onionsplit::cell

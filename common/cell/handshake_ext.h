// common/cell/handshake_ext.h: the extension lists carried inside ntor v3's encrypted client and
// server messages (trunnel extension.trunnel; proposal 332 A.2 with the leading count byte that
// proposal 358 and the wire have), and the congestion-control negotiation they carry (proposal 324
// §10): CC request (type 1, empty), CC response (type 2, sendme_inc u8), SUBPROTO request (type 3,
// proposal 358: the Relay=5 capability; C tor 0.4.9 subproto_request.trunnel), through which a
// client asks for Counter Galois Onion (Relay=6) on the circuit.
//
// Where it sits: circuitd's CREATE2 handler passes negotiateExit() to the ntor v3 server as the
// function that reads the client's message and writes the reply.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "common/base/bytes.h"

namespace onionsplit::cell {

enum class HandshakeExtType : uint8_t { kCcRequest = 1, kCcResponse = 2, kSubprotoRequest = 3 };

inline constexpr size_t kMaxHandshakeExtensions = 16;

struct HandshakeExt {
  uint8_t type = 0;
  Bytes body;  // view into the message
};

struct HandshakeExtList {
  std::array<HandshakeExt, kMaxHandshakeExtensions> items{};
  uint8_t count = 0;
  const HandshakeExt* find(HandshakeExtType t) const;
};

Parsed<HandshakeExtList> decodeHandshakeExts(Bytes msg);
// Writes the list; returns false if `out` is too small or an extension body is over 255 bytes.
bool encodeHandshakeExts(const HandshakeExtList& list, Writer& out);

// The subprotocol request's body: (protocol id u8, capability u8) pairs, strictly increasing
// (sorted, no duplicates), to the end of the extension. Relay (protocol id 2) capability 6 is CGO.
inline constexpr uint8_t kSubprotoRelay = 2;
inline constexpr uint8_t kRelayCryptCgo = 6;
struct SubprotoRequest {
  uint8_t protocolId = 0;
  uint8_t capability = 0;
};
// What the relay makes of a SUBPROTO request body, as C tor 0.4.9's relay_process_subproto_ext:
// true if it asks for CGO, false for an empty list; nullopt (refuse the handshake) for an odd
// length, pairs out of order or repeated, or any capability other than Relay=6 ("unless a
// capability is explicitly supported for use with this extension, we must reject").
std::optional<bool> relayReadsSubprotoRequest(Bytes body);
// The body asking for these capabilities (the caller keeps them sorted); false if `out` is short.
bool encodeSubprotoRequest(std::span<const SubprotoRequest> reqs, Writer& out);

struct CcConsensus {
  uint8_t ccAlg = 2;       // cc_alg: 0 disables congestion control, 2 is Vegas
  uint8_t sendmeInc = 31;  // cc_sendme_inc
};

struct ExitNegotiation {
  bool ccEnabled = false;
  bool cgo = false;  // the client asked for Relay=6: CGO crypto and the v1 relay cell format
  std::array<uint8_t, 8> reply{};  // the server message: "00" or "01 02 01 <sendme_inc>"
  size_t replyLen = 0;
};
// What the exit answers to a client's message, as C tor 0.4.9 does: CC is enabled iff the client
// asked for it and cc_alg != 0; unknown extension types are ignored; a SUBPROTO request selects
// CGO when it asks for Relay=6 and nothing else (relayReadsSubprotoRequest). Refused (nullopt): a
// malformed message, a SUBPROTO request the relay refuses, and CGO without congestion control
// (the v1 cell format cannot carry stream-level SENDMEs). The reply says nothing about CGO: a
// client whose request was refused sees the handshake fail.
std::optional<ExitNegotiation> negotiateExit(Bytes clientMessage, const CcConsensus& consensus);

// The client's check of the exit's reply: the sendme_inc it announces, if CC was accepted; nullopt
// if the reply is malformed, the increment is 0 or further than 1 from the consensus value, or the
// reply carries a CC response to a client that did not ask for congestion control (`requested`
// false: TROVE-2026-032, C tor's client accepted it and ran CC the exit had not been asked for).
struct ClientCcResult {
  bool ccEnabled = false;
  uint8_t sendmeInc = 0;
};
std::optional<ClientCcResult> checkExitReply(Bytes serverMessage, const CcConsensus& consensus,
                                             bool requested);

}  // namespace onionsplit::cell

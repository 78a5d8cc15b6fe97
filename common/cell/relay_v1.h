// common/cell/relay_v1.h: the v1 relay cell format, used on circuits whose hop negotiated Counter
// Galois Onion crypto (proposal 359, Relay=6; tor-spec "Relay cells"; C tor 0.4.9
// relay_msg.c/relay_msg.h, or.h:is_known_relay_command), and the per-circuit choice between it and
// the tor1 (v0) format of relay.h.
//
// Where it sits: circuitd decrypts a cell (the CGO layer checks and owns the tag), then decodes the
// 509-byte body with the format its circuit negotiated into a RelayMsgView (relay.h), which the
// handler chain and the typed decoders of relay.h take from there. Encoding is the reverse; the
// crypto layer fills the tag afterwards. Nothing here allocates: views point into the body.
//
// v1 body: tag(16) | command(1) | length(2) | stream id(2), only for the commands that carry one |
// data(length) | padding. One message per cell: there is no end marker and no packing (proposal
// 340 is not part of v1); the bytes after the data are padding and are not read, as in C tor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "common/base/bytes.h"
#include "common/cell/relay.h"

namespace onionsplit::cell {

// Chosen per circuit at CREATE2 time (ntor v3 subprotocol request for Relay=6 gives kV1).
enum class RelayCellFormat : uint8_t { kV0 = 0, kV1 = 1 };

inline constexpr size_t kRelayV1TagLen = 16;
inline constexpr size_t kRelayV1HeaderLenNoStream = kRelayV1TagLen + 1 + 2;           // 19
inline constexpr size_t kRelayV1HeaderLenWithStream = kRelayV1HeaderLenNoStream + 2;  // 21
inline constexpr size_t kRelayV1BodyMaxNoStream = kCellPayloadLen - kRelayV1HeaderLenNoStream;
inline constexpr size_t kRelayV1BodyMaxWithStream = kCellPayloadLen - kRelayV1HeaderLenWithStream;

// Commands a v1 cell may carry (C tor's is_known_relay_command): 1-15, 19-22, 32-44. Any other
// command makes the cell undecodable and C tor closes the circuit (TORPROTOCOL); unlike tor1, an
// unknown command is not silently dropped.
bool isKnownRelayCmdV1(uint8_t cmd);
// Commands whose v1 header has a stream id: BEGIN, DATA, END, CONNECTED, RESOLVE, RESOLVED,
// BEGIN_DIR, XOFF, XON. Every other command has none, so a stream-level SENDME cannot be written in
// v1 (v1 circuits use congestion control, which has no stream SENDMEs).
bool carriesStreamIdV1(uint8_t cmd);
// The most data bytes a message of `cmd` fits in one cell of `format` (498; 488 or 490 in v1).
size_t relayDataMax(RelayCellFormat format, uint8_t cmd);

// Decodes a (decrypted, tag already checked) 509-byte v1 body. Refuses, as C tor does: a body that
// is not 509 bytes (kBadLength "relay v1 cell"), an unknown command (kUnknownType "relay v1
// command"), a length over the room left after the header (kTooLong "relay v1 length"). The tag
// and padding are not read. A stream-carrying command with stream id 0 decodes (C tor's codec
// accepts it; the stream layer drops such a message, specs/README.md §2), but cannot be encoded.
Parsed<RelayMsgView> decodeRelayCellV1(Bytes payload509);

// Why an encoder refused a message: always the caller's bug, never a peer's.
enum class RelayEncodeErr : uint8_t {
  kNone,
  kBadBuffer,          // output is not 509 bytes
  kUnknownCommand,     // v1 only: not isKnownRelayCmdV1
  kTooLong,            // data over relayDataMax
  kStreamIdRequired,   // v1 only: a stream-carrying command with stream id 0
  kStreamIdForbidden,  // v1 only: a non-zero stream id on a command that has no field for it
};
const char* toString(RelayEncodeErr e);

// Encodes one message into a 509-byte v1 body: zero tag (the CGO layer sets it), header, data,
// then 4 zero bytes (fewer if the cell ends first) and `random` bytes for the rest (zeros if
// `random` is empty), as C tor does (proposal 289: unpredictable padding). On error the body's
// content is unspecified. `m.data` must not overlap `payload509`.
RelayEncodeErr encodeRelayCellV1(MutBytes payload509, const RelayMsgView& m,
                                 const std::function<void(MutBytes)>& random);

// The per-circuit entry points: decode or encode with the circuit's format. kV0 is exactly
// decodeRelayCell/encodeRelayCell of relay.h (which check neither commands nor stream ids).
Parsed<RelayMsgView> decodeRelayMsgView(RelayCellFormat format, Bytes payload509);
RelayEncodeErr encodeRelayMsgView(RelayCellFormat format, MutBytes payload509,
                                  const RelayMsgView& m,
                                  const std::function<void(MutBytes)>& random);

}  // namespace onionsplit::cell

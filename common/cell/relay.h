// common/cell/relay.h: relay cells (tor-spec §6.1, tor1 format) and the typed relay messages an
// exit or a middle relay handles (§5.1.2, §6.2-6.4, §7; proposals 289, 324 §4, 329 §2).
//
// Where it sits: circuitd decodes the header of every recognized cell and the messages it handles
// itself (SENDME, EXTEND2, TRUNCATE, DROP, conflux); streamd decodes stream messages (BEGIN, DATA,
// END, RESOLVE, XON/XOFF); confluxd decodes LINK/LINKED/SWITCH. Messages view into the cell;
// nothing here allocates. Unknown commands are reported as such (callers drop them, tor-spec §6.1).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <variant>

#include "common/base/bytes.h"
#include "common/cell/constants.h"

namespace onionsplit::cell {

struct RelayHeader {
  uint8_t command = 0;
  uint16_t recognized = 0;
  StreamId streamId = 0;
  std::array<uint8_t, 4> digest{};
  uint16_t length = 0;
};

struct RelayCellView {
  RelayHeader header;
  Bytes body;  // `length` bytes
};

// One relay message as circuitd handles it, whatever the cell format of its circuit (tor1 here,
// v1 in relay_v1.h): a view into the cell body, valid while the body is. streamId is 0 when the
// message has none.
struct RelayMsgView {
  uint8_t command = 0;
  StreamId streamId = 0;
  Bytes data;
};
inline RelayMsgView msgView(const RelayCellView& c) {
  return RelayMsgView{c.header.command, c.header.streamId, c.body};
}

// Decodes the header of a (decrypted) 509-byte relay payload; length must be <= 498.
Parsed<RelayCellView> decodeRelayCell(Bytes payload509);
// Writes header (recognized and digest zero, for the crypto layer to set) and body into a 509-byte
// payload, then padding: 4 zero bytes and random bytes from `random` (tor-spec §6.1). False if the
// body is over 498 bytes.
bool encodeRelayCell(MutBytes payload509, RelayCmd cmd, StreamId stream, Bytes body,
                     const std::function<void(MutBytes)>& random);

// Properties of a relay command (specs/README.md §2).
bool isConfluxMultiplexed(uint8_t cmd);  // counts toward conflux sequence numbers
bool needsStreamId(uint8_t cmd);         // must carry a non-zero stream id

// ---- stream messages ----
struct BeginMsg {
  std::string_view address;  // hostname, IPv4, or IPv6 without the brackets
  uint16_t port = 0;
  uint32_t flags = 0;  // bit 0: IPv6 okay, bit 1: IPv4 not okay, bit 2: IPv6 preferred
};
Parsed<BeginMsg> decodeBegin(Bytes body);
bool encodeBegin(const BeginMsg& m, Writer& w);  // writes [addr] for IPv6

struct IpAddr {
  uint8_t family = 4;
  std::array<uint8_t, 16> bytes{};
};

struct ConnectedMsg {
  std::optional<IpAddr> address;  // empty body: none
  uint32_t ttl = 0;
};
Parsed<ConnectedMsg> decodeConnected(Bytes body);
bool encodeConnected(const ConnectedMsg& m, Writer& w);

struct EndMsg {
  uint8_t reason = static_cast<uint8_t>(EndReason::kMisc);
  std::optional<IpAddr> address;  // EXITPOLICY only
  uint32_t ttl = 0xffffffff;
};
Parsed<EndMsg> decodeEnd(Bytes body);  // an empty body is MISC (tor-spec §6.3)
bool encodeEnd(const EndMsg& m, Writer& w);

struct ResolveMsg {
  std::string_view name;  // hostname, or in-addr.arpa / ip6.arpa name
};
Parsed<ResolveMsg> decodeResolve(Bytes body);
bool encodeResolve(const ResolveMsg& m, Writer& w);

struct ResolvedAnswer {
  enum Type : uint8_t {
    kHostname = 0,
    kIpv4 = 4,
    kIpv6 = 6,
    kTransientError = 0xf0,
    kError = 0xf1
  };
  uint8_t type = 0;
  Bytes value;
  uint32_t ttl = 0;
};
inline constexpr size_t kMaxResolvedAnswers = 16;
struct ResolvedMsg {
  std::array<ResolvedAnswer, kMaxResolvedAnswers> answers{};
  uint8_t count = 0;
};
Parsed<ResolvedMsg> decodeResolved(Bytes body);
bool encodeResolved(const ResolvedMsg& m, Writer& w);

// ---- flow control ----
struct SendmeMsg {
  uint8_t version = 0;  // 0: empty body; 1: authenticated
  Bytes tag;            // 20 bytes (tor1) or 16 (CGO) for version 1
};
Parsed<SendmeMsg> decodeSendme(Bytes body);
bool encodeSendme(const SendmeMsg& m, Writer& w);

struct XonMsg {
  uint32_t kbpsEwma = 0;
};
Parsed<std::monostate> decodeXoff(Bytes body);
bool encodeXoff(Writer& w);
Parsed<XonMsg> decodeXon(Bytes body);
bool encodeXon(const XonMsg& m, Writer& w);

// ---- circuit extension ----
struct LinkSpecifier {
  enum Type : uint8_t { kIpv4 = 0, kIpv6 = 1, kRsaId = 2, kEd25519Id = 3 };
  uint8_t type = 0;
  Bytes value;  // 6, 18, 20 or 32 bytes for the known types; anything for others
};
inline constexpr size_t kMaxLinkSpecifiers = 8;
struct Extend2Msg {
  std::array<LinkSpecifier, kMaxLinkSpecifiers> specs{};
  uint8_t specCount = 0;
  uint16_t htype = 0;
  Bytes hdata;
};
Parsed<Extend2Msg> decodeExtend2(Bytes body);
bool encodeExtend2(const Extend2Msg& m, Writer& w);
struct Extended2Msg {
  Bytes hdata;
};
Parsed<Extended2Msg> decodeExtended2(Bytes body);
bool encodeExtended2(const Extended2Msg& m, Writer& w);
Parsed<std::optional<uint8_t>> decodeTruncate(Bytes body);  // optional reason
Parsed<uint8_t> decodeTruncated(Bytes body);

// ---- conflux (proposal 329 §2.2, §2.6) ----
struct ConfluxLinkMsg {  // LINK and LINKED share the format
  std::array<uint8_t, 32> nonce{};
  uint64_t lastSeqnoSent = 0;
  uint64_t lastSeqnoRecv = 0;
  uint8_t desiredUx = 0;
};
Parsed<ConfluxLinkMsg> decodeConfluxLink(Bytes body);
bool encodeConfluxLink(const ConfluxLinkMsg& m, Writer& w);
struct ConfluxSwitchMsg {
  uint32_t relativeSeq = 0;
};
Parsed<ConfluxSwitchMsg> decodeConfluxSwitch(Bytes body);
bool encodeConfluxSwitch(const ConfluxSwitchMsg& m, Writer& w);

// ---- any message ----
struct DataMsg {
  Bytes data;
};
struct EmptyMsg {};  // DROP, BEGIN_DIR, LINKED_ACK: no content that matters
struct UnknownMsg {
  uint8_t command = 0;
};
using RelayMsg =
    std::variant<BeginMsg, DataMsg, EndMsg, ConnectedMsg, SendmeMsg, Extend2Msg, Extended2Msg,
                 ResolveMsg, ResolvedMsg, ConfluxLinkMsg, ConfluxSwitchMsg, XonMsg, EmptyMsg,
                 UnknownMsg, std::optional<uint8_t>, uint8_t, std::monostate>;
// Decodes the body of relay command `cmd`. TRUNCATE gives optional<uint8_t>, TRUNCATED uint8_t,
// XOFF monostate; LINK and LINKED both give ConfluxLinkMsg.
Parsed<RelayMsg> decodeRelayMsg(uint8_t cmd, Bytes body);

}  // namespace onionsplit::cell

// common/cell/relay_v1.cc: see relay_v1.h.
#include "common/cell/relay_v1.h"

#include <algorithm>
#include <cstring>

namespace onionsplit::cell {
namespace {

constexpr size_t kV1CmdOffset = kRelayV1TagLen;
constexpr size_t kPadZeros = 4;  // zero bytes between the data and the random padding

ParseError err(ParseErrc c, const char* f) {
  return ParseError{c, f};
}

}  // namespace

bool isKnownRelayCmdV1(uint8_t cmd) {
  // 16-18 (UDP, proposal 339) and 23-31 are reserved; 32-40 are onion-service commands, 41-42
  // circuit padding negotiation: known to the format even where this relay does not handle them.
  return (cmd >= 1 && cmd <= 15) || (cmd >= 19 && cmd <= 22) || (cmd >= 32 && cmd <= 44);
}

bool carriesStreamIdV1(uint8_t cmd) {
  return needsStreamId(cmd);  // the same nine commands
}

size_t relayDataMax(RelayCellFormat format, uint8_t cmd) {
  if (format == RelayCellFormat::kV0) return kRelayBodyMax;
  return carriesStreamIdV1(cmd) ? kRelayV1BodyMaxWithStream : kRelayV1BodyMaxNoStream;
}

Parsed<RelayMsgView> decodeRelayCellV1(Bytes p) {
  if (p.size() != kCellPayloadLen) return fail(err(ParseErrc::kBadLength, "relay v1 cell"));
  Reader r(p.subspan(kV1CmdOffset));
  RelayMsgView m;
  m.command = r.u8("relay v1 command");
  if (!isKnownRelayCmdV1(m.command)) return fail(err(ParseErrc::kUnknownType, "relay v1 command"));
  uint16_t length = r.u16("relay v1 length");
  if (carriesStreamIdV1(m.command)) m.streamId = r.u16("relay v1 stream id");
  if (length > relayDataMax(RelayCellFormat::kV1, m.command))
    return fail(err(ParseErrc::kTooLong, "relay v1 length"));
  m.data = r.bytes(length, "relay v1 data");
  if (r.failed()) return fail(r.error());  // unreachable: the header and room checks fit 509
  return m;
}

const char* toString(RelayEncodeErr e) {
  switch (e) {
    case RelayEncodeErr::kNone:
      return "ok";
    case RelayEncodeErr::kBadBuffer:
      return "relay cell body is not 509 bytes";
    case RelayEncodeErr::kUnknownCommand:
      return "relay command unknown to the v1 format";
    case RelayEncodeErr::kTooLong:
      return "relay message longer than the room in the cell";
    case RelayEncodeErr::kStreamIdRequired:
      return "relay command needs a non-zero stream id";
    case RelayEncodeErr::kStreamIdForbidden:
      return "relay command has no stream id in the v1 format";
  }
  return "?";
}

RelayEncodeErr encodeRelayCellV1(MutBytes p, const RelayMsgView& m,
                                 const std::function<void(MutBytes)>& random) {
  if (p.size() != kCellPayloadLen) return RelayEncodeErr::kBadBuffer;
  if (!isKnownRelayCmdV1(m.command)) return RelayEncodeErr::kUnknownCommand;
  bool withStream = carriesStreamIdV1(m.command);
  if (withStream && m.streamId == 0) return RelayEncodeErr::kStreamIdRequired;
  if (!withStream && m.streamId != 0) return RelayEncodeErr::kStreamIdForbidden;
  if (m.data.size() > relayDataMax(RelayCellFormat::kV1, m.command))
    return RelayEncodeErr::kTooLong;
  Writer w(p);
  w.zeros(kRelayV1TagLen);
  w.u8(m.command);
  w.u16(static_cast<uint16_t>(m.data.size()));
  if (withStream) w.u16(m.streamId);
  w.bytes(m.data);
  w.zeros(std::min(kPadZeros, p.size() - w.size()));
  MutBytes rest = w.spare();
  if (!rest.empty()) {
    if (random)
      random(rest);
    else
      std::memset(rest.data(), 0, rest.size());
  }
  return RelayEncodeErr::kNone;
}

Parsed<RelayMsgView> decodeRelayMsgView(RelayCellFormat format, Bytes p) {
  if (format == RelayCellFormat::kV1) return decodeRelayCellV1(p);
  auto v0 = decodeRelayCell(p);
  if (!v0) return fail(v0.error());
  return msgView(*v0);
}

RelayEncodeErr encodeRelayMsgView(RelayCellFormat format, MutBytes p, const RelayMsgView& m,
                                  const std::function<void(MutBytes)>& random) {
  if (format == RelayCellFormat::kV1) return encodeRelayCellV1(p, m, random);
  if (p.size() != kCellPayloadLen) return RelayEncodeErr::kBadBuffer;
  if (!encodeRelayCell(p, static_cast<RelayCmd>(m.command), m.streamId, m.data, random))
    return RelayEncodeErr::kTooLong;
  return RelayEncodeErr::kNone;
}

}  // namespace onionsplit::cell

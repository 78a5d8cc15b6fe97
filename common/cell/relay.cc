// common/cell/relay.cc: see relay.h.
#include "common/cell/relay.h"

#include <charconv>
#include <cstring>

namespace onionsplit::cell {
namespace {

ParseError err(ParseErrc c, const char* f) {
  return ParseError{c, f};
}

std::optional<IpAddr> ipFrom(Bytes b) {
  IpAddr a;
  if (b.size() == 4) {
    a.family = 4;
  } else if (b.size() == 16) {
    a.family = 6;
  } else {
    return std::nullopt;
  }
  std::memcpy(a.bytes.data(), b.data(), b.size());
  return a;
}

Bytes addrBytes(const IpAddr& a) {
  return Bytes(a.bytes.data(), a.family == 4 ? 4 : 16);
}

std::string_view asText(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Reads a NUL-terminated string; fails if there is no NUL.
std::optional<std::string_view> readCString(Reader& r, const char* field) {
  Bytes rest = r.rest();
  const void* nul = std::memchr(rest.data(), 0, rest.size());
  if (!nul) {
    r.fail(ParseErrc::kBadValue, field);
    return std::nullopt;
  }
  size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nul) - rest.data());
  // Re-read what the string used; the caller continues after the NUL.
  Reader again(rest);
  Bytes s = again.bytes(len, field);
  again.skip(1, field);
  r = Reader(again.rest());
  return asText(s);
}

}  // namespace

Parsed<RelayCellView> decodeRelayCell(Bytes p) {
  if (p.size() != kCellPayloadLen) return fail(err(ParseErrc::kBadLength, "relay cell"));
  Reader r(p);
  RelayCellView v;
  v.header.command = r.u8("relay command");
  v.header.recognized = r.u16("recognized");
  v.header.streamId = r.u16("stream id");
  v.header.digest = r.array<4>("digest");
  v.header.length = r.u16("relay length");
  if (v.header.length > kRelayBodyMax) return fail(err(ParseErrc::kTooLong, "relay length"));
  v.body = r.bytes(v.header.length, "relay body");
  return v;
}

bool encodeRelayCell(MutBytes p, RelayCmd cmd, StreamId stream, Bytes body,
                     const std::function<void(MutBytes)>& random) {
  if (p.size() != kCellPayloadLen || body.size() > kRelayBodyMax) return false;
  Writer w(p);
  w.u8(static_cast<uint8_t>(cmd));
  w.u16(0);
  w.u16(stream);
  w.u32(0);
  w.u16(static_cast<uint16_t>(body.size()));
  w.bytes(body);
  size_t free = p.size() - w.size();
  size_t zeros = std::min<size_t>(4, free);
  w.zeros(zeros);
  MutBytes rest = w.spare();
  if (!rest.empty()) {
    if (random)
      random(rest);
    else
      std::memset(rest.data(), 0, rest.size());
  }
  return true;
}

bool isConfluxMultiplexed(uint8_t cmd) {
  switch (static_cast<RelayCmd>(cmd)) {
    case RelayCmd::kBegin:
    case RelayCmd::kData:
    case RelayCmd::kEnd:
    case RelayCmd::kConnected:
    case RelayCmd::kResolve:
    case RelayCmd::kResolved:
    case RelayCmd::kXoff:
    case RelayCmd::kXon:
      return true;
    default:
      return false;
  }
}

bool needsStreamId(uint8_t cmd) {
  return cmd == static_cast<uint8_t>(RelayCmd::kBeginDir) || isConfluxMultiplexed(cmd);
}

Parsed<BeginMsg> decodeBegin(Bytes body) {
  Reader r(body);
  auto addrport = readCString(r, "BEGIN address");
  if (!addrport) return fail(r.error());
  BeginMsg m;
  std::string_view ap = *addrport;
  size_t colon = ap.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return fail(err(ParseErrc::kBadValue, "BEGIN address:port"));
  std::string_view host = ap.substr(0, colon), port = ap.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return fail(err(ParseErrc::kBadValue, "BEGIN IPv6"));
    host = host.substr(1, host.size() - 2);
    // Brackets hold an IPv6 literal and nothing else.
    if (host.find(':') == std::string_view::npos ||
        host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
      return fail(err(ParseErrc::kBadValue, "BEGIN IPv6"));
  } else if (host.find_first_of(":[]") != std::string_view::npos) {
    return fail(err(ParseErrc::kBadValue, "BEGIN IPv6 without brackets"));
  }
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535 || port.empty())
    return fail(err(ParseErrc::kBadValue, "BEGIN port"));
  m.address = host;
  m.port = static_cast<uint16_t>(p);
  if (r.remaining() >= 4) m.flags = r.u32("BEGIN flags");
  r.expectEnd("BEGIN");
  if (r.failed()) return fail(r.error());
  return m;
}

bool encodeBegin(const BeginMsg& m, Writer& w) {
  bool v6 = m.address.find(':') != std::string_view::npos;
  if (v6) w.u8('[');
  w.bytes(Bytes(reinterpret_cast<const uint8_t*>(m.address.data()), m.address.size()));
  if (v6) w.u8(']');
  char port[8];
  auto [end, ec] = std::to_chars(port, port + sizeof port, m.port);
  (void)ec;
  w.u8(':');
  w.bytes(Bytes(reinterpret_cast<const uint8_t*>(port), static_cast<size_t>(end - port)));
  w.u8(0);
  if (m.flags) w.u32(m.flags);
  return !w.overflowed();
}

Parsed<ConnectedMsg> decodeConnected(Bytes body) {
  ConnectedMsg m;
  Reader r(body);
  if (body.empty()) return m;
  if (body.size() == 8) {
    m.address = ipFrom(r.bytes(4, "CONNECTED IPv4"));
    m.ttl = r.u32("CONNECTED TTL");
    return m;
  }
  if (body.size() == 25) {
    if (r.u32("CONNECTED zero") != 0 || r.u8("CONNECTED address type") != 6)
      return fail(err(ParseErrc::kBadValue, "CONNECTED IPv6 marker"));
    m.address = ipFrom(r.bytes(16, "CONNECTED IPv6"));
    m.ttl = r.u32("CONNECTED TTL");
    return m;
  }
  return fail(err(ParseErrc::kBadLength, "CONNECTED"));
}

bool encodeConnected(const ConnectedMsg& m, Writer& w) {
  if (!m.address) return !w.overflowed();
  if (m.address->family == 6) {
    w.u32(0);
    w.u8(6);
  }
  w.bytes(addrBytes(*m.address));
  w.u32(m.ttl);
  return !w.overflowed();
}

Parsed<EndMsg> decodeEnd(Bytes body) {
  EndMsg m;
  if (body.empty()) return m;
  Reader r(body);
  m.reason = r.u8("END reason");
  if (m.reason == static_cast<uint8_t>(EndReason::kExitPolicy)) {
    size_t rest = r.remaining();
    if (rest == 4 || rest == 8) {
      m.address = ipFrom(r.bytes(4, "END address"));
    } else if (rest == 16 || rest == 20) {
      m.address = ipFrom(r.bytes(16, "END address"));
    }
    if (m.address && r.remaining() == 4) m.ttl = r.u32("END TTL");
  }
  // Other bytes are ignored: tor-spec §6.3 says to process END even with a bad address.
  return m;
}

bool encodeEnd(const EndMsg& m, Writer& w) {
  w.u8(m.reason);
  if (m.reason == static_cast<uint8_t>(EndReason::kExitPolicy) && m.address) {
    w.bytes(addrBytes(*m.address));
    w.u32(m.ttl);
  }
  return !w.overflowed();
}

Parsed<ResolveMsg> decodeResolve(Bytes body) {
  Reader r(body);
  auto name = readCString(r, "RESOLVE name");
  if (!name) return fail(r.error());
  if (name->empty()) return fail(err(ParseErrc::kBadValue, "RESOLVE name"));
  r.expectEnd("RESOLVE");
  if (r.failed()) return fail(r.error());
  return ResolveMsg{*name};
}

bool encodeResolve(const ResolveMsg& m, Writer& w) {
  w.bytes(Bytes(reinterpret_cast<const uint8_t*>(m.name.data()), m.name.size()));
  w.u8(0);
  return !w.overflowed();
}

Parsed<ResolvedMsg> decodeResolved(Bytes body) {
  Reader r(body);
  ResolvedMsg m;
  while (!r.empty() && !r.failed()) {
    if (m.count == kMaxResolvedAnswers) return fail(err(ParseErrc::kTooLong, "RESOLVED answers"));
    ResolvedAnswer a;
    a.type = r.u8("RESOLVED type");
    uint8_t len = r.u8("RESOLVED length");
    a.value = r.bytes(len, "RESOLVED value");
    a.ttl = r.u32("RESOLVED TTL");
    if (r.failed()) break;
    if ((a.type == ResolvedAnswer::kIpv4 && len != 4) ||
        (a.type == ResolvedAnswer::kIpv6 && len != 16))
      return fail(err(ParseErrc::kBadLength, "RESOLVED address"));
    m.answers[m.count++] = a;
  }
  if (r.failed()) return fail(r.error());
  return m;
}

bool encodeResolved(const ResolvedMsg& m, Writer& w) {
  for (uint8_t i = 0; i < m.count; ++i) {
    const ResolvedAnswer& a = m.answers[i];
    if (a.value.size() > 255) return false;
    w.u8(a.type);
    w.u8(static_cast<uint8_t>(a.value.size()));
    w.bytes(a.value);
    w.u32(a.ttl);
  }
  return !w.overflowed();
}

Parsed<SendmeMsg> decodeSendme(Bytes body) {
  SendmeMsg m;
  if (body.empty()) return m;
  Reader r(body);
  m.version = r.u8("SENDME version");
  uint16_t len = r.u16("SENDME data length");
  m.tag = r.bytes(len, "SENDME data");
  r.expectEnd("SENDME");
  if (r.failed()) return fail(r.error());
  if (m.version > 1) return fail(err(ParseErrc::kUnknownType, "SENDME version"));
  if (m.version == 1 && len != 20 && len != 16)
    return fail(err(ParseErrc::kBadLength, "SENDME v1 tag"));
  return m;
}

bool encodeSendme(const SendmeMsg& m, Writer& w) {
  if (m.version == 0 && m.tag.empty()) return !w.overflowed();
  w.u8(m.version);
  w.u16(static_cast<uint16_t>(m.tag.size()));
  w.bytes(m.tag);
  return !w.overflowed();
}

Parsed<std::monostate> decodeXoff(Bytes body) {
  Reader r(body);
  uint8_t v = r.u8("XOFF version");
  r.expectEnd("XOFF");
  if (r.failed()) return fail(r.error());
  if (v != 0) return fail(err(ParseErrc::kUnknownType, "XOFF version"));
  return std::monostate{};
}

bool encodeXoff(Writer& w) {
  w.u8(0);
  return !w.overflowed();
}

Parsed<XonMsg> decodeXon(Bytes body) {
  Reader r(body);
  uint8_t v = r.u8("XON version");
  XonMsg m{r.u32("XON kbps_ewma")};
  r.expectEnd("XON");
  if (r.failed()) return fail(r.error());
  if (v != 0) return fail(err(ParseErrc::kUnknownType, "XON version"));
  return m;
}

bool encodeXon(const XonMsg& m, Writer& w) {
  w.u8(0);
  w.u32(m.kbpsEwma);
  return !w.overflowed();
}

Parsed<Extend2Msg> decodeExtend2(Bytes body) {
  Reader r(body);
  Extend2Msg m;
  uint8_t n = r.u8("EXTEND2 specifier count");
  if (!r.failed() && n > kMaxLinkSpecifiers)
    return fail(err(ParseErrc::kTooLong, "EXTEND2 specifier count"));
  for (uint8_t i = 0; i < n && !r.failed(); ++i) {
    LinkSpecifier s;
    s.type = r.u8("link specifier type");
    uint8_t len = r.u8("link specifier length");
    s.value = r.bytes(len, "link specifier");
    static constexpr uint8_t kLens[] = {6, 18, 20, 32};
    if (!r.failed() && s.type < 4 && len != kLens[s.type])
      return fail(err(ParseErrc::kBadLength, "link specifier"));
    m.specs[m.specCount++] = s;
  }
  m.htype = r.u16("EXTEND2 handshake type");
  uint16_t hlen = r.u16("EXTEND2 handshake length");
  m.hdata = r.bytes(hlen, "EXTEND2 handshake data");
  r.expectEnd("EXTEND2");
  if (r.failed()) return fail(r.error());
  return m;
}

bool encodeExtend2(const Extend2Msg& m, Writer& w) {
  w.u8(m.specCount);
  for (uint8_t i = 0; i < m.specCount; ++i) {
    if (m.specs[i].value.size() > 255) return false;
    w.u8(m.specs[i].type);
    w.u8(static_cast<uint8_t>(m.specs[i].value.size()));
    w.bytes(m.specs[i].value);
  }
  w.u16(m.htype);
  w.u16(static_cast<uint16_t>(m.hdata.size()));
  w.bytes(m.hdata);
  return !w.overflowed();
}

Parsed<Extended2Msg> decodeExtended2(Bytes body) {
  Reader r(body);
  uint16_t len = r.u16("EXTENDED2 handshake length");
  Extended2Msg m{r.bytes(len, "EXTENDED2 handshake data")};
  r.expectEnd("EXTENDED2");
  if (r.failed()) return fail(r.error());
  return m;
}

bool encodeExtended2(const Extended2Msg& m, Writer& w) {
  w.u16(static_cast<uint16_t>(m.hdata.size()));
  w.bytes(m.hdata);
  return !w.overflowed();
}

Parsed<std::optional<uint8_t>> decodeTruncate(Bytes body) {
  if (body.empty()) return std::optional<uint8_t>{};
  if (body.size() != 1) return fail(err(ParseErrc::kTrailingBytes, "TRUNCATE"));
  return std::optional<uint8_t>(body[0]);
}

Parsed<uint8_t> decodeTruncated(Bytes body) {
  Reader r(body);
  uint8_t reason = r.u8("TRUNCATED reason");
  r.expectEnd("TRUNCATED");
  if (r.failed()) return fail(r.error());
  return reason;
}

Parsed<ConfluxLinkMsg> decodeConfluxLink(Bytes body) {
  Reader r(body);
  uint8_t version = r.u8("conflux version");
  if (!r.failed() && version != 1) return fail(err(ParseErrc::kUnknownType, "conflux version"));
  ConfluxLinkMsg m;
  m.nonce = r.array<32>("conflux nonce");
  m.lastSeqnoSent = r.u64("last_seqno_sent");
  m.lastSeqnoRecv = r.u64("last_seqno_recv");
  m.desiredUx = r.u8("desired_ux");
  r.expectEnd("conflux link");
  if (r.failed()) return fail(r.error());
  return m;
}

bool encodeConfluxLink(const ConfluxLinkMsg& m, Writer& w) {
  w.u8(1);
  w.bytes(m.nonce);
  w.u64(m.lastSeqnoSent);
  w.u64(m.lastSeqnoRecv);
  w.u8(m.desiredUx);
  return !w.overflowed();
}

Parsed<ConfluxSwitchMsg> decodeConfluxSwitch(Bytes body) {
  Reader r(body);
  // Only the first 4 bytes count: C tor before 0.4.9.3 sent 498-byte SWITCH bodies (bug 41056).
  ConfluxSwitchMsg m{r.u32("SWITCH relative seq")};
  if (r.failed()) return fail(r.error());
  return m;
}

bool encodeConfluxSwitch(const ConfluxSwitchMsg& m, Writer& w) {
  w.u32(m.relativeSeq);
  return !w.overflowed();
}

template <class T>
static Parsed<RelayMsg> lift(Parsed<T> p) {
  if (!p) return fail(p.error());
  return RelayMsg(std::move(*p));
}

Parsed<RelayMsg> decodeRelayMsg(uint8_t cmd, Bytes body) {
  switch (static_cast<RelayCmd>(cmd)) {
    case RelayCmd::kBegin:
      return lift(decodeBegin(body));
    case RelayCmd::kData:
      return RelayMsg(DataMsg{body});
    case RelayCmd::kEnd:
      return lift(decodeEnd(body));
    case RelayCmd::kConnected:
      return lift(decodeConnected(body));
    case RelayCmd::kSendme:
      return lift(decodeSendme(body));
    case RelayCmd::kTruncate:
      return lift(decodeTruncate(body));
    case RelayCmd::kTruncated:
      return lift(decodeTruncated(body));
    case RelayCmd::kDrop:
    case RelayCmd::kBeginDir:
    case RelayCmd::kConfluxLinkedAck:
      return RelayMsg(EmptyMsg{});
    case RelayCmd::kResolve:
      return lift(decodeResolve(body));
    case RelayCmd::kResolved:
      return lift(decodeResolved(body));
    case RelayCmd::kExtend2:
      return lift(decodeExtend2(body));
    case RelayCmd::kExtended2:
      return lift(decodeExtended2(body));
    case RelayCmd::kConfluxLink:
    case RelayCmd::kConfluxLinked:
      return lift(decodeConfluxLink(body));
    case RelayCmd::kConfluxSwitch:
      return lift(decodeConfluxSwitch(body));
    case RelayCmd::kXoff:
      return lift(decodeXoff(body));
    case RelayCmd::kXon:
      return lift(decodeXon(body));
    case RelayCmd::kExtend:
    case RelayCmd::kExtended:
      break;
  }
  return RelayMsg(UnknownMsg{cmd});
}

}  // namespace onionsplit::cell

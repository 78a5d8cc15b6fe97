// common/cell/cells.cc: see cells.h.
#include "common/cell/cells.h"

#include <algorithm>

namespace onionsplit::cell {
namespace {

void writeCircId(Writer& w, uint16_t linkVersion, CircId id) {
  if (circIdLen(linkVersion) == 4)
    w.u32(id);
  else
    w.u16(static_cast<uint16_t>(id));
}

}  // namespace

Parsed<std::optional<CellView>> nextCell(Bytes in, uint16_t linkVersion, size_t maxVarPayload) {
  size_t idLen = circIdLen(linkVersion);
  if (in.size() < idLen + 1) return std::optional<CellView>{};
  CellView c;
  c.circId = idLen == 4 ? loadU32(in.data()) : loadU16(in.data());
  c.command = in[idLen];
  if (isVariableLength(c.command)) {
    if (in.size() < idLen + 3) return std::optional<CellView>{};
    size_t len = loadU16(in.data() + idLen + 1);
    if (len > maxVarPayload) return fail(ParseError{ParseErrc::kTooLong, "variable cell length"});
    if (in.size() < idLen + 3 + len) return std::optional<CellView>{};
    c.payload = in.subspan(idLen + 3, len);
    c.wireLen = idLen + 3 + len;
  } else {
    if (in.size() < idLen + 1 + kCellPayloadLen) return std::optional<CellView>{};
    c.payload = in.subspan(idLen + 1, kCellPayloadLen);
    c.wireLen = idLen + 1 + kCellPayloadLen;
  }
  return std::optional<CellView>(c);
}

bool encodeFixedCell(Writer& w, uint16_t linkVersion, CircId circId, CellCmd cmd, Bytes payload) {
  if (payload.size() > kCellPayloadLen || isVariableLength(static_cast<uint8_t>(cmd))) return false;
  writeCircId(w, linkVersion, circId);
  w.u8(static_cast<uint8_t>(cmd));
  w.bytes(payload);
  w.zeros(kCellPayloadLen - payload.size());
  return !w.overflowed();
}

bool encodeVarCell(Writer& w, uint16_t linkVersion, CircId circId, CellCmd cmd, Bytes payload) {
  if (payload.size() > kMaxVarCellPayloadLen || !isVariableLength(static_cast<uint8_t>(cmd)))
    return false;
  writeCircId(w, linkVersion, circId);
  w.u8(static_cast<uint8_t>(cmd));
  w.u16(static_cast<uint16_t>(payload.size()));
  w.bytes(payload);
  return !w.overflowed();
}

uint16_t Versions::highestCommon(std::initializer_list<uint16_t> ours) const {
  uint16_t best = 0;
  for (uint8_t i = 0; i < count; ++i)
    if (std::find(ours.begin(), ours.end(), versions[i]) != ours.end())
      best = std::max(best, versions[i]);
  return best;
}

Parsed<Versions> decodeVersions(Bytes payload) {
  if (payload.size() % 2 != 0) return fail(ParseError{ParseErrc::kBadLength, "VERSIONS"});
  if (payload.size() / 2 > kMaxVersions) return fail(ParseError{ParseErrc::kTooLong, "VERSIONS"});
  Reader r(payload);
  Versions v;
  while (!r.empty())
    v.versions[v.count++] = r.u16("version");
  return v;
}

bool encodeVersions(const Versions& v, Writer& w) {
  for (uint8_t i = 0; i < v.count; ++i)
    w.u16(v.versions[i]);
  return !w.overflowed();
}

static std::optional<NetAddress> readAddress(Reader& r) {
  uint8_t type = r.u8("address type");
  uint8_t len = r.u8("address length");
  Bytes value = r.bytes(len, "address value");
  if (r.failed()) return std::nullopt;
  if ((type == 4 && len == 4) || (type == 6 && len == 16)) {
    NetAddress a;
    a.type = type;
    std::copy(value.begin(), value.end(), a.bytes.begin());
    return a;
  }
  return std::nullopt;  // other types and wrong lengths are skipped, as tor-spec §4.5 says
}

Parsed<Netinfo> decodeNetinfo(Bytes payload) {
  Reader r(payload);
  Netinfo n;
  n.timestamp = r.u32("NETINFO timestamp");
  n.otherAddress = readAddress(r);
  uint8_t count = r.u8("NETINFO address count");
  for (uint8_t i = 0; i < count && !r.failed(); ++i) {
    auto a = readAddress(r);
    if (a && n.myAddressCount < kMaxNetinfoAddresses) n.myAddresses[n.myAddressCount++] = *a;
  }
  if (r.failed()) return fail(r.error());
  return n;  // the rest of a fixed cell is padding
}

static void writeAddress(Writer& w, const NetAddress& a) {
  w.u8(a.type);
  size_t len = a.type == 4 ? 4 : 16;
  w.u8(static_cast<uint8_t>(len));
  w.bytes(Bytes(a.bytes.data(), len));
}

bool encodeNetinfo(const Netinfo& n, Writer& w) {
  w.u32(n.timestamp);
  if (n.otherAddress) {
    writeAddress(w, *n.otherAddress);
  } else {
    w.u8(0);  // an address of unknown type and no length
    w.u8(0);
  }
  w.u8(n.myAddressCount);
  for (uint8_t i = 0; i < n.myAddressCount; ++i)
    writeAddress(w, n.myAddresses[i]);
  return !w.overflowed();
}

Parsed<CertsCell> decodeCerts(Bytes payload) {
  Reader r(payload);
  CertsCell c;
  uint8_t n = r.u8("CERTS count");
  if (!r.failed() && n > kMaxCerts) return fail(ParseError{ParseErrc::kTooLong, "CERTS count"});
  for (uint8_t i = 0; i < n && !r.failed(); ++i) {
    CertsCell::Entry e;
    e.type = r.u8("certificate type");
    uint16_t len = r.u16("certificate length");
    e.body = r.bytes(len, "certificate");
    c.certs[c.count++] = e;
  }
  if (r.failed()) return fail(r.error());
  return c;  // tor-spec §4.2: extra octets at the end are ignored
}

bool encodeCerts(const CertsCell& c, Writer& w) {
  w.u8(c.count);
  for (uint8_t i = 0; i < c.count; ++i) {
    if (c.certs[i].body.size() > 0xffff) return false;
    w.u8(c.certs[i].type);
    w.u16(static_cast<uint16_t>(c.certs[i].body.size()));
    w.bytes(c.certs[i].body);
  }
  return !w.overflowed();
}

Parsed<AuthChallenge> decodeAuthChallenge(Bytes payload) {
  Reader r(payload);
  AuthChallenge a;
  a.challenge = r.array<32>("challenge");
  uint16_t n = r.u16("method count");
  if (!r.failed() && n > kMaxAuthMethods)
    return fail(ParseError{ParseErrc::kTooLong, "method count"});
  for (uint16_t i = 0; i < n && !r.failed(); ++i)
    a.methods[a.methodCount++] = r.u16("method");
  if (r.failed()) return fail(r.error());
  return a;
}

bool encodeAuthChallenge(const AuthChallenge& a, Writer& w) {
  w.bytes(a.challenge);
  w.u16(a.methodCount);
  for (uint8_t i = 0; i < a.methodCount; ++i)
    w.u16(a.methods[i]);
  return !w.overflowed();
}

Parsed<Authenticate> decodeAuthenticate(Bytes payload) {
  Reader r(payload);
  Authenticate a;
  a.authType = r.u16("authentication type");
  uint16_t len = r.u16("authentication length");
  a.auth = r.bytes(len, "authentication");
  r.expectEnd("AUTHENTICATE");
  if (r.failed()) return fail(r.error());
  return a;
}

bool encodeAuthenticate(const Authenticate& a, Writer& w) {
  if (a.auth.size() > 0xffff) return false;
  w.u16(a.authType);
  w.u16(static_cast<uint16_t>(a.auth.size()));
  w.bytes(a.auth);
  return !w.overflowed();
}

Parsed<Create2> decodeCreate2(Bytes payload) {
  Reader r(payload);
  Create2 c;
  c.htype = r.u16("CREATE2 handshake type");
  uint16_t len = r.u16("CREATE2 handshake length");
  if (!r.failed() && len > kCellPayloadLen - 4)
    return fail(ParseError{ParseErrc::kTooLong, "CREATE2 handshake length"});
  c.hdata = r.bytes(len, "CREATE2 handshake data");
  if (r.failed()) return fail(r.error());
  return c;
}

bool encodeCreate2(const Create2& c, Writer& w) {
  if (c.hdata.size() > kCellPayloadLen - 4) return false;
  w.u16(c.htype);
  w.u16(static_cast<uint16_t>(c.hdata.size()));
  w.bytes(c.hdata);
  return !w.overflowed();
}

Parsed<Created2> decodeCreated2(Bytes payload) {
  Reader r(payload);
  uint16_t len = r.u16("CREATED2 handshake length");
  if (!r.failed() && len > kCellPayloadLen - 2)
    return fail(ParseError{ParseErrc::kTooLong, "CREATED2 handshake length"});
  Created2 c{r.bytes(len, "CREATED2 handshake data")};
  if (r.failed()) return fail(r.error());
  return c;
}

bool encodeCreated2(const Created2& c, Writer& w) {
  if (c.hdata.size() > kCellPayloadLen - 2) return false;
  w.u16(static_cast<uint16_t>(c.hdata.size()));
  w.bytes(c.hdata);
  return !w.overflowed();
}

Parsed<CreateFast> decodeCreateFast(Bytes payload) {
  Reader r(payload);
  CreateFast c{r.array<20>("CREATE_FAST key material")};
  if (r.failed()) return fail(r.error());
  return c;
}

Parsed<CreatedFast> decodeCreatedFast(Bytes payload) {
  Reader r(payload);
  CreatedFast c;
  c.y = r.array<20>("CREATED_FAST key material");
  c.kh = r.array<20>("CREATED_FAST derivative key");
  if (r.failed()) return fail(r.error());
  return c;
}

bool encodeCreatedFast(const CreatedFast& c, Writer& w) {
  w.bytes(c.y);
  w.bytes(c.kh);
  return !w.overflowed();
}

Parsed<DestroyReason> decodeDestroy(Bytes payload) {
  Reader r(payload);
  uint8_t reason = r.u8("DESTROY reason");
  if (r.failed()) return fail(r.error());
  return static_cast<DestroyReason>(reason);
}

bool encodeDestroy(DestroyReason reason, Writer& w) {
  w.u8(static_cast<uint8_t>(reason));
  return !w.overflowed();
}

Parsed<PaddingNegotiate> decodePaddingNegotiate(Bytes payload) {
  Reader r(payload);
  uint8_t version = r.u8("PADDING_NEGOTIATE version");
  uint8_t command = r.u8("PADDING_NEGOTIATE command");
  PaddingNegotiate p;
  p.itoLowMs = r.u16("ito_low_ms");
  p.itoHighMs = r.u16("ito_high_ms");
  if (r.failed()) return fail(r.error());
  if (version != 0) return fail(ParseError{ParseErrc::kUnknownType, "PADDING_NEGOTIATE version"});
  if (command != 1 && command != 2)
    return fail(ParseError{ParseErrc::kBadValue, "PADDING_NEGOTIATE command"});
  p.command = static_cast<PaddingNegotiate::Command>(command);
  return p;
}

bool encodePaddingNegotiate(const PaddingNegotiate& p, Writer& w) {
  w.u8(0);
  w.u8(static_cast<uint8_t>(p.command));
  w.u16(p.itoLowMs);
  w.u16(p.itoHighMs);
  return !w.overflowed();
}

}  // namespace onionsplit::cell

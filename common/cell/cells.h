// common/cell/cells.h: link-level cells (tor-spec §3, §4) for link protocols 3-5: framing of fixed
// and variable-length cells with 2- or 4-byte circuit ids, and the link messages a relay handles:
// VERSIONS, NETINFO, CERTS, AUTH_CHALLENGE, AUTHENTICATE, CREATE2/CREATED2, CREATE_FAST/
// CREATED_FAST, DESTROY, PADDING_NEGOTIATE (PADDING and VPADDING carry nothing to decode).
//
// Where it sits: channeld frames the bytes read from TLS with nextCell() and decodes the handshake
// cells itself; CREATE2/CREATE_FAST/DESTROY payloads go to circuitd, which decodes them here too.
// Decoded messages view into the input; nothing here allocates.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "common/base/bytes.h"
#include "common/cell/constants.h"

namespace onionsplit::cell {

// Link protocol version in force on a channel; 0 until VERSIONS is negotiated (then circuit ids
// are 2 bytes, as VERSIONS itself always uses).
inline size_t circIdLen(uint16_t linkVersion) {
  return linkVersion >= 4 ? 4 : 2;
}

struct CellView {
  CircId circId = 0;
  uint8_t command = 0;
  Bytes payload;       // 509 bytes for a fixed cell; the declared length for a variable one
  size_t wireLen = 0;  // bytes this cell took in the input
};

// The cell at the head of `in`, nullopt if `in` does not hold a whole one yet. Variable-length
// cells are bounded by the 16-bit length; `maxVarPayload` lets the caller bound them further.
Parsed<std::optional<CellView>> nextCell(Bytes in, uint16_t linkVersion,
                                         size_t maxVarPayload = kMaxVarCellPayloadLen);
// Writes a fixed cell (payload zero-padded to 509 bytes) or a variable cell; false on overflow.
bool encodeFixedCell(Writer& w, uint16_t linkVersion, CircId circId, CellCmd cmd, Bytes payload);
bool encodeVarCell(Writer& w, uint16_t linkVersion, CircId circId, CellCmd cmd, Bytes payload);

// ---- VERSIONS ----
inline constexpr size_t kMaxVersions = 32;
struct Versions {
  std::array<uint16_t, kMaxVersions> versions{};
  uint8_t count = 0;
  // The highest version both sides support among `ours`, or 0.
  uint16_t highestCommon(std::initializer_list<uint16_t> ours) const;
};
Parsed<Versions> decodeVersions(Bytes payload);
bool encodeVersions(const Versions& v, Writer& w);

// ---- NETINFO ----
struct NetAddress {
  uint8_t type = 0;  // 4 or 6
  std::array<uint8_t, 16> bytes{};
};
inline constexpr size_t kMaxNetinfoAddresses = 8;
struct Netinfo {
  uint32_t timestamp = 0;
  std::optional<NetAddress> otherAddress;  // nullopt for an address type we do not know
  std::array<NetAddress, kMaxNetinfoAddresses> myAddresses{};
  uint8_t myAddressCount = 0;  // only the IPv4/IPv6 ones are kept
};
Parsed<Netinfo> decodeNetinfo(Bytes payload);
bool encodeNetinfo(const Netinfo& n, Writer& w);

// ---- CERTS ----
inline constexpr size_t kMaxCerts = 16;
struct CertsCell {
  struct Entry {
    uint8_t type = 0;
    Bytes body;
  };
  std::array<Entry, kMaxCerts> certs{};
  uint8_t count = 0;
};
Parsed<CertsCell> decodeCerts(Bytes payload);
bool encodeCerts(const CertsCell& c, Writer& w);

// ---- AUTH_CHALLENGE ----
inline constexpr size_t kMaxAuthMethods = 16;
struct AuthChallenge {
  std::array<uint8_t, 32> challenge{};
  std::array<uint16_t, kMaxAuthMethods> methods{};
  uint8_t methodCount = 0;
};
Parsed<AuthChallenge> decodeAuthChallenge(Bytes payload);
bool encodeAuthChallenge(const AuthChallenge& a, Writer& w);

// ---- AUTHENTICATE ----
struct Authenticate {
  uint16_t authType = 0;  // 3 = Ed25519-SHA256-RFC5705
  Bytes auth;
};
Parsed<Authenticate> decodeAuthenticate(Bytes payload);
bool encodeAuthenticate(const Authenticate& a, Writer& w);

// ---- CREATE2 / CREATED2 ----
enum class HandshakeType : uint16_t { kTap = 0, kFast = 1, kNtor = 2, kNtorV3 = 3 };
struct Create2 {
  uint16_t htype = 0;
  Bytes hdata;
};
Parsed<Create2> decodeCreate2(Bytes payload);
bool encodeCreate2(const Create2& c, Writer& w);
struct Created2 {
  Bytes hdata;
};
Parsed<Created2> decodeCreated2(Bytes payload);
bool encodeCreated2(const Created2& c, Writer& w);

// ---- CREATE_FAST / CREATED_FAST ----
struct CreateFast {
  std::array<uint8_t, 20> x{};
};
Parsed<CreateFast> decodeCreateFast(Bytes payload);
struct CreatedFast {
  std::array<uint8_t, 20> y{}, kh{};
};
Parsed<CreatedFast> decodeCreatedFast(Bytes payload);
bool encodeCreatedFast(const CreatedFast& c, Writer& w);

// ---- DESTROY ----
Parsed<DestroyReason> decodeDestroy(Bytes payload);  // unknown reasons are kept as their value
bool encodeDestroy(DestroyReason r, Writer& w);

// ---- PADDING_NEGOTIATE (padding-spec §2.5) ----
struct PaddingNegotiate {
  enum class Command : uint8_t { kStop = 1, kStart = 2 } command = Command::kStart;
  uint16_t itoLowMs = 0, itoHighMs = 0;
};
Parsed<PaddingNegotiate> decodePaddingNegotiate(Bytes payload);
bool encodePaddingNegotiate(const PaddingNegotiate& p, Writer& w);

}  // namespace onionsplit::cell

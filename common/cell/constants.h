// common/cell/constants.h: numbers of the Tor link and relay protocols shared by every codec.
//
// Sources: tor-spec.txt §3 (cell commands), §6.1 (relay commands) with the errata of
// specs/README.md §9 (XOFF = 43, XON = 44), proposal 329 (conflux), proposal 324 (flow control).
#pragma once

#include <cstddef>
#include <cstdint>

namespace onionsplit::cell {

// Link-level sizes (link protocol >= 4 uses 4-byte circuit ids; VERSIONS always uses 2).
inline constexpr size_t kCellPayloadLen = 509;
inline constexpr size_t kCircIdLenV3 = 2;                                  // link protocol 3
inline constexpr size_t kCircIdLenV4 = 4;                                  // link protocols 4 and 5
inline constexpr size_t kMaxCellLen = kCircIdLenV4 + 1 + kCellPayloadLen;  // 514
inline constexpr size_t kVarCellHeaderLenV4 = kCircIdLenV4 + 1 + 2;
inline constexpr size_t kMaxVarCellPayloadLen = 65535;

// Relay cell layout (tor1, tor-spec §6.1): cmd(1) recognized(2) stream(2) digest(4) length(2) data.
inline constexpr size_t kRelayHeaderLen = 11;
inline constexpr size_t kRelayBodyMax = kCellPayloadLen - kRelayHeaderLen;  // 498
inline constexpr size_t kRelayDigestOffset = 5;
inline constexpr size_t kRelayRecognizedOffset = 1;

using CircId = uint32_t;
using StreamId = uint16_t;

enum class CellCmd : uint8_t {
  kPadding = 0,
  kCreate = 1,
  kCreated = 2,
  kRelay = 3,
  kDestroy = 4,
  kCreateFast = 5,
  kCreatedFast = 6,
  kVersions = 7,
  kNetinfo = 8,
  kRelayEarly = 9,
  kCreate2 = 10,
  kCreated2 = 11,
  kPaddingNegotiate = 12,
  kVpadding = 128,
  kCerts = 129,
  kAuthChallenge = 130,
  kAuthenticate = 131,
  kAuthorize = 132,
};

// Variable-length cells: VERSIONS and every command >= 128 (tor-spec §3).
constexpr bool isVariableLength(uint8_t cmd) {
  return cmd == 7 || cmd >= 128;
}

enum class RelayCmd : uint8_t {
  kBegin = 1,
  kData = 2,
  kEnd = 3,
  kConnected = 4,
  kSendme = 5,
  kExtend = 6,
  kExtended = 7,
  kTruncate = 8,
  kTruncated = 9,
  kDrop = 10,
  kResolve = 11,
  kResolved = 12,
  kBeginDir = 13,
  kExtend2 = 14,
  kExtended2 = 15,
  kConfluxLink = 19,
  kConfluxLinked = 20,
  kConfluxLinkedAck = 21,
  kConfluxSwitch = 22,
  kXoff = 43,
  kXon = 44,
};

// Destroy / truncated reasons (tor-spec §5.4).
enum class DestroyReason : uint8_t {
  kNone = 0,
  kProtocol = 1,
  kInternal = 2,
  kRequested = 3,
  kHibernating = 4,
  kResourceLimit = 5,
  kConnectFailed = 6,
  kOrIdentity = 7,
  kChannelClosed = 8,
  kFinished = 9,
  kTimeout = 10,
  kDestroyed = 11,
  kNoSuchService = 12,
};

// Stream end reasons (tor-spec §6.3).
enum class EndReason : uint8_t {
  kMisc = 1,
  kResolveFailed = 2,
  kConnectRefused = 3,
  kExitPolicy = 4,
  kDestroy = 5,
  kDone = 6,
  kTimeout = 7,
  kNoRoute = 8,
  kHibernating = 9,
  kInternal = 10,
  kResourceLimit = 11,
  kConnReset = 12,
  kTorProtocol = 13,
  kNotDirectory = 14,
};

}  // namespace onionsplit::cell

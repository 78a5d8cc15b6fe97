// common/crypto/ntor_handshakes.h: the circuit handshakes of CREATE2 and CREATE_FAST (pure, OpenSSL
// 3 EVP): ntor (tor-spec §5.1.4, HTYPE 2), ntor v3 (proposal 332, HTYPE 3) and CREATE_FAST
// (§5.1.5). Server sides as circuitd runs them, client sides for tests and the test client.
// Randomness is passed in; key material comes out as bytes for the relay crypto (tor1: 72 bytes
// Df|Db|Kf|Kb, then the 20-byte KH).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/result.h"
#include "common/crypto/curve25519.h"

namespace onionsplit::crypto {

enum class HandshakeError : uint8_t {
  kBadLength,   // the onionskin or reply has the wrong size
  kWrongNode,   // NODEID / ID is not ours
  kUnknownKey,  // KEYID / B names none of our onion keys
  kBadMac,      // ntor v3 message MAC or ntor AUTH does not verify
  kDegenerate,  // a Diffie-Hellman output was all zero
  kRejected,    // the server's message callback refused the client's message
  kCrypto,      // an OpenSSL failure
};
const char* toString(HandshakeError e);

inline constexpr size_t kTor1KeysWithKh = 92;  // Df|Db|Kf|Kb (72) + KH (20)

// ---- ntor (HTYPE 2) ----
inline constexpr size_t kNtorOnionskinLen = 84;  // ID(20) | B(32) | X(32)
inline constexpr size_t kNtorReplyLen = 64;      // Y(32) | AUTH(32)

struct NtorServerResult {
  std::array<uint8_t, kNtorReplyLen> reply{};
  std::vector<uint8_t> keys;  // `keyLen` bytes
};
// `onionKeys`: current first, then previous. `random32` makes the server's ephemeral key.
Expected<NtorServerResult, HandshakeError> ntorServer(Bytes rsaIdentity20,
                                                      std::span<const Curve25519Keypair> onionKeys,
                                                      Bytes onionskin, Bytes random32,
                                                      size_t keyLen = kTor1KeysWithKh);

struct NtorClientState {
  std::array<uint8_t, 20> id{};
  std::array<uint8_t, 32> b{}, x{}, X{};
};
NtorClientState ntorClientCreate(Bytes rsaIdentity20, Bytes onionKey32, Bytes random32,
                                 std::array<uint8_t, kNtorOnionskinLen>& onionskin);
Expected<std::vector<uint8_t>, HandshakeError> ntorClientComplete(const NtorClientState& st,
                                                                  Bytes reply,
                                                                  size_t keyLen = kTor1KeysWithKh);

// ---- ntor v3 (HTYPE 3) ----
inline constexpr std::string_view kNtor3CircuitVerification = "circuit extend";

// Reads the client's decrypted message and returns the server's message, or nullopt to refuse.
using Ntor3Reply = std::function<std::optional<std::vector<uint8_t>>(Bytes clientMessage)>;

struct Ntor3ServerResult {
  std::vector<uint8_t> reply;  // Y | AUTH | encrypted SM
  std::vector<uint8_t> keys;
};
Expected<Ntor3ServerResult, HandshakeError> ntor3Server(
    Bytes ed25519Id32, std::span<const Curve25519Keypair> onionKeys, Bytes clientHandshake,
    Bytes random32, const Ntor3Reply& replyFor, std::string_view verification,
    size_t keyLen = kTor1KeysWithKh);

struct Ntor3ClientState {
  std::array<uint8_t, 32> id{}, b{}, x{}, X{}, bx{}, mac{};
  std::string verification;
};
// Returns the client handshake (NODEID | KEYID | CLIENT_PK | MSG | MAC).
std::vector<uint8_t> ntor3ClientCreate(Bytes ed25519Id32, Bytes onionKey32, Bytes clientMessage,
                                       Bytes random32, std::string_view verification,
                                       Ntor3ClientState& state);
struct Ntor3ClientResult {
  std::vector<uint8_t> serverMessage;
  std::vector<uint8_t> keys;
};
Expected<Ntor3ClientResult, HandshakeError> ntor3ClientComplete(const Ntor3ClientState& st,
                                                                Bytes reply,
                                                                size_t keyLen = kTor1KeysWithKh);

// ---- CREATE_FAST ----
inline constexpr size_t kFastLen = 20;
struct FastServerResult {
  std::array<uint8_t, 2 * kFastLen> reply{};  // Y | KH (CREATED_FAST body)
  std::vector<uint8_t> keys;                  // Df|Db|Kf|Kb (72), KH stripped
};
Expected<FastServerResult, HandshakeError> fastServer(Bytes x20, Bytes random20);
// The client checks KH and derives the same keys.
Expected<std::vector<uint8_t>, HandshakeError> fastClientComplete(Bytes x20, Bytes reply40);

}  // namespace onionsplit::crypto

// common/crypto/tor1.h: tor1 relay cell crypto (tor-spec §5.2, §5.5, §6.1), both directions and
// both roles. OpenSSL 3 EVP only.
//
// Where it sits: circuitd's outbound reactor (FWD) runs RelayLayer::processOutbound on every cell
// from the client (decrypt, then the recognized check); its inbound reactor (BWD) runs
// originateInbound on every cell it sends to the client, and relayInbound on cells coming back from
// the next hop. ClientCircuit is the client's side, for tests and the project's own test client.
//
// Each direction has one AES-128-CTR stream with a zero IV whose keystream runs across cells, and
// one running SHA-1 seeded with Df or Db. Recognizing a cell hashes it on a copy of the running
// digest and keeps the copy only if the 4 digest bytes match, so an unrecognized cell leaves the
// state as it was. Contexts are allocated once per circuit; OpenSSL 3 duplicates the SHA-1 provider
// context inside EVP_MD_CTX_copy_ex (a small allocation there, measured in bench/bench_tor1.cc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/base/bytes.h"

struct evp_cipher_ctx_st;
struct evp_md_ctx_st;

namespace onionsplit::crypto {

inline constexpr size_t kRelayPayloadLen = 509;
inline constexpr size_t kTor1DigestLen = 20;
inline constexpr size_t kTor1KeyLen = 16;
inline constexpr size_t kTor1KeyMaterialLen = 2 * kTor1DigestLen + 2 * kTor1KeyLen;  // 72

using Tor1Digest = std::array<uint8_t, kTor1DigestLen>;
using RelayPayload = std::span<uint8_t, kRelayPayloadLen>;

// Df | Db | Kf | Kb, as the circuit handshake's KDF produces them (tor-spec §5.2.2).
struct Tor1Keys {
  Tor1Digest df{}, db{};
  std::array<uint8_t, kTor1KeyLen> kf{}, kb{};
  // From the first 72 bytes of KDF output (the 20-byte KH that follows is not this layer's).
  static std::optional<Tor1Keys> fromKeyMaterial(Bytes km);
};

// One direction: a cipher stream and a running digest.
class Tor1Direction {
 public:
  // Returns nullopt if OpenSSL cannot set up the contexts.
  static std::optional<Tor1Direction> create(const Tor1Digest& seed,
                                             const std::array<uint8_t, kTor1KeyLen>& key);
  Tor1Direction(Tor1Direction&&) noexcept;
  Tor1Direction& operator=(Tor1Direction&&) noexcept;
  ~Tor1Direction();

  // AES-128-CTR over the payload, in place, continuing the keystream.
  bool crypt(RelayPayload cell);
  // For a cell this side originates: zero the digest field, feed the payload to the running digest,
  // write its first 4 bytes into the field. `full` gets the 20-byte digest (the SENDME v1 tag).
  bool setDigest(RelayPayload cell, Tor1Digest* full);
  // For a received, decrypted cell: recognized is 0 and the digest matches. On success the
  // running digest includes the cell and `full` gets the 20-byte digest; otherwise nothing changes.
  bool recognize(RelayPayload cell, Tor1Digest* full);
  // The same for a cell that can only be for us (this hop has no next hop): the cell is hashed
  // into the running digest directly, one copy fewer. On false the digest state is spent and the
  // circuit must be closed, which tor-spec requires anyway for an unrecognized cell at the last
  // hop.
  bool recognizeAtLastHop(RelayPayload cell, Tor1Digest* full);

 private:
  Tor1Direction() = default;
  evp_cipher_ctx_st* cipher_ = nullptr;
  evp_md_ctx_st* running_ = nullptr;
  evp_md_ctx_st* scratch_ = nullptr;  // candidate running state while recognizing
  evp_md_ctx_st* final_ = nullptr;    // finalized copies
};

// A relay's layer of one circuit.
class RelayLayer {
 public:
  static std::optional<RelayLayer> create(const Tor1Keys& k);

  enum class Outbound : uint8_t { kRecognized, kNotRecognized, kError };
  // A cell from the client (toward the exit): decrypt with Kf, then check it with Df. With
  // `lastHop` (no next hop to pass an unrecognized cell to), kNotRecognized means the circuit must
  // close: the digest state is no longer usable.
  Outbound processOutbound(RelayPayload cell, Tor1Digest* full, bool lastHop = false);
  // A cell we originate toward the client: digest with Db, encrypt with Kb.
  bool originateInbound(RelayPayload cell, Tor1Digest* full);
  // A cell from the next hop toward the client: encrypt with Kb only.
  bool relayInbound(RelayPayload cell);

 private:
  RelayLayer(Tor1Direction f, Tor1Direction b) : fwd_(std::move(f)), bwd_(std::move(b)) {}
  Tor1Direction fwd_, bwd_;
};

// The client's view of a circuit: one layer per hop, hop 0 being the first relay.
class ClientCircuit {
 public:
  bool addHop(const Tor1Keys& k);
  size_t hops() const { return fwd_.size(); }
  // Originate a cell for hop `target`: digest with its Df, then encrypt with the Kf of hops
  // target..0 (innermost first).
  bool originateOutbound(size_t target, RelayPayload cell, Tor1Digest* full);
  // A cell from the first hop: decrypt hop by hop until one recognizes it; returns that hop.
  std::optional<size_t> receiveInbound(RelayPayload cell, Tor1Digest* full);

 private:
  std::vector<Tor1Direction> fwd_, bwd_;
};

}  // namespace onionsplit::crypto

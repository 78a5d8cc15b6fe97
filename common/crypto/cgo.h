// common/crypto/cgo.h: Counter Galois Onion relay cell crypto (proposal 359, tor-spec "Counter
// Galois Onion"), the relay's role and the client's. AES-128 on its own key schedules (aes128.h);
// POLYVAL here.
//
// Where it sits: beside tor1 (tor1.h). circuitd's outbound reactor runs
// CgoRelayCrypto::processOutbound on every cell from the client; its inbound reactor runs
// originateInbound on cells it sends to the client and relayInbound on cells coming back from the
// next hop. CgoClientCircuit is the client's side, for tests and the project's own test client.
//
// The building blocks, bottom up (named as in the proposal):
//   Polyval   the universal hash UH (RFC 8452 POLYVAL): VPCLMUL or PCLMUL when the CPU has them,
//             else portable
//   CgoEt     ET, an LRW2 tweakable block cipher: UH(KU,T) ^ AES(KB, M ^ UH(KU,T))
//   CgoPrf    PRF((K,B), T, t): AES-CTR keystream from IV = UH(B,T) with its low 6 bits cleared,
//             starting 31 blocks in for t = 1; when a relay originates or recognizes a cell, T
//             is the same for its X_R (t = 0) and for UPDATE (t = 1): one pass gives both
//   CgoUiv    UIV+ over a 509-byte cell (X_L = 16-byte tag, X_R = 493 bytes), tweak H = T' | AD,
//             and UPDATE, which replaces (J, S, N) by 80 bytes of PRF output at t = 1
//   CgoDirection  one direction of one hop: (K = J|S, N, T'), with the six layer operations
// Relays only ever use UIV+ encryption and clients only decryption: encryption is the
// non-malleable direction, so a CgoDirection is made for one role and refuses the other's calls.
//
// The tag a cell carries when recognized (the SENDME v1 tag) is the 16-byte T as the target hop
// receives it, as C tor's relay_crypto_cgo.c and Arti use it. The AD byte is the channel cell
// command (RELAY or RELAY_EARLY): it is authenticated, so a relay that rewrites one into the other
// breaks the cell.
//
// Every operation is in place on the caller's cell and allocates nothing: the two AES key
// schedules and two POLYVAL keys of a direction are re-keyed in place after each originated or
// recognized cell.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/base/bytes.h"
#include "common/crypto/aes128.h"
#include "common/crypto/tor1.h"  // kRelayPayloadLen, RelayPayload

namespace onionsplit::crypto {

inline constexpr size_t kCgoBlockLen = 16;
inline constexpr size_t kCgoTagLen = 16;
inline constexpr size_t kCgoRightLen = kRelayPayloadLen - kCgoTagLen;  // X_R: 493
inline constexpr size_t kCgoEtKeyLen = 32;                             // KB | KU
inline constexpr size_t kCgoPrfKeyLen = 32;                            // K | B
inline constexpr size_t kCgoUivKeyLen = kCgoEtKeyLen + kCgoPrfKeyLen;  // J | S: 64
inline constexpr size_t kCgoSeedLen = kCgoUivKeyLen + kCgoBlockLen;    // J | S | N: 80
// From ntor v3's KDF output: the outbound (forward) direction's 80 bytes, then the inbound's.
inline constexpr size_t kCgoKeyMaterialLen = 2 * kCgoSeedLen;  // 160
inline constexpr size_t kCgoPrfT1Offset = 31;                  // blocks
inline constexpr size_t kCgoPrfT1MaxLen = 32 * kCgoBlockLen;   // what genT1 may be asked for

using CgoBlock = std::array<uint8_t, kCgoBlockLen>;
using CgoTag = std::array<uint8_t, kCgoTagLen>;

// POLYVAL keyed with H. The key's first 8 powers are precomputed (in POLYVAL's Montgomery form)
// so that 8 blocks are hashed with one reduction; with VPCLMULQDQ 16, for ET's 32-block tweak.
class Polyval {
 public:
  // kClmul: PCLMULQDQ, one block per product; kVclmul: VPCLMULQDQ on AVX-512 (F, BW), four blocks
  // per product (x86-64 only, both chosen at run time).
  enum class Impl : uint8_t { kPortable, kClmul, kVclmul };
  static bool clmulAvailable();
  static bool vclmulAvailable();
  // The fastest this CPU has.
  static Impl best();

  // An `impl` this CPU lacks falls back to the next slower one.
  explicit Polyval(Impl impl = best());
  Polyval(const Polyval&) = default;
  Polyval& operator=(const Polyval&) = default;
  ~Polyval();  // wipes the key powers
  Impl impl() const { return impl_; }
  // Returns false unless `key` is 16 bytes. Without `aggregate` only H itself is kept (for
  // one-block hashes), which makes re-keying cheaper.
  bool setKey(Bytes key, bool aggregate = true);
  // POLYVAL(H, X) with X zero-padded to whole blocks.
  CgoBlock hash(Bytes x) const;
  // POLYVAL of exactly one block, byte 15 of it ANDed with `lastByteMask` (the PRF's IV).
  CgoBlock hashBlock(const uint8_t* block, uint8_t lastByteMask = 0xff) const;
  // POLYVAL of ET's tweak H | AD | X_R (`xr`: 493 bytes) without copying it together.
  CgoBlock hashEtTweak(const CgoBlock& h, uint8_t ad, const uint8_t* xr) const;

 private:
  static constexpr size_t kPowers = 16;  // kVclmul's ET tweak: 16 blocks per round
  static constexpr size_t kRound = 8;    // every other use: 8 blocks per round
  // pow_[8..15] = H^8..H^1, the table of the 8-block rounds.
  const uint64_t (*round() const)[2] { return pow_ + (kPowers - kRound); }
  uint64_t (*round())[2] { return pow_ + (kPowers - kRound); }
  Impl impl_;
  bool aggregate_ = false;
  // pow_[i] = H^(16-i), each x^-128-scaled: block i of a round is multiplied by pow_[i] (16
  // blocks) or round()[i] (8), and each quarter is one 64-byte load. Without VPCLMULQDQ only
  // H^8..H^1 are computed.
  alignas(64) uint64_t pow_[kPowers][2] = {};
};

// Relays encrypt with UIV+ (so with ET); clients decrypt.
enum class CgoRole : uint8_t { kRelay, kClient };

// ET over one block with the tweak T = H | AD | X_R (16 + 1 + 493 bytes).
class CgoEt {
 public:
  // nullopt unless `key` is KB | KU (32 bytes), or if OpenSSL fails.
  static std::optional<CgoEt> create(Bytes key, CgoRole role);
  bool rekey(const uint8_t* key32);
  // kRelay encrypts, kClient decrypts; `block` is 16 bytes, in place.
  bool apply(const CgoBlock& h, uint8_t ad, const uint8_t* xr, uint8_t* block);

 private:
  friend class CgoUiv;  // re-keys ET and the PRF together (update)
  explicit CgoEt(CgoRole role) : role_(role) {}
  Aes128::Dir dir() const {
    return role_ == CgoRole::kRelay ? Aes128::Dir::kEncrypt : Aes128::Dir::kDecrypt;
  }
  CgoBlock mask(const CgoBlock& h, uint8_t ad, const uint8_t* xr) const;
  CgoRole role_;
  Aes128 aes_;  // keyed to encrypt (relay) or decrypt (client)
  Polyval ku_;
};

class CgoPrf {
 public:
  // nullopt unless `key` is K | B (32 bytes), or if OpenSSL fails.
  static std::optional<CgoPrf> create(Bytes key);
  bool rekey(const uint8_t* key32);
  // data ^= PRF(S, tweak, 0), the first 493 bytes.
  bool xorT0(const uint8_t* tweak16, uint8_t* data);
  // out = the first out.size() bytes of PRF(S, tweak, 1); false if more than kCgoPrfT1MaxLen.
  bool genT1(const uint8_t* tweak16, MutBytes out);
  // xorT0, and next = the first 80 bytes of PRF(S, tweak, 1): one IV, one pass of the stream.
  bool xorT0AndGenT1(const uint8_t* tweak16, uint8_t* data, uint8_t* next80);

 private:
  friend class CgoUiv;
  CgoPrf() = default;
  Aes128 aes_;  // encrypts
  Polyval b_;
};

// UIV+ with key (J, S). The key bytes are kept beside the contexts so tests can check UPDATE.
class CgoUiv {
 public:
  // nullopt unless `key` is J | S (64 bytes), or if OpenSSL fails.
  static std::optional<CgoUiv> create(Bytes key, CgoRole role);
  CgoUiv(CgoUiv&&) noexcept = default;
  CgoUiv& operator=(CgoUiv&&) noexcept = default;
  ~CgoUiv();  // wipes key()
  // ENC_UIV (kRelay only) and DEC_UIV (kClient only), in place, with H = h | ad.
  bool encrypt(const CgoBlock& h, uint8_t ad, RelayPayload cell);
  bool decrypt(const CgoBlock& h, uint8_t ad, RelayPayload cell);
  // UPDATE_UIV: (J, S, N) <- PRF(S, N, 1), 80 bytes.
  bool update(CgoBlock& nonce);
  // ENC_UIV in two steps (kRelay only): ET on X_L, after which the tag is final; then X_R ^=
  // PRF(S, X_L, 0). With `nonce` (which the caller has set to the new X_L), finishEncrypt also
  // runs UPDATE_UIV: its PRF input is the same, so both streams come from one pass.
  bool encryptTag(const CgoBlock& h, uint8_t ad, RelayPayload cell);
  bool finishEncrypt(RelayPayload cell, CgoBlock* nonce);
  const std::array<uint8_t, kCgoUivKeyLen>& key() const { return key_; }
  CgoRole role() const { return role_; }

 private:
  CgoUiv(CgoEt j, CgoPrf s, CgoRole role) : j_(std::move(j)), s_(std::move(s)), role_(role) {}
  // (J, S, N) <- the 80 bytes of `fresh`, then wipes them.
  bool install(uint8_t* fresh, CgoBlock& nonce);
  CgoEt j_;
  CgoPrf s_;
  CgoRole role_;
  std::array<uint8_t, kCgoUivKeyLen> key_{};
};

// One direction of one hop: (K, N, T'). T' starts at zero; tests may start from another value.
class CgoDirection {
 public:
  enum class Received : uint8_t { kRecognized, kNotRecognized, kError };

  // nullopt unless `seed` is J | S | N (80 bytes), or if OpenSSL fails.
  static std::optional<CgoDirection> create(Bytes seed, CgoRole role, const CgoBlock& tprime = {});

  // Relay, outbound: encrypt; recognized when the tag then equals N (then UPDATE). `tag` gets the
  // T the cell arrived with.
  Received relayForward(uint8_t ad, RelayPayload cell, CgoTag* tag);
  // Relay, inbound from the next hop: encrypt only.
  bool relayBackward(uint8_t ad, RelayPayload cell);
  // Relay, inbound, a cell this relay originates: tag := N, encrypt, N := T, UPDATE. The first 16
  // bytes of `cell` are overwritten. `tag` gets the T sent.
  bool relayOriginate(uint8_t ad, RelayPayload cell, CgoTag* tag);
  // Client, outbound, a layer the cell only passes through: decrypt.
  bool clientForward(uint8_t ad, RelayPayload cell);
  // Client, outbound, the target hop's layer: tag := N, decrypt, UPDATE. `tag` gets the T sent.
  bool clientOriginate(uint8_t ad, RelayPayload cell, CgoTag* tag);
  // Client, inbound: decrypt; recognized when the tag then equals N (then N := T, UPDATE).
  Received clientBackward(uint8_t ad, RelayPayload cell, CgoTag* tag);

  const CgoUiv& uiv() const { return uiv_; }
  const CgoBlock& nonce() const { return nonce_; }
  const CgoBlock& tprime() const { return tprime_; }

 private:
  CgoDirection(CgoUiv uiv, const CgoBlock& n, const CgoBlock& t)
      : uiv_(std::move(uiv)), nonce_(n), tprime_(t) {}
  CgoUiv uiv_;
  CgoBlock nonce_;
  CgoBlock tprime_;
};

// A relay's layer of one circuit.
class CgoRelayCrypto {
 public:
  // From exactly kCgoKeyMaterialLen bytes of ntor v3 KDF output: outbound seed, inbound seed.
  static std::optional<CgoRelayCrypto> fromSeed(Bytes keyMaterial);

  using Outbound = CgoDirection::Received;
  // A cell from the client (toward the exit). `cmd` is the channel command (RELAY or
  // RELAY_EARLY). kNotRecognized: pass it on to the next hop, or at the last hop close the
  // circuit (the tag did not verify: a tampered or misrouted cell).
  Outbound processOutbound(uint8_t cmd, RelayPayload cell, CgoTag* tag);
  // A cell we originate toward the client (its first 16 bytes are ours to fill).
  bool originateInbound(uint8_t cmd, RelayPayload cell, CgoTag* tag);
  // A cell from the next hop toward the client.
  bool relayInbound(uint8_t cmd, RelayPayload cell);

  const CgoDirection& outbound() const { return out_; }
  const CgoDirection& inbound() const { return in_; }

 private:
  CgoRelayCrypto(CgoDirection o, CgoDirection i) : out_(std::move(o)), in_(std::move(i)) {}
  CgoDirection out_, in_;
};

// The client's view of a circuit: one layer per hop, hop 0 being the first relay.
class CgoClientCircuit {
 public:
  // From kCgoKeyMaterialLen bytes of ntor v3 KDF output, as the relay's fromSeed.
  bool addHop(Bytes keyMaterial);
  // A hop from given states (both made with CgoRole::kClient).
  bool addHop(CgoDirection outbound, CgoDirection inbound);
  size_t hops() const { return out_.size(); }
  const CgoDirection& outbound(size_t hop) const { return out_.at(hop); }
  const CgoDirection& inbound(size_t hop) const { return in_.at(hop); }

  // Originate a cell for hop `target`: its layer originates, then hops target-1..0 decrypt.
  bool originateOutbound(size_t target, uint8_t cmd, RelayPayload cell, CgoTag* tag);
  // A cell from the first hop: peel hop by hop until one recognizes it; returns that hop.
  // nullopt means no hop did: the circuit must close (its inbound state is spent).
  std::optional<size_t> receiveInbound(uint8_t cmd, RelayPayload cell, CgoTag* tag);

 private:
  std::vector<CgoDirection> out_, in_;
};

}  // namespace onionsplit::crypto

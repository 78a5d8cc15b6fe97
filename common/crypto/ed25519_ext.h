// common/crypto/ed25519_ext.h: Ed25519 keys that have no RFC 8032 seed: the key derived from the
// curve25519 ntor onion key (dir-spec.txt Appendix C, proposal 228) and any key held as an
// expanded secret (a, prefix).
//
// Descriptor publishing uses it once per ntor onion key rotation: the ntor-onion-key-crosscert is
// a type 0A certificate (cert-spec.txt A.1) signed with the Ed25519 key whose secret scalar is the
// curve25519 ntor onion secret, and the descriptor carries the sign bit of that key's public half
// so that a reader can rebuild it from the curve25519 public key
// (convertCurve25519PublicToEd25519) and check the certificate with ed25519Verify. OpenSSL's EVP
// can verify such signatures but can only sign from a seed, so signing is done here with the
// arithmetic of ed25519_field.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "common/base/bytes.h"
#include "common/crypto/ed25519.h"

namespace onionsplit::crypto {

inline constexpr size_t kCurve25519KeyLen = 32;

using Curve25519SecretKey = std::array<uint8_t, kCurve25519KeyLen>;
using Curve25519PublicKey = std::array<uint8_t, kCurve25519KeyLen>;

// RFC 8032 §5.1.5's expanded secret, in the 64-byte layout C tor uses for its Ed25519 secret keys:
// the secret scalar a (little-endian) and the prefix that makes the per-signature nonce.
struct Ed25519ExpandedSecret {
  std::array<uint8_t, 32> scalar{};
  std::array<uint8_t, 32> prefix{};
};

// An Ed25519 keypair held as an expanded secret. Signing is deterministic (RFC 8032 §5.1.6), so
// for a = clamp(SHA512(seed)[0:32]) and prefix = SHA512(seed)[32:64] the signatures are the same
// bytes as Ed25519Keypair::fromSeed(seed) makes. The public key is always computed from the secret
// here: a signer given a mismatched public key would reveal a through two signatures on one
// message. Move-only; the secret is cleansed when the value dies or is moved from.
class Ed25519ExpandedKeypair final : public Ed25519Signer {
 public:
  // Uses `secret.scalar` as given (clamping is the caller's business; any 256-bit value works).
  static Ed25519ExpandedKeypair fromExpandedSecret(const Ed25519ExpandedSecret& secret);

  Ed25519ExpandedKeypair(const Ed25519ExpandedKeypair&) = delete;
  Ed25519ExpandedKeypair& operator=(const Ed25519ExpandedKeypair&) = delete;
  Ed25519ExpandedKeypair(Ed25519ExpandedKeypair&& other) noexcept;
  Ed25519ExpandedKeypair& operator=(Ed25519ExpandedKeypair&& other) noexcept;
  ~Ed25519ExpandedKeypair() override;

  const Ed25519PublicKey& publicKey() const override { return public_; }
  // RFC 8032 signing with the expanded secret: r = SHA512(prefix | msg) mod L, R = rB,
  // S = (r + SHA512(R | A | msg) * a) mod L. False only if OpenSSL's SHA-512 fails.
  bool sign(Bytes msg, Ed25519Signature& out) const override;
  // The sign of the public key's x-coordinate (the top bit of its encoding): the "Bit" written
  // after "ntor-onion-key-crosscert".
  bool signBit() const { return (public_[31] >> 7) != 0; }

 private:
  Ed25519ExpandedKeypair(const Ed25519ExpandedSecret& secret, const Ed25519PublicKey& pub)
      : secret_(secret), public_(pub) {}

  Ed25519ExpandedSecret secret_;
  Ed25519PublicKey public_{};
};

// The Ed25519 keypair C tor derives from a curve25519 ntor onion secret
// (ed25519_keypair_from_curve25519_keypair; dir-spec.txt Appendix C): a = the clamped secret
// (RFC 7748 clamping, a no-op for keys made by C tor or by us), prefix = SHA512(a | "Derive high
// part of ed25519 key from curve25519 key" | 0x00)[0:32]. Before returning, it checks that the
// public key equals convertCurve25519PublicToEd25519(X25519(secret), signBit) with X25519 done by
// OpenSSL, as C tor does; empty when that fails (OpenSSL out of memory, or a bug here), so a
// descriptor never carries a crosscert that readers cannot check.
std::optional<Ed25519ExpandedKeypair> ed25519FromCurve25519Secret(
    const Curve25519SecretKey& secret);

// dir-spec.txt Appendix C: y = (u - 1) / (u + 1) with the sign bit in bit 255. Bit 255 of `pub` is
// ignored and u is taken mod p (RFC 7748 §5). Total: u = -1 gives y = 0 like C tor (1/0 taken as
// 0); whether the result is a valid point is left to the verifier (ed25519Verify refuses it).
Ed25519PublicKey convertCurve25519PublicToEd25519(const Curve25519PublicKey& pub, bool signBit);

}  // namespace onionsplit::crypto

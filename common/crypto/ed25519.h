// common/crypto/ed25519.h: Ed25519 keys, signing and verification (RFC 8032 via OpenSSL EVP).
//
// Used by the handshake side of channeld (CERTS type 4/5/6 certificates, AUTHENTICATE) and by
// descriptor publishing; never on the per-cell path. Signing goes through the Ed25519Signer
// interface so that certificate encoders work both with a keypair made from a seed (here) and with
// an expanded key that has no seed, such as the one derived from the curve25519 ntor onion key for
// the ntor-onion-key-crosscert (common/crypto/ed25519_ext.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "common/base/bytes.h"

struct evp_pkey_st;

namespace onionsplit::crypto {

inline constexpr size_t kEd25519SeedLen = 32;
inline constexpr size_t kEd25519PublicKeyLen = 32;
inline constexpr size_t kEd25519SignatureLen = 64;

using Ed25519Seed = std::array<uint8_t, kEd25519SeedLen>;
using Ed25519PublicKey = std::array<uint8_t, kEd25519PublicKeyLen>;
using Ed25519Signature = std::array<uint8_t, kEd25519SignatureLen>;

// Anything that can produce an Ed25519 signature for one public key. Implementations hold the
// secret; callers only ever see the public half and the signatures.
class Ed25519Signer {
 public:
  virtual ~Ed25519Signer() = default;
  virtual const Ed25519PublicKey& publicKey() const = 0;
  // False only if the crypto library fails (out of memory); `out` is then unspecified.
  virtual bool sign(Bytes msg, Ed25519Signature& out) const = 0;
};

// A keypair built from a 32-byte RFC 8032 seed (the "secret key" of RFC 8032). Move-only: the
// secret lives in one OpenSSL object that is freed (and cleansed by OpenSSL) with this value.
class Ed25519Keypair final : public Ed25519Signer {
 public:
  // Empty only if OpenSSL cannot build the key (out of memory).
  static std::optional<Ed25519Keypair> fromSeed(const Ed25519Seed& seed);

  Ed25519Keypair(Ed25519Keypair&&) noexcept = default;
  Ed25519Keypair& operator=(Ed25519Keypair&&) noexcept = default;

  const Ed25519PublicKey& publicKey() const override { return public_; }
  bool sign(Bytes msg, Ed25519Signature& out) const override;
  // The seed again, for writing the key to storage.
  std::optional<Ed25519Seed> seed() const;

 private:
  struct PkeyFree {
    void operator()(evp_pkey_st* p) const;
  };
  Ed25519Keypair(std::unique_ptr<evp_pkey_st, PkeyFree> pkey, const Ed25519PublicKey& pub)
      : pkey_(std::move(pkey)), public_(pub) {}

  std::unique_ptr<evp_pkey_st, PkeyFree> pkey_;
  Ed25519PublicKey public_{};
};

// True iff `sig` is a valid signature of `msg` under `key`. A malformed key is simply "not valid".
bool ed25519Verify(const Ed25519PublicKey& key, Bytes msg, const Ed25519Signature& sig);

}  // namespace onionsplit::crypto

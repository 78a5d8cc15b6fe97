// common/crypto/curve25519.h: X25519 for the circuit handshakes (pure, OpenSSL 3 EVP). Randomness
// is passed in: a keypair is made from 32 caller-supplied random bytes (X25519 clamps them).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "common/base/bytes.h"

namespace onionsplit::crypto {

struct Curve25519Keypair {
  std::array<uint8_t, 32> secret{};
  std::array<uint8_t, 32> publicKey{};
  static std::optional<Curve25519Keypair> fromSecret(Bytes secret32);
};

// EXP(pk, sk). Returns false if OpenSSL fails or the result is all zero (a low-order point: the
// degenerate output proposal 332's security notes say must be refused).
bool x25519(Bytes secret32, Bytes public32, std::array<uint8_t, 32>& out);

}  // namespace onionsplit::crypto

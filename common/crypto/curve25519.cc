// common/crypto/curve25519.cc: see curve25519.h.
#include "common/crypto/curve25519.h"

#include <openssl/evp.h>

#include <cstring>

namespace onionsplit::crypto {

std::optional<Curve25519Keypair> Curve25519Keypair::fromSecret(Bytes secret32) {
  if (secret32.size() != 32) return std::nullopt;
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret32.data(), 32);
  if (!k) return std::nullopt;
  Curve25519Keypair kp;
  std::memcpy(kp.secret.data(), secret32.data(), 32);
  size_t len = 32;
  bool ok = EVP_PKEY_get_raw_public_key(k, kp.publicKey.data(), &len) == 1 && len == 32;
  EVP_PKEY_free(k);
  if (!ok) return std::nullopt;
  return kp;
}

bool x25519(Bytes secret32, Bytes public32, std::array<uint8_t, 32>& out) {
  if (secret32.size() != 32 || public32.size() != 32) return false;
  EVP_PKEY* sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret32.data(), 32);
  EVP_PKEY* pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, public32.data(), 32);
  EVP_PKEY_CTX* ctx = sk ? EVP_PKEY_CTX_new(sk, nullptr) : nullptr;
  size_t len = 32;
  bool ok = sk && pk && ctx && EVP_PKEY_derive_init(ctx) == 1 &&
            EVP_PKEY_derive_set_peer(ctx, pk) == 1 && EVP_PKEY_derive(ctx, out.data(), &len) == 1 &&
            len == 32;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(sk);
  EVP_PKEY_free(pk);
  if (!ok) return false;
  uint8_t acc = 0;
  for (uint8_t b : out)
    acc |= b;
  return acc != 0;
}

}  // namespace onionsplit::crypto

// fuzz/fuzz_curve_to_ed.cc: differential fuzzing of the expanded-key Ed25519 signer behind the
// ntor-onion-key-crosscert (common/crypto/ed25519_ext.h) against OpenSSL.
//
// Input: 32 bytes of curve25519 secret (zero-padded when shorter), then the message. For every
// input: the derived key must exist, equal the conversion of OpenSSL's X25519 public key with its
// sign bit, and its signature must verify with OpenSSL's EVP Ed25519 while a changed message must
// not; the same 32 bytes taken as an RFC 8032 seed must give OpenSSL's exact signature bytes. Any
// disagreement is an arithmetic bug, so it aborts.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/crypto/ed25519.h"
#include "common/crypto/ed25519_ext.h"

namespace {

using namespace onionsplit;
using namespace onionsplit::crypto;

void check(bool ok) {
  if (!ok) std::abort();
}

Curve25519PublicKey x25519Public(const Curve25519SecretKey& secret) {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()),
      EVP_PKEY_free);
  check(pkey != nullptr);
  Curve25519PublicKey pub{};
  size_t len = pub.size();
  check(EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) == 1 && len == pub.size());
  return pub;
}

Ed25519ExpandedSecret expandSeed(const Ed25519Seed& seed) {
  std::array<uint8_t, 64> h{};
  unsigned int len = 0;
  check(EVP_Digest(seed.data(), seed.size(), h.data(), &len, EVP_sha512(), nullptr) == 1);
  Ed25519ExpandedSecret s;
  std::copy(h.begin(), h.begin() + 32, s.scalar.begin());
  std::copy(h.begin() + 32, h.end(), s.prefix.begin());
  s.scalar[0] &= 248;
  s.scalar[31] = static_cast<uint8_t>((s.scalar[31] & 127) | 64);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Curve25519SecretKey secret{};
  const size_t keyLen = std::min(size, secret.size());
  if (keyLen != 0) std::memcpy(secret.data(), data, keyLen);
  const Bytes msg(data + keyLen, size - keyLen);

  // The crosscert key.
  auto kp = ed25519FromCurve25519Secret(secret);
  check(kp.has_value());
  const Ed25519PublicKey rebuilt =
      convertCurve25519PublicToEd25519(x25519Public(secret), kp->signBit());
  check(rebuilt == kp->publicKey());
  Ed25519Signature sig{};
  check(kp->sign(msg, sig));
  check(ed25519Verify(rebuilt, msg, sig));
  // A changed message (one more byte, or the last byte flipped) must not verify.
  std::array<uint8_t, 1> extra{0};
  if (msg.empty()) {
    check(!ed25519Verify(rebuilt, Bytes(extra), sig));
  } else {
    std::vector<uint8_t> changed(msg.begin(), msg.end());
    changed.back() ^= 0x01;
    check(!ed25519Verify(rebuilt, Bytes(changed), sig));
  }

  // The same bytes as a seed: our arithmetic must reproduce OpenSSL's deterministic signature.
  auto evp = Ed25519Keypair::fromSeed(secret);
  check(evp.has_value());
  auto ours = Ed25519ExpandedKeypair::fromExpandedSecret(expandSeed(secret));
  check(ours.publicKey() == evp->publicKey());
  Ed25519Signature a{}, b{};
  check(ours.sign(msg, a) && evp->sign(msg, b));
  check(a == b);
  return 0;
}

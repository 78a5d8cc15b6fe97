// common/crypto/ed25519_ext.cc: signing with an expanded Ed25519 secret, and the curve25519 ->
// ed25519 key conversion used by the ntor-onion-key-crosscert (descriptor publishing, once per
// onion key rotation). SHA-512 and X25519 come from OpenSSL; the curve arithmetic is
// ed25519_field.cc.
#include "common/crypto/ed25519_ext.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <initializer_list>
#include <memory>

#include "common/crypto/ed25519_field.h"

namespace onionsplit::crypto {
namespace {

namespace ef = ed25519field;

// The string C tor hashes after the curve25519 secret, including its terminating NUL (C tor passes
// sizeof of the literal); test-vectors.md §5.1.
constexpr char kPrefixDerivation[] = "Derive high part of ed25519 key from curve25519 key";

bool sha512(std::initializer_list<Bytes> parts, uint8_t out[64]) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) != 1) return false;
  for (Bytes p : parts) {
    if (!p.empty() && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) != 1) return false;
  }
  unsigned int len = 0;
  return EVP_DigestFinal_ex(ctx.get(), out, &len) == 1 && len == 64;
}

Ed25519PublicKey publicFromScalar(const std::array<uint8_t, 32>& scalar) {
  Ed25519PublicKey pub{};
  ef::pointEncode(pub.data(), ef::scalarMultBase(scalar.data()));
  return pub;
}

std::optional<Curve25519PublicKey> x25519PublicFromSecret(const Curve25519SecretKey& secret) {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()),
      EVP_PKEY_free);
  if (!pkey) return std::nullopt;
  Curve25519PublicKey pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != pub.size())
    return std::nullopt;
  return pub;
}

}  // namespace

Ed25519ExpandedKeypair Ed25519ExpandedKeypair::fromExpandedSecret(
    const Ed25519ExpandedSecret& secret) {
  return Ed25519ExpandedKeypair(secret, publicFromScalar(secret.scalar));
}

Ed25519ExpandedKeypair::Ed25519ExpandedKeypair(Ed25519ExpandedKeypair&& other) noexcept
    : secret_(other.secret_), public_(other.public_) {
  OPENSSL_cleanse(&other.secret_, sizeof(other.secret_));
}

Ed25519ExpandedKeypair& Ed25519ExpandedKeypair::operator=(Ed25519ExpandedKeypair&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_ = other.public_;
    OPENSSL_cleanse(&other.secret_, sizeof(other.secret_));
  }
  return *this;
}

Ed25519ExpandedKeypair::~Ed25519ExpandedKeypair() {
  OPENSSL_cleanse(&secret_, sizeof(secret_));
}

bool Ed25519ExpandedKeypair::sign(Bytes msg, Ed25519Signature& out) const {
  uint8_t h[64];
  uint8_t r[32];
  bool ok = sha512({Bytes(secret_.prefix), msg}, h);
  if (ok) {
    ef::scalarReduce64(r, h);
    ef::pointEncode(out.data(), ef::scalarMultBase(r));
    ok = sha512({Bytes(out.data(), 32), Bytes(public_), msg}, h);
  }
  if (ok) {
    uint8_t k[32];
    ef::scalarReduce64(k, h);
    // k < L < 2^255 goes second, as scalarMulAdd requires; a may be any 256-bit value.
    ef::scalarMulAdd(out.data() + 32, secret_.scalar.data(), k, r);
  }
  // r is as secret as a: with one signature it gives a away.
  OPENSSL_cleanse(r, sizeof(r));
  OPENSSL_cleanse(h, sizeof(h));
  return ok;
}

std::optional<Ed25519ExpandedKeypair> ed25519FromCurve25519Secret(
    const Curve25519SecretKey& secret) {
  Ed25519ExpandedSecret expanded;
  expanded.scalar = secret;
  expanded.scalar[0] &= 248;
  expanded.scalar[31] &= 127;
  expanded.scalar[31] |= 64;
  uint8_t h[64];
  const bool hashed = sha512(
      {Bytes(expanded.scalar),
       Bytes(reinterpret_cast<const uint8_t*>(kPrefixDerivation), sizeof(kPrefixDerivation))},
      h);
  std::copy(h, h + 32, expanded.prefix.begin());
  OPENSSL_cleanse(h, sizeof(h));
  if (!hashed) {
    OPENSSL_cleanse(&expanded, sizeof(expanded));
    return std::nullopt;
  }
  auto kp = Ed25519ExpandedKeypair::fromExpandedSecret(expanded);
  OPENSSL_cleanse(&expanded, sizeof(expanded));

  // The descriptor's readers rebuild our key from the curve25519 public key and the sign bit;
  // refuse to hand out a key for which that would not give the same bytes.
  auto curvePublic = x25519PublicFromSecret(secret);
  if (!curvePublic) return std::nullopt;
  Ed25519PublicKey rebuilt = convertCurve25519PublicToEd25519(*curvePublic, kp.signBit());
  if (!constantTimeEqual(Bytes(rebuilt), Bytes(kp.publicKey()))) return std::nullopt;
  return kp;
}

Ed25519PublicKey convertCurve25519PublicToEd25519(const Curve25519PublicKey& pub, bool signBit) {
  const ef::Fe u = ef::feFromBytes(pub.data());
  const ef::Fe one = ef::feOne();
  const ef::Fe y = ef::feMul(ef::feSub(u, one), ef::feInvert(ef::feAdd(u, one)));
  Ed25519PublicKey out{};
  ef::feToBytes(out.data(), y);
  out[31] = static_cast<uint8_t>(out[31] | (signBit ? 0x80 : 0));
  return out;
}

}  // namespace onionsplit::crypto

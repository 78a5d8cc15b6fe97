// common/crypto/rsa_crosscert.cc: CERTS type 7, the RSA->Ed25519 cross-certificate (cert-spec
// §2.3).
#include "common/crypto/rsa_crosscert.h"

#include <openssl/evp.h>

#include <array>
#include <string_view>

namespace onionsplit::crypto {
namespace {

// No trailing NUL: the prefix is hashed as the bare string (C tor uses strlen of it).
constexpr std::string_view kPrefix = "Tor TLS RSA/Ed25519 cross-certificate";

// SHA256(prefix | signed part): what the RSA signature opens to.
bool crosscertDigest(Bytes signedPart, std::array<uint8_t, 32>& out) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned int len = 0;
  return ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
         EVP_DigestUpdate(ctx.get(), kPrefix.data(), kPrefix.size()) == 1 &&
         EVP_DigestUpdate(ctx.get(), signedPart.data(), signedPart.size()) == 1 &&
         EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
}

}  // namespace

Parsed<RsaCrosscert> decodeRsaCrosscert(Bytes in) {
  Reader r(in);
  RsaCrosscert cc;
  cc.edKey = r.array<kEd25519PublicKeyLen>("ed_key");
  cc.expirationHours = r.u32("expiration");
  uint8_t sigLen = r.u8("sig_len");
  if (!r.failed() && sigLen == 0) r.fail(ParseErrc::kBadLength, "sig_len");
  cc.signature = r.bytes(sigLen, "sig");
  r.expectEnd("rsa_ed_crosscert");
  if (r.failed()) return fail(r.error());
  cc.signedPart = in.first(kRsaCrosscertSignedLen);
  cc.encoded = in;
  return cc;
}

Expected<void, CertErrc> verifyRsaCrosscert(const RsaCrosscert& cc, const RsaPublicKey& rsaIdentity,
                                            uint64_t nowUnixSeconds) {
  std::array<uint8_t, 32> d{};
  if (!crosscertDigest(cc.signedPart, d)) return fail(CertErrc::kBadSignature);
  if (!rsaIdentity.verifyTorSignature(d, cc.signature)) return fail(CertErrc::kBadSignature);
  if (nowUnixSeconds > uint64_t{cc.expirationHours} * 3600) return fail(CertErrc::kExpired);
  return {};
}

Expected<Bytes, CertErrc> encodeRsaCrosscert(const Ed25519PublicKey& edIdentity,
                                             uint32_t expirationHours,
                                             const RsaPrivateKey& rsaIdentity, MutBytes out) {
  size_t sigLen = rsaIdentity.bits() / 8;
  if (sigLen == 0 || sigLen > 255) return fail(CertErrc::kBadKey);
  Writer w(out);
  w.bytes(edIdentity);
  w.u32(expirationHours);
  w.u8(static_cast<uint8_t>(sigLen));
  size_t sigAt = w.size();
  w.zeros(sigLen);
  if (w.overflowed()) return fail(CertErrc::kBufferTooSmall);
  std::array<uint8_t, 32> d{};
  if (!crosscertDigest(out.first(kRsaCrosscertSignedLen), d)) return fail(CertErrc::kSignFailed);
  if (rsaIdentity.signTor(d, out.subspan(sigAt, sigLen)) != sigLen)
    return fail(CertErrc::kSignFailed);
  return Bytes(out.first(w.size()));
}

}  // namespace onionsplit::crypto

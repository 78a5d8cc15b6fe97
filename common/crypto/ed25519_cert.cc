// common/crypto/ed25519_cert.cc: cert-spec §2.1 Ed25519 certificates: decode, check, encode+sign.
#include "common/crypto/ed25519_cert.h"

namespace onionsplit::crypto {
namespace {

constexpr size_t kExtHeaderLen = 4;  // ExtLength u16, ExtType u8, ExtFlags u8

bool isReservedCertType(uint8_t t) {
  return t <= 0x03 || t == 0x07;
}

}  // namespace

const char* toString(CertErrc e) {
  switch (e) {
    case CertErrc::kWrongType:
      return "wrong certificate type";
    case CertErrc::kWrongKeyType:
      return "certified key type does not fit the certificate type";
    case CertErrc::kNoSigningKey:
      return "no signing key known";
    case CertErrc::kSigningKeyMismatch:
      return "embedded signing key is not the expected one";
    case CertErrc::kBadSignature:
      return "bad signature";
    case CertErrc::kExpired:
      return "expired";
    case CertErrc::kBufferTooSmall:
      return "output buffer too small";
    case CertErrc::kSignFailed:
      return "signing failed";
    case CertErrc::kBadKey:
      return "unsuitable key";
  }
  return "unknown certificate error";
}

Parsed<Ed25519Cert> decodeEd25519Cert(Bytes in) {
  Reader r(in);
  Ed25519Cert c;
  uint8_t version = r.u8("version");
  if (!r.failed() && version != kEd25519CertVersion) r.fail(ParseErrc::kUnknownType, "version");
  c.certType = r.u8("cert_type");
  if (!r.failed() && isReservedCertType(c.certType)) r.fail(ParseErrc::kUnknownType, "cert_type");
  c.expirationHours = r.u32("exp_field");
  c.certKeyType = r.u8("cert_key_type");
  c.certifiedKey = r.array<32>("certified_key");
  uint8_t n = r.u8("n_extensions");
  if (!r.failed() && n > kMaxCertExtensions) r.fail(ParseErrc::kTooLong, "n_extensions");
  for (uint8_t i = 0; i < n && !r.failed(); ++i) {
    uint16_t len = r.u16("ext_length");
    CertExtension& e = c.extensions[i];
    e.type = r.u8("ext_type");
    e.flags = r.u8("ext_flags");
    e.data = r.bytes(len, "ext_data");
    if (r.failed()) break;
    if (e.type == kCertExtSignedWithKey) {
      if (len != kEd25519PublicKeyLen) {
        r.fail(ParseErrc::kBadLength, "signed_with_key");
      } else if (c.signedWithKey) {
        r.fail(ParseErrc::kBadValue, "signed_with_key");
      } else {
        Ed25519PublicKey k{};
        std::memcpy(k.data(), e.data.data(), k.size());
        c.signedWithKey = k;
      }
    } else if (e.flags & kCertExtFlagAffectsValidation) {
      // cert-spec §2.1: a critical extension we do not understand makes the cert invalid.
      r.fail(ParseErrc::kUnknownType, "extension");
    }
    c.nExtensions = static_cast<uint8_t>(i + 1);
  }
  size_t signedLen = r.position();
  c.signature = r.array<kEd25519SignatureLen>("signature");
  r.expectEnd("ed25519_cert");
  if (r.failed()) return fail(r.error());
  c.signedPart = in.first(signedLen);
  c.encoded = in;
  return c;
}

Expected<void, CertErrc> checkEd25519CertType(const Ed25519Cert& cert, CertType expected) {
  if (cert.certType != static_cast<uint8_t>(expected)) return fail(CertErrc::kWrongType);
  auto kt = static_cast<CertKeyType>(cert.certKeyType);
  bool ok = expected == CertType::kSigningLink
                ? (kt == CertKeyType::kSha256OfX509 || kt == CertKeyType::kEd25519)
                : kt == CertKeyType::kEd25519;
  if (!ok) return fail(CertErrc::kWrongKeyType);
  return {};
}

Expected<void, CertErrc> verifyEd25519Cert(const Ed25519Cert& cert,
                                           const std::optional<Ed25519PublicKey>& signingKey,
                                           uint64_t nowUnixSeconds) {
  if (signingKey && cert.signedWithKey && !constantTimeEqual(*signingKey, *cert.signedWithKey))
    return fail(CertErrc::kSigningKeyMismatch);
  const std::optional<Ed25519PublicKey>& key = signingKey ? signingKey : cert.signedWithKey;
  if (!key) return fail(CertErrc::kNoSigningKey);
  if (!ed25519Verify(*key, cert.signedPart, cert.signature)) return fail(CertErrc::kBadSignature);
  if (nowUnixSeconds > uint64_t{cert.expirationHours} * 3600) return fail(CertErrc::kExpired);
  return {};
}

Expected<Bytes, CertErrc> encodeEd25519Cert(const Ed25519CertFields& f, const Ed25519Signer& signer,
                                            MutBytes out) {
  Writer w(out);
  w.u8(kEd25519CertVersion);
  w.u8(static_cast<uint8_t>(f.certType));
  w.u32(f.expirationHours);
  w.u8(static_cast<uint8_t>(f.certKeyType));
  w.bytes(f.certifiedKey);
  w.u8(f.includeSigningKey ? 1 : 0);
  if (f.includeSigningKey) {
    w.u16(static_cast<uint16_t>(kEd25519PublicKeyLen));
    w.u8(kCertExtSignedWithKey);
    w.u8(0);
    w.bytes(signer.publicKey());
  }
  size_t signedLen = w.size();
  w.zeros(kEd25519SignatureLen);
  if (w.overflowed()) return fail(CertErrc::kBufferTooSmall);
  Ed25519Signature sig{};
  if (!signer.sign(out.first(signedLen), sig)) return fail(CertErrc::kSignFailed);
  std::memcpy(out.data() + signedLen, sig.data(), sig.size());
  static_assert(kExtHeaderLen + kEd25519PublicKeyLen + 40 + kEd25519SignatureLen ==
                kEd25519CertMaxEncodedLen);
  return Bytes(out.first(w.size()));
}

uint32_t certExpirationHours(uint64_t unixSeconds) {
  uint64_t h = unixSeconds / 3600 + (unixSeconds % 3600 != 0 ? 1 : 0);
  return h > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(h);
}

}  // namespace onionsplit::crypto

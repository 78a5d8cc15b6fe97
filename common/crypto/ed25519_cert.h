// common/crypto/ed25519_cert.h: the Ed25519 certificate of cert-spec.txt §2.1 (types 04, 05, 06,
// 08, 0A, 0C), with the signed-with-ed25519-key extension (§2.2.1).
//
// channeld decodes these from CERTS cells (types 4, 5, 6) and encodes our own; descriptor
// publishing encodes types 4 ("identity-ed25519"), 0A ("ntor-onion-key-crosscert") and 0C
// ("family-cert"). Decoding keeps views into the caller's bytes and allocates nothing. Checking is
// split in stages, in the order a caller needs them: decode (well formed?), checkEd25519CertType
// (the type the caller expects?), verifyEd25519Cert (signed by the right key, not expired at the
// injected time?).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "common/base/bytes.h"
#include "common/base/result.h"
#include "common/crypto/ed25519.h"

namespace onionsplit::crypto {

// CERT_TYPE values (cert-spec A.1) that use this format. 0-3 and 7 are reserved for the X.509 and
// RSA cross-certificate formats of the CERTS cell and are refused by the decoder.
enum class CertType : uint8_t {
  kIdentitySigning = 0x04,  // Ed25519 identity -> signing key
  kSigningLink = 0x05,      // signing key -> SHA256 of the TLS link X.509 certificate
  kSigningAuth = 0x06,      // signing key -> AUTHENTICATE key
  kHsDescSigning = 0x08,    // onion service; decoded but nothing here uses it
  kNtorCrosscert = 0x0a,    // ntor onion key (as Ed25519) -> identity key
  kFamilyIdentity = 0x0c,   // family key -> identity key ("family-cert", proposal 321)
};

// CERT_KEY_TYPE values (cert-spec A.4).
enum class CertKeyType : uint8_t {
  kEd25519 = 0x01,
  kSha256OfRsa = 0x02,
  kSha256OfX509 = 0x03,
};

inline constexpr uint8_t kEd25519CertVersion = 1;
inline constexpr uint8_t kCertExtSignedWithKey = 0x04;
inline constexpr uint8_t kCertExtFlagAffectsValidation = 0x01;
// Certificates we meet carry at most one extension; more than this is refused (kTooLong) so the
// decoded form can be a fixed array.
inline constexpr size_t kMaxCertExtensions = 8;
// Our own encoding: header 40 + one signed-with-key extension 36 + signature 64.
inline constexpr size_t kEd25519CertMaxEncodedLen = 140;

struct CertExtension {
  uint8_t type = 0;
  uint8_t flags = 0;
  Bytes data;  // view into the decoded input
};

// A decoded certificate. The spans point into the input given to decodeEd25519Cert, which must
// outlive this value.
struct Ed25519Cert {
  uint8_t certType = 0;  // a CertType value
  uint32_t expirationHours = 0;
  uint8_t certKeyType = 0;  // a CertKeyType value
  std::array<uint8_t, 32> certifiedKey{};
  std::optional<Ed25519PublicKey> signedWithKey;  // from extension 04, if present
  std::array<CertExtension, kMaxCertExtensions> extensions{};
  uint8_t nExtensions = 0;
  Ed25519Signature signature{};
  Bytes signedPart;  // the first N-64 bytes: what the signature covers
  Bytes encoded;     // the whole certificate
};

// Decodes exactly one certificate (trailing bytes are an error). Refuses: version != 1
// (kUnknownType "version"), a reserved cert type (kUnknownType "cert_type"), a truncated extension,
// a signed-with-key extension whose length is not 32 (kBadLength) or that appears twice
// (kBadValue), an unknown extension flagged AFFECTS_VALIDATION (kUnknownType "extension"), more
// than kMaxCertExtensions extensions (kTooLong).
Parsed<Ed25519Cert> decodeEd25519Cert(Bytes in);

enum class CertErrc : uint8_t {
  kWrongType,           // not the certificate type the caller expected
  kWrongKeyType,        // CERT_KEY_TYPE does not fit CERT_TYPE
  kNoSigningKey,        // no key given and none embedded
  kSigningKeyMismatch,  // the embedded key is not the one the caller expected
  kBadSignature,
  kExpired,
  kBufferTooSmall,  // encoding: the output buffer cannot hold the certificate
  kSignFailed,      // encoding: the signer failed
  kBadKey,          // RSA: a key that is not the size or kind the format needs
};

const char* toString(CertErrc e);

// Checks CERT_TYPE and that CERT_KEY_TYPE fits it. Following cert-spec A.4's note, 01 is accepted
// in place of 03 for type 05 (C tor wrote 01 for every type until 0.4.5.1-alpha).
Expected<void, CertErrc> checkEd25519CertType(const Ed25519Cert& cert, CertType expected);

// Checks the signature and the expiry. `signingKey` is the key the caller knows should have signed
// (e.g. the signing key from the type 4 cert when checking a type 5); when empty, the embedded
// signed-with-key extension is used (e.g. a type 4 cert, whose identity key is only known from it).
// When both are present they must be equal. Expired means now > EXPIRATION_DATE * 3600, as in C
// tor (the last second of the hour is still valid).
Expected<void, CertErrc> verifyEd25519Cert(const Ed25519Cert& cert,
                                           const std::optional<Ed25519PublicKey>& signingKey,
                                           uint64_t nowUnixSeconds);

// What an encoder needs besides the signer.
struct Ed25519CertFields {
  CertType certType = CertType::kIdentitySigning;
  uint32_t expirationHours = 0;
  CertKeyType certKeyType = CertKeyType::kEd25519;
  std::array<uint8_t, 32> certifiedKey{};
  bool includeSigningKey = true;  // add extension 04 with the signer's public key
};

// Encodes and signs a certificate into `out` (kEd25519CertMaxEncodedLen is always enough) and
// returns the part of `out` written.
Expected<Bytes, CertErrc> encodeEd25519Cert(const Ed25519CertFields& fields,
                                            const Ed25519Signer& signer, MutBytes out);

// EXPIRATION_DATE for a certificate that should stay valid until at least `unixSeconds`: hours,
// rounded up, saturating at 0xffffffff.
uint32_t certExpirationHours(uint64_t unixSeconds);

}  // namespace onionsplit::crypto

// common/crypto/rsa_identity.h: the relay's RSA-1024 keys (identity, TAP onion key) and the X.509
// certificates of the CERTS cell (tor-spec §0.3, §1.1, §2, §4.2).
//
// channeld uses this to build its TLS link certificate and the CERTS type 1/2 X.509 certificates,
// and to check a peer's type 2 "RSA1024 Identity certificate, self-signed"; descriptor publishing
// uses the fingerprint, the PEM forms and the tor-style signature. Nothing here is on the per-cell
// path, so OpenSSL objects are allocated freely; nothing reads files: PEM and DER are in memory.
//
// The "tor-style" RSA signature (tor-spec §0.3, C tor crypto_pk_private_sign) is PKCS#1 v1.5
// type-1 padding applied directly to the bytes given (usually a SHA-1 or SHA-256 digest), without
// the DigestInfo wrapper that RFC 8017 signatures carry.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"

struct evp_pkey_st;
struct x509_st;

namespace onionsplit::crypto {

inline constexpr unsigned kRsaIdentityBits = 1024;
inline constexpr unsigned kRsaPublicExponent = 65537;
inline constexpr size_t kRsaFingerprintLen = 20;

using RsaFingerprint = std::array<uint8_t, kRsaFingerprintLen>;

namespace detail {
struct PkeyFree {
  void operator()(evp_pkey_st* p) const;
};
struct X509Free {
  void operator()(x509_st* p) const;
};
}  // namespace detail

class RsaPublicKey {
 public:
  // From a DER PKCS#1 RSAPublicKey (the form tor hashes and puts in link specifiers' sources).
  static std::optional<RsaPublicKey> fromDer(Bytes der);
  // From PEM "RSA PUBLIC KEY" (PKCS#1, as in descriptors' onion-key/signing-key) or "PUBLIC KEY".
  static std::optional<RsaPublicKey> fromPem(std::string_view pem);
  // Takes a new reference to an OpenSSL key; empty unless it is an RSA key.
  static std::optional<RsaPublicKey> fromEvp(evp_pkey_st* pkey);

  RsaPublicKey(const RsaPublicKey& o);
  RsaPublicKey& operator=(const RsaPublicKey& o);
  RsaPublicKey(RsaPublicKey&&) noexcept = default;
  RsaPublicKey& operator=(RsaPublicKey&&) noexcept = default;

  unsigned bits() const;
  // True iff the exponent is 65537 (tor-spec §0.3's fixed exponent).
  bool hasTorExponent() const;
  std::vector<uint8_t> derPkcs1() const;
  std::string pemPkcs1() const;  // "-----BEGIN RSA PUBLIC KEY-----"
  // SHA1 of derPkcs1(): the relay identity fingerprint.
  RsaFingerprint fingerprint() const;
  // Verifies a tor-style signature: the signature must open (PKCS#1 v1.5 type 1) to exactly
  // `data`.
  bool verifyTorSignature(Bytes data, Bytes signature) const;
  bool operator==(const RsaPublicKey& o) const;

  // The OpenSSL key, still owned by this object (for SSL_CTX and X509 calls in channeld).
  evp_pkey_st* evp() const { return pkey_.get(); }

 private:
  friend class RsaPrivateKey;
  explicit RsaPublicKey(std::unique_ptr<evp_pkey_st, detail::PkeyFree> p) : pkey_(std::move(p)) {}
  std::unique_ptr<evp_pkey_st, detail::PkeyFree> pkey_;
};

class RsaPrivateKey {
 public:
  // A fresh key with e = 65537 from OpenSSL's CSPRNG (key generation is the one place randomness
  // is not injected: OpenSSL's prime search draws from its own DRBG).
  static std::optional<RsaPrivateKey> generate(unsigned bits = kRsaIdentityBits);
  // From PEM "RSA PRIVATE KEY" (C tor's secret_id_key / secret_onion_key) or PKCS#8.
  static std::optional<RsaPrivateKey> fromPem(std::string_view pem);

  RsaPrivateKey(RsaPrivateKey&&) noexcept = default;
  RsaPrivateKey& operator=(RsaPrivateKey&&) noexcept = default;

  // PEM "RSA PRIVATE KEY" (PKCS#1), the format C tor writes; empty on failure.
  std::string pemPkcs1() const;
  RsaPublicKey publicKey() const;
  unsigned bits() const;
  // Tor-style signature of `data` (at most bits/8 - 11 bytes) into `out` (at least bits/8
  // bytes). Returns the signature length, or 0 on failure.
  size_t signTor(Bytes data, MutBytes out) const;

  evp_pkey_st* evp() const { return pkey_.get(); }

 private:
  explicit RsaPrivateKey(std::unique_ptr<evp_pkey_st, detail::PkeyFree> p) : pkey_(std::move(p)) {}
  std::unique_ptr<evp_pkey_st, detail::PkeyFree> pkey_;
};

// An X.509 certificate (CERTS types 1, 2, 3 and the TLS link certificate).
class X509Cert {
 public:
  static std::optional<X509Cert> fromDer(Bytes der);
  // Takes a new reference (e.g. to SSL_get_peer_certificate's result, in channeld).
  static X509Cert fromX509(x509_st* cert);

  X509Cert(const X509Cert& o);
  X509Cert& operator=(const X509Cert& o);
  X509Cert(X509Cert&&) noexcept = default;
  X509Cert& operator=(X509Cert&&) noexcept = default;

  std::vector<uint8_t> der() const;
  // SHA256 of der(): the certified key of a CERTS type 5 certificate.
  std::array<uint8_t, 32> sha256() const;
  // The subject key, if it is RSA.
  std::optional<RsaPublicKey> rsaPublicKey() const;
  // True iff `issuer` signed this certificate.
  bool signedBy(const RsaPublicKey& issuer) const;
  // True iff the subject key is RSA with exactly 1024 bits and the certificate's signature
  // verifies with that same key: tor-spec §4.2's checks on the CERTS type 2 certificate. Like C
  // tor (x509_openssl.c tor_tls_cert_is_valid) the names and the exponent are not compared, so we
  // refuse nothing that C tor accepts.
  bool isSelfSignedRsa1024() const;
  // validAfter - futureSlop <= now <= validUntil + pastSlop (C tor allows clocks to be a bit off).
  bool validAt(int64_t nowUnixSeconds, int64_t pastSlopSeconds = 0,
               int64_t futureSlopSeconds = 0) const;
  // "CN=..." of the subject and issuer, for tests and logs.
  std::string subjectCommonName() const;
  std::string issuerCommonName() const;

  x509_st* x509() const { return cert_.get(); }

 private:
  explicit X509Cert(std::unique_ptr<x509_st, detail::X509Free> c) : cert_(std::move(c)) {}
  std::unique_ptr<x509_st, detail::X509Free> cert_;
};

// What to certify. C tor makes the identity certificate with subject = issuer = one random name
// and the link certificate with subject = a second random name, issuer = the identity's name.
struct X509Request {
  const RsaPublicKey* subjectKey = nullptr;
  const RsaPrivateKey* issuerKey = nullptr;
  std::string_view subjectCommonName;
  std::string_view issuerCommonName;
  std::array<uint8_t, 8> serial{};  // random bytes; the top bit is cleared to keep it positive
  int64_t notBeforeUnix = 0;
  int64_t notAfterUnix = 0;
};

// A v3 certificate signed with SHA-256, like C tor's tor_tls_create_certificate.
std::optional<X509Cert> makeX509Cert(const X509Request& req);

// Bytes of randomness randomHostname consumes.
inline constexpr size_t kHostnameEntropyLen = 14;
// "www.<8 to 20 base32 letters>.net" from `entropy` (kHostnameEntropyLen random bytes; the first
// picks the length): the look of C tor's certificate names, so that our TLS certificates do not
// stand out from C tor's.
std::string randomHostname(Bytes entropy);

// A validity window with C tor's shape (tor_tls_pick_certificate_lifetime): the start is a random
// moment that leaves at least a day of real lifetime, rounded down to midnight UTC; the window
// lasts `lifetimeSeconds`. `random` is any random 64-bit value.
struct X509Validity {
  int64_t notBeforeUnix;
  int64_t notAfterUnix;
};
X509Validity x509ValidityWindow(int64_t nowUnixSeconds, int64_t lifetimeSeconds, uint64_t random);

}  // namespace onionsplit::crypto

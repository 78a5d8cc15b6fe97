// common/dirdoc/key_cert.h: directory authority key certificates (dir-spec §3.1), as a relay
// reads them from the authorities or from DataDirectory/cached-certs.
//
// A certificate binds an authority's long-term identity key (whose SHA-1 is the v3ident of the
// torrc's DirAuthority line) to the medium-term signing key that signs consensuses. Parsing
// checks the form and computes the signed digest; checkAuthorityCert() then checks what C tor
// checks before it uses a certificate: the fingerprint is the identity key's digest, the
// cross-certificate (signing key over the identity key's digest) and the certification (identity
// key over the document) verify, and the certificate has not expired.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/crypto/rsa_identity.h"
#include "common/dirdoc/digest.h"
#include "common/dirdoc/dir_text.h"

namespace onionsplit::dirdoc {

// dir-spec: keys "MUST NOT be shorter than 1024 bits"; authorities use 3072-bit identities and
// 2048-bit signing keys. The upper bound keeps a hostile certificate from costing much CPU.
inline constexpr unsigned kMinAuthorityKeyBits = 1024;
inline constexpr unsigned kMaxAuthorityKeyBits = 4096;
inline constexpr size_t kMaxCertBytes = 128 * 1024;        // C tor authcert_parse.c MAX_CERT_SIZE
inline constexpr size_t kMaxCertsBytes = 4 * 1024 * 1024;  // a cached-certs file
inline constexpr size_t kMaxCerts = 256;
// dir-spec: "SHOULD reject certificates that are published too far in the future, though they MAY
// tolerate some clock skew". C tor has no such check when it uses a certificate; a day is the
// skew C tor tolerates elsewhere for directory documents (NETWORKSTATUS_ALLOW_SKEW).
inline constexpr int64_t kCertPublishedSkewSeconds = 24 * 60 * 60;

struct AuthorityCert {
  Sha1Digest fingerprint{};  // as written on the "fingerprint" line: the v3ident
  int64_t publishedUnix = 0;
  int64_t expiresUnix = 0;
  crypto::RsaPublicKey identityKey;
  crypto::RsaPublicKey signingKey;
  Sha1Digest signingKeyDigest{};   // SHA-1 of the signing key's DER: directory-signature's 2nd hex
  std::vector<uint8_t> crossCert;  // signing key's signature of SHA-1(identity key DER)
  std::vector<uint8_t> certification;  // identity key's signature of signedDigest
  Sha1Digest signedDigest{};           // SHA-1 from "dir-key-certificate-version" to after the
                                       // "dir-key-certification" line's NL
  uint32_t line = 0;                   // first line in the text it came from
};

// One certificate, the whole text.
DirResult<AuthorityCert> parseAuthorityCert(std::string_view text);
// Any number (up to kMaxCerts) of certificates one after another, as cached-certs and the
// authorities' /tor/keys/ answers hold them; blank lines between them are skipped, as C tor
// skips whitespace. One malformed certificate fails the whole text.
DirResult<std::vector<AuthorityCert>> parseAuthorityCerts(std::string_view text);

// The checks above at `nowUnix`: kBadCertificate (fingerprint, cross-cert, certification, key
// size), kExpired (after dir-key-expires), kNotYetValid (published more than
// kCertPublishedSkewSeconds ahead).
Expected<void, DirError> checkAuthorityCert(const AuthorityCert& cert, int64_t nowUnix);

}  // namespace onionsplit::dirdoc

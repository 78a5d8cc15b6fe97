// channeld/link/link_certs.h: the certificates of the link handshake (tor-spec §4.2, §4.4.2), pure
// apart from OpenSSL libcrypto.
//
// Where it sits: channeld's link handshake sends our CERTS cell (built from LinkCredentials, and
// InitiatorCredentials on connections we open), checks the peer's CERTS with checkInitiatorCerts /
// checkResponderCerts, and checks an initiator's AUTHENTICATE type 3 body with verifyAuth3. The
// CERTS cell framing itself is common/cell's.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/result.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/rsa_identity.h"

namespace onionsplit::channeld {

enum class CertsCellType : uint8_t {
  kLink = 1,        // X.509 link certificate, certified by the RSA identity
  kRsaId = 2,       // X.509 RSA-1024 identity, self-signed
  kRsaAuth = 3,     // X.509 AUTHENTICATE link certificate (initiators)
  kEdSigning = 4,   // ed25519 identity -> signing key
  kEdLink = 5,      // signing key -> SHA-256 of the TLS link certificate
  kEdAuth = 6,      // signing key -> AUTHENTICATE key
  kRsaEdCross = 7,  // RSA identity -> ed25519 identity
};

struct CertEntry {
  uint8_t type = 0;
  Bytes body;  // view into the CERTS cell
};

// Who the peer proved to be.
struct PeerIdentity {
  crypto::RsaFingerprint rsaId{};         // SHA-1 of the RSA identity (relay fingerprint)
  std::array<uint8_t, 32> rsaIdSha256{};  // SHA-256 of the same DER (CID/SID of AUTH0003)
  crypto::Ed25519PublicKey edId{};        // ed25519 master identity
  crypto::Ed25519PublicKey edSigningKey{};
  std::optional<crypto::Ed25519PublicKey> edAuthKey;  // initiator: the type-6 certified key
};

// tor-spec §4.2, "to authenticate the initiator as having a given Ed25519,RSA identity": exactly
// one each of types 2, 4, 6, 7, all valid at `now` and correctly chained. Other types are ignored.
Expected<PeerIdentity, std::string> checkInitiatorCerts(std::span<const CertEntry> certs,
                                                        int64_t nowUnix);
// §4.2, "to authenticate the responder": types 2, 4, 5, 7, and type 5 must certify the SHA-256 of
// the TLS certificate the responder presented (`tlsCertDer`); a type 1, if present, must be that
// certificate, signed by the RSA identity.
Expected<PeerIdentity, std::string> checkResponderCerts(std::span<const CertEntry> certs,
                                                        Bytes tlsCertDer, int64_t nowUnix);

// The fields of an AUTH0003 body before RAND (tor-spec §4.4.2).
struct Auth3Expected {
  std::array<uint8_t, 32> cid{}, sid{}, cidEd{}, sidEd{}, slog{}, clog{}, scert{}, tlsSecrets{};
};
inline constexpr size_t kAuth3FixedLen = 8 + 8 * 32;  // "AUTH0003" and the eight hashes
inline constexpr size_t kAuth3RandLen = 24;
inline constexpr size_t kAuth3SigLen = 64;

// Checks an AUTHENTICATE type 3 body: every field before RAND equals `expected`, and SIG verifies
// with `authKey` over everything before SIG. Extra bytes after SIG are refused.
Expected<void, std::string> verifyAuth3(Bytes body, const Auth3Expected& expected,
                                        const crypto::Ed25519PublicKey& authKey);
// Builds an AUTHENTICATE type 3 body (the initiator's side; used by tests and outbound channels).
std::vector<uint8_t> makeAuth3(const Auth3Expected& fields, Bytes rand24,
                               const crypto::Ed25519Signer& authKey);

// Our side's certificates. Long-term keys are borrowed, never copied; the link key and the X.509
// certificates are made here (C tor rotates them every few hours; the caller decides when).
struct LinkCredentials {
  crypto::RsaPrivateKey linkKey;        // 2048-bit, for TLS
  crypto::X509Cert linkCert;            // CERTS type 1 (and the TLS certificate)
  crypto::X509Cert identityCert;        // CERTS type 2
  std::vector<uint8_t> edSigningCert;   // CERTS type 4 (as loaded from ed25519_signing_cert)
  std::vector<uint8_t> edLinkCert;      // CERTS type 5
  std::vector<uint8_t> rsaEdCrosscert;  // CERTS type 7

  // `entropy` supplies hostnames and serials: at least 64 bytes. Returns nullopt with `error`.
  static std::optional<LinkCredentials> create(const crypto::RsaPrivateKey& rsaIdentity,
                                               const crypto::Ed25519Signer& signingKey,
                                               Bytes edSigningCert,
                                               const crypto::Ed25519PublicKey& masterKey,
                                               int64_t nowUnix, Bytes entropy, std::string& error);
  // The responder's CERTS entries, in the order C tor sends them: 1, 2, 4, 5, 7.
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> responderCerts() const;
};

// What an initiator adds to LinkCredentials to authenticate (tor-spec section 4.4): an X.509
// certificate of a fresh RSA-1024 key signed by the identity (CERTS type 3; C tor 0.4.9 still sends
// it, though with ed25519 certificates no peer looks at it), and a fresh ed25519 authentication
// key certified by the signing key (type 6), both living two days as C tor's do. Made with the
// link credentials; the caller decides when to renew them.
struct InitiatorCredentials {
  crypto::X509Cert authCert;        // CERTS type 3
  crypto::Ed25519Keypair authKey;   // signs AUTHENTICATE
  std::vector<uint8_t> edAuthCert;  // CERTS type 6

  // `entropy`: at least 64 random bytes (the key seed, a hostname, a serial).
  static std::optional<InitiatorCredentials> create(const LinkCredentials& link,
                                                    const crypto::RsaPrivateKey& rsaIdentity,
                                                    const crypto::Ed25519Signer& signingKey,
                                                    int64_t nowUnix, Bytes entropy,
                                                    std::string& error);
  // The initiator's CERTS entries, in the order C tor 0.4.9 sends them: 3, 2, 4, 6, 7.
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> initiatorCerts(
      const LinkCredentials& link) const;
};

}  // namespace onionsplit::channeld

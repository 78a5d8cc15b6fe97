// common/crypto/rsa_crosscert.h: the RSA->Ed25519 cross-certificate (cert-spec §2.3; CERTS cell
// certificate type 7; trunnel link_handshake.trunnel rsa_ed_crosscert).
//
// channeld sends ours in CERTS and checks a peer's: it binds the peer's Ed25519 identity to the RSA
// identity of its CERTS type 2 certificate. The signature is tor-style RSA (rsa_identity.h) over
// SHA256("Tor TLS RSA/Ed25519 cross-certificate" | ED25519_KEY | EXPIRATION_DATE), and
// EXPIRATION_DATE counts HOURS since the epoch. Decoding keeps views into the input.
#pragma once

#include <cstdint>

#include "common/base/bytes.h"
#include "common/base/result.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/ed25519_cert.h"
#include "common/crypto/rsa_identity.h"

namespace onionsplit::crypto {

// ED25519_KEY 32 + EXPIRATION_DATE 4.
inline constexpr size_t kRsaCrosscertSignedLen = 36;
// Enough for a crosscert signed by any RSA key up to 2040 bits (SIGLEN is one byte).
inline constexpr size_t kRsaCrosscertMaxEncodedLen = kRsaCrosscertSignedLen + 1 + 255;

struct RsaCrosscert {
  Ed25519PublicKey edKey{};
  uint32_t expirationHours = 0;
  Bytes signature;   // view into the input
  Bytes signedPart;  // ED25519_KEY | EXPIRATION_DATE
  Bytes encoded;
};

// Exactly one crosscert; trailing bytes are an error. SIGLEN 0 is refused (kBadLength).
Parsed<RsaCrosscert> decodeRsaCrosscert(Bytes in);

// Checks that `rsaIdentity` signed the crosscert and that it has not expired (now >
// EXPIRATION_DATE * 3600, as in C tor). Which Ed25519 key it certifies is for the caller to
// compare with the identity it learned elsewhere (the type 4 cert's signed-with-key).
Expected<void, CertErrc> verifyRsaCrosscert(const RsaCrosscert& cc, const RsaPublicKey& rsaIdentity,
                                            uint64_t nowUnixSeconds);

// Encodes and signs a crosscert into `out` with the RSA identity key; returns the part written.
Expected<Bytes, CertErrc> encodeRsaCrosscert(const Ed25519PublicKey& edIdentity,
                                             uint32_t expirationHours,
                                             const RsaPrivateKey& rsaIdentity, MutBytes out);

}  // namespace onionsplit::crypto

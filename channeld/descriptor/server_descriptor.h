// channeld/descriptor/server_descriptor.h: the relay's server descriptor (dir-spec §2.1.1), built
// and signed (pure: the keys sign through DescriptorSigner, time and inputs are parameters).
//
// Where it sits: channeld's publisher builds this at start, on change and every 18 hours, and POSTs
// it to every DirAuthority. Authorities (C tor 0.4.9) drop descriptors that lack a mandatory field,
// so the field set follows what shared/design/TESTNET-NOTES.md measured, in C tor's order.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/crypto/ed25519.h"

namespace onionsplit::channeld {

// Performs the two signatures of a descriptor. Held by channeld, which owns the signing key and the
// RSA identity key; the builder never sees a key.
class DescriptorSigner {
 public:
  virtual ~DescriptorSigner() = default;
  // Ed25519 signature by the current signing key (the one certified by identity-ed25519).
  virtual std::array<uint8_t, 64> signEd25519(Bytes message) = 0;
  // RSA-1024 identity signature of a SHA-1 digest: PKCS#1 v1.5 padding, no DigestInfo.
  virtual std::vector<uint8_t> signRsaDigest(Bytes sha1Digest) = 0;
};

struct DescriptorInputs {
  std::string nickname;
  std::string address;  // IPv4 dotted quad
  uint16_t orPort = 0;
  Bytes signingCert;  // type-4 ed25519 cert (identity -> signing key), binary
  std::array<uint8_t, 32> masterKey{};
  std::string platform;  // e.g. "onionsplit 0.1.0 on Linux"
  std::string proto;     // e.g. "Cons=1-2 Desc=1-2 ... Relay=2-4"
  std::time_t published = 0;
  std::array<uint8_t, 20> rsaFingerprint{};
  uint64_t uptimeSeconds = 0;
  uint64_t bandwidthAvg = 0, bandwidthBurst = 0, bandwidthObserved = 0;
  std::string tapOnionKeyPem;       // "-----BEGIN RSA PUBLIC KEY-----..." of the TAP onion key
  std::string identityKeyPem;       // same form, RSA identity public key ("signing-key")
  Bytes tapOnionKeyCrosscert;       // RSA signature by the TAP key (onion-key-crosscert)
  Bytes ntorOnionKeyCrosscert;      // type-0A ed25519 cert, binary
  int ntorCrosscertSignBit = 0;     // 0 or 1
  std::vector<std::string> family;  // "$FINGERPRINT" entries, already canonical
  // "family-cert" objects, in order: type 0C certificates (makeFamilyCert), binary.
  std::vector<std::vector<uint8_t>> familyCerts;
  bool hibernating = false;  // "hibernating 1": accounting's soft or hard hibernation
  std::string contact;       // may be empty
  std::array<uint8_t, 32> ntorOnionKey{};
  std::string policyLines;  // "accept ...\n"/"reject ...\n" lines (exitpolicy)
  std::string ipv6Policy;   // summary, or empty when IPv6 exit is off
};

// Builds and signs the descriptor. Returns the full text ending in "-----END SIGNATURE-----\n".
std::string buildServerDescriptor(const DescriptorInputs& in, DescriptorSigner& signer);

// C tor's FAMILY_CERT_LIFETIME: a family-cert expires 30 days after the descriptor's published
// time.
inline constexpr std::time_t kFamilyCertLifetimeSeconds = 30 * 86400;

// The family-cert of proposal 321 as C tor 0.4.9 writes it: type 0C (FAMILY_V_IDENTITY),
// certifying the relay's master identity key `identity`, signed by the family key with the
// signed-with-key extension, expiring kFamilyCertLifetimeSeconds after `published` (rounded up to
// the hour). Empty if signing fails.
std::vector<uint8_t> makeFamilyCert(const crypto::Ed25519Signer& familyKey,
                                    const std::array<uint8_t, 32>& identity, std::time_t published);

// Helpers shared with other documents.
std::string pemBlock(std::string_view label, Bytes der);  // 64-column base64 between BEGIN/END
std::string formatUtcTime(std::time_t t);                 // "YYYY-MM-DD HH:MM:SS"

}  // namespace onionsplit::channeld

// common/keys/relay_keys.h: the relay's long-term keys in DataDirectory/keys, in C tor's own file
// names and formats (common/crypto/key_files.h), so an identity moves between C tor and onionsplit
// in either direction.
//
// Who uses it: the launcher (`onionsplit keygen`, and at every start before the daemons run) makes
// sure every key exists and is current; then each daemon reads only its own part (DESIGN.md section
// 1): channeld the identity keys (loadIdentityKeys), circuitd the onion keys (loadOnionKeys).
//
//   secret_id_key                   RSA-1024 identity (PEM)                        channeld
//   ed25519_master_id_secret_key    ed25519 master identity (may stay offline)     launcher only
//   ed25519_master_id_public_key    its public half                                channeld
//   ed25519_signing_secret_key      ed25519 signing key                            channeld
//   ed25519_signing_cert            type 4 cert: master -> signing key             channeld
//   secret_onion_key[.old]          RSA-1024 TAP onion key (descriptors only)      launcher only
//   secret_onion_key_ntor[.old]     curve25519 ntor onion key, current/previous    circuitd
//   DataDirectory/fingerprint, fingerprint-ed25519                                 written here
//   onion/: copies of secret_onion_key_ntor[.old], ed25519_master_id_public_key and
//   fingerprint, made by ensureRelayKeys: what circuitd reads, alone in a directory so that its
//   sandbox (Landlock, by directory because rotations replace files) reaches no identity secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/ed25519_ext.h"
#include "common/crypto/key_files.h"
#include "common/crypto/rsa_identity.h"

namespace onionsplit::keys {

struct KeyPolicy {
  // OfflineMasterKey: never create the master secret; the signing key and cert must be present
  // (made by `onionsplit keygen` on the machine that holds the master key).
  bool offlineMasterKey = false;
  uint64_t signingKeyLifetimeSeconds = 30 * 86400;  // SigningKeyLifetime
  // A signing cert that expires within this is renewed (when the master secret is here).
  uint64_t signingKeyRenewBeforeSeconds = 2 * 86400;
  // C tor's onion-key-rotation-days default (28): the ntor and TAP onion keys rotate after this,
  // the previous one kept as .old for circuits built from the old descriptor.
  uint64_t onionKeyRotationSeconds = 28 * 86400;
};

// Makes DataDirectory/keys hold every key the relay needs as of `nowUnix`, creating what is missing
// and renewing what is due, and writes the fingerprint files. `forceNewSigningKey` makes a new
// signing key and cert even if the current one is fine (`onionsplit keygen`). Returns one line per
// file it created or replaced, or an error an operator can act on (e.g. an offline master key and
// an expired signing cert).
Expected<std::vector<std::string>, std::string> ensureRelayKeys(const std::string& dataDirectory,
                                                                const std::string& nickname,
                                                                uint64_t nowUnix,
                                                                const KeyPolicy& policy,
                                                                bool forceNewSigningKey = false);

// "<nickname> <40 upper-case hex>" from secret_id_key, as `tor --list-fingerprint` prints it.
Expected<std::string, std::string> fingerprintLine(const std::string& dataDirectory,
                                                   const std::string& nickname);

// channeld's keys.
struct IdentityKeys {
  crypto::RsaPrivateKey rsaIdentity;
  crypto::Ed25519PublicKey masterPublic{};
  crypto::Ed25519ExpandedKeypair signing;
  std::vector<uint8_t> signingCert;  // the encoded type 4 certificate
};
Expected<IdentityKeys, std::string> loadIdentityKeys(const std::string& dataDirectory);

// What a descriptor needs from the onion keys, computed where the onion secrets are (the launcher,
// at every start) so that channeld, which publishes descriptors, never holds an onion secret. Kept
// in DataDirectory/keys/descriptor/onionsplit-descriptor-onion-keys (onionsplit's own file, hex
// lines; its own directory, so that channeld's sandbox can allow it alone).
struct DescriptorOnionKeys {
  std::vector<uint8_t> tapPublicDer;  // PKCS#1 DER of the TAP onion key ("onion-key")
  std::vector<uint8_t> tapCrosscert;  // "onion-key-crosscert": TAP signature of SHA1(id) | ed id
  crypto::Curve25519PublicKey ntorPublic{};
  std::vector<uint8_t> ntorCrosscert;  // type 0A cert from the ntor-derived ed25519 key
  int ntorCrosscertSignBit = 0;
  uint64_t ntorCrosscertExpires = 0;  // Unix seconds
};
Expected<DescriptorOnionKeys, std::string> loadDescriptorOnionKeys(
    const std::string& dataDirectory);

// circuitd's keys.
struct OnionKeys {
  crypto::NtorKeyFile current;
  std::optional<crypto::NtorKeyFile> previous;
  // The public identities the handshakes name (from the copies of DataDirectory/fingerprint and
  // keys/ed25519_master_id_public_key: circuitd reads no identity secret).
  std::array<uint8_t, 20> rsaIdDigest{};
  crypto::Ed25519PublicKey edIdentity{};
};
// Reads DataDirectory/keys/onion (ensureRelayKeys keeps it current).
Expected<OnionKeys, std::string> loadOnionKeys(const std::string& dataDirectory);

}  // namespace onionsplit::keys

// common/keys/family_keys.h: the relay family keys of proposal 321 (C tor 0.4.9's FamilyId and
// FamilyKeyDirectory), in the files `tor --keygen-family NAME` writes: NAME.secret_family_key, a
// tagged ed25519 secret key file (type "ed25519v1-secret", tag "fmly-id"), and
// NAME.public_family_id, the key's identity in base64 (the value of a FamilyId line).
//
// C tor's rule (routerkeys.c), kept here: every file in FamilyKeyDirectory whose name ends in
// ".secret_family_key" is read; a file that is not a family key is an error; a key whose identity
// no FamilyId line names is skipped with a warning, unless a line says "FamilyId *" (every key
// found); a FamilyId line without a key is an error. The launcher checks this at start and with
// --verify-config; channeld reads the keys before its sandbox and signs its descriptor's
// family-cert lines with them.
#pragma once

#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/config/config.h"
#include "common/crypto/ed25519_ext.h"

namespace onionsplit::keys {

struct FamilyKey {
  std::string path;
  crypto::Ed25519ExpandedKeypair key;
};

struct FamilyKeys {
  std::vector<FamilyKey> keys;        // sorted by file name
  std::vector<std::string> warnings;  // keys found that no FamilyId names
};

// FamilyKeyDirectory, else DataDirectory/keys (C tor's default: KeyDirectory).
std::string familyKeyDirectory(const config::Config& cfg);

// The family keys `cfg` asks for (none without a FamilyId line), read from familyKeyDirectory.
Expected<FamilyKeys, std::string> loadFamilyKeys(const config::Config& cfg);

// "FamilyId" value to key: base64 of 32 bytes, padding optional, as C tor reads it.
std::optional<crypto::Ed25519PublicKey> parseFamilyId(std::string_view id);

}  // namespace onionsplit::keys

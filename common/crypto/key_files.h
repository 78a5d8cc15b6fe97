// common/crypto/key_files.h: C tor's key-file formats (pure: bytes in, bytes out; the daemons do
// the file I/O). Keeping C tor's formats and names lets an operator move a relay's identity between
// C tor and onionsplit in either direction.
//
// Tagged binary files (ed25519 keys and certificates, the curve25519 ntor key) start with a 32-byte
// header "== <type>: <tag> ==" padded with NUL bytes, then the body:
//   ed25519_master_id_secret_key  "ed25519v1-secret" / "type0"  64-byte expanded secret key
//   ed25519_master_id_public_key  "ed25519v1-public" / "type0"  32-byte public key
//   ed25519_signing_secret_key    "ed25519v1-secret" / "type4"  64-byte expanded secret key
//   ed25519_signing_cert          "ed25519v1-cert"   / "type4"  the type-4 certificate
//   secret_onion_key_ntor         "c25519v1"         / "onion"  32-byte secret then 32-byte public
// RSA keys (secret_id_key, secret_onion_key) are PEM "RSA PRIVATE KEY" and are handled by
// rsa_identity.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"

namespace onionsplit::crypto {

inline constexpr size_t kTaggedHeaderLen = 32;

struct TaggedFile {
  std::string type;  // e.g. "ed25519v1-secret"
  std::string tag;   // e.g. "type0"
  Bytes body;        // view into the input
};

// Parses a tagged file. Refuses a header that is not "== X: Y ==" followed only by NULs.
Parsed<TaggedFile> parseTaggedFile(Bytes file);
// Checks type and tag and that the body has exactly `bodyLen` bytes.
Parsed<Bytes> parseTaggedBody(Bytes file, std::string_view type, std::string_view tag,
                              size_t bodyLen);
std::vector<uint8_t> makeTaggedFile(std::string_view type, std::string_view tag, Bytes body);

struct NtorKeyFile {
  std::array<uint8_t, 32> secret{};
  std::array<uint8_t, 32> publicKey{};
};
Parsed<NtorKeyFile> parseNtorKeyFile(Bytes file);
std::vector<uint8_t> makeNtorKeyFile(const NtorKeyFile& k);

// DataDirectory/fingerprint: "<nickname> <40 upper-case hex>\n", as C tor writes it.
std::string fingerprintFileLine(std::string_view nickname, Bytes rsaIdentityDigest);

}  // namespace onionsplit::crypto

// common/crypto/kdfs.h: the key derivation and hash functions of Tor's circuit handshakes (pure,
// OpenSSL 3 EVP): KDF-TOR (tor-spec §5.2.1, CREATE_FAST), KDF-RFC5869 = HKDF-SHA256 (§5.2.2, ntor),
// HMAC-SHA256, and the SHA3-256 / SHAKE-256 / AES-256-CTR instantiation of ntor v3 (proposal 332
// A.1) with its ENCAP framing.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"

namespace onionsplit::crypto {

// K = SHA1(K0 | [00]) | SHA1(K0 | [01]) | ...; false if out is over 255 blocks.
bool kdfTor(Bytes k0, MutBytes out);
// HKDF-SHA256 (RFC 5869) extract-and-expand.
bool hkdfSha256(Bytes ikm, Bytes salt, Bytes info, MutBytes out);
bool hmacSha256(Bytes key, Bytes msg, std::array<uint8_t, 32>& out);
bool sha3_256(std::initializer_list<Bytes> parts, std::array<uint8_t, 32>& out);
bool shake256(std::initializer_list<Bytes> parts, MutBytes out);
// AES-256-CTR with a zero IV, in place.
bool aes256CtrZeroIv(Bytes key32, MutBytes data);

// ntor v3 tweaked functions (proposal 332 A.1): ENCAP(s) = u64be(len(s)) | s.
std::array<uint8_t, 8> encapLen(size_t n);
bool ntor3H(std::string_view tweak, std::initializer_list<Bytes> s, std::array<uint8_t, 32>& out);
bool ntor3Mac(std::string_view tweak, Bytes key, std::initializer_list<Bytes> msg,
              std::array<uint8_t, 32>& out);
bool ntor3Kdf(std::string_view tweak, std::initializer_list<Bytes> s, MutBytes out);

inline Bytes asBytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace onionsplit::crypto

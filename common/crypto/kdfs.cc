// common/crypto/kdfs.cc: see kdfs.h.
#include "common/crypto/kdfs.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <cstring>
#include <memory>

namespace onionsplit::crypto {
namespace {

struct MdCtx {
  EVP_MD_CTX* p = EVP_MD_CTX_new();
  ~MdCtx() { EVP_MD_CTX_free(p); }
};

bool digestParts(const EVP_MD* md, std::initializer_list<Bytes> parts, uint8_t* out, size_t outLen,
                 bool xof) {
  MdCtx c;
  if (!c.p || EVP_DigestInit_ex(c.p, md, nullptr) != 1) return false;
  for (Bytes b : parts)
    if (!b.empty() && EVP_DigestUpdate(c.p, b.data(), b.size()) != 1) return false;
  if (xof) return EVP_DigestFinalXOF(c.p, out, outLen) == 1;
  unsigned len = 0;
  return EVP_DigestFinal_ex(c.p, out, &len) == 1 && len == outLen;
}

}  // namespace

bool kdfTor(Bytes k0, MutBytes out) {
  if (out.size() > 255 * 20) return false;
  uint8_t block[20];
  for (size_t done = 0, i = 0; done < out.size(); ++i) {
    uint8_t counter = static_cast<uint8_t>(i);
    if (!digestParts(EVP_sha1(), {k0, Bytes(&counter, 1)}, block, 20, false)) return false;
    size_t n = std::min<size_t>(20, out.size() - done);
    std::memcpy(out.data() + done, block, n);
    done += n;
  }
  return true;
}

bool hkdfSha256(Bytes ikm, Bytes salt, Bytes info, MutBytes out) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  if (!ctx) return false;
  char digest[] = "SHA256";
  uint8_t empty = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.empty() ? &empty : ikm.data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                        const_cast<uint8_t*>(salt.empty() ? &empty : salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                        const_cast<uint8_t*>(info.empty() ? &empty : info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

bool hmacSha256(Bytes key, Bytes msg, std::array<uint8_t, 32>& out) {
  unsigned len = 0;
  uint8_t empty = 0;
  return HMAC(EVP_sha256(), key.empty() ? &empty : key.data(), static_cast<int>(key.size()),
              msg.empty() ? &empty : msg.data(), msg.size(), out.data(), &len) != nullptr &&
         len == 32;
}

bool sha3_256(std::initializer_list<Bytes> parts, std::array<uint8_t, 32>& out) {
  return digestParts(EVP_sha3_256(), parts, out.data(), out.size(), false);
}

bool shake256(std::initializer_list<Bytes> parts, MutBytes out) {
  return digestParts(EVP_shake256(), parts, out.data(), out.size(), true);
}

bool aes256CtrZeroIv(Bytes key32, MutBytes data) {
  if (key32.size() != 32) return false;
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  static const uint8_t kIv[16] = {};
  int len = 0;
  bool ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), nullptr, key32.data(), kIv) == 1 &&
            (data.empty() || EVP_EncryptUpdate(c, data.data(), &len, data.data(),
                                               static_cast<int>(data.size())) == 1);
  EVP_CIPHER_CTX_free(c);
  return ok;
}

std::array<uint8_t, 8> encapLen(size_t n) {
  std::array<uint8_t, 8> b{};
  for (int i = 7; i >= 0; --i, n >>= 8)
    b[static_cast<size_t>(i)] = static_cast<uint8_t>(n);
  return b;
}

bool ntor3H(std::string_view tweak, std::initializer_list<Bytes> s, std::array<uint8_t, 32>& out) {
  MdCtx c;
  auto len = encapLen(tweak.size());
  if (!c.p || EVP_DigestInit_ex(c.p, EVP_sha3_256(), nullptr) != 1 ||
      EVP_DigestUpdate(c.p, len.data(), len.size()) != 1 ||
      EVP_DigestUpdate(c.p, tweak.data(), tweak.size()) != 1)
    return false;
  for (Bytes b : s)
    if (!b.empty() && EVP_DigestUpdate(c.p, b.data(), b.size()) != 1) return false;
  unsigned n = 0;
  return EVP_DigestFinal_ex(c.p, out.data(), &n) == 1;
}

bool ntor3Mac(std::string_view tweak, Bytes key, std::initializer_list<Bytes> msg,
              std::array<uint8_t, 32>& out) {
  MdCtx c;
  auto tl = encapLen(tweak.size());
  auto kl = encapLen(key.size());
  if (!c.p || EVP_DigestInit_ex(c.p, EVP_sha3_256(), nullptr) != 1 ||
      EVP_DigestUpdate(c.p, tl.data(), tl.size()) != 1 ||
      EVP_DigestUpdate(c.p, tweak.data(), tweak.size()) != 1 ||
      EVP_DigestUpdate(c.p, kl.data(), kl.size()) != 1 ||
      (!key.empty() && EVP_DigestUpdate(c.p, key.data(), key.size()) != 1))
    return false;
  for (Bytes b : msg)
    if (!b.empty() && EVP_DigestUpdate(c.p, b.data(), b.size()) != 1) return false;
  unsigned n = 0;
  return EVP_DigestFinal_ex(c.p, out.data(), &n) == 1;
}

bool ntor3Kdf(std::string_view tweak, std::initializer_list<Bytes> s, MutBytes out) {
  MdCtx c;
  auto len = encapLen(tweak.size());
  if (!c.p || EVP_DigestInit_ex(c.p, EVP_shake256(), nullptr) != 1 ||
      EVP_DigestUpdate(c.p, len.data(), len.size()) != 1 ||
      EVP_DigestUpdate(c.p, tweak.data(), tweak.size()) != 1)
    return false;
  for (Bytes b : s)
    if (!b.empty() && EVP_DigestUpdate(c.p, b.data(), b.size()) != 1) return false;
  return EVP_DigestFinalXOF(c.p, out.data(), out.size()) == 1;
}

}  // namespace onionsplit::crypto

// common/crypto/ed25519.cc: Ed25519 through OpenSSL 3's EVP_PKEY_ED25519 (one-shot DigestSign).
#include "common/crypto/ed25519.h"

#include <openssl/evp.h>

namespace onionsplit::crypto {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

}  // namespace

void Ed25519Keypair::PkeyFree::operator()(evp_pkey_st* p) const {
  EVP_PKEY_free(p);
}

std::optional<Ed25519Keypair> Ed25519Keypair::fromSeed(const Ed25519Seed& seed) {
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return std::nullopt;
  Ed25519PublicKey pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != pub.size())
    return std::nullopt;
  return Ed25519Keypair(std::move(pkey), pub);
}

bool Ed25519Keypair::sign(Bytes msg, Ed25519Signature& out) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || !pkey_) return false;
  // Ed25519 is "pure": no digest is named and the whole message goes in one call.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1) return false;
  size_t len = out.size();
  if (EVP_DigestSign(ctx.get(), out.data(), &len, msg.data(), msg.size()) != 1) return false;
  return len == out.size();
}

std::optional<Ed25519Seed> Ed25519Keypair::seed() const {
  Ed25519Seed s{};
  size_t len = s.size();
  if (!pkey_ || EVP_PKEY_get_raw_private_key(pkey_.get(), s.data(), &len) != 1 || len != s.size())
    return std::nullopt;
  return s;
}

bool ed25519Verify(const Ed25519PublicKey& key, Bytes msg, const Ed25519Signature& sig) {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()),
      EVP_PKEY_free);
  if (!pkey) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) == 1;
}

}  // namespace onionsplit::crypto

// common/control/auth.cc: see auth.h.
#include "common/control/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base/hex.h"

namespace onionsplit::control {
namespace {

constexpr std::string_view kServerToController =
    "Tor safe cookie authentication server-to-controller hash";
constexpr std::string_view kControllerToServer =
    "Tor safe cookie authentication controller-to-server hash";

Digest256 hmac(std::string_view key, const Cookie& cookie, std::string_view a, std::string_view b) {
  std::string msg(reinterpret_cast<const char*>(cookie.data()), cookie.size());
  msg.append(a);
  msg.append(b);
  Digest256 out{};
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
  return out;
}

}  // namespace

std::optional<HashedPassword> decodeHashedPassword(std::string_view text) {
  if (text.substr(0, 3) != "16:") return std::nullopt;
  auto raw = fromHex(text.substr(3));
  if (!raw || raw->size() != 29) return std::nullopt;
  HashedPassword h;
  std::copy(raw->begin(), raw->begin() + 9, h.specifier.begin());
  std::copy(raw->begin() + 9, raw->end(), h.digest.begin());
  return h;
}

std::array<uint8_t, 20> s2k(std::string_view secret, const std::array<uint8_t, 9>& spec) {
  uint8_t c = spec[8];
  size_t count = static_cast<size_t>(16 + (c & 15)) << ((c >> 4) + 6);
  std::string block(reinterpret_cast<const char*>(spec.data()), 8);
  block.append(secret);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  while (count > 0) {
    size_t n = count >= block.size() ? block.size() : count;
    EVP_DigestUpdate(ctx, block.data(), n);
    count -= n;
  }
  std::array<uint8_t, 20> out{};
  EVP_DigestFinal_ex(ctx, out.data(), nullptr);
  EVP_MD_CTX_free(ctx);
  return out;
}

std::string hashPassword(std::string_view secret, const std::array<uint8_t, 9>& spec) {
  auto d = s2k(secret, spec);
  std::vector<uint8_t> raw(spec.begin(), spec.end());
  raw.insert(raw.end(), d.begin(), d.end());
  return "16:" + toHex(raw, true);
}

bool passwordMatches(std::string_view secret, const HashedPassword& h) {
  auto d = s2k(secret, h.specifier);
  return CRYPTO_memcmp(d.data(), h.digest.data(), d.size()) == 0;
}

Digest256 safeCookieServerHash(const Cookie& cookie, std::string_view clientNonce,
                               std::string_view serverNonce) {
  return hmac(kServerToController, cookie, clientNonce, serverNonce);
}

Digest256 safeCookieClientHash(const Cookie& cookie, std::string_view clientNonce,
                               std::string_view serverNonce) {
  return hmac(kControllerToServer, cookie, clientNonce, serverNonce);
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace onionsplit::control

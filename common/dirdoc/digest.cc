// common/dirdoc/digest.cc: SHA-1 and SHA-256 through OpenSSL's one-shot EVP_Digest.
#include "common/dirdoc/digest.h"

#include <openssl/evp.h>

namespace onionsplit::dirdoc {
namespace {

template <size_t N>
std::array<uint8_t, N> digestOf(const EVP_MD* md, std::string_view text) {
  std::array<uint8_t, N> out{};
  unsigned len = 0;
  // EVP_Digest fails only on allocation failure; a zero digest then matches no signature.
  if (EVP_Digest(text.data(), text.size(), out.data(), &len, md, nullptr) != 1 || len != N)
    out.fill(0);
  return out;
}

}  // namespace

Sha1Digest sha1Of(std::string_view text) {
  return digestOf<20>(EVP_sha1(), text);
}

Sha256Digest sha256Of(std::string_view text) {
  return digestOf<32>(EVP_sha256(), text);
}

}  // namespace onionsplit::dirdoc

// fuzz/fuzz_link_certs.cc: the certificate checks of the link handshake fed arbitrary CERTS
// entries and AUTHENTICATE bodies (a peer controls all of them). Input: repeated
// [type u8][len u16][body] entries; what is left after the last complete entry is an AUTH0003 body.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "channeld/link/link_certs.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<channeld::CertEntry> certs;
  size_t pos = 0;
  while (pos + 3 <= size && certs.size() < 16) {
    uint8_t type = data[pos];
    size_t len = (size_t{data[pos + 1]} << 8) | data[pos + 2];
    if (pos + 3 + len > size) break;
    certs.push_back({type, Bytes(data + pos + 3, len)});
    pos += 3 + len;
  }
  const int64_t now = 1800000000;
  auto init = channeld::checkInitiatorCerts(certs, now);
  auto resp = channeld::checkResponderCerts(certs, Bytes(data, size / 2), now);
  (void)resp;
  channeld::Auth3Expected e{};
  crypto::Ed25519PublicKey key{};
  if (init && init->edAuthKey) key = *init->edAuthKey;
  auto r = channeld::verifyAuth3(Bytes(data + pos, size - pos), e, key);
  (void)r;
  return 0;
}

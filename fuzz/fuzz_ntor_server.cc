// fuzz/fuzz_ntor_server.cc: the ntor and ntor v3 servers fed arbitrary client handshakes (CREATE2
// bodies from any client). Never crashes; a handshake the fuzzer cannot know the keys for never
// succeeds unless it carries our NODEID and KEYID.
#include <array>
#include <cstddef>
#include <cstdint>

#include "common/cell/handshake_ext.h"
#include "common/crypto/ntor_handshakes.h"

using namespace onionsplit;
using namespace onionsplit::crypto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Curve25519Keypair keys[] = {
      *Curve25519Keypair::fromSecret(std::array<uint8_t, 32>{1}),
      *Curve25519Keypair::fromSecret(std::array<uint8_t, 32>{2})};
  std::array<uint8_t, 20> rsaId{};
  std::array<uint8_t, 32> edId{};
  std::array<uint8_t, 32> rnd{7};
  Bytes in(data, size);
  auto r1 = ntorServer(rsaId, keys, in, rnd);
  (void)r1;
  Ntor3Reply reply = [](Bytes m) -> std::optional<std::vector<uint8_t>> {
    auto n = cell::negotiateExit(m, {});
    if (!n) return std::nullopt;
    return std::vector<uint8_t>(n->reply.begin(),
                                n->reply.begin() + static_cast<long>(n->replyLen));
  };
  auto r3 = ntor3Server(edId, keys, in, rnd, reply, kNtor3CircuitVerification);
  if (r3) __builtin_trap();  // passing the MAC without the key is impossible
  return 0;
}

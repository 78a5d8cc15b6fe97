// fuzz/fuzz_tor1.cc: the tor1 recognized/digest path, on a middle hop and at the last hop, fed
// arbitrary cells (what a hostile client or previous hop can send). Never crashes, and two middle
// hops with the same keys reach the same verdict on every cell (the restore-on-mismatch path keeps
// their digest states equal).
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
  auto a = crypto::RelayLayer::create(k);
  auto b = crypto::RelayLayer::create(k);
  auto exit = crypto::RelayLayer::create(k);
  if (!a || !b || !exit) __builtin_trap();
  for (size_t off = 0; off < size; off += crypto::kRelayPayloadLen) {
    Cell c{};
    std::memcpy(c.data(), data + off, std::min(crypto::kRelayPayloadLen, size - off));
    Cell c2 = c, c3 = c;
    crypto::Tor1Digest da{}, db{};
    auto ra = a->processOutbound(c, &da, false);
    auto rb = b->processOutbound(c2, &db, false);
    if (ra != rb || c != c2) __builtin_trap();
    if (ra == crypto::RelayLayer::Outbound::kRecognized && da != db) __builtin_trap();
    (void)exit->processOutbound(c3, nullptr, true);
  }
  return 0;
}

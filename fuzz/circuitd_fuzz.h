// fuzz/circuitd_fuzz.h: what the targets that drive circuitd's whole reactor share: 32 equal bytes,
// and the reactor with a fixed identity (so that a corpus's handshakes stay valid), a fixed random
// source and a clock that moves 1 ms each time it is read.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

#include "circuitd/net/reactor.h"

namespace onionsplit::fuzz {

inline std::array<uint8_t, 32> filled(uint8_t b) {
  std::array<uint8_t, 32> a;
  a.fill(b);
  return a;
}

// RSA id 01.., ed25519 id 02.., one onion key made from the secret 03...
inline circuitd::OnionIdentity fuzzOnionIdentity() {
  circuitd::OnionIdentity id;
  id.rsaId.fill(1);
  id.edId = filled(2);
  id.onionKeys.push_back(*crypto::Curve25519Keypair::fromSecret(Bytes(filled(3))));
  return id;
}

inline std::unique_ptr<circuitd::Reactor> fuzzReactor(uint64_t& nowUsec) {
  return std::make_unique<circuitd::Reactor>(
      fuzzOnionIdentity(), circuitd::CircuitParams{},
      [](MutBytes o) { std::memset(o.data(), 9, o.size()); },
      [&nowUsec] { return nowUsec += 1000; });
}

}  // namespace onionsplit::fuzz

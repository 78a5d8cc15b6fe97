// tests/client/test_bytes.h: deterministic bytes for the client's tests: a counting "random" source
// (every call continues the count, so handshakes differ but runs repeat) and filled keys.
#pragma once

#include <array>
#include <cstdint>

#include "common/base/bytes.h"

namespace onionsplit::client::testing {

inline void counterRandom(MutBytes b) {
  static uint8_t n = 1;
  for (auto& x : b)
    x = n++;
}

inline std::array<uint8_t, 32> fill32(uint8_t v) {
  std::array<uint8_t, 32> a{};
  a.fill(v);
  return a;
}

}  // namespace onionsplit::client::testing

// fuzz/codec_roundtrip.h: the property every codec fuzz target checks. A decoder fed arbitrary
// bytes must not crash; when it accepts them, encoding what it decoded and decoding that again must
// give the same encoding (decode/encode are inverse on everything the decoder accepts).
#pragma once

#include <cstdint>
#include <cstring>

#include "common/base/bytes.h"

namespace onionsplit::fuzz {

template <class Decode, class Encode>
void checkRoundTrip(const uint8_t* data, size_t size, Decode decode, Encode encode) {
  auto first = decode(Bytes(data, size));
  if (!first) return;
  static uint8_t a[70000], b[70000];
  Writer wa{MutBytes(a)};
  if (!encode(*first, wa)) return;  // e.g. a decoded list too long to encode: not a bug
  auto second = decode(wa.written());
  if (!second) __builtin_trap();
  Writer wb{MutBytes(b)};
  if (!encode(*second, wb)) __builtin_trap();
  if (wa.size() != wb.size() || std::memcmp(a, b, wa.size()) != 0) __builtin_trap();
}

}  // namespace onionsplit::fuzz

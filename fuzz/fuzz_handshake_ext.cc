// fuzz/fuzz_handshake_ext.cc: the ntor v3 extension list (decrypted from a client's or an exit's
// handshake) fed arbitrary bytes; a decoded list re-encodes to the same bytes. The same bytes as a
// SUBPROTO request body: whatever the relay accepts is Relay=6 alone, and CGO is never chosen
// without congestion control.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/cell/handshake_ext.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes in(data, size);
  auto list = cell::decodeHandshakeExts(in);
  if (list) {
    uint8_t buf[4096];
    Writer w{MutBytes(buf)};
    if (!cell::encodeHandshakeExts(*list, w) || w.size() != size ||
        std::memcmp(buf, data, size) != 0)
      __builtin_trap();
  }
  if (auto cgo = cell::relayReadsSubprotoRequest(in); cgo && *cgo != (size == 2)) __builtin_trap();
  if (auto n = cell::negotiateExit(in, {}); n && n->cgo && !n->ccEnabled) __builtin_trap();
  (void)cell::checkExitReply(in, {}, true);
  (void)cell::checkExitReply(in, {}, false);
  return 0;
}

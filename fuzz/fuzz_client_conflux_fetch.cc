// fuzz/fuzz_client_conflux_fetch.cc: the test client's conflux set (client/conflux_fetch.h) fed a
// hostile exit's messages. The first input byte chooses whether both legs are first linked the
// honest way (the exit's LINKED with our nonce), so that the rest reaches the stream: sequence
// numbers, SWITCHes, CONNECTED, DATA beyond or unlike the file, END. Then each message is
// leg (1 byte), command (1), stream id (2), body length (1, at most 498), body. Whatever comes, the
// fetch ends with an error or goes on; it never crashes and its reorder queue stays under its cap.
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "client/conflux_fetch.h"
#include "common/cell/relay.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  conflux::Nonce nonce;
  nonce.fill(0x11);
  client::FetchTarget target;
  target.port = 80;
  target.expectBytes = 1000;
  client::ConfluxFetch fetch(nonce, {1, 2}, target, true);
  std::vector<client::Send> out;
  uint64_t now = 1'000'000;
  fetch.start(now, out);
  if (data[0] & 1) {
    cell::ConfluxLinkMsg linked;
    linked.nonce = nonce;
    std::array<uint8_t, cell::kRelayBodyMax> buf{};
    Writer w{MutBytes(buf)};
    if (!cell::encodeConfluxLink(linked, w)) __builtin_trap();
    for (conflux::LegId leg : {1, 2}) {
      now += 1000;
      if (fetch.onMessage(leg, static_cast<uint8_t>(cell::RelayCmd::kConfluxLinked), 0, w.written(),
                          now, out))
        __builtin_trap();  // the honest LINKED must be taken
    }
  }
  size_t off = 1;
  for (int i = 0; i < 4096 && off + 5 <= size && !fetch.done(); ++i) {
    conflux::LegId leg = data[off] % 4;  // 0 and 3 are not legs of the set
    uint8_t cmd = data[off + 1];
    uint16_t stream = static_cast<uint16_t>(data[off + 2] << 8 | data[off + 3]);
    size_t len = std::min<size_t>(data[off + 4] * 2, cell::kRelayBodyMax);
    off += 5;
    len = std::min(len, size - off);
    now += 100;
    out.clear();
    auto err = fetch.onMessage(leg, cmd, stream, Bytes(data + off, len), now, out);
    off += len;
    if (fetch.maxReorderQueue() > client::kMaxReorderBytes / conflux::kQueuedOverheadBytes + 1)
      __builtin_trap();  // each queued message costs at least its overhead
    if (err) break;
  }
  return 0;
}

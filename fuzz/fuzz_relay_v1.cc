// fuzz/fuzz_relay_v1.cc: cell::decodeRelayCellV1 fed what a hostile peer controls once the CGO
// layer has accepted a cell: any 509-byte body (the input, cut or zero-extended to 509 bytes), and
// the raw input as given (anything but 509 bytes must be refused). What decodes must re-encode to
// the canonical form: zero tag, the same header and data bytes, min(4, room) zero bytes, then the
// random filler; and decode again to the same message. The one message that decodes but may not be
// encoded, a stream-carrying command with stream id 0, must be refused with kStreamIdRequired.
// The kV0 side of the per-circuit entry point must agree with the tor1 decoder.
#include <algorithm>
#include <array>
#include <cstring>

#include "common/cell/relay.h"
#include "common/cell/relay_v1.h"

using namespace onionsplit;
using namespace onionsplit::cell;

namespace {

constexpr uint8_t kFiller = 0xa5;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool sameMsg(const RelayMsgView& a, const RelayMsgView& b) {
  return a.command == b.command && a.streamId == b.streamId && a.data.size() == b.data.size() &&
         std::equal(a.data.begin(), a.data.end(), b.data.begin());
}

void checkV1(const std::array<uint8_t, kCellPayloadLen>& in) {
  auto m = decodeRelayCellV1(in);
  if (!m) return;
  const bool withStream = carriesStreamIdV1(m->command);
  const size_t header = withStream ? kRelayV1HeaderLenWithStream : kRelayV1HeaderLenNoStream;
  check(isKnownRelayCmdV1(m->command));
  check(m->data.data() == in.data() + header);
  check(m->data.size() <= relayDataMax(RelayCellFormat::kV1, m->command));
  check(withStream || m->streamId == 0);

  static std::array<uint8_t, kCellPayloadLen> out, again;
  static const std::function<void(MutBytes)> fill = [](MutBytes b) {
    std::fill(b.begin(), b.end(), kFiller);
  };
  RelayEncodeErr e = encodeRelayCellV1(out, *m, fill);
  if (withStream && m->streamId == 0) {
    check(e == RelayEncodeErr::kStreamIdRequired);
    return;
  }
  check(e == RelayEncodeErr::kNone);
  const size_t end = header + m->data.size();
  const size_t zeros = std::min<size_t>(4, kCellPayloadLen - end);
  check(std::all_of(out.begin(), out.begin() + kRelayV1TagLen, [](uint8_t b) { return b == 0; }));
  check(std::memcmp(out.data() + kRelayV1TagLen, in.data() + kRelayV1TagLen,
                    end - kRelayV1TagLen) == 0);
  check(
      std::all_of(out.begin() + end, out.begin() + end + zeros, [](uint8_t b) { return b == 0; }));
  check(std::all_of(out.begin() + end + zeros, out.end(), [](uint8_t b) { return b == kFiller; }));

  auto back = decodeRelayCellV1(out);
  check(back && sameMsg(*back, *m));
  check(encodeRelayCellV1(again, *back, fill) == RelayEncodeErr::kNone);
  check(again == out);
}

void checkV0(const std::array<uint8_t, kCellPayloadLen>& in) {
  auto tor1 = decodeRelayCell(in);
  auto neutral = decodeRelayMsgView(RelayCellFormat::kV0, in);
  check(bool(tor1) == bool(neutral));
  if (tor1) check(sameMsg(msgView(*tor1), *neutral));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto raw = decodeRelayCellV1(Bytes(data, size));
  if (size != kCellPayloadLen) check(!raw && raw.error().code == ParseErrc::kBadLength);
  std::array<uint8_t, kCellPayloadLen> body{};
  if (size) std::memcpy(body.data(), data, std::min(size, body.size()));
  checkV1(body);
  checkV0(body);
  return 0;
}

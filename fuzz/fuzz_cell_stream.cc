// fuzz/fuzz_cell_stream.cc: what channeld does with bytes from a TLS peer: frame cells (link
// protocol chosen by the first byte) and decode each by its command, relay cells included. Framing
// must consume exactly what it reports and never read past the input.
#include <cstddef>
#include <cstdint>

#include "common/cell/cells.h"
#include "common/cell/relay.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint16_t version = static_cast<uint16_t>(data[0] % 6);
  Bytes in(data + 1, size - 1);
  while (!in.empty()) {
    auto c = cell::nextCell(in, version, 1024);
    if (!c || !*c) break;
    if ((*c)->wireLen > in.size() || (*c)->wireLen == 0) __builtin_trap();
    Bytes p = (*c)->payload;
    switch (static_cast<cell::CellCmd>((*c)->command)) {
      case cell::CellCmd::kVersions:
        (void)cell::decodeVersions(p);
        break;
      case cell::CellCmd::kNetinfo:
        (void)cell::decodeNetinfo(p);
        break;
      case cell::CellCmd::kCerts:
        (void)cell::decodeCerts(p);
        break;
      case cell::CellCmd::kAuthChallenge:
        (void)cell::decodeAuthChallenge(p);
        break;
      case cell::CellCmd::kAuthenticate:
        (void)cell::decodeAuthenticate(p);
        break;
      case cell::CellCmd::kCreate2:
        (void)cell::decodeCreate2(p);
        break;
      case cell::CellCmd::kCreateFast:
        (void)cell::decodeCreateFast(p);
        break;
      case cell::CellCmd::kDestroy:
        (void)cell::decodeDestroy(p);
        break;
      case cell::CellCmd::kPaddingNegotiate:
        (void)cell::decodePaddingNegotiate(p);
        break;
      case cell::CellCmd::kRelay:
      case cell::CellCmd::kRelayEarly:
        if (auto r = cell::decodeRelayCell(p))
          (void)cell::decodeRelayMsg(r->header.command, r->body);
        break;
      default:
        break;
    }
    in = in.subspan((*c)->wireLen);
  }
  return 0;
}

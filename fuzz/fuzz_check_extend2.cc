// fuzz/fuzz_check_extend2.cc: circuitd::checkExtend2(in) fed arbitrary bytes (an EXTEND2 body from
// a hostile client): it must never crash, and what it accepts must name an RSA identity, a usable
// address and a handshake circuitd knows, and never this relay or the previous hop.
#include <algorithm>
#include <cstdlib>

#include "circuitd/core/circuit.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  circuitd::HopIdentities ids;
  ids.prevRsa.emplace();
  ids.prevRsa->fill(0x01);
  ids.prevEd.emplace();
  ids.prevEd->fill(0x02);
  ids.ourRsa.fill(0x03);
  ids.ourEd.fill(0x04);
  // A relay message body is at most 498 bytes: that bounds what can reach the check.
  size = std::min(size, cell::kRelayBodyMax);
  auto t = circuitd::checkExtend2(Bytes(data, size), ids);
  if (!t) return 0;
  bool addressed = (t->ipv4 && t->ipv4Port != 0) || (t->ipv6 && t->ipv6Port != 0);
  bool known = (t->htype == 2 && t->hdata.size() == 84) || (t->htype == 3 && !t->hdata.empty());
  if (!addressed || !known || t->rsaId == ids.ourRsa || t->rsaId == *ids.prevRsa ||
      t->hdata.size() > 498)
    std::abort();
  return 0;
}

// fuzz/fuzz_net_params.cc: circuitd's side of channel_circuit.capnp's setNetParams
// (circuitParamsFromWire) fed any list of (name, value) a broken or hostile channeld could send:
// each entry is a length byte, that many name bytes and 4 value bytes. Whatever it gets, it either
// refuses (too many entries, a bad name) or gives parameters inside C tor's bounds.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "circuitd/core/net_params.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::pair<std::string_view, int32_t>> wire;
  size_t i = 0;
  while (i < size) {
    size_t len = data[i++];
    if (size - i < len + 4) break;
    std::string_view name(reinterpret_cast<const char*>(data + i), len);
    int32_t value = 0;
    std::memcpy(&value, data + i + len, 4);
    wire.emplace_back(name, value);
    i += len + 4;
  }
  auto p = circuitd::circuitParamsFromWire(wire);
  if (!p) return 0;
  if (p->cc.sendmeInc < 1 || p->cc.sendmeInc > 254) __builtin_trap();
  if (p->cc.ccAlg != 0 && p->cc.ccAlg != 2) __builtin_trap();
  if (p->vegas.cwndInit < 31 || p->vegas.cwndMin < 31) __builtin_trap();
  return 0;
}

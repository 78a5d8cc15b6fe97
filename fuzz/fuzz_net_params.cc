// fuzz/fuzz_net_params.cc: the receiving sides of setNetParams fed any list of (name, value) a
// broken or hostile peer could send: circuitd's (channel_circuit.capnp, circuitParamsFromWire),
// streamd's and confluxd's (circuit_stream.capnp and circuit_conflux.capnp, what circuitd
// forwards). Each entry is a length byte, that many name bytes and 4 value bytes. Whatever they
// get, all three refuse it alike (too many entries, a bad name) or give values inside C tor's
// bounds.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "circuitd/core/net_params.h"
#include "common/conflux/params.h"
#include "streamd/core/net_params.h"

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
  auto s = streamd::streamNetParamsFromWire(wire);
  conflux::ConfluxParams local;
  local.maxOooqBytes = 2 << 20;
  auto c = conflux::confluxParamsFromWire(wire, local);
  if (bool(p) != bool(s) || bool(p) != bool(c)) __builtin_trap();
  if (!p) return 0;
  if (p->circWindow < 100 || p->circWindow > 1000) __builtin_trap();
  const auto& x = s->xonXoff;
  if (x.xoffExitCells < 1 || x.xoffExitCells > 10000 || x.xonRateCells < 1 ||
      x.xonRateCells > 5000 || x.xonChangePct < 1 || x.xonChangePct > 99 || x.xonEwmaCnt < 2)
    __builtin_trap();
  if (c->maxLegsPerSet < 3 || c->maxLegsPerSet > 255 || c->maxOooqBytes > local.maxOooqBytes)
    __builtin_trap();
  if (p->cc.sendmeInc < 1 || p->cc.sendmeInc > 254) __builtin_trap();
  if (p->cc.ccAlg != 0 && p->cc.ccAlg != 2) __builtin_trap();
  if (p->vegas.cwndInit < 31 || p->vegas.cwndMin < 31) __builtin_trap();
  return 0;
}

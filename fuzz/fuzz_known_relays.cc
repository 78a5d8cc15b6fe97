// fuzz/fuzz_known_relays.cc: circuitd's side of channel_circuit.capnp's setKnownRelays
// (KnownRelays::fromWire) fed any bytes a broken or hostile channeld could send. It either refuses
// (a length that is not a multiple of 20, too many relays) or holds exactly the identities sent,
// and the BEGIN rule lets a listed relay through and refuses a client.
#include <cstdint>
#include <cstring>

#include "circuitd/core/known_relays.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto known = circuitd::KnownRelays::fromWire(Bytes(data, size));
  if (!known) {
    if (size % 20 == 0 && size / 20 <= circuitd::kMaxKnownRelays) __builtin_trap();
    return 0;
  }
  if (known->size() != size / 20) __builtin_trap();
  std::optional<circuitd::KnownRelays> list = std::move(*known);
  for (size_t i = 0; i + 20 <= size; i += 20) {
    circuitd::RelayId id;
    std::memcpy(id.data(), data + i, 20);
    if (!list->contains(id)) __builtin_trap();
    if (circuitd::beginGate(id, list, true) != circuitd::BeginGate::kAllow) __builtin_trap();
  }
  if (circuitd::beginGate(std::nullopt, list, false) != circuitd::BeginGate::kRefuseClient)
    __builtin_trap();
  return 0;
}

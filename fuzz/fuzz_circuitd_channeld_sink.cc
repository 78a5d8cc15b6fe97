// fuzz/fuzz_circuitd_channeld_sink.cc: circuitd's real handler of the channeld boundary
// (circuitd/net/reactor.h ChanneldSession, proto/channel_circuit.capnp) fed arbitrary batches by a
// hostile channeld (fuzz/ipc_sink_fuzz.h): cells or messages for circuits that exist or not,
// CREATEs with garbage handshakes, closes out of place. A fresh Reactor per input.
#include <cstring>

#include "circuitd/net/reactor.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  circuitd::OnionIdentity id;
  id.onionKeys.push_back(*crypto::Curve25519Keypair::fromSecret(Bytes(id.edId)));
  uint64_t now = 1;
  circuitd::Reactor reactor(
      id, circuitd::CircuitParams{}, [](MutBytes o) { std::memset(o.data(), 1, o.size()); },
      [&now] { return now += 1000; });
  reactor.setStreamdLookup([] { return nullptr; });
  fuzz::fuzzSink<ipc::ChannelCircuitTraits>(data, size, [&reactor](std::function<void()> drop) {
    return std::make_unique<circuitd::ChanneldSession>(reactor, std::move(drop));
  });
  return 0;
}

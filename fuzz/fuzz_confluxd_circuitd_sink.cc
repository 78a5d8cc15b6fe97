// fuzz/fuzz_confluxd_circuitd_sink.cc: confluxd's real handler of the circuitd boundary
// (confluxd/net/reactor.h CircuitdSession, proto/circuit_conflux.capnp) fed arbitrary batches by a
// hostile circuitd (fuzz/ipc_sink_fuzz.h): LINKs with any body, relay messages and state reports
// for legs that exist or not, closes out of place. A fresh Reactor per input, without streamd.
#include "confluxd/net/reactor.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  conflux::ConfluxParams params;
  params.maxOooqBytes = 64 * 1024;
  uint64_t now = 1;
  confluxd::Reactor reactor(params, [&now] { return now += 1000; });
  reactor.setStreamdLookup([] { return nullptr; });
  fuzz::fuzzSink<ipc::LegTraits>(
      data, size,
      [&reactor](std::function<void()> drop) {
        return std::make_unique<confluxd::CircuitdSession>(reactor, std::move(drop));
      },
      [](proto::LegEvent::Reader e) { return ipc::LegTraits::admitFromConfluxd(e); });
  return 0;
}

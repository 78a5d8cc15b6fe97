// fuzz/fuzz_ipc_leg_sink.cc: the LegSink server interface (proto/circuit_conflux.capnp) fed
// arbitrary batches by a hostile peer daemon (fuzz/ipc_sink_fuzz.h), as confluxd receives them.
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;
using ipc::LegTraits;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::fuzzBoundary<LegTraits>(data, size, &LegTraits::admitFromCircuitd,
                                &LegTraits::admitFromConfluxd);
  return 0;
}

// fuzz/fuzz_ipc_leg_sink.cc: the LegSink server interface (proto/circuit_conflux.capnp) fed
// arbitrary batches by a hostile peer daemon (fuzz/ipc_sink_fuzz.h).
#include "fuzz/ipc_sink_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onionsplit::fuzz::fuzzSink<onionsplit::ipc::LegTraits>(data, size);
  return 0;
}

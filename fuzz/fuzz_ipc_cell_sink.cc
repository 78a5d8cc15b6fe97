// fuzz/fuzz_ipc_cell_sink.cc: the CellSink server interface (proto/channel_circuit.capnp) fed
// arbitrary batches by a hostile peer daemon (fuzz/ipc_sink_fuzz.h), as circuitd receives them.
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;
using ipc::ChannelCircuitTraits;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::fuzzBoundary<ChannelCircuitTraits>(data, size, &ChannelCircuitTraits::admitFromChanneld,
                                           &ChannelCircuitTraits::admitFromCircuitd);
  return 0;
}

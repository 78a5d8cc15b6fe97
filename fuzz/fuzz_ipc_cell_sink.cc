// fuzz/fuzz_ipc_cell_sink.cc: the CellSink server interface (proto/channel_circuit.capnp) fed
// arbitrary batches by a hostile peer daemon (fuzz/ipc_sink_fuzz.h).
#include "fuzz/ipc_sink_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onionsplit::fuzz::fuzzSink<onionsplit::ipc::ChannelCircuitTraits>(data, size);
  return 0;
}

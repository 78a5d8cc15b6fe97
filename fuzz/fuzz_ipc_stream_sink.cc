// fuzz/fuzz_ipc_stream_sink.cc: the StreamSink server interface (proto/circuit_stream.capnp) fed
// arbitrary batches by a hostile peer daemon (fuzz/ipc_sink_fuzz.h).
#include "fuzz/ipc_sink_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  onionsplit::fuzz::fuzzSink<onionsplit::ipc::StreamTraits>(data, size);
  return 0;
}

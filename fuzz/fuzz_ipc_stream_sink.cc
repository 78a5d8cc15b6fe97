// fuzz/fuzz_ipc_stream_sink.cc: the StreamSink server interface (proto/circuit_stream.capnp) fed
// arbitrary batches by a hostile peer daemon (fuzz/ipc_sink_fuzz.h), as streamd receives them
// from circuitd.
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;
using ipc::Side;
using ipc::StreamTraits;

namespace {

ipc::Verdict fromCircuitd(proto::StreamEvent::Reader e) {
  return StreamTraits::admit(Side::kCircuitd, Side::kStreamd, e);
}
ipc::Verdict fromStreamd(proto::StreamEvent::Reader e) {
  return StreamTraits::admit(Side::kStreamd, Side::kCircuitd, e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::fuzzBoundary<StreamTraits>(data, size, &fromCircuitd, &fromStreamd);
  return 0;
}

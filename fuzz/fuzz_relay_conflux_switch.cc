// fuzz/fuzz_relay_conflux_switch.cc: cell::decodeConfluxSwitch(in) fed arbitrary bytes (what a
// hostile peer can put in a cell); accepted input must round-trip through the encoder
// (fuzz/codec_roundtrip.h).
#include "common/cell/relay.h"
#include "fuzz/codec_roundtrip.h"

using namespace onionsplit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::checkRoundTrip(
      data, size, [](Bytes in) { return cell::decodeConfluxSwitch(in); },
      [](const auto& m, Writer& w) { return cell::encodeConfluxSwitch(m, w); });
  return 0;
}

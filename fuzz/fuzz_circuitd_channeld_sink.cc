// fuzz/fuzz_circuitd_channeld_sink.cc: circuitd's real handler of the channeld boundary
// (circuitd/net/reactor.h ChanneldSession, proto/channel_circuit.capnp) fed arbitrary batches by a
// hostile channeld (fuzz/ipc_sink_fuzz.h): cells or messages for circuits that exist or not,
// CREATEs with garbage handshakes, closes out of place. A fresh Reactor per input; channel 1 is
// announced first (`opened`, from a relay), as channeld does before its first cell, so the input's
// cells on it reach real circuits. A violation just ends the connection: a fine outcome.
#include <array>
#include <cstring>

#include "circuitd/net/reactor.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;

namespace {

// channeld's announcement of channel 1, from a relay (its RSA identity known), pushed to the
// session before anything of the input. Control events carry no credit.
void announceChannel(ipc::Session<ipc::ChannelCircuitTraits>& session) {
  auto req = session.makeLocalSink().pushRequest();
  auto e = req.initBatch().initEvents(1)[0];
  e.setChannel(1);
  std::array<uint8_t, 20> rsa;
  rsa.fill(0x71);
  e.initOpened().setPeerRsaId(capnp::Data::Reader(rsa.data(), rsa.size()));
  req.send().then([](auto&&) {}, [](kj::Exception&&) {}).wait(fuzz::fuzzLoop().waitScope());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::fuzzLoop();  // before any session: they live on its KJ loop
  circuitd::OnionIdentity id;
  id.onionKeys.push_back(*crypto::Curve25519Keypair::fromSecret(Bytes(id.edId)));
  uint64_t now = 1;
  circuitd::Reactor reactor(
      id, circuitd::CircuitParams{}, [](MutBytes o) { std::memset(o.data(), 1, o.size()); },
      [&now] { return now += 1000; });
  reactor.setStreamdLookup([] { return nullptr; });
  fuzz::fuzzSink<ipc::ChannelCircuitTraits>(
      data, size,
      [&reactor](std::function<void()> drop) {
        auto s = std::make_unique<circuitd::ChanneldSession>(reactor, std::move(drop));
        announceChannel(*s);
        return s;
      },
      &ipc::ChannelCircuitTraits::admitFromCircuitd);
  return 0;
}

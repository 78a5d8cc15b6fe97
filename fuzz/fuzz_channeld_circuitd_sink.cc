// fuzz/fuzz_channeld_circuitd_sink.cc: channeld's real handler of the circuitd boundary
// (channeld/net/circuitd_link.h CircuitdSession, proto/channel_circuit.capnp) fed arbitrary
// batches by a hostile circuitd (fuzz/ipc_sink_fuzz.h): cells for circuits that exist or not,
// extends for circuits that exist, wait for one already, or never existed, closes out of place.
// Channels 1 (a client's) and 2 (a relay's) are open with circuits 1-3 on each; extends are
// answered at once, alternately with channel 2 and with a failure. A fresh link per input.
#include "channeld/net/circuitd_link.h"
#include "fuzz/channeld_fuzz.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;
using namespace onionsplit::channeld;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using Traits = ipc::ChannelCircuitTraits;
  ipc::EventLoop* loop = &fuzz::fuzzLoop();
  fuzz::FakeChannels channels;
  channels.add(ChannelInfo{}, false);  // 1
  ChannelInfo relay;
  relay.peer.emplace();
  relay.peer->rsaId.fill(2);
  channels.add(relay, true);  // 2
  int answers = 0;
  CircuitdLinkConfig cfg;
  cfg.allowPrivate = true;
  cfg.maxFlows = 16;
  CircuitdLink link(
      channels,
      [&answers](const OutboundTarget&, OutboundChannels::Done done) {
        if (++answers % 2)
          done(OutboundChannels::Result{2, {}});
        else
          done(OutboundChannels::Result{std::nullopt, "refused"});
      },
      cfg);
  bool dropped = false;
  auto ours = link.makeSession(0, [&] { dropped = true; });
  // circuitd's side as an honest peer would be: it checks what channeld sends and takes every
  // circuit, so the input's events meet open flows.
  auto peer = std::make_unique<fuzz::AcceptingSession<Traits>>("channeld",
                                                               &Traits::admitFromChanneld, nullptr);
  fuzz::pairUp(*ours, *peer);
  link.attached(0);
  uint8_t payload[cell::kCellPayloadLen] = {};
  for (ChannelId ch : {1u, 2u})
    for (uint32_t circ = 1; circ <= 3; ++circ)
      link.cell(ch, circ, static_cast<uint8_t>(cell::CellCmd::kCreate2), Bytes(payload));
  fuzz::turnLoop(2);
  fuzz::pushBatches<Traits>(ours->makeLocalSink(), data, size, dropped);
  kj::evalLater([] {}).wait(loop->waitScope());
  ours.reset();
  peer.reset();
  kj::evalLater([] {}).wait(loop->waitScope());
  return 0;
}

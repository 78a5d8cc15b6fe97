// fuzz/fuzz_confluxd_streamd_sink.cc: confluxd's real handler of the streamd boundary
// (confluxd/net/reactor.h StreamdSession, proto/conflux_stream.capnp) fed arbitrary batches by a
// hostile streamd (fuzz/ipc_sink_fuzz.h). So that the input reaches the sets and not only the
// unknown-flow check, each run first links a set the way circuitd would: two legs LINKED and
// acknowledged, their congestion state reported, and a BEGIN on each, so the set's stream side is
// open with streams 1 and 2. Then the input speaks for streamd: messages for that set and others,
// commands streamd may not send, closes, more than the credit allows. The legs then report they can
// send again, so what waited for them is flushed too.
#include <cstring>
#include <memory>

#include "common/cell/relay.h"
#include "confluxd/net/reactor.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;

namespace {

using cell::RelayCmd;

void linkLeg(ipc::PeerSession<ipc::LegTraits>& circuitd, uint64_t leg) {
  cell::ConfluxLinkMsg m;
  m.nonce.fill(0x5a);
  std::array<uint8_t, cell::kRelayBodyMax> body{};
  Writer w{MutBytes(body)};
  if (!cell::encodeConfluxLink(m, w) || !circuitd.pipe.openFlow(leg)) return;
  auto e = circuitd.pipe.add();
  e.setLeg(leg);
  auto l = e.initLink();
  l.setBody(capnp::Data::Reader(w.written().data(), w.written().size()));
  circuitd.pipe.commit(leg, e);
}

void relayOnLeg(ipc::PeerSession<ipc::LegTraits>& circuitd, uint64_t leg, RelayCmd cmd,
                uint16_t stream, Bytes body) {
  if (!circuitd.pipe.canSend(leg)) return;
  auto e = circuitd.pipe.add();
  e.setLeg(leg);
  auto r = e.initRelay();
  r.setStreamId(stream);
  r.setCommand(static_cast<uint8_t>(cmd));
  r.setBody(capnp::Data::Reader(body.data(), body.size()));
  circuitd.pipe.commit(leg, e);
}

void legState(ipc::PeerSession<ipc::LegTraits>& circuitd, uint64_t leg, uint32_t rttUsec,
              bool canSend) {
  auto e = circuitd.pipe.add();
  e.setLeg(leg);
  auto s = e.initState();
  s.setCanSend(canSend);
  s.setCwndCells(124);
  s.setInflightCells(canSend ? 0 : 124);
  s.setRttMinUsec(rttUsec);
  s.setRttEwmaUsec(rttUsec);
  s.setSendmeInc(31);
  circuitd.pipe.flush();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::fuzzLoop();  // before any session: they live on its KJ loop
  conflux::ConfluxParams params;
  params.maxOooqBytes = 64 * 1024;
  uint64_t now = 1;
  confluxd::Reactor reactor(params, [&now] { return now += 1000; });
  bool cdDropped = false, sdDropped = false;
  auto cd = std::make_unique<confluxd::CircuitdSession>(reactor, [&] { cdDropped = true; });
  auto sd = std::make_unique<confluxd::StreamdSession>(reactor, [&] { sdDropped = true; });
  reactor.setStreamdLookup([&sd]() -> confluxd::StreamdSession* { return sd.get(); });
  int linked = 0;
  auto circuitd = std::make_unique<fuzz::AcceptingSession<ipc::LegTraits>>(
      "confluxd (to the fake circuitd)",
      [](proto::LegEvent::Reader e) { return ipc::LegTraits::admitFromConfluxd(e); },
      [&linked](proto::LegEvent::Reader e) { linked += e.isLinked() ? 1 : 0; });
  auto streamd = std::make_unique<fuzz::AcceptingSession<ipc::StreamTraits>>(
      "confluxd (to the fake streamd)",
      [](proto::StreamEvent::Reader e) {
        return ipc::StreamTraits::admit(ipc::Side::kConfluxd, ipc::Side::kStreamd, e);
      },
      nullptr);
  fuzz::pairUp(*cd, *circuitd);
  fuzz::pairUp(*sd, *streamd);

  linkLeg(*circuitd, 1);
  linkLeg(*circuitd, 2);
  for (int i = 0; i < 100 && linked < 2; ++i)
    fuzz::turnLoop(1);
  if (linked != 2) __builtin_trap();  // the setup itself must work, or the target tests nothing
  relayOnLeg(*circuitd, 1, RelayCmd::kConfluxLinkedAck, 0, Bytes());
  relayOnLeg(*circuitd, 2, RelayCmd::kConfluxLinkedAck, 0, Bytes());
  legState(*circuitd, 1, 5000, true);
  legState(*circuitd, 2, 9000, true);
  static const uint8_t kBegin[] = "127.0.0.1:80";
  relayOnLeg(*circuitd, 1, RelayCmd::kBegin, 1, Bytes(kBegin, sizeof kBegin));
  relayOnLeg(*circuitd, 2, RelayCmd::kBegin, 2, Bytes(kBegin, sizeof kBegin));
  fuzz::turnLoop();

  fuzz::pushBatches<ipc::StreamTraits>(sd->pipe.makeLocalSink(), data, size, sdDropped);
  fuzz::turnLoop();
  // The oracle (issue 15): whatever streamd sends, the honest circuitd is never dropped.
  if (cdDropped) __builtin_trap();
  if (!cdDropped) {
    legState(*circuitd, 1, 5000, false);  // the legs block, then open again
    legState(*circuitd, 2, 9000, true);
    fuzz::turnLoop();
    if (cdDropped) __builtin_trap();
  }
  sd.reset();  // streamd goes away with the set open: its legs close
  fuzz::turnLoop();
  cd.reset();
  fuzz::turnLoop(2);
  return 0;
}

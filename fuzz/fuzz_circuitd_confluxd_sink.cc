// fuzz/fuzz_circuitd_confluxd_sink.cc: circuitd's real handler of the confluxd boundary
// (circuitd/net/reactor.h ConfluxdSession, proto/circuit_conflux.capnp) fed arbitrary batches by a
// hostile confluxd (fuzz/ipc_sink_fuzz.h). So that the input reaches real legs and not only the
// unknown-flow check, each run first builds two circuits the way a client would (CREATE2 with
// ntor v3 and a congestion-control request, from a relay's channel) and sends CONFLUX_LINK on both,
// so circuitd has two legs waiting for confluxd. The channel is announced first (`opened`, from a
// relay), as channeld does before a channel's first cell. Then the input speaks for confluxd:
// LINKED with any body, relay messages to send on legs that exist or not, commands confluxd may not
// send, closes, more than the credit allows. A violation just ends that connection: a fine outcome.
// Last the client acknowledges cells with SENDMEs, so what waited for the congestion window goes
// out too.
#include <cstring>
#include <memory>
#include <vector>

#include "circuitd/net/reactor.h"
#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "common/crypto/ntor_handshakes.h"
#include "common/crypto/tor1.h"
#include "fuzz/circuitd_fuzz.h"
#include "fuzz/ipc_sink_fuzz.h"

using namespace onionsplit;

namespace {

using fuzz::filled;

using cell::RelayCmd;

// What each fake peer lets circuitd send it (the boundary's rules, common/ipc/boundaries.h).
ipc::Verdict toStreamd(proto::StreamEvent::Reader e) {
  return ipc::StreamTraits::admit(ipc::Side::kCircuitd, ipc::Side::kStreamd, e);
}

struct Client {
  ipc::PeerSession<ipc::ChannelCircuitTraits>& channeld;
  std::vector<std::pair<uint32_t, crypto::ClientCircuit>> circuits;

  ipc::FlowId flow(uint32_t circ) const { return (ipc::FlowId{1} << 32) | circ; }

  void cell(uint32_t circ, uint8_t command, Bytes payload) {
    auto& p = channeld.pipe;
    // Only a CREATE opens a flow; a circuit circuitd destroyed gets nothing more.
    bool create = command == 10;
    if (!p.isOpen(flow(circ)) && (!create || !p.openFlow(flow(circ)))) return;
    if (!p.canSend(flow(circ))) return;
    auto e = p.add();
    e.setChannel(1);
    auto c = e.initCell();
    c.setCircId(circ);
    c.setCommand(command);
    std::array<uint8_t, cell::kCellPayloadLen> full{};
    if (!payload.empty())
      std::memcpy(full.data(), payload.data(), std::min(payload.size(), full.size()));
    c.setPayload(capnp::Data::Reader(full.data(), full.size()));
    p.commit(flow(circ), e);
  }
  void relay(uint32_t circ, RelayCmd cmd, Bytes body) {
    for (auto& [id, client] : circuits) {
      if (id != circ) continue;
      std::array<uint8_t, cell::kCellPayloadLen> c{};
      cell::encodeRelayCell(MutBytes(c), cmd, 0, body,
                            [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
      crypto::Tor1Digest d{};
      client.originateOutbound(0, crypto::RelayPayload(c), &d);
      cell(circ, 3, Bytes(c));
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::fuzzLoop();  // before any session: they live on its KJ loop
  uint64_t now = 1'000'000;
  std::unique_ptr<circuitd::Reactor> reactorOwner = fuzz::fuzzReactor(now);
  circuitd::Reactor& reactor = *reactorOwner;
  bool chDropped = false, sdDropped = false, cdDropped = false;
  auto ch = std::make_unique<circuitd::ChanneldSession>(reactor, [&] { chDropped = true; });
  auto sd = std::make_unique<circuitd::StreamdSession>(reactor, [&] { sdDropped = true; });
  auto cd = std::make_unique<circuitd::ConfluxdSession>(reactor, [&] { cdDropped = true; });
  reactor.setStreamdLookup([&sd]() -> circuitd::StreamdSession* { return sd.get(); });
  reactor.setConfluxdLookup([&cd]() -> circuitd::ConfluxdSession* { return cd.get(); });

  std::vector<std::vector<uint8_t>> created;  // CREATED2 payloads, in order
  auto channeld = std::make_unique<fuzz::AcceptingSession<ipc::ChannelCircuitTraits>>(
      "circuitd (to the fake channeld)", &ipc::ChannelCircuitTraits::admitFromCircuitd,
      [&created](proto::ChannelEvent::Reader e) {
        if (e.isCell() && e.getCell().getCommand() == 11) {
          auto p = e.getCell().getPayload();
          created.emplace_back(p.begin(), p.end());
        }
      });
  auto streamd = std::make_unique<fuzz::AcceptingSession<ipc::StreamTraits>>(
      "circuitd (to the fake streamd)", &toStreamd, nullptr);
  int links = 0;
  auto confluxd = std::make_unique<fuzz::AcceptingSession<ipc::LegTraits>>(
      "circuitd (to the fake confluxd)", &ipc::LegTraits::admitFromCircuitd,
      [&links](proto::LegEvent::Reader e) { links += e.isLink() ? 1 : 0; });
  fuzz::pairUp(*ch, *channeld);
  fuzz::pairUp(*sd, *streamd);
  fuzz::pairUp(*cd, *confluxd);

  // Channel 1, from a relay; then two circuits on it with congestion control, each sending
  // CONFLUX_LINK.
  {
    auto e = channeld->pipe.add();
    e.setChannel(1);
    std::array<uint8_t, 20> rsa;
    rsa.fill(0x71);
    e.initOpened().setPeerRsaId(capnp::Data::Reader(rsa.data(), rsa.size()));
    channeld->pipe.flush();
  }
  Client client{*channeld, {}};
  const circuitd::OnionIdentity id = fuzz::fuzzOnionIdentity();
  for (uint32_t circ : {21u, 22u}) {
    crypto::Ntor3ClientState st;
    const std::vector<uint8_t> ccRequest{1, 1, 0};  // one extension: CC_FIELD_REQUEST, empty
    auto hs = crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey),
                                        Bytes(ccRequest), Bytes(filled(static_cast<uint8_t>(circ))),
                                        crypto::kNtor3CircuitVerification, st);
    std::array<uint8_t, cell::kCellPayloadLen> p{};
    Writer w{MutBytes(p)};
    cell::encodeCreate2(cell::Create2{3, Bytes(hs)}, w);
    size_t before = created.size();
    client.cell(circ, 10, Bytes(p));
    for (int i = 0; i < 100 && created.size() == before; ++i)
      fuzz::turnLoop(1);
    if (created.size() == before) __builtin_trap();  // the setup must work
    auto c2 = cell::decodeCreated2(Bytes(created.back()));
    if (!c2) __builtin_trap();
    auto done = crypto::ntor3ClientComplete(st, c2->hdata);
    if (!done) __builtin_trap();
    auto keys = crypto::Tor1Keys::fromKeyMaterial(Bytes(done->keys));
    crypto::ClientCircuit cc;
    if (!keys || !cc.addHop(*keys)) __builtin_trap();
    client.circuits.emplace_back(circ, std::move(cc));
  }
  std::array<uint8_t, 50> link{};
  link.fill(1);
  client.relay(21, RelayCmd::kConfluxLink, Bytes(link));
  client.relay(22, RelayCmd::kConfluxLink, Bytes(link));
  for (int i = 0; i < 100 && links < 2; ++i)
    fuzz::turnLoop(1);
  if (links != 2) __builtin_trap();

  fuzz::pushBatches<ipc::LegTraits>(cd->pipe.makeLocalSink(), data, size, cdDropped);
  fuzz::turnLoop();
  // The client acknowledges (circuit-level SENDME v0: no digest): cells held for the window move.
  for (int i = 0; i < 4 && !chDropped; ++i) {
    client.relay(21, RelayCmd::kSendme, Bytes());
    client.relay(22, RelayCmd::kSendme, Bytes());
    fuzz::turnLoop(2);
  }
  cd.reset();  // confluxd goes away: its legs are destroyed
  fuzz::turnLoop();
  sd.reset();
  ch.reset();
  fuzz::turnLoop(2);
  return 0;
}

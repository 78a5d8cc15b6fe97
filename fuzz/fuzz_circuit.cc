// fuzz/fuzz_circuit.cc: circuitd's circuit (circuitd/core/circuit.h) driven by arbitrary input:
// relay cells a client could send (correctly encrypted, so every header and body reaches FWD's
// dispatch), messages a hostile streamd could send, and the two boundaries' credit going on and
// off. A circuit that destroys itself is rebuilt. Nothing may crash, and queues stay bounded.
#include <cstring>
#include <vector>

#include "circuitd/core/circuit.h"
#include "common/crypto/ntor_handshakes.h"

using namespace onionsplit;
using namespace onionsplit::circuitd;

namespace {

struct Io final : CircuitIo {
  bool cellCredit = true, streamCredit = true;
  size_t cells = 0, delivered = 0;
  bool canSendCell() override { return cellCredit; }
  void sendCell(Bytes) override { ++cells; }
  bool canDeliver() override { return streamCredit; }
  void deliver(uint16_t, uint8_t, Bytes) override { ++delivered; }
  void random(MutBytes out) override { std::memset(out.data(), 7, out.size()); }
};

struct Built {
  crypto::ClientCircuit client;
  std::optional<Circuit> circuit;
};

Built build(bool cc) {
  Built b;
  CircuitParams p;
  uint8_t x[509] = {1, 2, 3};
  std::array<uint8_t, 32> rnd{};
  auto created = answerCreate(5, Bytes(x), OnionIdentity{}, p, Bytes(rnd));
  if (!created) __builtin_trap();
  created->ccEnabled = cc;
  created->sendmeInc = 31;
  auto keys = crypto::fastClientComplete(Bytes(x, 20), Bytes(created->payload.data(), 40));
  if (!keys) __builtin_trap();
  b.client.addHop(*crypto::Tor1Keys::fromKeyMaterial(Bytes(*keys)));
  b.circuit = Circuit::create(*created, p);
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(Bytes(data, size));
  Built b = build(size > 0 && (data[0] & 1));
  Io io;
  uint64_t now = 1000;
  for (int steps = 0; steps < 256 && !in.empty(); ++steps) {
    now += 997;
    uint8_t op = in.u8("op");
    switch (op % 5) {
      case 0: {  // a client cell: header and body from the input, crypto done right
        std::array<uint8_t, 509> cell{};
        Bytes body = in.bytes(std::min<size_t>(in.remaining(), 1 + (op >> 3) * 16), "cell");
        if (!body.empty()) std::memcpy(cell.data(), body.data(), body.size());
        cell[1] = cell[2] = 0;  // recognized
        crypto::Tor1Digest d{};
        b.client.originateOutbound(0, crypto::RelayPayload(cell), &d);
        if (b.circuit->fromClient(op & 0x80, std::span<uint8_t, 509>(cell), now, io) ==
            Circuit::Fwd::kDestroy)
          b = build(op & 2);
        break;
      }
      case 1: {  // a message from the stream side
        uint16_t stream = in.u16("stream");
        uint8_t cmd = in.u8("cmd");
        Bytes body = in.bytes(std::min<size_t>(in.remaining(), in.u8("len") * 2u), "body");
        (void)b.circuit->fromStreams(stream, cmd, body, now, io);
        break;
      }
      case 2:
        io.cellCredit = op & 8;
        io.streamCredit = op & 16;
        break;
      case 3:
        (void)b.circuit->pump(now, io);
        (void)b.circuit->drainHeld(io);
        break;
      default: {  // the client's view of what came back is not modelled; a garbage cell
        std::array<uint8_t, 509> cell{};
        cell.fill(op);
        if (b.circuit->fromClient(false, std::span<uint8_t, 509>(cell), now, io) ==
            Circuit::Fwd::kDestroy)
          b = build(op & 2);
      }
    }
    if (b.circuit->queued() > 72 || b.circuit->held() > 64) __builtin_trap();
  }
  return 0;
}

// fuzz/fuzz_circuit.cc: circuitd's circuit (circuitd/core/circuit.h) driven by arbitrary input:
// relay cells a client could send (correctly encrypted, so every header and body reaches FWD's
// handler chain), messages a hostile streamd could send, the middle role (a well-formed EXTEND2,
// the extend's outcome, cells from the next hop and cells for it), and the boundaries' credit going
// on and off. A
// circuit that destroys itself is rebuilt. Each message a peer daemon sent carries a CreditToken,
// minted only within that peer's window (64 messages a flow: what the pipe allows). Nothing may
// crash; every token comes back once its circuit is gone; the circuit never dies of an internal
// error (its "not possible" paths) nor sends the client an END with reason 0 (bug 41353).
#include <cstring>
#include <memory>
#include <vector>

#include "circuitd/core/circuit.h"
#include "common/cell/relay.h"
#include "common/crypto/ntor_handshakes.h"
#include "common/flowctl/credit_token.h"

using namespace onionsplit;
using namespace onionsplit::circuitd;

namespace {

using cell::RelayCmd;

// The flows whose credit the circuit's messages carry.
enum Flow : flowctl::FlowId { kClientFlow, kStreamFlow, kNextHopFlow, kFlows };
constexpr size_t kWindow = 64;  // messages a flow (ipc::defaultWindows().flowMessages)

// The receivers' ledger: tokens minted and returned, per flow.
struct Ledger final : flowctl::CreditLedger {
  std::array<size_t, kFlows> minted{}, returned{};
  flowctl::LedgerHandle handle = std::make_shared<flowctl::CreditLedger*>(this);

  Ledger() = default;
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;
  ~Ledger() { *handle = nullptr; }
  void release(flowctl::FlowId flow, uint32_t) override {
    if (flow >= kFlows || ++returned[flow] > minted[flow]) __builtin_trap();  // returned twice
  }
  size_t outstanding(Flow f) const { return minted[f] - returned[f]; }
  // A peer sends only within its window: no token beyond it.
  bool mayMint(Flow f) const { return outstanding(f) < kWindow; }
  CreditToken token(Flow f) {
    ++minted[f];
    return CreditToken(handle, f, 1);
  }
  bool allBack() const { return minted == returned; }
};

struct Io final : CircuitIo {
  bool cellCredit = true, streamCredit = true, nextCredit = true;
  Delivery answer;                          // what the shell makes of each delivered message
  crypto::ClientCircuit* client = nullptr;  // decrypts what the circuit sends
  size_t cells = 0, delivered = 0, forwarded = 0, extends = 0, nextHopDestroyed = 0;
  size_t drops = 0;
  void droppedCell() override { ++drops; }
  bool canSendCell() override { return cellCredit; }
  void sendCell(Bytes p) override {
    ++cells;
    std::array<uint8_t, cell::kCellPayloadLen> c{};
    std::memcpy(c.data(), p.data(), c.size());
    crypto::Tor1Digest d{};
    // Cells relayed from the next hop are not ours to recognize; ours must decode.
    if (!client->receiveInbound(crypto::RelayPayload(c), &d)) return;
    auto v = cell::decodeRelayCell(Bytes(c));
    if (!v) __builtin_trap();
    if (v->header.command == static_cast<uint8_t>(RelayCmd::kEnd) && !v->body.empty() &&
        v->body[0] == 0)
      __builtin_trap();  // END with reason 0 (bug 41353)
  }
  bool canDeliver() override { return streamCredit; }
  Delivery deliver(cell::StreamId, uint8_t, Bytes) override {
    ++delivered;
    return answer;
  }
  void random(MutBytes out) override { std::memset(out.data(), 7, out.size()); }
  bool canSendNext() override { return nextCredit; }
  void sendNext(bool, Bytes) override { ++forwarded; }
  void extend(ExtendTarget) override { ++extends; }
  void destroyNextHop(uint8_t) override { ++nextHopDestroyed; }
};

struct Built {
  crypto::ClientCircuit client;
  std::optional<Circuit> circuit;
};

void build(Built& b, bool cc) {
  b = Built{};
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
  // A hop beyond ours, as the client would have after an extend: its cells are not ours to
  // recognize (forwarded, or PROTOCOL without a next hop), and they keep the client's cipher for
  // our hop in step with ours.
  std::array<uint8_t, crypto::kTor1KeyMaterialLen> beyond;
  beyond.fill(0x5b);
  b.client.addHop(*crypto::Tor1Keys::fromKeyMaterial(Bytes(beyond)));
  b.circuit = Circuit::create(*created, p);
  if (!b.circuit) __builtin_trap();
  HopIdentities ids;
  ids.prevRsa.emplace();
  ids.prevRsa->fill(0x01);
  ids.ourRsa.fill(0x11);
  ids.ourEd.fill(0x22);
  b.circuit->setHopIdentities(ids);
}

// A core call's result, as the shell takes it: a dead circuit is destroyed (and its credit must
// all come back), then a new one is built. Called after the call's full expression, so that the
// token it was given is gone.
void settle(bool alive, Built& b, const Ledger& ledger, bool cc) {
  if (alive) return;
  if (b.circuit->destroyReason() == cell::DestroyReason::kInternal) __builtin_trap();
  b.circuit.reset();
  if (!ledger.allBack()) __builtin_trap();  // a token kept by a dead circuit
  build(b, cc);
}

// A client cell: header and body as given, encrypted for our hop so that it is recognized.
bool clientCell(Built& b, Io& io, Ledger& ledger, bool early, Bytes content, uint64_t now) {
  std::array<uint8_t, cell::kCellPayloadLen> cell{};
  if (!content.empty())  // an empty span's data() may be null, which memcpy may not get
    std::memcpy(cell.data(), content.data(), std::min(content.size(), cell.size()));
  cell[1] = cell[2] = 0;  // recognized
  crypto::Tor1Digest d{};
  b.client.originateOutbound(0, crypto::RelayPayload(cell), &d);
  return b.circuit->fromClient(early, std::span<uint8_t, 509>(cell), now, io,
                               ledger.token(kClientFlow));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(Bytes(data, size));
  Ledger ledger;  // before the circuit: its tokens go back to it
  Built b;
  build(b, size > 0 && (data[0] & 1));
  Io io;
  io.client = &b.client;
  uint64_t now = 1000;
  for (int steps = 0; steps < 256 && !in.empty(); ++steps) {
    now += 997;
    uint8_t op = in.u8("op");
    switch (op % 5) {
      case 0: {  // a client cell: header and body from the input, crypto done right
        Bytes body = in.bytes(std::min<size_t>(in.remaining(), 1 + (op >> 3) * 16), "cell");
        if (!ledger.mayMint(kClientFlow)) break;  // channeld waits for credit
        settle(clientCell(b, io, ledger, op & 0x80, body, now), b, ledger, op & 2);
        break;
      }
      case 1: {  // a message from the stream side (within what its boundary admits)
        uint16_t stream = in.u16("stream");
        uint8_t cmd = in.u8("cmd");
        Bytes body = in.bytes(
            std::min<size_t>({in.remaining(), in.u8("len") * 2u, cell::kRelayBodyMax}), "body");
        if (!ledger.mayMint(kStreamFlow)) break;
        bool alive = b.circuit->fromStreams(stream, cmd, body, now, io, ledger.token(kStreamFlow),
                                            op & 0x80);
        settle(alive, b, ledger, op & 2);
        break;
      }
      case 2:
        io.cellCredit = op & 8;
        io.streamCredit = op & 16;
        io.nextCredit = op & 32;
        switch (op >> 6) {  // what the shell makes of the next delivered message
          case 2:
            io.answer = {Delivery::kRefused, static_cast<uint8_t>(op & 7)};  // 0 too: mapped
            break;
          case 3:
            io.answer = {Delivery::kDestroy,
                         static_cast<uint8_t>(cell::DestroyReason::kResourceLimit)};
            break;
          default:
            io.answer = {};
        }
        break;
      case 3:
        settle(b.circuit->pump(now, io), b, ledger, op & 2);
        settle(b.circuit->drainHeld(now, io), b, ledger, op & 2);
        break;
      default:
        switch ((op >> 5) & 3) {
          case 0: {  // a cell for the hop beyond ours: garbage to us
            if (!ledger.mayMint(kClientFlow)) break;
            std::array<uint8_t, 509> cell{};
            cell.fill(op);
            crypto::Tor1Digest d{};
            b.client.originateOutbound(1, crypto::RelayPayload(cell), &d);
            bool alive = b.circuit->fromClient(false, std::span<uint8_t, 509>(cell), now, io,
                                               ledger.token(kClientFlow));
            settle(alive, b, ledger, op & 2);
            break;
          }
          case 1: {  // a well-formed EXTEND2 (ntor) in RELAY_EARLY, to an address of the input
            std::array<uint8_t, 6> v4{};
            Bytes a = in.bytes(std::min<size_t>(in.remaining(), v4.size()), "v4");
            if (!a.empty()) std::memcpy(v4.data(), a.data(), a.size());
            v4[0] |= 1;
            v4[5] |= 1;
            std::array<uint8_t, 20> rsa;
            rsa.fill(static_cast<uint8_t>(0x40 | (op & 0x81)));
            std::array<uint8_t, 84> hdata{};
            cell::Extend2Msg m;
            m.specs[m.specCount++] = {cell::LinkSpecifier::kIpv4, Bytes(v4)};
            m.specs[m.specCount++] = {cell::LinkSpecifier::kRsaId, Bytes(rsa)};
            m.htype = 2;
            m.hdata = Bytes(hdata);
            std::array<uint8_t, cell::kRelayBodyMax> body{};
            Writer w{MutBytes(body)};
            if (!cell::encodeExtend2(m, w)) __builtin_trap();
            std::array<uint8_t, cell::kCellPayloadLen> c{};
            cell::encodeRelayCell(MutBytes(c), RelayCmd::kExtend2, 0, w.written(),
                                  [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
            if (!ledger.mayMint(kClientFlow)) break;
            settle(clientCell(b, io, ledger, true, Bytes(c), now), b, ledger, op & 2);
            break;
          }
          case 2: {  // a cell from the next hop: CREATED2 or RELAY, any payload
            Bytes p = in.bytes(std::min<size_t>(in.remaining(), 1 + (op & 0x1f) * 16), "next");
            std::array<uint8_t, cell::kCellPayloadLen> c{};
            if (!p.empty()) std::memcpy(c.data(), p.data(), p.size());
            if (!ledger.mayMint(kNextHopFlow)) break;
            bool alive = b.circuit->fromNextHop(op & 0x80 ? 11 : 3, std::span<uint8_t, 509>(c), io,
                                                ledger.token(kNextHopFlow));
            settle(alive, b, ledger, op & 2);
            break;
          }
          default:
            switch ((op / 5) % 3) {
              case 0:  // channeld's answer to the extend
                if (b.circuit->extendResult(op & 0x80) == Middle::Extended::kFailed)
                  settle(false, b, ledger, op & 2);
                break;
              case 1: {  // the shell ends a stream (its stream side went away)
                uint16_t stream = in.u16("stream");
                settle(b.circuit->endStream(stream, in.u8("reason")), b, ledger, op & 2);
                break;
              }
              default: {  // confluxd's LINKED for a leg
                Bytes body = in.bytes(std::min<size_t>(in.remaining(), in.u8("len")), "linked");
                if (!ledger.mayMint(kStreamFlow)) break;
                bool alive = b.circuit->linked(body, now, io, ledger.token(kStreamFlow));
                settle(alive, b, ledger, op & 2);
              }
            }
        }
    }
    if (b.circuit->held() > kWindow) __builtin_trap();
    if (ledger.outstanding(kClientFlow) > kWindow || ledger.outstanding(kStreamFlow) > kWindow ||
        ledger.outstanding(kNextHopFlow) > kWindow)
      __builtin_trap();
  }
  b.circuit.reset();
  if (!ledger.allBack()) __builtin_trap();
  return 0;
}

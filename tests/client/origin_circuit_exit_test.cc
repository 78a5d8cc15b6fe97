// tests/client/origin_circuit_exit_test.cc: the test client's circuit core against onionsplit's
// own exit circuit core in memory. client/origin_circuit.h builds a two-hop circuit whose middle is
// a bare RelayLayer (as in origin_circuit_test.cc) and whose exit is circuitd/core's Circuit,
// created by circuitd's answerCreate from the EXTEND2's ntor v3 handshake. The exit then sends many
// DATA cells under its Vegas window; every one must arrive in order, and the client's SENDME v1
// tags must be the ones circuitd checks (a wrong tag would DESTROY the circuit), so the window
// keeps opening and grows. Run twice: with tor1 at the exit, and with the client asking the exit
// for CGO (its SUBPROTO request), so that the circuit mixes a tor1 middle and a CGO exit with v1
// cells and CGO's SENDME tags.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "circuitd/core/circuit.h"
#include "client/origin_circuit.h"
#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "tests/client/test_bytes.h"
#include "tests/common/flowctl/counting_ledger.h"

namespace onionsplit::client {
namespace {

using cell::RelayCmd;
using Payload = std::array<uint8_t, cell::kCellPayloadLen>;

using testing::counterRandom;
using testing::fill32;

struct ExitIo final : circuitd::CircuitIo {
  std::deque<Payload> cells;
  std::vector<std::pair<uint8_t, uint16_t>> delivered;
  size_t drops = 0;
  void droppedCell() override { ++drops; }
  bool canSendCell() override { return true; }
  void sendCell(Bytes p) override {
    Payload c{};
    std::memcpy(c.data(), p.data(), c.size());
    cells.push_back(c);
  }
  bool canDeliver() override { return true; }
  circuitd::Delivery deliver(uint16_t s, uint8_t c, Bytes) override {
    delivered.emplace_back(c, s);
    return {};
  }
  void random(MutBytes out) override { counterRandom(out); }
  // An exit circuit has no next hop.
  bool canSendNext() override { return false; }
  void sendNext(bool, Bytes) override { ADD_FAILURE() << "an exit circuit forwards nothing"; }
  void extend(circuitd::ExtendTarget) override { ADD_FAILURE() << "no EXTEND2 was sent"; }
  void destroyNextHop(uint8_t) override { ADD_FAILURE() << "no next hop to destroy"; }
};

// The credit of the peers' messages (streamd's DATA, channeld's SENDME cells).
using Ledger = flowctl::testing::CountingLedger;
constexpr flowctl::FlowId kChanneldFlow = 1;
constexpr flowctl::FlowId kStreamdFlow = 2;

class OriginCircuitAgainstCircuitd : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(ExitCrypto, OriginCircuitAgainstCircuitd, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("Cgo") : std::string("Tor1");
                         });

TEST_P(OriginCircuitAgainstCircuitd, ManyDataCellsUnderVegasWithAuthenticatedSendmes) {
  const bool cgo = GetParam();
  // The middle: ntor server and a bare layer.
  RelayInfo middle;
  middle.rsaId.fill(0x10);
  auto middleOnion = *crypto::Curve25519Keypair::fromSecret(Bytes(fill32(0x12)));
  middle.ntorKey = middleOnion.publicKey;
  // The exit: circuitd's identity.
  circuitd::OnionIdentity exitId;
  exitId.rsaId.fill(0x20);
  exitId.edId = fill32(0x21);
  exitId.onionKeys.push_back(*crypto::Curve25519Keypair::fromSecret(Bytes(fill32(0x22))));
  RelayInfo exit;
  exit.ipv4 = {127, 0, 0, 2};
  exit.orPort = 9001;
  exit.rsaId = exitId.rsaId;
  exit.edId = exitId.edId;
  exit.ntorKey = exitId.onionKeys[0].publicKey;
  circuitd::CircuitParams params;

  OriginCircuit client{counterRandom};
  client.requestCgo(cgo);
  Payload create = client.create2(middle);
  auto c2 = cell::decodeCreate2(Bytes(create));
  ASSERT_TRUE(c2);
  auto srv = crypto::ntorServer(Bytes(middle.rsaId),
                                std::span<const crypto::Curve25519Keypair>(&middleOnion, 1),
                                c2->hdata, Bytes(fill32(0x31)));
  ASSERT_TRUE(srv);
  auto mid = crypto::RelayLayer::create(*crypto::Tor1Keys::fromKeyMaterial(Bytes(srv->keys)));
  ASSERT_TRUE(mid);
  Payload created{};
  Writer cw{MutBytes(created)};
  ASSERT_TRUE(cell::encodeCreated2(cell::Created2{Bytes(srv->reply)}, cw));
  ASSERT_FALSE(client.onCreated2(Bytes(created)));

  // EXTEND2 → the middle's CREATE2 → circuitd answers → EXTENDED2.
  Payload ext{};
  ASSERT_TRUE(client.extend(exit, crypto::RelayPayload(ext)));
  crypto::Tor1Digest d{};
  ASSERT_EQ(mid->processOutbound(crypto::RelayPayload(ext), &d, true),
            crypto::RelayLayer::Outbound::kRecognized);
  auto e2 = cell::decodeExtend2(cell::decodeRelayCell(Bytes(ext))->body);
  ASSERT_TRUE(e2);
  auto check =
      circuitd::checkExtend2(cell::decodeRelayCell(Bytes(ext))->body, circuitd::HopIdentities{});
  ASSERT_TRUE(check) << "circuitd's EXTEND2 checks accept the client's link specifiers";
  std::vector<uint8_t> create2(cell::kCellPayloadLen);
  Writer c2w{MutBytes(create2)};
  ASSERT_TRUE(cell::encodeCreate2(cell::Create2{check->htype, Bytes(check->hdata)}, c2w));
  auto answered = circuitd::answerCreate(static_cast<uint8_t>(cell::CellCmd::kCreate2),
                                         Bytes(create2), exitId, params, Bytes(fill32(0x41)));
  ASSERT_TRUE(answered);
  EXPECT_TRUE(answered->ccEnabled);
  EXPECT_EQ(answered->cgo, cgo);
  auto exitCirc = circuitd::Circuit::create(*answered, params);
  ASSERT_TRUE(exitCirc);
  auto reply = cell::decodeCreated2(Bytes(answered->payload));
  ASSERT_TRUE(reply);
  std::array<uint8_t, cell::kRelayBodyMax> eb{};
  Writer ew{MutBytes(eb)};
  ASSERT_TRUE(cell::encodeExtended2(cell::Extended2Msg{reply->hdata}, ew));
  Payload extended{};
  ASSERT_TRUE(cell::encodeRelayCell(MutBytes(extended), RelayCmd::kExtended2, 0, ew.written(),
                                    counterRandom));
  ASSERT_TRUE(mid->originateInbound(crypto::RelayPayload(extended), nullptr));
  ASSERT_EQ(client.onRelay(crypto::RelayPayload(extended)).kind, Inbound::kExtended);
  ASSERT_TRUE(client.ccEnabled());
  EXPECT_EQ(client.lastHopCgo(), cgo);
  EXPECT_EQ(exitCirc->isCgo(), cgo);
  EXPECT_EQ(client.sendmeInc(), exitCirc->sendmeInc());

  // The exit sends 20000 DATA cells (each carrying its index) as fast as its window allows.
  Ledger ledger;  // before the circuit's tokens
  ExitIo io;
  uint64_t now = 1'000'000;
  const uint32_t total = 20000;
  uint32_t queued = 0, received = 0;
  const uint64_t cwnd0 = exitCirc->vegas()->cwnd();
  for (int round = 0; round < 100000 && received < total; ++round) {
    while (queued < total && !exitCirc->bwdWaiting()) {
      uint8_t body[4] = {static_cast<uint8_t>(queued >> 24), static_cast<uint8_t>(queued >> 16),
                         static_cast<uint8_t>(queued >> 8), static_cast<uint8_t>(queued)};
      ASSERT_TRUE(exitCirc->fromStreams(1, static_cast<uint8_t>(RelayCmd::kData), Bytes(body, 4),
                                        now, io, ledger.token(kStreamdFlow)));
      ++queued;
    }
    now += 200;  // the path's delay per round
    while (!io.cells.empty()) {
      Payload c = io.cells.front();
      io.cells.pop_front();
      ASSERT_TRUE(mid->relayInbound(crypto::RelayPayload(c)));
      Inbound in = client.onRelay(crypto::RelayPayload(c));
      ASSERT_EQ(in.kind, Inbound::kMessage) << in.error;
      ASSERT_EQ(in.cmd, static_cast<uint8_t>(RelayCmd::kData));
      ASSERT_EQ(in.body.size(), 4u);
      uint32_t idx = (uint32_t{in.body[0]} << 24) | (uint32_t{in.body[1]} << 16) |
                     (uint32_t{in.body[2]} << 8) | in.body[3];
      ASSERT_EQ(idx, received) << "in order";
      ++received;
      if (client.sendmeDue()) {
        Payload s{};
        ASSERT_TRUE(client.originateSendme(crypto::RelayPayload(s)));
        crypto::Tor1Digest sd{};
        ASSERT_EQ(mid->processOutbound(crypto::RelayPayload(s), &sd),
                  crypto::RelayLayer::Outbound::kNotRecognized);
        ASSERT_TRUE(exitCirc->fromClient(false, std::span<uint8_t, cell::kCellPayloadLen>(s), now,
                                         io, ledger.token(kChanneldFlow)))
            << "circuitd accepts the SENDME (destroy reason "
            << static_cast<int>(exitCirc->destroyReason()) << ")";
      }
    }
    ASSERT_TRUE(exitCirc->pump(now, io));
  }
  EXPECT_EQ(received, total);
  EXPECT_EQ(client.sendmesSent(), total / client.sendmeInc());
  EXPECT_GT(exitCirc->vegas()->cwnd(), cwnd0) << "the window grew on our SENDMEs";
  EXPECT_TRUE(io.delivered.empty()) << "SENDMEs are circuitd's, nothing went to the stream side";
  EXPECT_EQ(ledger.returned[kStreamdFlow], total) << "every DATA's credit went back when sent";
  EXPECT_EQ(ledger.returned[kChanneldFlow], client.sendmesSent()) << "and every SENDME's";

  // Client to exit: a BEGIN and the largest DATA the exit's format holds reach the stream side.
  Payload begin{};
  uint8_t target[] = "a:80\0";
  ASSERT_TRUE(client.originate(static_cast<uint8_t>(RelayCmd::kBegin), 3, Bytes(target, 5),
                               crypto::RelayPayload(begin)));
  std::vector<uint8_t> data(cgo ? 488 : 498, 0x61);
  Payload dc{};
  ASSERT_TRUE(client.originate(static_cast<uint8_t>(RelayCmd::kData), 3, Bytes(data),
                               crypto::RelayPayload(dc)));
  data.push_back(0x62);
  Payload over{};
  EXPECT_FALSE(client.originate(static_cast<uint8_t>(RelayCmd::kData), 3, Bytes(data),
                                crypto::RelayPayload(over)))
      << "one byte over the format's room";
  for (Payload* p : {&begin, &dc}) {
    crypto::Tor1Digest pd{};
    ASSERT_EQ(mid->processOutbound(crypto::RelayPayload(*p), &pd),
              crypto::RelayLayer::Outbound::kNotRecognized);
    ASSERT_TRUE(exitCirc->fromClient(false, std::span<uint8_t, cell::kCellPayloadLen>(*p), now, io,
                                     ledger.token(kChanneldFlow)));
  }
  ASSERT_EQ(io.delivered.size(), 2u);
  EXPECT_EQ(io.delivered[0], std::make_pair(static_cast<uint8_t>(RelayCmd::kBegin), uint16_t{3}));
  EXPECT_EQ(io.delivered[1], std::make_pair(static_cast<uint8_t>(RelayCmd::kData), uint16_t{3}));
}

}  // namespace
}  // namespace onionsplit::client

// Tests for circuitd/core/circuit.h: CREATE handshakes against the client sides, then a circuit
// driven as a C tor client drives it: stream messages both ways, circuit SENDMEs (authenticated,
// both directions), the congestion window and the classic window, every refusal path, the middle
// role, and the credit each waiting message holds (issue 15: a token that goes back when the
// message leaves, and circuit answers that never take a slot of the stream side's window).
#include "circuitd/core/circuit.h"
#include "circuitd/core/net_params.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <functional>
#include <map>

#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "common/crypto/ntor_handshakes.h"
#include "common/flowctl/credit_token.h"
#include "common/ipc/relay_commands.h"
#include "tests/common/flowctl/counting_ledger.h"

namespace onionsplit::circuitd {
namespace {

using cell::DestroyReason;
using cell::RelayCmd;
constexpr uint8_t r(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

// The flows whose credit the circuit's messages carry.
constexpr flowctl::FlowId kClientFlow = 1;  // channeld's, for the client's cells
constexpr flowctl::FlowId kStreamFlow = 2;  // streamd's (or confluxd's), for messages to the client
constexpr flowctl::FlowId kNextHopFlow = 3;  // channeld's, for the next hop's cells

using Ledger = flowctl::testing::CountingLedger;

struct Msg {
  uint16_t stream;
  uint8_t command;
  std::vector<uint8_t> body;
};

// The shell's side, recorded.
struct RecordingIo final : CircuitIo {
  bool cellCredit = true, streamCredit = true;
  int deliverBudget = -1;  // messages the stream side takes before its credit ends (-1: no end)
  Delivery answer;         // what the shell makes of each delivered message
  std::function<void(const Msg&)> onDeliver;
  std::deque<std::array<uint8_t, 509>> cells;
  std::vector<Msg> delivered;
  size_t drops = 0;  // DROP messages the circuit reported
  void droppedCell() override { ++drops; }
  std::vector<uint8_t> onionServiceCells;  // dropped ESTABLISH_INTRO and the like, by command
  void unservedOnionServiceCell(uint8_t command) override { onionServiceCells.push_back(command); }
  bool canSendCell() override { return cellCredit; }
  void sendCell(Bytes p) override {
    std::array<uint8_t, 509> c{};
    std::memcpy(c.data(), p.data(), 509);
    cells.push_back(c);
  }
  bool canDeliver() override { return streamCredit && deliverBudget != 0; }
  Delivery deliver(cell::StreamId s, uint8_t c, Bytes b) override {
    if (deliverBudget > 0) --deliverBudget;
    delivered.push_back({s, c, std::vector<uint8_t>(b.begin(), b.end())});
    if (onDeliver) onDeliver(delivered.back());
    return answer;
  }
  void random(MutBytes out) override { std::memset(out.data(), 0x5a, out.size()); }
  // The next hop (a middle's circuit).
  bool nextCredit = true;
  std::deque<std::pair<bool, std::array<uint8_t, 509>>> forwarded;  // (RELAY_EARLY, payload)
  std::vector<ExtendTarget> extends;
  std::vector<uint8_t> nextHopDestroyed;  // the reasons of destroyNextHop
  bool canSendNext() override { return nextCredit; }
  void sendNext(bool early, Bytes p) override {
    std::array<uint8_t, 509> c{};
    std::memcpy(c.data(), p.data(), 509);
    forwarded.emplace_back(early, c);
  }
  void extend(ExtendTarget t) override { extends.push_back(std::move(t)); }
  void destroyNextHop(uint8_t reason) override { nextHopDestroyed.push_back(reason); }
};

std::array<uint8_t, 32> fill(uint8_t v) {
  std::array<uint8_t, 32> a{};
  a.fill(v);
  return a;
}

struct Fixture : ::testing::Test {
  OnionIdentity id;
  CircuitParams params;
  crypto::ClientCircuit client;
  Ledger ledger;  // before circ: the circuit's tokens go back to it when the circuit goes
  std::optional<Circuit> circ;
  RecordingIo io;
  uint64_t now = 1'000'000;

  Fixture() {
    id.rsaId.fill(0x11);
    id.edId = fill(0x22);
    id.onionKeys.push_back(*crypto::Curve25519Keypair::fromSecret(Bytes(fill(0x33))));
  }

  // Builds the circuit with ntor v3; `ccRequest` asks for congestion control.
  void buildNtor3(bool ccRequest) {
    crypto::Ntor3ClientState st;
    std::vector<uint8_t> msg = ccRequest ? std::vector<uint8_t>{1, 1, 0} : std::vector<uint8_t>{0};
    auto hs =
        crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey), Bytes(msg),
                                  Bytes(fill(0x44)), crypto::kNtor3CircuitVerification, st);
    auto created = answerCreate(10, create2(3, hs), id, params, Bytes(fill(0x55)));
    ASSERT_TRUE(created);
    EXPECT_EQ(created->ccEnabled, ccRequest);
    auto c2 = cell::decodeCreated2(Bytes(created->payload));
    ASSERT_TRUE(c2);
    auto done = crypto::ntor3ClientComplete(st, c2->hdata);
    ASSERT_TRUE(done);
    auto cc = cell::checkExitReply(Bytes(done->serverMessage), params.cc, true);
    ASSERT_TRUE(cc);
    EXPECT_EQ(cc->ccEnabled, ccRequest);
    finish(*created, Bytes(done->keys));
  }
  void buildNtor() {
    std::array<uint8_t, crypto::kNtorOnionskinLen> skin{};
    auto st = crypto::ntorClientCreate(Bytes(id.rsaId), Bytes(id.onionKeys[0].publicKey),
                                       Bytes(fill(0x66)), skin);
    auto created = answerCreate(10, create2(2, std::vector<uint8_t>(skin.begin(), skin.end())), id,
                                params, Bytes(fill(0x77)));
    ASSERT_TRUE(created);
    EXPECT_FALSE(created->ccEnabled);
    auto c2 = cell::decodeCreated2(Bytes(created->payload));
    ASSERT_TRUE(c2);
    auto keys = crypto::ntorClientComplete(st, c2->hdata);
    ASSERT_TRUE(keys);
    finish(*created, Bytes(*keys));
  }
  // A fresh circuit (ntor v3), for a test that goes on after one closed.
  void rebuild(bool cc = true) {
    circ.reset();
    io = RecordingIo();
    client = crypto::ClientCircuit();
    buildNtor3(cc);
  }
  static std::vector<uint8_t> create2(uint16_t htype, const std::vector<uint8_t>& hdata) {
    std::vector<uint8_t> p(509);
    Writer w{MutBytes(p)};
    cell::encodeCreate2(cell::Create2{htype, Bytes(hdata)}, w);
    return p;
  }
  void finish(const Created& created, Bytes clientKeys) {
    auto k = crypto::Tor1Keys::fromKeyMaterial(clientKeys);
    ASSERT_TRUE(k);
    ASSERT_TRUE(client.addHop(*k));
    circ = Circuit::create(created, params);
    ASSERT_TRUE(circ);
  }

  // The client sends one relay message (to hop `hop`) with channeld's credit; returns whether the
  // circuit lives.
  bool sendTo(size_t hop, RelayCmd cmd, uint16_t stream, Bytes body, bool early = false,
              crypto::Tor1Digest* digest = nullptr) {
    std::array<uint8_t, 509> c{};
    cell::encodeRelayCell(MutBytes(c), cmd, stream, body,
                          [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
    crypto::Tor1Digest d{};
    client.originateOutbound(hop, crypto::RelayPayload(c), &d);
    if (digest) *digest = d;
    return circ->fromClient(early, std::span<uint8_t, 509>(c), now, io, ledger.token(kClientFlow));
  }
  bool send(RelayCmd cmd, uint16_t stream, Bytes body, bool early = false,
            crypto::Tor1Digest* digest = nullptr) {
    return sendTo(0, cmd, stream, body, early, digest);
  }
  // A cell from the client that no hop recognizes.
  bool sendJunk() {
    std::array<uint8_t, 509> junk{};
    junk.fill(0xab);
    return circ->fromClient(false, std::span<uint8_t, 509>(junk), now, io,
                            ledger.token(kClientFlow));
  }
  // The client reads the next cell the circuit sent.
  cell::RelayHeader receive(std::vector<uint8_t>* body = nullptr,
                            crypto::Tor1Digest* digest = nullptr) {
    EXPECT_FALSE(io.cells.empty());
    if (io.cells.empty()) return {};
    auto c = io.cells.front();
    io.cells.pop_front();
    crypto::Tor1Digest d{};
    EXPECT_EQ(client.receiveInbound(crypto::RelayPayload(c), &d), 0u);
    if (digest) *digest = d;
    auto v = cell::decodeRelayCell(Bytes(c));
    EXPECT_TRUE(v);
    if (body) body->assign(v->body.begin(), v->body.end());
    return v->header;
  }
  // A message from the stream side with its credit.
  bool fromStreams(RelayCmd cmd, uint16_t stream, Bytes body, bool fromConflux = false) {
    return circ->fromStreams(stream, r(cmd), body, now, io, ledger.token(kStreamFlow), fromConflux);
  }
  // A v1 circuit SENDME carrying `tag`.
  bool sendme(const crypto::Tor1Digest& tag) {
    uint8_t b[23];
    Writer w{MutBytes(b)};
    cell::encodeSendme(cell::SendmeMsg{1, Bytes(tag)}, w);
    return send(RelayCmd::kSendme, 0, w.written());
  }
  bool pump() { return circ->pump(now, io); }
};

TEST_F(Fixture, StreamMessagesGoBothWaysOverNtorV3WithCongestionControl) {
  buildNtor3(true);
  ASSERT_TRUE(circ->ccEnabled());
  uint8_t begin[] = "example.com:80\0";
  EXPECT_TRUE(send(RelayCmd::kBegin, 7, Bytes(begin, sizeof begin)));
  ASSERT_EQ(io.delivered.size(), 1u);
  EXPECT_EQ(io.delivered[0].stream, 7);
  EXPECT_EQ(io.delivered[0].command, r(RelayCmd::kBegin));
  EXPECT_EQ(io.delivered[0].body, std::vector<uint8_t>(begin, begin + sizeof begin));
  EXPECT_EQ(ledger.back(kClientFlow), 1u) << "delivered: channeld's credit went back";

  uint8_t hello[] = {'h', 'i'};
  EXPECT_TRUE(fromStreams(RelayCmd::kData, 7, Bytes(hello, 2)));
  EXPECT_EQ(ledger.back(kStreamFlow), 1u) << "sent: the stream side's credit went back";
  std::vector<uint8_t> body;
  auto h = receive(&body);
  EXPECT_EQ(h.command, r(RelayCmd::kData));
  EXPECT_EQ(h.streamId, 7);
  EXPECT_EQ(body, std::vector<uint8_t>(hello, hello + 2));
}

TEST_F(Fixture, CreateFastAndRefusals) {
  std::vector<uint8_t> fast(509, 0x09);
  auto created = answerCreate(5, Bytes(fast), id, params, Bytes(fill(1)));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->command, 6);  // CREATED_FAST
  EXPECT_EQ(answerCreate(1, Bytes(fast), id, params, Bytes(fill(1))).error(),
            DestroyReason::kProtocol)
      << "TAP CREATE is refused";
  EXPECT_EQ(
      answerCreate(10, Bytes(create2(0, std::vector<uint8_t>(186))), id, params, Bytes(fill(1)))
          .error(),
      DestroyReason::kProtocol);
  // ntor for another relay's identity.
  std::array<uint8_t, crypto::kNtorOnionskinLen> skin{};
  std::array<uint8_t, 20> other{};
  crypto::ntorClientCreate(Bytes(other), Bytes(id.onionKeys[0].publicKey), Bytes(fill(2)), skin);
  EXPECT_FALSE(
      answerCreate(10, Bytes(create2(2, {skin.begin(), skin.end()})), id, params, Bytes(fill(1))));
  EXPECT_FALSE(answerCreate(10, Bytes(create2(2, {1, 2, 3})), id, params, Bytes(fill(1))));
}

// ntor v3 with a SUBPROTO request (Relay=6): CGO keyed from the first 160 bytes of the KDF output
// the client derives too; refusals as C tor's negotiate_v3_ntor_server_circ_params.
TEST_F(Fixture, Ntor3SubprotoRequestSelectsCgo) {
  auto attempt = [&](std::vector<uint8_t> msg, crypto::Ntor3ClientState& st) {
    auto hs =
        crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey), Bytes(msg),
                                  Bytes(fill(0x44)), crypto::kNtor3CircuitVerification, st);
    return answerCreate(10, create2(3, hs), id, params, Bytes(fill(0x55)));
  };
  crypto::Ntor3ClientState st;
  auto created = attempt({2, 1, 0, 3, 2, 2, 6}, st);  // CC request, SUBPROTO Relay=6
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->cgo);
  EXPECT_TRUE(created->ccEnabled);
  auto c2 = cell::decodeCreated2(Bytes(created->payload));
  ASSERT_TRUE(c2);
  auto done = crypto::ntor3ClientComplete(st, c2->hdata, crypto::kCgoKeyMaterialLen + 20);
  ASSERT_TRUE(done);
  EXPECT_EQ(std::vector<uint8_t>(done->keys.begin(), done->keys.begin() + 160),
            std::vector<uint8_t>(created->cgoSeed.begin(), created->cgoSeed.end()));
  // The tor1 circuit of the same handshake without the request keeps tor1's 72-byte keys, which
  // are the same prefix of the KDF's output (SHAKE-256).
  crypto::Ntor3ClientState st1;
  auto tor1 = attempt({1, 1, 0}, st1);
  ASSERT_TRUE(tor1);
  EXPECT_FALSE(tor1->cgo);
  auto c2t = cell::decodeCreated2(Bytes(tor1->payload));
  auto doneT = crypto::ntor3ClientComplete(st1, c2t->hdata);
  ASSERT_TRUE(doneT);
  EXPECT_EQ(std::memcmp(doneT->keys.data(), tor1->keys.df.data(), 20), 0);
  // Refused with PROTOCOL: CGO without CC, an unsupported capability, a malformed request.
  for (auto msg : {std::vector<uint8_t>{1, 3, 2, 2, 6}, std::vector<uint8_t>{2, 1, 0, 3, 2, 2, 5},
                   std::vector<uint8_t>{2, 1, 0, 3, 3, 2, 6, 2}}) {
    crypto::Ntor3ClientState s2;
    auto refused = attempt(msg, s2);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), DestroyReason::kProtocol);
  }
  CircuitParams noCc = params;
  noCc.cc.ccAlg = 0;
  crypto::Ntor3ClientState s3;
  auto hs = crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey),
                                      Bytes(std::vector<uint8_t>{2, 1, 0, 3, 2, 2, 6}),
                                      Bytes(fill(0x44)), crypto::kNtor3CircuitVerification, s3);
  EXPECT_FALSE(answerCreate(10, create2(3, hs), id, noCc, Bytes(fill(0x55))))
      << "cc_alg 0: no CC, so no CGO";
}

TEST_F(Fixture, TheCongestionWindowHoldsDataUntilAnAuthenticatedSendme) {
  buildNtor3(true);
  uint8_t byte = 'x';
  uint64_t cwnd = circ->vegas()->cwnd();
  for (uint64_t i = 0; i < cwnd; ++i)
    ASSERT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1))) << i;
  EXPECT_EQ(io.cells.size(), cwnd);
  EXPECT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)));
  EXPECT_EQ(io.cells.size(), cwnd) << "the window is full: it waits";
  // Non-DATA behind queued DATA waits too: order is kept.
  uint8_t end = 6;
  EXPECT_TRUE(fromStreams(RelayCmd::kEnd, 1, Bytes(&end, 1)));
  EXPECT_EQ(io.cells.size(), cwnd);
  EXPECT_TRUE(circ->bwdWaiting());
  EXPECT_EQ(ledger.back(kStreamFlow), cwnd) << "the waiting two keep their credit";
  // The client acknowledges the first sendme_inc (31) cells with the digest of the 31st.
  crypto::Tor1Digest tag{};
  for (int i = 0; i < 31; ++i)
    receive(nullptr, &tag);
  EXPECT_TRUE(sendme(tag));
  size_t before = io.cells.size();
  EXPECT_TRUE(pump());
  EXPECT_EQ(io.cells.size(), before + 2) << "the queued DATA and END went out";
  EXPECT_FALSE(circ->bwdWaiting());
  EXPECT_EQ(ledger.back(kStreamFlow), cwnd + 2);
}

TEST_F(Fixture, ASendmeWithAWrongTagOrNothingToAcknowledgeDestroysTheCircuit) {
  buildNtor3(true);
  crypto::Tor1Digest wrong{};
  wrong.fill(0xee);
  EXPECT_FALSE(sendme(wrong)) << "nothing outstanding";
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);

  rebuild();
  uint8_t byte = 'x';
  for (int i = 0; i < 31; ++i)
    ASSERT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)));
  EXPECT_FALSE(sendme(wrong));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

TEST_F(Fixture, TheClassicWindowIsAThousandCells) {
  buildNtor();
  EXPECT_FALSE(circ->ccEnabled());
  uint8_t byte = 'x';
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1))) << i;
  EXPECT_EQ(io.cells.size(), 1000u);
  EXPECT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)));
  EXPECT_EQ(io.cells.size(), 1000u) << "the 1001st waits";
  crypto::Tor1Digest tag{};
  for (int i = 0; i < 100; ++i)
    receive(nullptr, &tag);
  EXPECT_TRUE(sendme(tag));
  EXPECT_TRUE(pump());
  EXPECT_EQ(io.cells.size(), 901u);
  EXPECT_FALSE(circ->bwdWaiting());
}

// circwindow from the consensus (as channeld sends it to circuitd): a circuit without congestion
// control starts its package window there, and the client's SENDME for its 100th cell (clients
// count 100 whatever the start) is the one the window expects.
TEST_F(Fixture, TheConsensusCircwindowStartsTheClassicWindow) {
  using Wire = std::vector<std::pair<std::string_view, int32_t>>;
  auto fromConsensus = circuitParamsFromWire(Wire{{"circwindow", 150}});
  ASSERT_TRUE(fromConsensus);
  params = *fromConsensus;
  buildNtor();
  uint8_t byte = 'x';
  for (int i = 0; i < 150; ++i)
    ASSERT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1))) << i;
  EXPECT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)));
  EXPECT_EQ(io.cells.size(), 150u) << "the 151st waits";
  crypto::Tor1Digest tag{};
  for (int i = 0; i < 100; ++i)
    receive(nullptr, &tag);
  EXPECT_TRUE(sendme(tag));
  EXPECT_TRUE(pump());
  EXPECT_EQ(io.cells.size(), 51u);
  EXPECT_FALSE(circ->bwdWaiting());
}

TEST_F(Fixture, TheExitAcknowledgesClientDataWithAuthenticatedSendmes) {
  buildNtor();
  uint8_t begin[] = "a:1\0";
  ASSERT_TRUE(send(RelayCmd::kBegin, 3, Bytes(begin, sizeof begin)));
  uint8_t byte = 'y';
  crypto::Tor1Digest last{};
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(send(RelayCmd::kData, 3, Bytes(&byte, 1), false, &last));
  EXPECT_TRUE(circ->bwdWaiting()) << "our SENDME is due";
  EXPECT_TRUE(pump());
  ASSERT_EQ(io.cells.size(), 1u);
  std::vector<uint8_t> body;
  auto h = receive(&body);
  EXPECT_EQ(h.command, r(RelayCmd::kSendme));
  EXPECT_EQ(h.streamId, 0);
  auto m = cell::decodeSendme(Bytes(body));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->version, 1);
  EXPECT_TRUE(std::equal(m->tag.begin(), m->tag.end(), last.begin()))
      << "the tag is the digest right after the 100th DATA cell";
}

TEST_F(Fixture, MessagesWaitForTheStreamSideInOrder) {
  buildNtor3(true);
  io.streamCredit = false;
  uint8_t begin[] = "a:1\0";
  EXPECT_TRUE(send(RelayCmd::kBegin, 3, Bytes(begin, sizeof begin)));
  uint8_t d = 'z';
  EXPECT_TRUE(send(RelayCmd::kData, 3, Bytes(&d, 1)));
  EXPECT_EQ(io.delivered.size(), 0u);
  EXPECT_EQ(circ->held(), 2u);
  EXPECT_TRUE(circ->drainHeld(now, io)) << "nothing goes while the stream side has no credit";
  EXPECT_EQ(circ->held(), 2u);
  io.streamCredit = true;
  EXPECT_TRUE(circ->drainHeld(now, io));
  EXPECT_EQ(circ->held(), 0u);
  ASSERT_EQ(io.delivered.size(), 2u);
  EXPECT_EQ(io.delivered[0].command, r(RelayCmd::kBegin));
  EXPECT_EQ(io.delivered[1].command, r(RelayCmd::kData));
  EXPECT_EQ(io.delivered[1].body, std::vector<uint8_t>{'z'});
}

// A held message keeps channeld's credit until it reaches the stream side, and not a moment more.
TEST_F(Fixture, HeldDataReturnsItsCreditExactlyWhenDelivered) {
  buildNtor3(true);
  io.streamCredit = false;
  uint8_t d[3] = {'a', 'b', 'c'};
  for (uint8_t& b : d)
    ASSERT_TRUE(send(RelayCmd::kData, 3, Bytes(&b, 1)));
  EXPECT_EQ(circ->held(), 3u);
  EXPECT_EQ(ledger.back(kClientFlow), 0u) << "held messages keep their credit";
  std::vector<size_t> backAtDelivery;
  io.onDeliver = [&](const Msg&) { backAtDelivery.push_back(ledger.back(kClientFlow)); };
  io.streamCredit = true;
  io.deliverBudget = 1;  // the stream side takes one
  EXPECT_TRUE(circ->drainHeld(now, io));
  EXPECT_EQ(circ->held(), 2u);
  EXPECT_EQ(ledger.back(kClientFlow), 1u) << "the delivered one's credit went back";
  io.deliverBudget = -1;
  EXPECT_TRUE(circ->drainHeld(now, io));
  EXPECT_EQ(ledger.back(kClientFlow), 3u);
  EXPECT_EQ(backAtDelivery, (std::vector<size_t>{0, 1, 2}))
      << "no credit goes back before its message is delivered";
  ASSERT_EQ(io.delivered.size(), 3u);
  EXPECT_EQ(io.delivered[2].body, std::vector<uint8_t>{'c'});
}

// `held` is as deep as channeld's window (64 cells): a client within its credit never overflows
// it, however often it filled and drained before (drainHeld moves the token out of the front
// message before MsgQueue::pop: the queue must remember at push that the message was the peer's).
TEST_F(Fixture, HeldKeepsItsWholeWindowAfterDrains) {
  buildNtor3(true);
  uint8_t b = 'q';
  for (int round = 0; round < 3; ++round) {
    io.streamCredit = false;
    ASSERT_TRUE(send(RelayCmd::kBegin, 3, Bytes(&b, 1))) << round;
    io.streamCredit = true;
    ASSERT_TRUE(circ->drainHeld(now, io)) << round;
    ASSERT_EQ(circ->held(), 0u);
  }
  io.streamCredit = false;
  for (int i = 0; i < 64; ++i)
    ASSERT_TRUE(send(RelayCmd::kData, 3, Bytes(&b, 1)))
        << "message " << i << " of channeld's window: " << static_cast<int>(circ->destroyReason());
  EXPECT_EQ(circ->held(), 64u);
}

// The stream side's messages hold the stream side's credit while they wait for channeld; the
// circuit's own TRUNCATED answers have slots of their own (issue 15, finding 2).
TEST_F(Fixture, TruncatedAnswersHaveTheirOwnSlots) {
  // On a plain circuit (streamd's window) and on a conflux leg (confluxd's).
  for (bool leg : {false, true}) {
    SCOPED_TRACE(leg ? "leg" : "circuit");
    rebuild();
    uint8_t link[4] = {1, 2, 3, 4};
    if (leg) {
      ASSERT_TRUE(send(RelayCmd::kConfluxLink, 0, Bytes(link, 4)));
    }
    size_t streamBack = ledger.back(kStreamFlow);
    io.cellCredit = false;  // channeld is blocked: everything waits in BWD's queue
    uint8_t byte = 'x';
    uint8_t reason = 0;
    size_t answers = 0;
    // The stream side's full window (64 DATA), with TRUNCATEs from the client between them.
    for (int i = 0; i < 64; ++i) {
      ASSERT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1), leg)) << "honest DATA " << i;
      if (i % 8 == 0 && answers < Circuit::kCircuitAnswers) {
        ASSERT_TRUE(send(RelayCmd::kTruncate, 0, Bytes(&reason, 1))) << "TRUNCATE " << answers;
        ++answers;
      }
    }
    ASSERT_EQ(answers, Circuit::kCircuitAnswers);
    EXPECT_EQ(ledger.back(kStreamFlow), streamBack) << "none of the stream side's was refused";
    EXPECT_TRUE(circ->bwdWaiting());
    // One answer more than its slots: the circuit closes, nobody else loses anything.
    EXPECT_FALSE(send(RelayCmd::kTruncate, 0, Bytes(&reason, 1)));
    EXPECT_EQ(circ->destroyReason(), DestroyReason::kResourceLimit);
    EXPECT_TRUE(io.cells.empty());
    circ.reset();
    EXPECT_EQ(ledger.back(kStreamFlow), streamBack + 64) << "the queued messages' credit is back";
  }
}

// Answers leave with the queue: a client that reads its TRUNCATEDs may send more.
TEST_F(Fixture, TruncatedAnswersFreeTheirSlotsWhenSent) {
  buildNtor3(true);
  uint8_t reason = 0, byte = 'x';
  io.cellCredit = false;
  for (size_t i = 0; i < Circuit::kCircuitAnswers; ++i)
    ASSERT_TRUE(send(RelayCmd::kTruncate, 0, Bytes(&reason, 1)));
  ASSERT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)));
  io.cellCredit = true;
  ASSERT_TRUE(pump());
  ASSERT_EQ(io.cells.size(), Circuit::kCircuitAnswers + 1);
  for (size_t i = 0; i < Circuit::kCircuitAnswers; ++i) {
    std::vector<uint8_t> body;
    auto h = receive(&body);
    EXPECT_EQ(h.command, r(RelayCmd::kTruncated));
    ASSERT_EQ(body.size(), 1u);
    EXPECT_EQ(body[0], static_cast<uint8_t>(DestroyReason::kRequested));
  }
  EXPECT_EQ(receive().command, r(RelayCmd::kData)) << "in order with the stream side's";
  io.cellCredit = false;
  for (size_t i = 0; i < Circuit::kCircuitAnswers; ++i)
    ASSERT_TRUE(send(RelayCmd::kTruncate, 0, Bytes(&reason, 1))) << i;
}

// Every waiting message's credit goes back when the circuit goes, whichever queue held it.
TEST_F(Fixture, QueuedCreditGoesBackWhenTheCircuitIsDestroyed) {
  buildNtor3(true);
  io.streamCredit = false;
  io.cellCredit = false;
  uint8_t b = 'w';
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(send(RelayCmd::kData, 3, Bytes(&b, 1)));
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(fromStreams(RelayCmd::kData, 3, Bytes(&b, 1)));
  EXPECT_EQ(ledger.back(kClientFlow), 0u);
  EXPECT_EQ(ledger.back(kStreamFlow), 0u);
  EXPECT_FALSE(sendJunk()) << "the circuit closes";
  EXPECT_EQ(ledger.back(kClientFlow), 1u) << "only the junk cell's own credit";
  circ.reset();
  EXPECT_EQ(ledger.back(kClientFlow), 6u);
  EXPECT_EQ(ledger.back(kStreamFlow), 7u);
}

TEST_F(Fixture, HostileCellsDestroyTheCircuit) {
  buildNtor3(true);
  // A cell that does not decrypt to a recognized one (garbage, or a wrong key).
  EXPECT_FALSE(sendJunk());
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);

  for (auto [cmd, stream] :
       {std::pair{RelayCmd::kData, uint16_t{0}}, std::pair{RelayCmd::kConnected, uint16_t{1}},
        std::pair{RelayCmd::kConfluxLinked, uint16_t{0}},
        std::pair{RelayCmd::kConfluxSwitch, uint16_t{0}},
        std::pair{RelayCmd::kConfluxLinkedAck, uint16_t{0}}}) {
    rebuild();
    uint8_t b[4] = {};
    EXPECT_FALSE(send(cmd, stream, Bytes(b, 4))) << int(r(cmd));
    EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol) << int(r(cmd));
  }
}

TEST_F(Fixture, StreamMessagesOnStreamZeroAndDropAreDropped) {
  buildNtor3(true);
  uint8_t b[4] = {};
  EXPECT_TRUE(send(RelayCmd::kBegin, 0, Bytes(b, 4)));
  EXPECT_TRUE(send(RelayCmd::kEnd, 0, Bytes(b, 1)));
  EXPECT_EQ(io.drops, 0u) << "BEGIN and END on stream 0 are no DROP";
  EXPECT_TRUE(send(RelayCmd::kDrop, 0, Bytes(b, 4)));
  EXPECT_TRUE(io.delivered.empty());
  EXPECT_EQ(io.drops, 1u) << "the DROP is reported for tor_relay_drop_cell_total";
  EXPECT_EQ(ledger.back(kClientFlow), 3u);
}

// rend-spec's messages to an introduction or rendezvous point are dropped (onionsplit is neither)
// and reported for the MetricsPort; the circuit lives on. Other unknown commands are only dropped.
TEST_F(Fixture, OnionServiceMessagesAreDroppedAndReported) {
  buildNtor3(true);
  uint8_t b[20] = {};
  for (uint8_t cmd : {32, 33, 34, 36, 35, 99})
    EXPECT_TRUE(send(static_cast<RelayCmd>(cmd), 0, Bytes(b, sizeof b))) << int(cmd);
  EXPECT_EQ(io.onionServiceCells, (std::vector<uint8_t>{32, 33, 34, 36}));
  EXPECT_TRUE(io.delivered.empty());
  EXPECT_EQ(io.drops, 0u);
}

TEST_F(Fixture, TheShellsDeliveryVerdictsRefuseTheStreamOrCloseTheCircuit) {
  buildNtor3(true);
  uint8_t begin[] = "a:1\0";
  io.answer = {Delivery::kRefused, static_cast<uint8_t>(cell::EndReason::kResourceLimit)};
  EXPECT_TRUE(send(RelayCmd::kBegin, 4, Bytes(begin, sizeof begin)));
  EXPECT_TRUE(circ->bwdWaiting());
  EXPECT_TRUE(pump());
  std::vector<uint8_t> body;
  auto h = receive(&body);
  EXPECT_EQ(h.command, r(RelayCmd::kEnd));
  EXPECT_EQ(h.streamId, 4);
  EXPECT_EQ(body, std::vector<uint8_t>{static_cast<uint8_t>(cell::EndReason::kResourceLimit)});

  io.answer = {Delivery::kDestroy, static_cast<uint8_t>(DestroyReason::kResourceLimit)};
  EXPECT_FALSE(send(RelayCmd::kBegin, 5, Bytes(begin, sizeof begin)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kResourceLimit);
}

// The ENDs the circuit makes (refused streams) wait in slots of their own, one per stream, never
// in the stream side's window; beyond their bound the circuit closes.
TEST_F(Fixture, RefusalEndsHaveTheirOwnBound) {
  buildNtor3(true);
  io.cellCredit = false;
  uint8_t byte = 'x';
  for (int i = 0; i < 64; ++i)
    ASSERT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1))) << i;
  io.answer = {Delivery::kRefused, static_cast<uint8_t>(cell::EndReason::kResourceLimit)};
  uint8_t begin[] = "a:1\0";
  for (size_t i = 0; i < Circuit::kMaxEndsDue; ++i)
    ASSERT_TRUE(send(RelayCmd::kBegin, static_cast<uint16_t>(2 + i), Bytes(begin, sizeof begin)))
        << i;
  EXPECT_EQ(ledger.back(kStreamFlow), 0u) << "the stream side's messages all wait";
  EXPECT_FALSE(send(RelayCmd::kBegin, 9999, Bytes(begin, sizeof begin)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kResourceLimit);
}

// Our SENDMEs that wait for channeld are bounded: a client that sends DATA beyond any window we
// could have granted while channeld is blocked loses its circuit.
TEST_F(Fixture, DueSendmesAreBounded) {
  buildNtor3(true);
  io.cellCredit = false;
  uint8_t begin[] = "a:1\0", byte = 'd';
  ASSERT_TRUE(send(RelayCmd::kBegin, 3, Bytes(begin, sizeof begin)));
  bool alive = true;
  size_t cells = 0;
  while (alive && cells < (Circuit::kMaxDueSendmes + 2) * circ->sendmeInc()) {
    alive = send(RelayCmd::kData, 3, Bytes(&byte, 1));
    ++cells;
  }
  EXPECT_FALSE(alive);
  EXPECT_EQ(cells, (Circuit::kMaxDueSendmes + 1) * circ->sendmeInc());
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kResourceLimit);
}

// An END never carries reason 0 (C tor bug 41353): the circuit's own ENDs say MISC instead.
TEST_F(Fixture, AnEndTheCircuitMakesNeverCarriesReasonZero) {
  buildNtor3(true);
  uint8_t begin[] = "a:1\0";
  io.answer = {Delivery::kRefused, 0};
  EXPECT_TRUE(send(RelayCmd::kBegin, 4, Bytes(begin, sizeof begin)));
  EXPECT_TRUE(circ->endStream(6, 0));
  EXPECT_TRUE(pump());
  for (uint16_t stream : {4, 6}) {
    std::vector<uint8_t> body;
    auto h = receive(&body);
    EXPECT_EQ(h.command, r(RelayCmd::kEnd));
    EXPECT_EQ(h.streamId, stream);
    EXPECT_EQ(body, std::vector<uint8_t>{static_cast<uint8_t>(cell::EndReason::kMisc)});
  }
}

// The same for an END the stream side sends with reason 0 (bug 41353).
TEST_F(Fixture, AnEndWithReasonZeroFromTheStreamSideGoesToTheClientAsMisc) {
  buildNtor3(true);
  uint8_t zero = 0;
  EXPECT_TRUE(fromStreams(RelayCmd::kEnd, 4, Bytes(&zero, 1)));
  io.cellCredit = false;
  EXPECT_TRUE(fromStreams(RelayCmd::kEnd, 5, Bytes(&zero, 1)));
  io.cellCredit = true;
  EXPECT_TRUE(pump());
  for (uint16_t stream : {4, 5}) {
    std::vector<uint8_t> body;
    auto h = receive(&body);
    EXPECT_EQ(h.command, r(RelayCmd::kEnd));
    EXPECT_EQ(h.streamId, stream);
    EXPECT_EQ(body, std::vector<uint8_t>{static_cast<uint8_t>(cell::EndReason::kMisc)});
  }
}

TEST_F(Fixture, ConfluxLinkNeedsCongestionControl) {
  buildNtor3(false);
  uint8_t b[4] = {};
  EXPECT_FALSE(send(RelayCmd::kConfluxLink, 0, Bytes(b, 4)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
  EXPECT_FALSE(circ->isLeg());
}

TEST_F(Fixture, ALinkMakesTheCircuitALegWhoseConfluxMessagesGoToTheStreamSide) {
  buildNtor3(true);
  uint8_t b[4] = {1, 2, 3, 4};
  EXPECT_TRUE(send(RelayCmd::kConfluxLink, 0, Bytes(b, 4)));
  EXPECT_TRUE(circ->isLeg());
  EXPECT_TRUE(send(RelayCmd::kConfluxLinkedAck, 0, {}));
  EXPECT_TRUE(send(RelayCmd::kConfluxSwitch, 0, Bytes(b, 4)));
  EXPECT_TRUE(send(RelayCmd::kBegin, 3, Bytes(b, 4)));
  ASSERT_EQ(io.delivered.size(), 4u);
  EXPECT_EQ(io.delivered[0].command, r(RelayCmd::kConfluxLink));
  EXPECT_EQ(io.delivered[0].body, std::vector<uint8_t>(b, b + 4));
  EXPECT_EQ(io.delivered[1].command, r(RelayCmd::kConfluxLinkedAck));
  EXPECT_EQ(io.delivered[2].command, r(RelayCmd::kConfluxSwitch));
  EXPECT_EQ(io.delivered[3].command, r(RelayCmd::kBegin));
  // Back toward the client: SWITCH (stream 0) only from confluxd, LINKED as its own event.
  EXPECT_TRUE(circ->fromStreams(0, r(RelayCmd::kConfluxSwitch), Bytes(b, 4), now, io,
                                ledger.token(kStreamFlow)));
  EXPECT_TRUE(io.cells.empty()) << "a SWITCH from streamd is dropped";
  EXPECT_TRUE(fromStreams(RelayCmd::kConfluxSwitch, 0, Bytes(b, 4), true));
  EXPECT_TRUE(circ->linked(Bytes(b, 4), now, io, ledger.token(kStreamFlow)));
  EXPECT_EQ(receive().command, r(RelayCmd::kConfluxSwitch));
  EXPECT_EQ(receive().command, r(RelayCmd::kConfluxLinked));
  EXPECT_EQ(ledger.back(kStreamFlow), 3u);
  // What confluxd may send on the leg itself is the boundary's table (the pipe's admit).
  using ipc::Side;
  EXPECT_TRUE(ipc::maySend(Side::kConfluxd, Side::kCircuitd, r(RelayCmd::kConfluxSwitch), false));
  EXPECT_FALSE(ipc::maySend(Side::kConfluxd, Side::kCircuitd, r(RelayCmd::kData), false));
  EXPECT_FALSE(ipc::maySend(Side::kStreamd, Side::kCircuitd, r(RelayCmd::kConfluxSwitch), false));
}

TEST_F(Fixture, ALinkedForACircuitThatIsNoLegIsDropped) {
  buildNtor3(true);
  uint8_t b[4] = {};
  EXPECT_TRUE(circ->linked(Bytes(b, 4), now, io, ledger.token(kStreamFlow)));
  EXPECT_TRUE(io.cells.empty());
}

TEST_F(Fixture, ASecondLinkOnALegDestroysTheCircuit) {
  buildNtor3(true);
  uint8_t b[4] = {1, 2, 3, 4};
  ASSERT_TRUE(send(RelayCmd::kConfluxLink, 0, Bytes(b, 4)));
  ASSERT_TRUE(circ->isLeg());
  EXPECT_FALSE(send(RelayCmd::kConfluxLink, 0, Bytes(b, 4)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
  EXPECT_EQ(io.delivered.size(), 1u) << "the second LINK never reaches confluxd";
  // A LINK on a stream is no LINK either.
  rebuild();
  EXPECT_FALSE(send(RelayCmd::kConfluxLink, 3, Bytes(b, 4)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
  EXPECT_FALSE(circ->isLeg());
}

TEST_F(Fixture, ARelayLengthBeyondTheCellDestroysTheCircuit) {
  buildNtor3(true);
  std::array<uint8_t, 509> c{};
  cell::encodeRelayCell(MutBytes(c), RelayCmd::kData, 1, {},
                        [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
  c[9] = 499 >> 8;  // length: one byte more than a relay cell holds
  c[10] = 499 & 0xff;
  crypto::Tor1Digest d{};
  client.originateOutbound(0, crypto::RelayPayload(c), &d);
  EXPECT_FALSE(circ->fromClient(false, std::span<uint8_t, 509>(c), now, io, {}));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

TEST_F(Fixture, NineRelayEarlyCellsAreOneTooMany) {
  buildNtor3(true);
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(send(RelayCmd::kDrop, 0, {}, true));
  EXPECT_FALSE(send(RelayCmd::kDrop, 0, {}, true));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

TEST_F(Fixture, TheTapExtendIsAnsweredWithAFailedExtension) {
  buildNtor3(true);
  uint8_t b[4] = {};
  EXPECT_TRUE(send(RelayCmd::kExtend, 0, Bytes(b, 4), true));
  EXPECT_TRUE(io.extends.empty());
  EXPECT_TRUE(pump());
  std::vector<uint8_t> body;
  EXPECT_EQ(receive(&body).command, r(RelayCmd::kTruncated));
  EXPECT_EQ(body, std::vector<uint8_t>{static_cast<uint8_t>(DestroyReason::kConnectFailed)});
}

TEST_F(Fixture, TheStreamSideMaySendOnlyWhatAnExitSends) {
  buildNtor3(true);
  uint8_t b[1] = {};
  // The command table is the boundary's (the pipe's admit refuses the rest as a breach).
  using ipc::Side;
  EXPECT_FALSE(ipc::maySend(Side::kStreamd, Side::kCircuitd, r(RelayCmd::kBegin), true));
  EXPECT_FALSE(ipc::maySend(Side::kStreamd, Side::kCircuitd, r(RelayCmd::kData), false));
  EXPECT_TRUE(ipc::maySend(Side::kStreamd, Side::kCircuitd, r(RelayCmd::kConnected), true));
  // The circuit itself drops a message on stream 0 from streamd and sends the rest.
  EXPECT_TRUE(fromStreams(RelayCmd::kData, 0, Bytes(b, 1)));
  EXPECT_TRUE(io.cells.empty());
  EXPECT_TRUE(fromStreams(RelayCmd::kConnected, 1, {}));
  EXPECT_EQ(receive().command, r(RelayCmd::kConnected));
  // A body beyond a relay message cannot be encoded: the circuit closes.
  std::vector<uint8_t> big(499);
  EXPECT_FALSE(fromStreams(RelayCmd::kData, 1, Bytes(big)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kInternal);
}

TEST_F(Fixture, ChanneldCreditHoldsCellsInOrder) {
  buildNtor3(true);
  io.cellCredit = false;
  uint8_t a = 'a', bb = 'b';
  EXPECT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&a, 1)));
  EXPECT_TRUE(io.cells.empty());
  io.cellCredit = true;
  EXPECT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&bb, 1)));
  EXPECT_TRUE(io.cells.empty()) << "a message never overtakes one already waiting";
  EXPECT_TRUE(pump());
  ASSERT_EQ(io.cells.size(), 2u);
  std::vector<uint8_t> body;
  receive(&body);
  EXPECT_EQ(body[0], 'a');
  receive(&body);
  EXPECT_EQ(body[0], 'b');
}

// ---- the middle role (EXTEND2) ----

constexpr uint8_t kNextRsa = 0x99;
constexpr uint8_t kCreated2 = 11, kRelay = 3, kRelayEarly = 9;

// An EXTEND2 body: IPv4 127.0.0.1:port, an RSA identity of `rsa`, optional ed25519, ntor.
std::vector<uint8_t> extend2Body(uint8_t rsa = kNextRsa, uint16_t port = 9001,
                                 std::optional<uint8_t> ed = std::nullopt, uint16_t htype = 2,
                                 size_t hlen = 84, std::array<uint8_t, 4> ip = {127, 0, 0, 1}) {
  std::array<uint8_t, 6> v4{
      ip[0], ip[1], ip[2], ip[3], static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port)};
  std::array<uint8_t, 20> id{};
  id.fill(rsa);
  std::array<uint8_t, 32> edId{};
  edId.fill(ed.value_or(0));
  std::vector<uint8_t> hdata(hlen, 0x42);
  cell::Extend2Msg m;
  m.specs[m.specCount++] = {cell::LinkSpecifier::kIpv4, Bytes(v4)};
  m.specs[m.specCount++] = {cell::LinkSpecifier::kRsaId, Bytes(id)};
  if (ed) m.specs[m.specCount++] = {cell::LinkSpecifier::kEd25519Id, Bytes(edId)};
  m.htype = htype;
  m.hdata = Bytes(hdata);
  std::vector<uint8_t> out(498);
  Writer w{MutBytes(out)};
  EXPECT_TRUE(cell::encodeExtend2(m, w));
  out.resize(w.written().size());
  return out;
}

HopIdentities hopIds() {
  HopIdentities ids;
  ids.prevRsa.emplace();
  ids.prevRsa->fill(0x01);
  ids.prevEd = fill(0x02);
  ids.ourRsa.fill(0x11);
  ids.ourEd = fill(0x22);
  return ids;
}

TEST(CheckExtend2, AcceptsAndRefusesAsCTor) {
  auto ids = hopIds();
  auto ok = checkExtend2(Bytes(extend2Body(kNextRsa, 9001, 0x77)), ids);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->ipv4Port, 9001);
  EXPECT_EQ((*ok->ipv4)[0], 127);
  EXPECT_EQ(ok->rsaId[0], kNextRsa);
  ASSERT_TRUE(ok->edId);
  EXPECT_EQ(ok->htype, 2);
  EXPECT_EQ(ok->hdata.size(), 84u);
  auto err = [&](const std::vector<uint8_t>& b) { return checkExtend2(Bytes(b), ids).error(); };
  using R = DestroyReason;
  EXPECT_EQ(err({1, 2, 3}), R::kProtocol) << "truncated";
  EXPECT_EQ(err(extend2Body(0)), R::kProtocol) << "an all-zero RSA identity";
  EXPECT_EQ(err(extend2Body(kNextRsa, 0)), R::kProtocol) << "port 0";
  EXPECT_EQ(err(extend2Body(kNextRsa, 9001, std::nullopt, 2, 84, {0, 0, 0, 0})), R::kProtocol)
      << "address 0";
  EXPECT_EQ(err(extend2Body(0x01)), R::kProtocol) << "back to the previous hop (RSA)";
  EXPECT_EQ(err(extend2Body(kNextRsa, 9001, 0x02)), R::kProtocol) << "back (ed25519)";
  EXPECT_EQ(err(extend2Body(0x11)), R::kConnectFailed) << "to ourselves (RSA)";
  EXPECT_EQ(err(extend2Body(kNextRsa, 9001, 0x22)), R::kConnectFailed) << "ourselves (ed25519)";
  EXPECT_EQ(err(extend2Body(kNextRsa, 9001, std::nullopt, 2, 83)), R::kProtocol)
      << "ntor's data is 84 bytes";
  EXPECT_EQ(err(extend2Body(kNextRsa, 9001, std::nullopt, 1, 20)), R::kProtocol) << "CREATE_FAST";
  EXPECT_EQ(err(extend2Body(kNextRsa, 9001, std::nullopt, 0, 186)), R::kProtocol) << "TAP";
  EXPECT_TRUE(checkExtend2(Bytes(extend2Body(kNextRsa, 9001, std::nullopt, 3, 200)), ids));
  // No identity specifier at all.
  std::vector<uint8_t> noId = {1, 0, 6, 127, 0, 0, 1, 0x23, 0x29, 0, 2, 0, 84};
  noId.resize(noId.size() + 84, 0x42);
  EXPECT_EQ(err(noId), R::kProtocol);
  // More specifiers than the codec takes.
  std::vector<uint8_t> many = {9};
  EXPECT_EQ(err(many), R::kProtocol);
}

// The next relay's view of the circuit: its tor1 layer, the client's second hop.
struct MiddleFixture : Fixture {
  std::optional<crypto::RelayLayer> next;

  // The next hop's CREATED2 cell.
  static std::array<uint8_t, 509> created2(const std::vector<uint8_t>& reply) {
    std::array<uint8_t, 509> created{};
    Writer w{MutBytes(created)};
    cell::encodeCreated2(cell::Created2{Bytes(reply)}, w);
    return created;
  }
  // EXTEND2 -> extend -> CREATED2 -> EXTENDED2 -> the client has two hops.
  void extendTo() {
    circ->setHopIdentities(hopIds());
    auto body = extend2Body();
    ASSERT_TRUE(send(RelayCmd::kExtend2, 0, Bytes(body), true));
    ASSERT_EQ(io.extends.size(), 1u) << "asked once";
    EXPECT_EQ(io.extends[0].rsaId[0], kNextRsa);
    EXPECT_EQ(io.extends[0].htype, 2);
    ASSERT_EQ(circ->extendResult(true), Middle::Extended::kKeep);
    std::vector<uint8_t> reply(64, 0x5c);
    auto created = created2(reply);
    ASSERT_TRUE(circ->fromNextHop(kCreated2, std::span<uint8_t, 509>(created), io,
                                  ledger.token(kNextHopFlow)));
    ASSERT_TRUE(pump());
    std::vector<uint8_t> b;
    auto h = receive(&b);
    ASSERT_EQ(h.command, r(RelayCmd::kExtended2));
    auto x = cell::decodeExtended2(Bytes(b));
    ASSERT_TRUE(x);
    EXPECT_EQ(std::vector<uint8_t>(x->hdata.begin(), x->hdata.end()), reply);
    std::array<uint8_t, 72> km{};
    km.fill(0x3c);
    auto k = crypto::Tor1Keys::fromKeyMaterial(Bytes(km));
    ASSERT_TRUE(client.addHop(*k));
    next = crypto::RelayLayer::create(*k);
    ASSERT_TRUE(next);
  }
  // The client sends a message to the second hop.
  bool sendOn(RelayCmd cmd, uint16_t stream, Bytes body, bool early = false) {
    return sendTo(1, cmd, stream, body, early);
  }
  // The second hop sends a message toward the client.
  bool sendBack(RelayCmd cmd, uint16_t stream, Bytes body) {
    std::array<uint8_t, 509> c{};
    cell::encodeRelayCell(MutBytes(c), cmd, stream, body,
                          [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
    crypto::Tor1Digest d{};
    next->originateInbound(crypto::RelayPayload(c), &d);
    return circ->fromNextHop(kRelay, std::span<uint8_t, 509>(c), io, ledger.token(kNextHopFlow));
  }
};

TEST_F(MiddleFixture, CellsGoToTheNextHopAndBackWithOurLayer) {
  buildNtor3(true);
  extendTo();
  uint8_t begin[] = "example.com:80\0";
  ASSERT_TRUE(sendOn(RelayCmd::kBegin, 5, Bytes(begin, sizeof begin)));
  EXPECT_TRUE(io.delivered.empty()) << "not for our streams";
  ASSERT_EQ(io.forwarded.size(), 1u);
  EXPECT_FALSE(io.forwarded[0].first);
  auto fwd = io.forwarded[0].second;
  crypto::Tor1Digest d{};
  ASSERT_EQ(next->processOutbound(crypto::RelayPayload(fwd), &d, true),
            crypto::RelayLayer::Outbound::kRecognized);
  auto v = cell::decodeRelayCell(Bytes(fwd));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->header.command, r(RelayCmd::kBegin));
  EXPECT_EQ(v->header.streamId, 5);

  uint8_t data[] = {'o', 'k'};
  ASSERT_TRUE(sendBack(RelayCmd::kData, 5, Bytes(data, 2)));
  ASSERT_EQ(io.cells.size(), 1u);
  auto c = io.cells.front();
  io.cells.pop_front();
  EXPECT_EQ(client.receiveInbound(crypto::RelayPayload(c), &d), 1u) << "from the second hop";
  auto back = cell::decodeRelayCell(Bytes(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->header.command, r(RelayCmd::kData));
  EXPECT_EQ(back->body[1], 'k');
  EXPECT_EQ(circ->cellsToClient(), 2u) << "EXTENDED2 and the relayed cell";
  EXPECT_EQ(ledger.back(kNextHopFlow), 2u) << "CREATED2 and the relayed cell";
}

TEST_F(MiddleFixture, RelayEarlyIsKeptAndStillCounted) {
  buildNtor3(true);
  extendTo();  // the EXTEND2 was RELAY_EARLY number 1
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(sendOn(RelayCmd::kDrop, 0, {}, true)) << i;
  ASSERT_EQ(io.forwarded.size(), 7u);
  EXPECT_TRUE(io.forwarded[0].first) << "RELAY_EARLY goes on as RELAY_EARLY";
  EXPECT_FALSE(sendOn(RelayCmd::kDrop, 0, {}, true)) << "the ninth";
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

TEST_F(MiddleFixture, AnInboundRelayEarlyClosesTheCircuit) {
  buildNtor3(true);
  extendTo();
  std::array<uint8_t, 509> c{};
  cell::encodeRelayCell(MutBytes(c), RelayCmd::kDrop, 0, {},
                        [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
  crypto::Tor1Digest d{};
  next->originateInbound(crypto::RelayPayload(c), &d);
  size_t before = io.cells.size();
  EXPECT_FALSE(
      circ->fromNextHop(kRelayEarly, std::span<uint8_t, 509>(c), io, ledger.token(kNextHopFlow)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
  EXPECT_EQ(io.cells.size(), before) << "nothing of it reaches the client";
}

TEST_F(MiddleFixture, CreditHoldsCellsBothWaysInBoundedQueues) {
  buildNtor3(true);
  extendTo();
  size_t clientBack = ledger.back(kClientFlow);
  io.nextCredit = false;
  EXPECT_TRUE(sendOn(RelayCmd::kDrop, 0, {}));
  EXPECT_TRUE(sendOn(RelayCmd::kDrop, 0, {}));
  EXPECT_TRUE(io.forwarded.empty());
  EXPECT_TRUE(circ->fwdWaiting());
  EXPECT_EQ(ledger.back(kClientFlow), clientBack) << "waiting cells keep the client's credit";
  io.nextCredit = true;
  EXPECT_TRUE(pump());
  EXPECT_EQ(io.forwarded.size(), 2u);
  EXPECT_FALSE(circ->fwdWaiting());
  EXPECT_EQ(ledger.back(kClientFlow), clientBack + 2);

  size_t nextBack = ledger.back(kNextHopFlow);
  io.cellCredit = false;
  EXPECT_TRUE(sendBack(RelayCmd::kDrop, 0, {}));
  EXPECT_TRUE(circ->bwdWaiting());
  EXPECT_EQ(ledger.back(kNextHopFlow), nextBack);
  io.cellCredit = true;
  EXPECT_TRUE(pump());
  EXPECT_EQ(ledger.back(kNextHopFlow), nextBack + 1);
  ASSERT_EQ(io.cells.size(), 1u);
  crypto::Tor1Digest d{};
  auto c = io.cells.back();
  EXPECT_EQ(client.receiveInbound(crypto::RelayPayload(c), &d), 1u);

  // A next hop that ignores its credit fills the queue (its window, 64) and the circuit closes.
  io.cellCredit = false;
  for (size_t i = 0; i < Middle::kMaxWaitingCells; ++i)
    ASSERT_TRUE(sendBack(RelayCmd::kDrop, 0, {})) << i;
  EXPECT_FALSE(sendBack(RelayCmd::kDrop, 0, {}));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kResourceLimit);
}

TEST_F(MiddleFixture, TruncateEndsTheNextHopAndAnswersTruncated) {
  buildNtor3(true);
  extendTo();
  io.nextCredit = false;
  EXPECT_TRUE(sendOn(RelayCmd::kDrop, 0, {}));
  size_t clientBack = ledger.back(kClientFlow);
  uint8_t reason = 9;
  EXPECT_TRUE(send(RelayCmd::kTruncate, 0, Bytes(&reason, 1)));
  EXPECT_EQ(io.nextHopDestroyed, std::vector<uint8_t>{9}) << "with the client's reason";
  EXPECT_EQ(ledger.back(kClientFlow), clientBack + 2)
      << "the TRUNCATE's credit and the waiting cell's went back";
  EXPECT_FALSE(circ->fwdWaiting());
  EXPECT_TRUE(pump());
  EXPECT_TRUE(io.forwarded.empty());
  std::vector<uint8_t> b;
  auto h = receive(&b);
  EXPECT_EQ(h.command, r(RelayCmd::kTruncated));
  EXPECT_EQ(b, std::vector<uint8_t>{static_cast<uint8_t>(DestroyReason::kRequested)});
  // No next hop any more: a cell for the second hop has nowhere to go.
  EXPECT_FALSE(sendOn(RelayCmd::kDrop, 0, {}));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

// The old next hop's cells that still wait for the client when it truncates must not reach it
// after TRUNCATED (it removed that hop: they would not decrypt and it would close the circuit).
// They are dropped on TRUNCATE, as the forward ones.
TEST_F(MiddleFixture, NoCellOfATruncatedHopFollowsTruncated) {
  buildNtor3(true);
  extendTo();
  io.cellCredit = false;
  ASSERT_TRUE(sendBack(RelayCmd::kDrop, 0, {}));
  ASSERT_TRUE(send(RelayCmd::kTruncate, 0, {}));
  io.cellCredit = true;
  ASSERT_TRUE(pump());
  ASSERT_FALSE(io.cells.empty());
  // Whatever comes after TRUNCATED must be from hop 0 (our layer).
  bool truncated = false;
  while (!io.cells.empty()) {
    auto c = io.cells.front();
    io.cells.pop_front();
    crypto::Tor1Digest d{};
    size_t hop = client.receiveInbound(crypto::RelayPayload(c), &d).value_or(99);
    if (truncated) {
      ADD_FAILURE() << "a cell from hop " << hop << " after TRUNCATED";
      continue;
    }
    auto v = cell::decodeRelayCell(Bytes(c));
    if (hop == 0 && v && v->header.command == r(RelayCmd::kTruncated)) truncated = true;
  }
  EXPECT_TRUE(truncated);
}

TEST_F(MiddleFixture, TheNextHopGoneDropsWhatWaitedForIt) {
  buildNtor3(true);
  extendTo();
  io.nextCredit = false;
  EXPECT_TRUE(sendOn(RelayCmd::kDrop, 0, {}));
  EXPECT_TRUE(sendOn(RelayCmd::kDrop, 0, {}));
  size_t clientBack = ledger.back(kClientFlow);
  circ->nextHopGone();
  EXPECT_FALSE(circ->fwdWaiting());
  EXPECT_EQ(ledger.back(kClientFlow), clientBack + 2);
}

TEST_F(MiddleFixture, QueuedCreditOfBothFlowsGoesBackWhenTheCircuitIsDestroyed) {
  buildNtor3(true);
  extendTo();
  io.nextCredit = false;
  io.cellCredit = false;
  io.streamCredit = false;
  size_t clientBack = ledger.back(kClientFlow), nextBack = ledger.back(kNextHopFlow);
  uint8_t b = 'v';
  ASSERT_TRUE(sendOn(RelayCmd::kDrop, 0, {}));          // waits for the next hop
  ASSERT_TRUE(send(RelayCmd::kData, 2, Bytes(&b, 1)));  // waits for the stream side
  ASSERT_TRUE(sendBack(RelayCmd::kDrop, 0, {}));        // waits for channeld
  ASSERT_TRUE(fromStreams(RelayCmd::kData, 2, Bytes(&b, 1)));
  EXPECT_EQ(ledger.back(kClientFlow), clientBack);
  EXPECT_EQ(ledger.back(kNextHopFlow), nextBack);
  EXPECT_EQ(ledger.back(kStreamFlow), 0u);
  circ.reset();
  EXPECT_EQ(ledger.back(kClientFlow), clientBack + 2);
  EXPECT_EQ(ledger.back(kNextHopFlow), nextBack + 1);
  EXPECT_EQ(ledger.back(kStreamFlow), 1u);
}

TEST_F(MiddleFixture, HostileExtendsAndNextHops) {
  buildNtor3(true);
  circ->setHopIdentities(hopIds());
  auto body = extend2Body();
  EXPECT_TRUE(send(RelayCmd::kExtend2, 0, Bytes(body), false))
      << "outside RELAY_EARLY: dropped, as C tor";
  EXPECT_TRUE(io.extends.empty());
  EXPECT_TRUE(send(RelayCmd::kExtend2, 3, Bytes(body), true)) << "on a stream: dropped";
  EXPECT_TRUE(io.extends.empty());
  std::array<uint8_t, 509> cell{};
  EXPECT_FALSE(
      circ->fromNextHop(kCreated2, std::span<uint8_t, 509>(cell), io, ledger.token(kNextHopFlow)))
      << "a CREATED2 nobody asked for";
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);

  rebuild();
  circ->setHopIdentities(hopIds());
  EXPECT_FALSE(
      circ->fromNextHop(kRelay, std::span<uint8_t, 509>(cell), io, ledger.token(kNextHopFlow)))
      << "a RELAY cell from a next hop that is not open";
  rebuild();
  circ->setHopIdentities(hopIds());
  EXPECT_TRUE(send(RelayCmd::kExtend2, 0, Bytes(body), true));
  EXPECT_EQ(io.extends.size(), 1u);
  EXPECT_FALSE(send(RelayCmd::kExtend2, 0, Bytes(body), true))
      << "a second EXTEND2 while the first is under way";
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
  EXPECT_EQ(io.extends.size(), 1u);
  // A second EXTEND2 once the next hop is open.
  rebuild();
  extendTo();
  EXPECT_FALSE(send(RelayCmd::kExtend2, 0, Bytes(body), true));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
  // A second CREATED2 from the open next hop.
  rebuild();
  extendTo();
  auto again = created2(std::vector<uint8_t>(64, 0x5c));
  EXPECT_FALSE(
      circ->fromNextHop(kCreated2, std::span<uint8_t, 509>(again), io, ledger.token(kNextHopFlow)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

TEST_F(MiddleFixture, RefusedExtendsCloseTheCircuit) {
  buildNtor3(true);
  circ->setHopIdentities(hopIds());
  auto self = extend2Body(0x11);
  EXPECT_FALSE(send(RelayCmd::kExtend2, 0, Bytes(self), true));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kConnectFailed);
  EXPECT_TRUE(io.extends.empty());
  rebuild();
  circ->setHopIdentities(hopIds());
  auto back = extend2Body(0x01);
  EXPECT_FALSE(send(RelayCmd::kExtend2, 0, Bytes(back), true));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

// An EXTEND2 held behind stream messages (the stream side had no credit) is still the RELAY_EARLY
// cell it came as when it leaves the queue; it used to be taken for a plain RELAY and refused.
TEST_F(MiddleFixture, AHeldExtendKeepsItsRelayEarly) {
  buildNtor3(true);
  circ->setHopIdentities(hopIds());
  io.streamCredit = false;
  uint8_t begin[] = "a:1\0";
  ASSERT_TRUE(send(RelayCmd::kBegin, 1, Bytes(begin, sizeof begin)));
  auto body = extend2Body();
  ASSERT_TRUE(send(RelayCmd::kExtend2, 0, Bytes(body), true));
  EXPECT_EQ(circ->held(), 2u);
  EXPECT_TRUE(io.extends.empty());
  io.streamCredit = true;
  ASSERT_TRUE(circ->drainHeld(now, io));
  EXPECT_EQ(circ->held(), 0u);
  ASSERT_EQ(io.extends.size(), 1u) << "the held EXTEND2 still counts as RELAY_EARLY";
  EXPECT_EQ(io.extends[0].rsaId[0], kNextRsa);
}

TEST_F(MiddleFixture, AFailedConnectionClosesTheCircuitUnlessTruncated) {
  buildNtor3(true);
  circ->setHopIdentities(hopIds());
  auto body = extend2Body();
  ASSERT_TRUE(send(RelayCmd::kExtend2, 0, Bytes(body), true));
  ASSERT_EQ(io.extends.size(), 1u);
  EXPECT_EQ(circ->extendResult(false), Middle::Extended::kFailed);
  // The client truncated while channeld was connecting: its answer is not wanted, and nothing
  // of a next hop is destroyed (channeld's answer closes what it opened).
  ASSERT_TRUE(send(RelayCmd::kExtend2, 0, Bytes(body), true));
  ASSERT_EQ(io.extends.size(), 2u);
  EXPECT_TRUE(send(RelayCmd::kTruncate, 0, {}));
  EXPECT_TRUE(io.nextHopDestroyed.empty());
  EXPECT_EQ(circ->extendResult(true), Middle::Extended::kUnwanted);
  EXPECT_EQ(circ->extendResult(true), Middle::Extended::kUnwanted) << "no extend of ours";
  // The client may extend again after TRUNCATED.
  ASSERT_TRUE(send(RelayCmd::kExtend2, 0, Bytes(body), true));
  EXPECT_EQ(io.extends.size(), 3u);
  EXPECT_EQ(circ->extendResult(true), Middle::Extended::kKeep);
  rebuild();
  // An unrecognized cell with no next hop closes the circuit.
  EXPECT_FALSE(sendJunk());
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

}  // namespace
}  // namespace onionsplit::circuitd

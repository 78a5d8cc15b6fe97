// Tests for circuitd/core/circuit.h: CREATE handshakes against the client sides, then a circuit
// driven as a C tor client drives it: stream messages both ways, circuit SENDMEs (authenticated,
// both directions), the congestion window and the classic window, and every refusal path.
#include "circuitd/core/circuit.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "common/crypto/ntor_handshakes.h"

namespace onionsplit::circuitd {
namespace {

using cell::RelayCmd;
constexpr uint8_t r(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

struct Msg {
  uint16_t stream;
  uint8_t command;
  std::vector<uint8_t> body;
};

// The shell's side, recorded.
struct RecordingIo final : CircuitIo {
  bool cellCredit = true, streamCredit = true;
  std::deque<std::array<uint8_t, 509>> cells;
  std::vector<Msg> delivered;
  bool canSendCell() override { return cellCredit; }
  void sendCell(Bytes p) override {
    std::array<uint8_t, 509> c{};
    std::memcpy(c.data(), p.data(), 509);
    cells.push_back(c);
  }
  bool canDeliver() override { return streamCredit; }
  void deliver(uint16_t s, uint8_t c, Bytes b) override {
    delivered.push_back({s, c, std::vector<uint8_t>(b.begin(), b.end())});
  }
  void random(MutBytes out) override { std::memset(out.data(), 0x5a, out.size()); }
  // The next hop (a middle's circuit).
  bool nextCredit = true;
  std::deque<std::pair<bool, std::array<uint8_t, 509>>> forwarded;  // (RELAY_EARLY, payload)
  bool canSendNext() override { return nextCredit; }
  void sendNext(bool early, Bytes p) override {
    std::array<uint8_t, 509> c{};
    std::memcpy(c.data(), p.data(), 509);
    forwarded.emplace_back(early, c);
  }
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
    auto cc = cell::checkExitReply(Bytes(done->serverMessage), params.cc);
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

  // The client sends one relay message; returns what FWD did.
  Circuit::Fwd send(RelayCmd cmd, uint16_t stream, Bytes body, bool early = false,
                    crypto::Tor1Digest* digest = nullptr) {
    std::array<uint8_t, 509> c{};
    cell::encodeRelayCell(MutBytes(c), cmd, stream, body,
                          [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
    crypto::Tor1Digest d{};
    client.originateOutbound(0, crypto::RelayPayload(c), &d);
    if (digest) *digest = d;
    return circ->fromClient(early, std::span<uint8_t, 509>(c), now, io);
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
  Circuit::Bwd fromStreams(RelayCmd cmd, uint16_t stream, Bytes body) {
    return circ->fromStreams(stream, r(cmd), body, now, io);
  }
  // A v1 circuit SENDME carrying `tag`.
  Circuit::Fwd sendme(const crypto::Tor1Digest& tag) {
    uint8_t b[23];
    Writer w{MutBytes(b)};
    cell::encodeSendme(cell::SendmeMsg{1, Bytes(tag)}, w);
    return send(RelayCmd::kSendme, 0, w.written());
  }
};

TEST_F(Fixture, StreamMessagesGoBothWaysOverNtorV3WithCongestionControl) {
  buildNtor3(true);
  ASSERT_TRUE(circ->ccEnabled());
  uint8_t begin[] = "example.com:80\0";
  EXPECT_EQ(send(RelayCmd::kBegin, 7, Bytes(begin, sizeof begin)), Circuit::Fwd::kTaken);
  ASSERT_EQ(io.delivered.size(), 1u);
  EXPECT_EQ(io.delivered[0].stream, 7);
  EXPECT_EQ(io.delivered[0].command, r(RelayCmd::kBegin));
  EXPECT_EQ(io.delivered[0].body, std::vector<uint8_t>(begin, begin + sizeof begin));

  uint8_t hello[] = {'h', 'i'};
  EXPECT_EQ(fromStreams(RelayCmd::kData, 7, Bytes(hello, 2)), Circuit::Bwd::kSent);
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
            cell::DestroyReason::kProtocol)
      << "TAP CREATE is refused";
  EXPECT_EQ(
      answerCreate(10, Bytes(create2(0, std::vector<uint8_t>(186))), id, params, Bytes(fill(1)))
          .error(),
      cell::DestroyReason::kProtocol);
  // ntor for another relay's identity.
  std::array<uint8_t, crypto::kNtorOnionskinLen> skin{};
  std::array<uint8_t, 20> other{};
  crypto::ntorClientCreate(Bytes(other), Bytes(id.onionKeys[0].publicKey), Bytes(fill(2)), skin);
  EXPECT_FALSE(
      answerCreate(10, Bytes(create2(2, {skin.begin(), skin.end()})), id, params, Bytes(fill(1))));
  EXPECT_FALSE(answerCreate(10, Bytes(create2(2, {1, 2, 3})), id, params, Bytes(fill(1))));
}

TEST_F(Fixture, TheCongestionWindowHoldsDataUntilAnAuthenticatedSendme) {
  buildNtor3(true);
  uint8_t byte = 'x';
  uint64_t cwnd = circ->vegas()->cwnd();
  for (uint64_t i = 0; i < cwnd; ++i)
    ASSERT_EQ(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)), Circuit::Bwd::kSent) << i;
  EXPECT_EQ(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)), Circuit::Bwd::kQueued);
  // Non-DATA behind queued DATA waits too: order is kept.
  uint8_t end = 6;
  EXPECT_EQ(fromStreams(RelayCmd::kEnd, 1, Bytes(&end, 1)), Circuit::Bwd::kQueued);
  // The client acknowledges the first sendme_inc (31) cells with the digest of the 31st.
  crypto::Tor1Digest tag{};
  for (int i = 0; i < 31; ++i)
    receive(nullptr, &tag);
  EXPECT_EQ(sendme(tag), Circuit::Fwd::kTaken);
  EXPECT_EQ(circ->pump(now, io), 2u) << "the queued DATA and END went out";
  EXPECT_EQ(circ->queued(), 0u);
}

TEST_F(Fixture, ASendmeWithAWrongTagOrNothingToAcknowledgeDestroysTheCircuit) {
  buildNtor3(true);
  crypto::Tor1Digest wrong{};
  wrong.fill(0xee);
  EXPECT_EQ(sendme(wrong), Circuit::Fwd::kDestroy) << "nothing outstanding";
  EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kProtocol);

  circ.reset();
  client = crypto::ClientCircuit();
  buildNtor3(true);
  uint8_t byte = 'x';
  for (int i = 0; i < 31; ++i)
    fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1));
  EXPECT_EQ(sendme(wrong), Circuit::Fwd::kDestroy);
}

TEST_F(Fixture, TheClassicWindowIsAThousandCells) {
  buildNtor();
  EXPECT_FALSE(circ->ccEnabled());
  uint8_t byte = 'x';
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)), Circuit::Bwd::kSent) << i;
  EXPECT_EQ(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)), Circuit::Bwd::kQueued);
  crypto::Tor1Digest tag{};
  for (int i = 0; i < 100; ++i)
    receive(nullptr, &tag);
  EXPECT_EQ(sendme(tag), Circuit::Fwd::kTaken);
  EXPECT_EQ(circ->pump(now, io), 1u);
}

TEST_F(Fixture, TheExitAcknowledgesClientDataWithAuthenticatedSendmes) {
  buildNtor();
  uint8_t begin[] = "a:1\0";
  send(RelayCmd::kBegin, 3, Bytes(begin, sizeof begin));
  uint8_t byte = 'y';
  crypto::Tor1Digest last{};
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(send(RelayCmd::kData, 3, Bytes(&byte, 1), false, &last), Circuit::Fwd::kTaken);
  circ->pump(now, io);
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
  EXPECT_EQ(send(RelayCmd::kBegin, 3, Bytes(begin, sizeof begin)), Circuit::Fwd::kHeld);
  uint8_t d = 'z';
  EXPECT_EQ(send(RelayCmd::kData, 3, Bytes(&d, 1)), Circuit::Fwd::kHeld);
  EXPECT_EQ(io.delivered.size(), 0u);
  io.streamCredit = true;
  EXPECT_EQ(circ->drainHeld(io), 2u);
  ASSERT_EQ(io.delivered.size(), 2u);
  EXPECT_EQ(io.delivered[0].command, r(RelayCmd::kBegin));
  EXPECT_EQ(io.delivered[1].command, r(RelayCmd::kData));
}

TEST_F(Fixture, HostileCellsDestroyTheCircuit) {
  buildNtor3(true);
  // A cell that does not decrypt to a recognized one (garbage, or a wrong key).
  std::array<uint8_t, 509> junk{};
  junk.fill(0xab);
  EXPECT_EQ(circ->fromClient(false, std::span<uint8_t, 509>(junk), now, io),
            Circuit::Fwd::kDestroy);

  for (auto [cmd, stream] :
       {std::pair{RelayCmd::kData, uint16_t{0}}, std::pair{RelayCmd::kConnected, uint16_t{1}},
        std::pair{RelayCmd::kConfluxLinked, uint16_t{0}},
        std::pair{RelayCmd::kConfluxSwitch, uint16_t{0}},
        std::pair{RelayCmd::kConfluxLinkedAck, uint16_t{0}}}) {
    circ.reset();
    client = crypto::ClientCircuit();
    buildNtor3(true);
    uint8_t b[4] = {};
    EXPECT_EQ(send(cmd, stream, Bytes(b, 4)), Circuit::Fwd::kDestroy) << int(r(cmd));
    EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kProtocol);
  }
}

TEST_F(Fixture, ConfluxLinkNeedsCongestionControl) {
  buildNtor3(false);
  uint8_t b[4] = {};
  EXPECT_EQ(send(RelayCmd::kConfluxLink, 0, Bytes(b, 4)), Circuit::Fwd::kDestroy);
  EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kProtocol);
  EXPECT_FALSE(circ->isLeg());
}

TEST_F(Fixture, ALinkMakesTheCircuitALegWhoseConfluxMessagesGoToTheStreamSide) {
  buildNtor3(true);
  uint8_t b[4] = {1, 2, 3, 4};
  EXPECT_EQ(send(RelayCmd::kConfluxLink, 0, Bytes(b, 4)), Circuit::Fwd::kTaken);
  EXPECT_TRUE(circ->isLeg());
  EXPECT_EQ(send(RelayCmd::kConfluxLinkedAck, 0, {}), Circuit::Fwd::kTaken);
  EXPECT_EQ(send(RelayCmd::kConfluxSwitch, 0, Bytes(b, 4)), Circuit::Fwd::kTaken);
  EXPECT_EQ(send(RelayCmd::kBegin, 3, Bytes(b, 4)), Circuit::Fwd::kTaken);
  ASSERT_EQ(io.delivered.size(), 4u);
  EXPECT_EQ(io.delivered[0].command, r(RelayCmd::kConfluxLink));
  EXPECT_EQ(io.delivered[1].command, r(RelayCmd::kConfluxLinkedAck));
  EXPECT_EQ(io.delivered[2].command, r(RelayCmd::kConfluxSwitch));
  EXPECT_EQ(io.delivered[3].command, r(RelayCmd::kBegin));
  // Back toward the client: LINKED and SWITCH (stream 0) only from confluxd.
  EXPECT_EQ(circ->fromStreams(0, r(RelayCmd::kConfluxSwitch), Bytes(b, 4), now, io),
            Circuit::Bwd::kViolation);
  EXPECT_EQ(circ->fromStreams(0, r(RelayCmd::kConfluxSwitch), Bytes(b, 4), now, io, true),
            Circuit::Bwd::kSent);
  EXPECT_EQ(circ->fromStreams(0, r(RelayCmd::kConfluxLinked), Bytes(b, 4), now, io, true),
            Circuit::Bwd::kSent);
  EXPECT_EQ(circ->fromStreams(0, r(RelayCmd::kData), Bytes(b, 4), now, io, true),
            Circuit::Bwd::kViolation);
  EXPECT_EQ(receive().command, r(RelayCmd::kConfluxSwitch));
  EXPECT_EQ(receive().command, r(RelayCmd::kConfluxLinked));
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
  EXPECT_EQ(circ->fromClient(false, std::span<uint8_t, 509>(c), now, io), Circuit::Fwd::kDestroy);
  EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kProtocol);
}

TEST_F(Fixture, NineRelayEarlyCellsAreOneTooMany) {
  buildNtor3(true);
  for (int i = 0; i < 8; ++i)
    ASSERT_EQ(send(RelayCmd::kDrop, 0, {}, true), Circuit::Fwd::kTaken);
  EXPECT_EQ(send(RelayCmd::kDrop, 0, {}, true), Circuit::Fwd::kDestroy);
}

// ---- the middle role (EXTEND2) ----

constexpr uint8_t kNextRsa = 0x99;

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
  using R = cell::DestroyReason;
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

  // EXTEND2 -> extend -> CREATED2 -> EXTENDED2 -> the client has two hops.
  void extendTo() {
    circ->setHopIdentities(hopIds());
    auto body = extend2Body();
    ASSERT_EQ(send(RelayCmd::kExtend2, 0, Bytes(body), true), Circuit::Fwd::kExtend);
    auto t = circ->takeExtend();
    ASSERT_TRUE(t);
    EXPECT_FALSE(circ->takeExtend()) << "taken once";
    bool kill = true;
    ASSERT_TRUE(circ->extendResult(true, &kill));
    EXPECT_FALSE(kill);
    std::array<uint8_t, 509> created{};
    std::vector<uint8_t> reply(64, 0x5c);
    Writer w{MutBytes(created)};
    cell::encodeCreated2(cell::Created2{Bytes(reply)}, w);
    ASSERT_EQ(circ->fromNextHop(11, std::span<uint8_t, 509>(created), io), Circuit::Next::kSent);
    circ->pump(now, io);
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
  Circuit::Fwd sendOn(RelayCmd cmd, uint16_t stream, Bytes body, bool early = false) {
    std::array<uint8_t, 509> c{};
    cell::encodeRelayCell(MutBytes(c), cmd, stream, body,
                          [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
    crypto::Tor1Digest d{};
    client.originateOutbound(1, crypto::RelayPayload(c), &d);
    return circ->fromClient(early, std::span<uint8_t, 509>(c), now, io);
  }
  // The second hop sends a message toward the client.
  Circuit::Next sendBack(RelayCmd cmd, uint16_t stream, Bytes body) {
    std::array<uint8_t, 509> c{};
    cell::encodeRelayCell(MutBytes(c), cmd, stream, body,
                          [](MutBytes o) { std::memset(o.data(), 0, o.size()); });
    crypto::Tor1Digest d{};
    next->originateInbound(crypto::RelayPayload(c), &d);
    return circ->fromNextHop(3, std::span<uint8_t, 509>(c), io);
  }
};

TEST_F(MiddleFixture, CellsGoToTheNextHopAndBackWithOurLayer) {
  buildNtor3(true);
  extendTo();
  uint8_t begin[] = "example.com:80\0";
  ASSERT_EQ(sendOn(RelayCmd::kBegin, 5, Bytes(begin, sizeof begin)), Circuit::Fwd::kTaken);
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
  ASSERT_EQ(sendBack(RelayCmd::kData, 5, Bytes(data, 2)), Circuit::Next::kSent);
  ASSERT_EQ(io.cells.size(), 1u);
  auto c = io.cells.front();
  io.cells.pop_front();
  EXPECT_EQ(client.receiveInbound(crypto::RelayPayload(c), &d), 1u) << "from the second hop";
  auto back = cell::decodeRelayCell(Bytes(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->header.command, r(RelayCmd::kData));
  EXPECT_EQ(back->body[1], 'k');
  EXPECT_EQ(circ->cellsToClient(), 2u) << "EXTENDED2 and the relayed cell";
}

TEST_F(MiddleFixture, RelayEarlyIsKeptAndStillCounted) {
  buildNtor3(true);
  extendTo();  // the EXTEND2 was RELAY_EARLY number 1
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(sendOn(RelayCmd::kDrop, 0, {}, true), Circuit::Fwd::kTaken) << i;
  ASSERT_EQ(io.forwarded.size(), 7u);
  EXPECT_TRUE(io.forwarded[0].first) << "RELAY_EARLY goes on as RELAY_EARLY";
  EXPECT_EQ(sendOn(RelayCmd::kDrop, 0, {}, true), Circuit::Fwd::kDestroy) << "the ninth";
  EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kProtocol);
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
  EXPECT_EQ(circ->fromNextHop(9, std::span<uint8_t, 509>(c), io), Circuit::Next::kDestroy);
  EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kProtocol);
  EXPECT_EQ(io.cells.size(), before) << "nothing of it reaches the client";
}

TEST_F(MiddleFixture, CreditHoldsCellsBothWaysInBoundedQueues) {
  buildNtor3(true);
  extendTo();
  io.nextCredit = false;
  EXPECT_EQ(sendOn(RelayCmd::kDrop, 0, {}), Circuit::Fwd::kHeld);
  EXPECT_EQ(sendOn(RelayCmd::kDrop, 0, {}), Circuit::Fwd::kHeld);
  EXPECT_TRUE(circ->fwdWaiting());
  io.nextCredit = true;
  EXPECT_EQ(circ->pumpForward(io), 2u);
  EXPECT_EQ(io.forwarded.size(), 2u);

  io.cellCredit = false;
  EXPECT_EQ(sendBack(RelayCmd::kDrop, 0, {}), Circuit::Next::kQueued);
  EXPECT_TRUE(circ->bwdWaiting());
  io.cellCredit = true;
  EXPECT_EQ(circ->pumpRelayed(io), 1u);
  crypto::Tor1Digest d{};
  auto c = io.cells.back();
  EXPECT_EQ(client.receiveInbound(crypto::RelayPayload(c), &d), 1u);

  // A next hop that ignores its credit fills the queue and the circuit closes.
  io.cellCredit = false;
  Circuit::Next last = Circuit::Next::kQueued;
  for (int i = 0; i < 100 && last == Circuit::Next::kQueued; ++i)
    last = sendBack(RelayCmd::kDrop, 0, {});
  EXPECT_EQ(last, Circuit::Next::kDestroy);
  EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kResourceLimit);
}

TEST_F(MiddleFixture, TruncateEndsTheNextHopAndAnswersTruncated) {
  buildNtor3(true);
  extendTo();
  io.nextCredit = false;
  EXPECT_EQ(sendOn(RelayCmd::kDrop, 0, {}), Circuit::Fwd::kHeld);
  uint8_t reason = 9;
  EXPECT_EQ(send(RelayCmd::kTruncate, 0, Bytes(&reason, 1)), Circuit::Fwd::kTruncate);
  EXPECT_EQ(circ->truncateReason(), 9);
  EXPECT_EQ(circ->dropForward(), 1u) << "the waiting cell's credit goes back";
  EXPECT_FALSE(circ->hasNextHop());
  circ->pump(now, io);
  std::vector<uint8_t> b;
  auto c = io.cells.back();
  io.cells.clear();
  io.cells.push_back(c);
  auto h = receive(&b);
  EXPECT_EQ(h.command, r(RelayCmd::kTruncated));
  EXPECT_EQ(b[0], static_cast<uint8_t>(cell::DestroyReason::kRequested));
}

TEST_F(MiddleFixture, HostileExtendsAndNextHops) {
  buildNtor3(true);
  circ->setHopIdentities(hopIds());
  auto body = extend2Body();
  EXPECT_EQ(send(RelayCmd::kExtend2, 0, Bytes(body), false), Circuit::Fwd::kTaken)
      << "outside RELAY_EARLY: dropped, as C tor";
  EXPECT_FALSE(circ->takeExtend());
  EXPECT_EQ(send(RelayCmd::kExtend2, 3, Bytes(body), true), Circuit::Fwd::kTaken)
      << "on a stream: dropped";
  EXPECT_FALSE(circ->takeExtend());
  std::array<uint8_t, 509> cell{};
  EXPECT_EQ(circ->fromNextHop(11, std::span<uint8_t, 509>(cell), io), Circuit::Next::kDestroy)
      << "a CREATED2 nobody asked for";
  EXPECT_EQ(send(RelayCmd::kExtend2, 0, Bytes(body), true), Circuit::Fwd::kExtend);
  EXPECT_EQ(send(RelayCmd::kExtend2, 0, Bytes(body), true), Circuit::Fwd::kDestroy)
      << "a second EXTEND2 while the first is under way";
}

TEST_F(MiddleFixture, RefusedExtendsCloseTheCircuit) {
  buildNtor3(true);
  circ->setHopIdentities(hopIds());
  auto self = extend2Body(0x11);
  EXPECT_EQ(send(RelayCmd::kExtend2, 0, Bytes(self), true), Circuit::Fwd::kDestroy);
  EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kConnectFailed);
}

TEST_F(MiddleFixture, AFailedConnectionClosesTheCircuitUnlessTruncated) {
  buildNtor3(true);
  circ->setHopIdentities(hopIds());
  auto body = extend2Body();
  ASSERT_EQ(send(RelayCmd::kExtend2, 0, Bytes(body), true), Circuit::Fwd::kExtend);
  bool kill = false;
  EXPECT_FALSE(circ->extendResult(false, &kill));
  EXPECT_TRUE(kill);
  // The client truncated while channeld was connecting: its answer is not wanted.
  ASSERT_EQ(send(RelayCmd::kExtend2, 0, Bytes(body), true), Circuit::Fwd::kExtend);
  EXPECT_EQ(send(RelayCmd::kTruncate, 0, {}), Circuit::Fwd::kTaken);
  EXPECT_FALSE(circ->extendResult(true, &kill));
  EXPECT_FALSE(kill);
  // An unrecognized cell with no next hop still closes the circuit.
  std::array<uint8_t, 509> junk{};
  junk.fill(0xee);
  EXPECT_EQ(circ->fromClient(false, std::span<uint8_t, 509>(junk), now, io),
            Circuit::Fwd::kDestroy);
  EXPECT_EQ(circ->destroyReason(), cell::DestroyReason::kProtocol);
}

TEST_F(Fixture, TheStreamSideMaySendOnlyWhatAnExitSends) {
  buildNtor3(true);
  uint8_t b[1] = {};
  EXPECT_EQ(fromStreams(RelayCmd::kBegin, 1, Bytes(b, 1)), Circuit::Bwd::kViolation);
  EXPECT_EQ(fromStreams(RelayCmd::kData, 0, Bytes(b, 1)), Circuit::Bwd::kViolation);
  std::vector<uint8_t> big(499);
  EXPECT_EQ(fromStreams(RelayCmd::kData, 1, Bytes(big)), Circuit::Bwd::kViolation);
  EXPECT_EQ(fromStreams(RelayCmd::kConnected, 1, {}), Circuit::Bwd::kSent);
}

TEST_F(Fixture, ChanneldCreditHoldsCellsInOrder) {
  buildNtor3(true);
  io.cellCredit = false;
  uint8_t a = 'a', bb = 'b';
  EXPECT_EQ(fromStreams(RelayCmd::kData, 1, Bytes(&a, 1)), Circuit::Bwd::kQueued);
  io.cellCredit = true;
  EXPECT_EQ(fromStreams(RelayCmd::kData, 1, Bytes(&bb, 1)), Circuit::Bwd::kQueued)
      << "a message never overtakes one already waiting";
  EXPECT_EQ(circ->pump(now, io), 2u);
  std::vector<uint8_t> body;
  receive(&body);
  EXPECT_EQ(body[0], 'a');
  receive(&body);
  EXPECT_EQ(body[0], 'b');
}

}  // namespace
}  // namespace onionsplit::circuitd

namespace onionsplit::circuitd {
namespace {

TEST(CreateLimiter, BurstThenRate) {
  uint64_t t = 5'000'000;
  CreateLimiter l(t, 3, 90);
  for (int i = 0; i < 90; ++i)
    ASSERT_TRUE(l.allow(t)) << i;
  EXPECT_FALSE(l.allow(t)) << "the burst is spent";
  t += 1'000'000;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(l.allow(t)) << "three per second";
  EXPECT_FALSE(l.allow(t));
  t += 400'000;
  EXPECT_TRUE(l.allow(t)) << "a third of a second earns one";
  t += 3600'000'000ULL;
  for (int i = 0; i < 90; ++i)
    ASSERT_TRUE(l.allow(t));
  EXPECT_FALSE(l.allow(t)) << "never more than the burst";
}

}  // namespace
}  // namespace onionsplit::circuitd

// Tests for circuitd/core/circuit.h with the relay crypto chosen at CREATE2: the same exchanges
// on a tor1 circuit and on a CGO circuit (ntor v3 with the SUBPROTO request for Relay=6), driven
// by the client side of each crypto (crypto::ClientCircuit, crypto::CgoClientCircuit): stream
// messages, DATA and authenticated SENDMEs both ways (CGO's 16-byte tags), END both ways; then
// what only the v1 format and CGO do: DATA of a v0 cell split in two v1 cells, RELAY_EARLY
// authenticated by CGO, unknown commands closing the circuit, and the middle role's forwarding
// through a CGO layer both ways.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "circuitd/core/circuit.h"
#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "common/cell/relay_v1.h"
#include "common/crypto/cgo.h"
#include "common/crypto/ntor_handshakes.h"
#include "common/flowctl/credit_token.h"
#include "tests/common/flowctl/counting_ledger.h"

namespace onionsplit::circuitd {
namespace {

using cell::DestroyReason;
using cell::RelayCmd;
using Cell = std::array<uint8_t, 509>;
constexpr uint8_t r(RelayCmd c) {
  return static_cast<uint8_t>(c);
}
constexpr uint8_t kCellRelay = 3, kCellRelayEarly = 9, kCellCreated2 = 11;
constexpr flowctl::FlowId kClientFlow = 1, kStreamFlow = 2, kNextHopFlow = 3;

std::array<uint8_t, 32> fill(uint8_t v) {
  std::array<uint8_t, 32> a{};
  a.fill(v);
  return a;
}

struct Msg {
  uint16_t stream;
  uint8_t command;
  std::vector<uint8_t> body;
};

struct Io final : CircuitIo {
  std::deque<Cell> cells;  // to the client
  std::vector<Msg> delivered;
  std::deque<std::pair<bool, Cell>> forwarded;  // to the next hop
  std::vector<ExtendTarget> extends;
  bool canSendCell() override { return true; }
  void sendCell(Bytes p) override {
    Cell c{};
    std::memcpy(c.data(), p.data(), c.size());
    cells.push_back(c);
  }
  bool canDeliver() override { return true; }
  Delivery deliver(cell::StreamId s, uint8_t c, Bytes b) override {
    delivered.push_back({s, c, std::vector<uint8_t>(b.begin(), b.end())});
    return {};
  }
  void random(MutBytes out) override { std::memset(out.data(), 0x5a, out.size()); }
  bool canSendNext() override { return true; }
  void sendNext(bool early, Bytes p) override {
    Cell c{};
    std::memcpy(c.data(), p.data(), c.size());
    forwarded.emplace_back(early, c);
  }
  void extend(ExtendTarget t) override { extends.push_back(std::move(t)); }
  void destroyNextHop(uint8_t) override {}
  void droppedCell() override {}
};

// The client's side of either crypto, hop 0 being this relay.
struct TestClient {
  bool cgo = false;
  crypto::ClientCircuit tor1;
  crypto::CgoClientCircuit cg;

  cell::RelayCellFormat format() const {
    return cgo ? cell::RelayCellFormat::kV1 : cell::RelayCellFormat::kV0;
  }
  size_t tagLen() const { return cgo ? crypto::kCgoTagLen : crypto::kTor1DigestLen; }
  bool addHop(Bytes keyMaterial) {
    if (cgo) return cg.addHop(keyMaterial.first(crypto::kCgoKeyMaterialLen));
    auto k = crypto::Tor1Keys::fromKeyMaterial(keyMaterial);
    return k && tor1.addHop(*k);
  }
  // Encrypts an encoded cell for hop `hop`; returns its SENDME tag (tagLen() bytes).
  std::vector<uint8_t> seal(size_t hop, bool early, Cell& c) {
    if (cgo) {
      crypto::CgoTag t{};
      EXPECT_TRUE(cg.originateOutbound(hop, early ? kCellRelayEarly : kCellRelay,
                                       crypto::RelayPayload(c), &t));
      return {t.begin(), t.end()};
    }
    crypto::Tor1Digest d{};
    EXPECT_TRUE(tor1.originateOutbound(hop, crypto::RelayPayload(c), &d));
    return {d.begin(), d.end()};
  }
  Cell encode(uint8_t cmd, uint16_t stream, Bytes body) const {
    Cell c{};
    EXPECT_EQ(cell::encodeRelayMsgView(format(), MutBytes(c), cell::RelayMsgView{cmd, stream, body},
                                       [](MutBytes o) { std::memset(o.data(), 0, o.size()); }),
              cell::RelayEncodeErr::kNone);
    return c;
  }
  // Decrypts a cell from hop 0; returns the hop that recognized it and its tag.
  std::optional<size_t> open(Cell& c, std::vector<uint8_t>* tag) {
    if (cgo) {
      crypto::CgoTag t{};
      auto hop = cg.receiveInbound(kCellRelay, crypto::RelayPayload(c), &t);
      if (tag) tag->assign(t.begin(), t.end());
      return hop;
    }
    crypto::Tor1Digest d{};
    auto hop = tor1.receiveInbound(crypto::RelayPayload(c), &d);
    if (tag) tag->assign(d.begin(), d.end());
    return hop;
  }
};

class CgoOrTor1 : public ::testing::TestWithParam<bool> {
 protected:
  OnionIdentity id;
  CircuitParams params;
  TestClient client;
  flowctl::testing::CountingLedger ledger;
  std::optional<Circuit> circ;
  Io io;
  uint64_t now = 1'000'000;

  CgoOrTor1() {
    id.rsaId.fill(0x11);
    id.edId = fill(0x22);
    id.onionKeys.push_back(*crypto::Curve25519Keypair::fromSecret(Bytes(fill(0x33))));
    client.cgo = GetParam();
  }
  bool cgo() const { return client.cgo; }

  // CREATE2 with ntor v3, asking for congestion control and, on a CGO run, for Relay=6.
  void build() {
    std::vector<uint8_t> msg =
        cgo() ? std::vector<uint8_t>{2, 1, 0, 3, 2, 2, 6} : std::vector<uint8_t>{1, 1, 0};
    crypto::Ntor3ClientState st;
    auto hs =
        crypto::ntor3ClientCreate(Bytes(id.edId), Bytes(id.onionKeys[0].publicKey), Bytes(msg),
                                  Bytes(fill(0x44)), crypto::kNtor3CircuitVerification, st);
    std::vector<uint8_t> p(509);
    Writer w{MutBytes(p)};
    cell::encodeCreate2(cell::Create2{3, Bytes(hs)}, w);
    auto created = answerCreate(10, Bytes(p), id, params, Bytes(fill(0x55)));
    ASSERT_TRUE(created);
    ASSERT_EQ(created->cgo, cgo());
    auto c2 = cell::decodeCreated2(Bytes(created->payload));
    ASSERT_TRUE(c2);
    auto done = crypto::ntor3ClientComplete(st, c2->hdata, crypto::kCgoKeyMaterialLen + 20);
    ASSERT_TRUE(done);
    ASSERT_TRUE(client.addHop(Bytes(done->keys)));
    circ = Circuit::create(*created, params);
    ASSERT_TRUE(circ);
    ASSERT_EQ(circ->isCgo(), cgo());
    ASSERT_EQ(circ->cellFormat(), client.format());
    ASSERT_TRUE(circ->ccEnabled());
  }
  // The client sends a message to hop `hop` (0: this relay); `tag` gets its SENDME tag.
  bool sendTo(size_t hop, RelayCmd cmd, uint16_t stream, Bytes body, bool early = false,
              std::vector<uint8_t>* tag = nullptr) {
    Cell c = client.encode(r(cmd), stream, body);
    auto t = client.seal(hop, early, c);
    if (tag) *tag = t;
    return circ->fromClient(early, std::span<uint8_t, 509>(c), now, io, ledger.token(kClientFlow));
  }
  bool send(RelayCmd cmd, uint16_t stream, Bytes body, std::vector<uint8_t>* tag = nullptr) {
    return sendTo(0, cmd, stream, body, false, tag);
  }
  // The client reads the next cell this relay sent: the message (body copied) and its tag.
  Msg receive(std::vector<uint8_t>* tag = nullptr) {
    EXPECT_FALSE(io.cells.empty());
    if (io.cells.empty()) return {};
    Cell c = io.cells.front();
    io.cells.pop_front();
    EXPECT_EQ(client.open(c, tag), std::optional<size_t>(0));
    auto v = cell::decodeRelayMsgView(client.format(), Bytes(c));
    EXPECT_TRUE(v);
    if (!v) return {};
    return {v->streamId, v->command, std::vector<uint8_t>(v->data.begin(), v->data.end())};
  }
  bool sendme(Bytes tag) {
    uint8_t b[3 + 20];
    Writer w{MutBytes(b)};
    cell::encodeSendme(cell::SendmeMsg{1, tag}, w);
    return send(RelayCmd::kSendme, 0, w.written());
  }
  bool fromStreams(RelayCmd cmd, uint16_t stream, Bytes body) {
    return circ->fromStreams(stream, r(cmd), body, now, io, ledger.token(kStreamFlow));
  }
};

INSTANTIATE_TEST_SUITE_P(Crypto, CgoOrTor1, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("Cgo") : std::string("Tor1");
                         });

TEST_P(CgoOrTor1, DataSendmesAndEndGoBothWays) {
  build();
  uint8_t begin[] = "example.com:80\0";
  ASSERT_TRUE(send(RelayCmd::kBegin, 7, Bytes(begin, sizeof begin)));
  ASSERT_EQ(io.delivered.size(), 1u);
  EXPECT_EQ(io.delivered[0].stream, 7);
  EXPECT_EQ(io.delivered[0].command, r(RelayCmd::kBegin));
  EXPECT_EQ(io.delivered[0].body, std::vector<uint8_t>(begin, begin + sizeof begin));

  uint8_t connected[8] = {127, 0, 0, 1, 0, 0, 0, 60};
  ASSERT_TRUE(fromStreams(RelayCmd::kConnected, 7, Bytes(connected)));
  Msg m = receive();
  EXPECT_EQ(m.command, r(RelayCmd::kConnected));
  EXPECT_EQ(m.stream, 7);

  // Client to exit: sendme_inc (31) DATA cells; our SENDME carries the tag of the 31st.
  std::vector<uint8_t> last;
  uint8_t byte = 'q';
  for (int i = 0; i < 31; ++i)
    ASSERT_TRUE(send(RelayCmd::kData, 7, Bytes(&byte, 1), &last));
  EXPECT_EQ(last.size(), client.tagLen());
  EXPECT_EQ(io.delivered.size(), 32u);
  EXPECT_EQ(io.delivered.back().stream, 7);
  ASSERT_TRUE(circ->pump(now, io));
  m = receive();
  EXPECT_EQ(m.command, r(RelayCmd::kSendme));
  EXPECT_EQ(m.stream, 0);
  auto s = cell::decodeSendme(Bytes(m.body));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->version, 1);
  EXPECT_EQ(std::vector<uint8_t>(s->tag.begin(), s->tag.end()), last);

  // Exit to client: the congestion window, then the client's SENDME with the 31st cell's tag.
  uint64_t cwnd = circ->vegas()->cwnd();
  for (uint64_t i = 0; i <= cwnd; ++i)
    ASSERT_TRUE(fromStreams(RelayCmd::kData, 7, Bytes(&byte, 1)));
  EXPECT_EQ(io.cells.size(), cwnd) << "the last one waits for the window";
  std::vector<uint8_t> tag;
  for (int i = 0; i < 31; ++i) {
    m = receive(&tag);
    EXPECT_EQ(m.command, r(RelayCmd::kData));
    EXPECT_EQ(m.stream, 7);
  }
  EXPECT_EQ(tag.size(), client.tagLen());
  ASSERT_TRUE(sendme(Bytes(tag)));
  ASSERT_TRUE(circ->pump(now, io));
  EXPECT_EQ(io.cells.size(), cwnd - 31 + 1) << "the window opened";
  while (!io.cells.empty())
    EXPECT_EQ(receive().command, r(RelayCmd::kData));

  // END both ways.
  uint8_t done = 6;
  ASSERT_TRUE(send(RelayCmd::kEnd, 7, Bytes(&done, 1)));
  EXPECT_EQ(io.delivered.back().command, r(RelayCmd::kEnd));
  EXPECT_EQ(io.delivered.back().stream, 7);
  ASSERT_TRUE(fromStreams(RelayCmd::kEnd, 9, Bytes(&done, 1)));
  m = receive();
  EXPECT_EQ(m.command, r(RelayCmd::kEnd));
  EXPECT_EQ(m.stream, 9);
  EXPECT_EQ(m.body, std::vector<uint8_t>{6});
}

TEST_P(CgoOrTor1, ASendmeTagOfTheOtherCryptosLengthIsRefused) {
  build();
  uint8_t byte = 'x';
  for (int i = 0; i < 31; ++i)
    ASSERT_TRUE(fromStreams(RelayCmd::kData, 1, Bytes(&byte, 1)));
  std::vector<uint8_t> tag;
  for (int i = 0; i < 31; ++i)
    receive(&tag);
  // The right tag, but 20 bytes on CGO (zero-padded) or cut to 16 on tor1.
  tag.resize(cgo() ? 20 : 16);
  EXPECT_FALSE(sendme(Bytes(tag)));
  EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
}

TEST_P(CgoOrTor1, DataOfAFullV0CellFitsOneCellOrTwoV1Cells) {
  build();
  std::vector<uint8_t> data(cell::kRelayBodyMax);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(fromStreams(RelayCmd::kData, 3, Bytes(data)));
  EXPECT_EQ(ledger.back(kStreamFlow), 1u) << "the message left whole";
  std::vector<uint8_t> got;
  size_t cells = 0;
  while (!io.cells.empty()) {
    Msg m = receive();
    EXPECT_EQ(m.command, r(RelayCmd::kData));
    EXPECT_EQ(m.stream, 3);
    got.insert(got.end(), m.body.begin(), m.body.end());
    ++cells;
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(cells, cgo() ? 2u : 1u);
  EXPECT_EQ(circ->vegas()->inflight(), cells) << "each cell counts in the window";
}

TEST_P(CgoOrTor1, RelayEarlyIsAuthenticatedOnlyByCgo) {
  build();
  uint8_t byte = 'x';
  // Sent as RELAY_EARLY, arriving as RELAY (a hop rewrote the command).
  Cell c = client.encode(r(RelayCmd::kDrop), 0, Bytes(&byte, 1));
  client.seal(0, true, c);
  bool alive =
      circ->fromClient(false, std::span<uint8_t, 509>(c), now, io, ledger.token(kClientFlow));
  EXPECT_EQ(alive, !cgo()) << "CGO's tag covers the channel command";
  if (cgo()) {
    EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
  }
}

TEST_P(CgoOrTor1, AnUnknownCommandIsDroppedInV0AndClosesAV1Circuit) {
  build();
  // Command 200 written by hand: no encoder writes it in v1.
  Cell c{};
  size_t at = cgo() ? cell::kRelayV1TagLen : 0;
  c[at] = 200;
  client.seal(0, false, c);
  bool alive =
      circ->fromClient(false, std::span<uint8_t, 509>(c), now, io, ledger.token(kClientFlow));
  EXPECT_EQ(alive, !cgo());
  if (cgo()) {
    EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
  }
}

// The next hop's CREATED2 becomes an EXTENDED2 without a stream id: 2 + 494 bytes fit a v0 cell
// (498) but not a v1 cell (490), so on a CGO circuit the next hop broke the protocol.
TEST_P(CgoOrTor1, ANextHopsReplyLongerThanTheClientsCellIsAProtocolError) {
  build();
  HopIdentities ids;
  ids.ourRsa.fill(0x11);
  ids.ourEd = fill(0x22);
  circ->setHopIdentities(ids);
  std::array<uint8_t, 6> v4{127, 0, 0, 1, 0x23, 0x29};
  std::array<uint8_t, 20> rsa{};
  rsa.fill(0x99);
  std::vector<uint8_t> hdata(200, 0x42);
  cell::Extend2Msg x;
  x.specs[x.specCount++] = {cell::LinkSpecifier::kIpv4, Bytes(v4)};
  x.specs[x.specCount++] = {cell::LinkSpecifier::kRsaId, Bytes(rsa)};
  x.htype = 3;
  x.hdata = Bytes(hdata);
  std::vector<uint8_t> body(498);
  Writer w{MutBytes(body)};
  ASSERT_TRUE(cell::encodeExtend2(x, w));
  ASSERT_TRUE(sendTo(0, RelayCmd::kExtend2, 0, w.written(), true));
  ASSERT_EQ(circ->extendResult(true), Middle::Extended::kKeep);
  Cell created{};
  Writer cw{MutBytes(created)};
  std::vector<uint8_t> reply(494, 0x5c);
  cell::encodeCreated2(cell::Created2{Bytes(reply)}, cw);
  bool alive = circ->fromNextHop(kCellCreated2, std::span<uint8_t, 509>(created), io,
                                 ledger.token(kNextHopFlow));
  EXPECT_EQ(alive, !cgo());
  if (cgo()) {
    EXPECT_EQ(circ->destroyReason(), DestroyReason::kProtocol);
    return;
  }
  ASSERT_TRUE(circ->pump(now, io));
  Msg m = receive();
  EXPECT_EQ(m.command, r(RelayCmd::kExtended2));
  EXPECT_EQ(m.body.size(), 2u + 494);
}

TEST_P(CgoOrTor1, TheMiddleRoleForwardsThroughItsLayerBothWays) {
  build();
  HopIdentities ids;
  ids.ourRsa.fill(0x11);
  ids.ourEd = fill(0x22);
  circ->setHopIdentities(ids);
  // EXTEND2 (RELAY_EARLY) to a relay at 127.0.0.1:9001 with ntor v3.
  std::array<uint8_t, 6> v4{127, 0, 0, 1, 0x23, 0x29};
  std::array<uint8_t, 20> rsa{};
  rsa.fill(0x99);
  std::vector<uint8_t> hdata(200, 0x42);
  cell::Extend2Msg x;
  x.specs[x.specCount++] = {cell::LinkSpecifier::kIpv4, Bytes(v4)};
  x.specs[x.specCount++] = {cell::LinkSpecifier::kRsaId, Bytes(rsa)};
  x.htype = 3;
  x.hdata = Bytes(hdata);
  std::vector<uint8_t> body(498);
  Writer w{MutBytes(body)};
  ASSERT_TRUE(cell::encodeExtend2(x, w));
  ASSERT_TRUE(sendTo(0, RelayCmd::kExtend2, 0, w.written(), true));
  ASSERT_EQ(io.extends.size(), 1u);
  ASSERT_EQ(circ->extendResult(true), Middle::Extended::kKeep);
  Cell created{};
  Writer cw{MutBytes(created)};
  std::vector<uint8_t> reply(64, 0x5c);
  cell::encodeCreated2(cell::Created2{Bytes(reply)}, cw);
  ASSERT_TRUE(circ->fromNextHop(kCellCreated2, std::span<uint8_t, 509>(created), io,
                                ledger.token(kNextHopFlow)));
  ASSERT_TRUE(circ->pump(now, io));
  EXPECT_EQ(receive().command, r(RelayCmd::kExtended2));

  // The next hop runs the same crypto as ours, from fixed key material.
  std::array<uint8_t, crypto::kCgoKeyMaterialLen> km{};
  km.fill(0x3c);
  ASSERT_TRUE(client.addHop(Bytes(km)));
  std::optional<crypto::RelayLayer> nextTor1;
  std::optional<crypto::CgoRelayCrypto> nextCgo;
  if (cgo())
    nextCgo = crypto::CgoRelayCrypto::fromSeed(Bytes(km));
  else
    nextTor1 = crypto::RelayLayer::create(*crypto::Tor1Keys::fromKeyMaterial(Bytes(km)));
  ASSERT_TRUE(nextCgo || nextTor1);

  // Outbound, both as RELAY and RELAY_EARLY: the next hop recognizes what our layer passed on.
  for (bool early : {false, true}) {
    uint8_t begin[] = "example.com:80\0";
    ASSERT_TRUE(sendTo(1, RelayCmd::kBegin, 5, Bytes(begin, sizeof begin), early));
    ASSERT_EQ(io.forwarded.size(), 1u);
    EXPECT_EQ(io.forwarded[0].first, early);
    Cell f = io.forwarded[0].second;
    io.forwarded.clear();
    if (cgo()) {
      crypto::CgoTag t{};
      ASSERT_EQ(nextCgo->processOutbound(early ? kCellRelayEarly : kCellRelay,
                                         crypto::RelayPayload(f), &t),
                crypto::CgoRelayCrypto::Outbound::kRecognized);
    } else {
      crypto::Tor1Digest d{};
      ASSERT_EQ(nextTor1->processOutbound(crypto::RelayPayload(f), &d, true),
                crypto::RelayLayer::Outbound::kRecognized);
    }
    auto v = cell::decodeRelayMsgView(client.format(), Bytes(f));
    ASSERT_TRUE(v);
    EXPECT_EQ(v->command, r(RelayCmd::kBegin));
    EXPECT_EQ(v->streamId, 5);
  }
  EXPECT_TRUE(io.delivered.empty()) << "nothing was for this hop's streams";

  // Inbound: the next hop's cell reaches the client through our layer.
  uint8_t ok[] = {'o', 'k'};
  Cell b = client.encode(r(RelayCmd::kData), 5, Bytes(ok, 2));
  if (cgo()) {
    crypto::CgoTag t{};
    ASSERT_TRUE(nextCgo->originateInbound(kCellRelay, crypto::RelayPayload(b), &t));
  } else {
    crypto::Tor1Digest d{};
    ASSERT_TRUE(nextTor1->originateInbound(crypto::RelayPayload(b), &d));
  }
  ASSERT_TRUE(
      circ->fromNextHop(kCellRelay, std::span<uint8_t, 509>(b), io, ledger.token(kNextHopFlow)));
  ASSERT_EQ(io.cells.size(), 1u);
  Cell in = io.cells.front();
  EXPECT_EQ(client.open(in, nullptr), std::optional<size_t>(1)) << "from the second hop";
  auto v = cell::decodeRelayMsgView(client.format(), Bytes(in));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->command, r(RelayCmd::kData));
  EXPECT_EQ(v->streamId, 5);
  EXPECT_EQ(v->data[1], 'k');
}

}  // namespace
}  // namespace onionsplit::circuitd

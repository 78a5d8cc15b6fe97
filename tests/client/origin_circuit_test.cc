// tests/client/origin_circuit_test.cc: client/origin_circuit.h against the relay side of the same
// protocols: the first hop answers CREATE2 with ntorServer and runs a RelayLayer; the exit answers
// the EXTEND2's ntor v3 handshake with ntor3Server + negotiateExit (as circuitd does) and runs a
// second RelayLayer. Checked: the circuit builds with congestion control at the exit's sendme_inc,
// messages cross both layers, the SENDME v1 tag is the exit's digest of the right DATA cell, and
// hostile cells end the circuit with an error.
#include "client/origin_circuit.h"

#include <gtest/gtest.h>

#include <random>

#include "common/cell/cells.h"
#include "common/cell/relay.h"
#include "tests/client/test_bytes.h"

namespace onionsplit::client {
namespace {

using cell::RelayCmd;
using Payload = std::array<uint8_t, cell::kCellPayloadLen>;

uint8_t rcmd(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

using testing::counterRandom;
using testing::fill32;

struct Relay {
  RelayInfo info;
  crypto::Curve25519Keypair onion;
  std::optional<crypto::RelayLayer> layer;
  explicit Relay(uint8_t seed) {
    info.ipv4 = {127, 0, 0, seed};
    info.orPort = static_cast<uint16_t>(5000 + seed);
    info.rsaId.fill(seed);
    info.edId = fill32(static_cast<uint8_t>(seed + 1));
    onion = *crypto::Curve25519Keypair::fromSecret(Bytes(fill32(static_cast<uint8_t>(seed + 2))));
    info.ntorKey = onion.publicKey;
  }
};

struct Fixture : ::testing::Test {
  Relay middle{10}, exit{20};
  OriginCircuit circ{counterRandom};
  uint8_t exitSendmeInc = 31;

  void createFirstHop() {
    Payload create = circ.create2(middle.info);
    auto c2 = cell::decodeCreate2(Bytes(create));
    ASSERT_TRUE(c2);
    ASSERT_EQ(c2->htype, 2);
    auto srv = crypto::ntorServer(Bytes(middle.info.rsaId),
                                  std::span<const crypto::Curve25519Keypair>(&middle.onion, 1),
                                  c2->hdata, Bytes(fill32(0x31)));
    ASSERT_TRUE(srv);
    middle.layer = crypto::RelayLayer::create(*crypto::Tor1Keys::fromKeyMaterial(Bytes(srv->keys)));
    Payload created{};
    Writer w{MutBytes(created)};
    ASSERT_TRUE(cell::encodeCreated2(cell::Created2{Bytes(srv->reply)}, w));
    EXPECT_FALSE(circ.onCreated2(Bytes(created)));
  }

  // The exit's reply to the EXTEND2 the middle decrypted, as an EXTENDED2 cell toward the client.
  void extendToExit() {
    Payload p{};
    ASSERT_TRUE(circ.extend(exit.info, crypto::RelayPayload(p)));
    crypto::Tor1Digest d{};
    ASSERT_EQ(middle.layer->processOutbound(crypto::RelayPayload(p), &d, true),
              crypto::RelayLayer::Outbound::kRecognized);
    auto rc = cell::decodeRelayCell(Bytes(p));
    ASSERT_TRUE(rc);
    ASSERT_EQ(rc->header.command, rcmd(RelayCmd::kExtend2));
    auto e2 = cell::decodeExtend2(rc->body);
    ASSERT_TRUE(e2);
    ASSERT_EQ(e2->specCount, 3);
    EXPECT_EQ(e2->specs[0].type, cell::LinkSpecifier::kIpv4);
    EXPECT_EQ(std::vector<uint8_t>(e2->specs[0].value.begin(), e2->specs[0].value.end()),
              (std::vector<uint8_t>{127, 0, 0, 20, 0x13, 0x9c}));
    EXPECT_EQ(e2->specs[1].type, cell::LinkSpecifier::kRsaId);
    EXPECT_EQ(e2->specs[2].type, cell::LinkSpecifier::kEd25519Id);
    ASSERT_EQ(e2->htype, 3);
    bool askedCc = false;
    crypto::Ntor3Reply reply = [&](Bytes msg) -> std::optional<std::vector<uint8_t>> {
      auto n = cell::negotiateExit(msg, cell::CcConsensus{2, exitSendmeInc});
      if (!n) return std::nullopt;
      askedCc = n->ccEnabled;
      return std::vector<uint8_t>(n->reply.begin(), n->reply.begin() + n->replyLen);
    };
    auto srv = crypto::ntor3Server(
        Bytes(exit.info.edId), std::span<const crypto::Curve25519Keypair>(&exit.onion, 1),
        e2->hdata, Bytes(fill32(0x41)), reply, crypto::kNtor3CircuitVerification);
    ASSERT_TRUE(srv);
    EXPECT_TRUE(askedCc);
    exit.layer = crypto::RelayLayer::create(*crypto::Tor1Keys::fromKeyMaterial(Bytes(srv->keys)));
    std::array<uint8_t, cell::kRelayBodyMax> body{};
    Writer w{MutBytes(body)};
    ASSERT_TRUE(cell::encodeExtended2(cell::Extended2Msg{Bytes(srv->reply)}, w));
    Payload back = fromMiddle(RelayCmd::kExtended2, 0, w.written());
    Inbound in = circ.onRelay(crypto::RelayPayload(back));
    ASSERT_EQ(in.kind, Inbound::kExtended) << in.error;
  }

  // The client's EXTEND2 answered by an exit whose ntor v3 reply message is `reply`'s (given the
  // client's message): what the client makes of the EXTENDED2.
  static Inbound failed(std::string why) {
    Inbound in;  // kError
    in.error = std::move(why);
    return in;
  }
  Inbound answerExtend(const crypto::Ntor3Reply& reply) {
    Payload p{};
    EXPECT_TRUE(circ.extend(exit.info, crypto::RelayPayload(p)));
    crypto::Tor1Digest d{};
    EXPECT_EQ(middle.layer->processOutbound(crypto::RelayPayload(p), &d, true),
              crypto::RelayLayer::Outbound::kRecognized);
    auto e2 = cell::decodeExtend2(cell::decodeRelayCell(Bytes(p))->body);
    if (!e2) return failed("no EXTEND2");
    auto srv = crypto::ntor3Server(
        Bytes(exit.info.edId), std::span<const crypto::Curve25519Keypair>(&exit.onion, 1),
        e2->hdata, Bytes(fill32(0x41)), reply, crypto::kNtor3CircuitVerification);
    if (!srv) return failed("the exit refused the handshake");
    std::array<uint8_t, cell::kRelayBodyMax> body{};
    Writer w{MutBytes(body)};
    EXPECT_TRUE(cell::encodeExtended2(cell::Extended2Msg{Bytes(srv->reply)}, w));
    Payload back = fromMiddle(RelayCmd::kExtended2, 0, w.written());
    return circ.onRelay(crypto::RelayPayload(back));
  }

  Payload fromMiddle(RelayCmd cmd, uint16_t stream, Bytes body) {
    Payload p{};
    EXPECT_TRUE(cell::encodeRelayCell(MutBytes(p), cmd, stream, body, counterRandom));
    EXPECT_TRUE(middle.layer->originateInbound(crypto::RelayPayload(p), nullptr));
    return p;
  }
  Payload fromExit(RelayCmd cmd, uint16_t stream, Bytes body, crypto::Tor1Digest* d = nullptr) {
    Payload p{};
    EXPECT_TRUE(cell::encodeRelayCell(MutBytes(p), cmd, stream, body, counterRandom));
    EXPECT_TRUE(exit.layer->originateInbound(crypto::RelayPayload(p), d));
    EXPECT_TRUE(middle.layer->relayInbound(crypto::RelayPayload(p)));
    return p;
  }
  // A cell the client originated, as the exit decrypts it.
  std::optional<cell::RelayCellView> atExit(Payload& p) {
    crypto::Tor1Digest d{};
    if (middle.layer->processOutbound(crypto::RelayPayload(p), &d) !=
        crypto::RelayLayer::Outbound::kNotRecognized)
      return std::nullopt;
    if (exit.layer->processOutbound(crypto::RelayPayload(p), &d, true) !=
        crypto::RelayLayer::Outbound::kRecognized)
      return std::nullopt;
    auto rc = cell::decodeRelayCell(Bytes(p));
    if (!rc) return std::nullopt;
    return *rc;
  }
  void build() {
    createFirstHop();
    extendToExit();
  }
};

TEST_F(Fixture, BuildsTwoHopsWithCongestionControl) {
  ASSERT_NO_FATAL_FAILURE(build());
  EXPECT_TRUE(circ.open());
  EXPECT_EQ(circ.hops(), 2u);
  EXPECT_TRUE(circ.ccEnabled());
  EXPECT_EQ(circ.sendmeInc(), 31);
}

// A relay's reachability self-test: CREATE_FAST to the first hop (as circuitd answers it with
// fastServer), then the EXTEND2 to the relay itself.
TEST_F(Fixture, CreateFastFirstHopThenExtend) {
  Payload create = circ.createFast();
  auto srv = crypto::fastServer(Bytes(create).first(crypto::kFastLen),
                                Bytes(fill32(0x51)).first(crypto::kFastLen));
  ASSERT_TRUE(srv);
  middle.layer = crypto::RelayLayer::create(*crypto::Tor1Keys::fromKeyMaterial(Bytes(srv->keys)));
  Payload created{};
  std::memcpy(created.data(), srv->reply.data(), srv->reply.size());
  EXPECT_TRUE(circ.onCreated2(Bytes(created))) << "a CREATED2 answers no CREATE_FAST";
  OriginCircuit again{counterRandom};
  Payload create2 = again.createFast();
  auto srv2 = crypto::fastServer(Bytes(create2).first(crypto::kFastLen),
                                 Bytes(fill32(0x52)).first(crypto::kFastLen));
  ASSERT_TRUE(srv2);
  Payload bad{};
  std::memcpy(bad.data(), srv2->reply.data(), srv2->reply.size());
  bad[25] ^= 1;  // KH
  auto why = again.onCreatedFast(Bytes(bad));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("CREATED_FAST"), std::string::npos) << *why;
  EXPECT_FALSE(again.open());

  OriginCircuit fast{counterRandom};
  circ = std::move(fast);
  create = circ.createFast();
  srv = crypto::fastServer(Bytes(create).first(crypto::kFastLen),
                           Bytes(fill32(0x53)).first(crypto::kFastLen));
  ASSERT_TRUE(srv);
  middle.layer = crypto::RelayLayer::create(*crypto::Tor1Keys::fromKeyMaterial(Bytes(srv->keys)));
  std::memcpy(created.data(), srv->reply.data(), srv->reply.size());
  ASSERT_FALSE(circ.onCreatedFast(Bytes(created)));
  ASSERT_NO_FATAL_FAILURE(extendToExit());
  EXPECT_TRUE(circ.open());
  EXPECT_EQ(circ.hops(), 2u);
}

TEST_F(Fixture, TakesTheExitsSendmeIncWithinOneOfTheConsensus) {
  exitSendmeInc = 32;
  ASSERT_NO_FATAL_FAILURE(build());
  EXPECT_EQ(circ.sendmeInc(), 32);
}

TEST_F(Fixture, RefusesASendmeIncFarFromTheConsensus) {
  createFirstHop();
  Inbound in = answerExtend([](Bytes) -> std::optional<std::vector<uint8_t>> {
    return std::vector<uint8_t>{1, 2, 1, 40};  // CC response, sendme_inc 40 (consensus: 31)
  });
  EXPECT_EQ(in.kind, Inbound::kError);
  EXPECT_FALSE(circ.open());
}

// TROVE-2026-032: a client that did not ask for congestion control refuses an exit that enables
// it anyway, and builds fine with one that does not.
TEST_F(Fixture, Trove2026_032_ACcResponseToAClientThatDidNotAskIsRefused) {
  for (bool exitAnswersCc : {false, true}) {
    SCOPED_TRACE(exitAnswersCc ? "the exit answers CC" : "the exit answers nothing");
    circ = OriginCircuit{counterRandom};
    circ.requestCongestionControl(false);
    createFirstHop();
    bool asked = true;
    Inbound in = answerExtend([&](Bytes msg) -> std::optional<std::vector<uint8_t>> {
      auto n = cell::negotiateExit(msg, cell::CcConsensus{2, exitSendmeInc});
      if (!n) return std::nullopt;
      asked = n->ccEnabled;
      if (exitAnswersCc) return std::vector<uint8_t>{1, 2, 1, exitSendmeInc};
      return std::vector<uint8_t>(n->reply.begin(), n->reply.begin() + n->replyLen);
    });
    EXPECT_FALSE(asked) << "the client's message carries no CC request";
    if (exitAnswersCc) {
      EXPECT_EQ(in.kind, Inbound::kError);
      EXPECT_FALSE(circ.open());
    } else {
      ASSERT_EQ(in.kind, Inbound::kExtended) << in.error;
      EXPECT_FALSE(circ.ccEnabled());
    }
  }
}

TEST_F(Fixture, MessagesCrossBothLayers) {
  ASSERT_NO_FATAL_FAILURE(build());
  const std::vector<uint8_t> hello = {'h', 'i'};
  Payload p{};
  ASSERT_TRUE(circ.originate(rcmd(RelayCmd::kData), 7, Bytes(hello), crypto::RelayPayload(p)));
  auto rc = atExit(p);
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc->header.command, rcmd(RelayCmd::kData));
  EXPECT_EQ(rc->header.streamId, 7);
  EXPECT_EQ(std::vector<uint8_t>(rc->body.begin(), rc->body.end()), hello);

  Payload back = fromExit(RelayCmd::kConnected, 7, {});
  Inbound in = circ.onRelay(crypto::RelayPayload(back));
  ASSERT_EQ(in.kind, Inbound::kMessage) << in.error;
  EXPECT_EQ(in.cmd, rcmd(RelayCmd::kConnected));
  EXPECT_EQ(in.streamId, 7);
}

TEST_F(Fixture, SendmeV1CarriesTheDigestOfEverySendmeIncthDataCell) {
  ASSERT_NO_FATAL_FAILURE(build());
  const std::vector<uint8_t> data(100, 0xab);
  for (int round = 0; round < 3; ++round) {
    crypto::Tor1Digest last{};
    for (int i = 1; i <= 31; ++i) {
      // A SWITCH in between counts for nothing (only DATA moves the window).
      if (i == 5) {
        Payload sw = fromExit(RelayCmd::kConfluxSwitch, 0, Bytes(std::vector<uint8_t>(4, 0)));
        ASSERT_EQ(circ.onRelay(crypto::RelayPayload(sw)).kind, Inbound::kMessage);
      }
      Payload p = fromExit(RelayCmd::kData, 1, Bytes(data), &last);
      Inbound in = circ.onRelay(crypto::RelayPayload(p));
      ASSERT_EQ(in.kind, Inbound::kMessage) << in.error;
      EXPECT_EQ(circ.sendmeDue(), i == 31) << "cell " << i;
    }
    Payload s{};
    ASSERT_TRUE(circ.originateSendme(crypto::RelayPayload(s)));
    EXPECT_FALSE(circ.sendmeDue());
    auto rc = atExit(s);
    ASSERT_TRUE(rc);
    EXPECT_EQ(rc->header.command, rcmd(RelayCmd::kSendme));
    EXPECT_EQ(rc->header.streamId, 0);
    auto m = cell::decodeSendme(rc->body);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->version, 1);
    EXPECT_EQ(std::vector<uint8_t>(m->tag.begin(), m->tag.end()),
              std::vector<uint8_t>(last.begin(), last.end()));
  }
  EXPECT_EQ(circ.dataCellsReceived(), 93u);
  EXPECT_EQ(circ.sendmesSent(), 3u);
}

TEST_F(Fixture, ACellNoHopRecognizesEndsTheCircuit) {
  ASSERT_NO_FATAL_FAILURE(build());
  Payload p = fromExit(RelayCmd::kData, 1, Bytes(std::vector<uint8_t>(10, 1)));
  p[100] ^= 1;
  Inbound in = circ.onRelay(crypto::RelayPayload(p));
  EXPECT_EQ(in.kind, Inbound::kError);
  EXPECT_NE(in.error.find("recognizes"), std::string::npos);
  Payload q = fromExit(RelayCmd::kData, 1, {});
  EXPECT_EQ(circ.onRelay(crypto::RelayPayload(q)).kind, Inbound::kError);  // stays closed
}

TEST_F(Fixture, AMessageFromTheMiddleEndsTheCircuit) {
  ASSERT_NO_FATAL_FAILURE(build());
  Payload p = fromMiddle(RelayCmd::kData, 0, Bytes(std::vector<uint8_t>{9}));
  Inbound in = circ.onRelay(crypto::RelayPayload(p));
  EXPECT_EQ(in.kind, Inbound::kError);
  EXPECT_NE(in.error.find("middle hop"), std::string::npos);
}

// A C tor middle answers its next hop's DESTROY with TRUNCATED: the circuit ends, with the reason.
TEST_F(Fixture, TruncatedFromTheMiddleEndsTheCircuitWithItsReason) {
  ASSERT_NO_FATAL_FAILURE(build());
  Payload p = fromMiddle(RelayCmd::kTruncated, 0, Bytes(std::vector<uint8_t>{9}));
  Inbound in = circ.onRelay(crypto::RelayPayload(p));
  EXPECT_EQ(in.kind, Inbound::kError);
  EXPECT_EQ(in.error, "truncated at hop 0, reason 9");
}

TEST_F(Fixture, AnUnaskedCircuitSendmeEndsTheCircuit) {
  ASSERT_NO_FATAL_FAILURE(build());
  Payload p = fromExit(RelayCmd::kSendme, 0, {});
  EXPECT_EQ(circ.onRelay(crypto::RelayPayload(p)).kind, Inbound::kError);
}

// The exit's circuit-level SENDME is taken once per increment (the negotiated sendme_inc) of DATA
// we sent, and one more than that ends the circuit.
TEST_F(Fixture, TheExitsSendmeOpensTheWindowOnlyForDataWeSent) {
  ASSERT_NO_FATAL_FAILURE(build());
  const uint8_t inc = circ.sendmeInc();
  ASSERT_GT(inc, 0);
  const std::vector<uint8_t> data(498, 1);
  for (int i = 0; i < 2 * inc; ++i) {
    Payload out{};
    ASSERT_TRUE(circ.originate(rcmd(RelayCmd::kData), 1, Bytes(data), crypto::RelayPayload(out)));
  }
  EXPECT_EQ(circ.dataCellsSent(), 2u * inc);
  for (int i = 0; i < 2; ++i) {
    Payload s = fromExit(RelayCmd::kSendme, 0, {});
    Inbound in = circ.onRelay(crypto::RelayPayload(s));
    EXPECT_EQ(in.kind, Inbound::kWindowOpened) << in.error;
  }
  EXPECT_EQ(circ.sendmesReceived(), 2u);
  Payload third = fromExit(RelayCmd::kSendme, 0, {});
  Inbound in = circ.onRelay(crypto::RelayPayload(third));
  EXPECT_EQ(in.kind, Inbound::kError);
  EXPECT_NE(in.error.find("never filled its window"), std::string::npos);
}

TEST_F(Fixture, AMalformedRelayHeaderEndsTheCircuit) {
  ASSERT_NO_FATAL_FAILURE(build());
  // A length over 498, with a correct digest: the exit's layer digests whatever it is given.
  Payload p{};
  p[0] = rcmd(RelayCmd::kData);
  p[9] = 0x02;
  p[10] = 0x00;  // length 512
  ASSERT_TRUE(exit.layer->originateInbound(crypto::RelayPayload(p), nullptr));
  ASSERT_TRUE(middle.layer->relayInbound(crypto::RelayPayload(p)));
  Inbound in = circ.onRelay(crypto::RelayPayload(p));
  EXPECT_EQ(in.kind, Inbound::kError);
  EXPECT_NE(in.error.find("malformed"), std::string::npos);
}

TEST_F(Fixture, AnythingButExtended2WhileExtendingEndsTheCircuit) {
  createFirstHop();
  Payload p{};
  ASSERT_TRUE(circ.extend(exit.info, crypto::RelayPayload(p)));
  Payload back = fromMiddle(RelayCmd::kData, 1, {});
  EXPECT_EQ(circ.onRelay(crypto::RelayPayload(back)).kind, Inbound::kError);
}

TEST_F(Fixture, AGarbledExtended2EndsTheCircuit) {
  createFirstHop();
  Payload p{};
  ASSERT_TRUE(circ.extend(exit.info, crypto::RelayPayload(p)));
  std::vector<uint8_t> junk(80, 0x55);
  junk[0] = 0;
  junk[1] = 78;
  Payload back = fromMiddle(RelayCmd::kExtended2, 0, Bytes(junk));
  Inbound in = circ.onRelay(crypto::RelayPayload(back));
  EXPECT_EQ(in.kind, Inbound::kError);
  EXPECT_NE(in.error.find("ntor v3"), std::string::npos);
}

TEST_F(Fixture, ABadCreated2IsRefused) {
  circ.create2(middle.info);
  std::vector<uint8_t> junk(cell::kCellPayloadLen, 0x11);
  junk[0] = 0;
  junk[1] = 64;
  EXPECT_TRUE(circ.onCreated2(Bytes(junk)));
  EXPECT_FALSE(circ.open());
  OriginCircuit fresh{counterRandom};
  EXPECT_TRUE(fresh.onCreated2(Bytes(junk)));  // never asked
  junk[1] = 0xff;
  junk[0] = 0xff;
  OriginCircuit other{counterRandom};
  other.create2(middle.info);
  EXPECT_TRUE(other.onCreated2(Bytes(junk)));  // length beyond the cell
}

TEST_F(Fixture, NothingIsSentBeforeTheCircuitIsOpen) {
  Payload p{};
  EXPECT_FALSE(circ.originate(rcmd(RelayCmd::kData), 1, {}, crypto::RelayPayload(p)));
  EXPECT_FALSE(circ.extend(exit.info, crypto::RelayPayload(p)));
  EXPECT_FALSE(circ.originateSendme(crypto::RelayPayload(p)));
  EXPECT_EQ(circ.onRelay(crypto::RelayPayload(p)).kind, Inbound::kError);
}

}  // namespace
}  // namespace onionsplit::client

namespace onionsplit::client {
namespace {

// Cells with correct digests but random headers and bodies (the exit's layer digests whatever it
// is given), and raw random bytes: a message with a body of at most 498 bytes, or an error; after
// an error the circuit stays closed.
TEST_F(Fixture, RandomCellsEndInAnErrorOrAMessage) {
  std::mt19937 rng(777);
  auto next = [&] { return static_cast<uint32_t>(rng()); };
  int errors = 0, messages = 0;
  for (int run = 0; run < 200; ++run) {
    circ = OriginCircuit{counterRandom};
    ASSERT_NO_FATAL_FAILURE(build());
    for (int i = 0; i < 400; ++i) {
      Payload p{};
      for (auto& b : p)
        b = static_cast<uint8_t>(next());
      if (next() % 8 != 0) {
        p[1] = p[2] = 0;  // recognized
        if (next() % 8 != 0) {
          p[9] = 0;
          p[10] = static_cast<uint8_t>(next());  // a length that fits
        }
        if (next() % 3 == 0) p[0] = static_cast<uint8_t>(RelayCmd::kData);
        ASSERT_TRUE(exit.layer->originateInbound(crypto::RelayPayload(p), nullptr));
        ASSERT_TRUE(middle.layer->relayInbound(crypto::RelayPayload(p)));
      }
      Inbound in = circ.onRelay(crypto::RelayPayload(p));
      if (in.kind == Inbound::kMessage) {
        ++messages;
        EXPECT_LE(in.body.size(), cell::kRelayBodyMax);
        if (circ.sendmeDue()) {
          Payload s{};
          ASSERT_TRUE(circ.originateSendme(crypto::RelayPayload(s)));
        }
        continue;
      }
      ASSERT_EQ(in.kind, Inbound::kError);
      EXPECT_FALSE(in.error.empty());
      ++errors;
      Payload again = fromExit(RelayCmd::kData, 1, {});
      EXPECT_EQ(circ.onRelay(crypto::RelayPayload(again)).kind, Inbound::kError);
      break;
    }
  }
  EXPECT_GT(errors, 150);
  EXPECT_GT(messages, 300);
}

}  // namespace
}  // namespace onionsplit::client

// tests/client/conflux_fetch_test.cc: client/conflux_fetch.h with an exit played by hand: LINK on
// every leg, LINKED checked and acknowledged, the BEGIN through the scheduler and the GET on the
// other leg behind the client's SWITCH, the exit's cells reordered across legs with its SWITCHes,
// the body checked by length and SHA-256; and the hostile cases that must end the fetch.
#include "client/conflux_fetch.h"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <random>

#include "common/cell/relay.h"

namespace onionsplit::client {
namespace {

using cell::RelayCmd;

uint8_t rcmd(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

std::vector<uint8_t> bytesOf(std::string_view s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::array<uint8_t, 32> sha256(Bytes b) {
  std::array<uint8_t, 32> out{};
  unsigned n = 0;
  EVP_Digest(b.data(), b.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

struct Fixture : ::testing::Test {
  conflux::Nonce nonce{};
  std::vector<uint8_t> file;
  std::optional<ConfluxFetch> fetch;
  std::vector<Send> out;
  uint64_t now = 1'000'000;

  Fixture() {
    nonce.fill(0x5a);
    for (size_t i = 0; i < 3000; ++i)
      file.push_back(static_cast<uint8_t>(i * 7));
    make(true);
  }
  void make(bool clientSwitch, size_t legs = 2) {
    FetchTarget t;
    t.port = 8080;
    t.path = "/f.bin";
    t.expectBytes = file.size();
    t.expectSha256 = sha256(Bytes(file));
    std::vector<conflux::LegId> ids;
    for (size_t i = 0; i < legs; ++i)
      ids.push_back(i);
    fetch.emplace(nonce, ids, t, clientSwitch);
    out.clear();
  }
  std::vector<uint8_t> linked(const conflux::Nonce& n, uint64_t lastSent = 0) {
    cell::ConfluxLinkMsg m;
    m.nonce = n;
    m.lastSeqnoSent = lastSent;
    m.desiredUx = 1;
    std::vector<uint8_t> b(100);
    Writer w{MutBytes(b)};
    cell::encodeConfluxLink(m, w);
    b.resize(w.size());
    return b;
  }
  std::optional<std::string> msg(conflux::LegId leg, RelayCmd cmd, uint16_t stream,
                                 const std::vector<uint8_t>& body) {
    now += 1000;
    return fetch->onMessage(leg, rcmd(cmd), stream, Bytes(body), now, out);
  }
  std::vector<uint8_t> switchBody(uint32_t rel) {
    std::vector<uint8_t> b(4);
    Writer w{MutBytes(b)};
    cell::encodeConfluxSwitch(cell::ConfluxSwitchMsg{rel}, w);
    return b;
  }
  // Links both legs (leg 1 answers faster, so it has the lower RTT and gets the BEGIN).
  void link() {
    fetch->start(now, out);
    ASSERT_EQ(out.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(out[i].cmd, rcmd(RelayCmd::kConfluxLink));
      auto l = cell::decodeConfluxLink(Bytes(out[i].body));
      ASSERT_TRUE(l);
      EXPECT_EQ(l->nonce, nonce);
      EXPECT_EQ(l->desiredUx, 3);
    }
    out.clear();
    ASSERT_FALSE(msg(1, RelayCmd::kConfluxLinked, 0, linked(nonce)));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].cmd, rcmd(RelayCmd::kConfluxLinkedAck));
    EXPECT_FALSE(fetch->linked());
    out.clear();
    now += 50'000;
    ASSERT_FALSE(msg(0, RelayCmd::kConfluxLinked, 0, linked(nonce)));
    EXPECT_TRUE(fetch->linked());
  }
};

TEST_F(Fixture, FetchesThroughTwoLegsWithSwitchesBothWays) {
  ASSERT_NO_FATAL_FAILURE(link());
  // LINKED_ACK on leg 0, then the BEGIN on the lower-RTT leg 1.
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].leg, 0u);
  EXPECT_EQ(out[0].cmd, rcmd(RelayCmd::kConfluxLinkedAck));
  EXPECT_EQ(out[1].leg, 1u);
  EXPECT_EQ(out[1].cmd, rcmd(RelayCmd::kBegin));
  EXPECT_EQ(out[1].streamId, kFetchStreamId);
  auto begin = cell::decodeBegin(Bytes(out[1].body));
  ASSERT_TRUE(begin);
  EXPECT_EQ(begin->address, "127.0.0.1");
  EXPECT_EQ(begin->port, 8080);
  out.clear();

  // The exit answers on leg 1 (seq 1); the GET leaves on leg 0 behind our SWITCH.
  ASSERT_FALSE(msg(1, RelayCmd::kConnected, 1, {}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].leg, 0u);
  EXPECT_EQ(out[0].cmd, rcmd(RelayCmd::kConfluxSwitch));
  auto sw = cell::decodeConfluxSwitch(Bytes(out[0].body));
  ASSERT_TRUE(sw);
  EXPECT_EQ(sw->relativeSeq, 1u);  // leg 1 sent seq 1 (BEGIN); leg 0 none
  EXPECT_EQ(out[1].leg, 0u);
  EXPECT_EQ(out[1].cmd, rcmd(RelayCmd::kData));
  EXPECT_EQ(std::string(out[1].body.begin(), out[1].body.end()),
            "GET /f.bin HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(fetch->beginLeg(), 1u);
  EXPECT_EQ(fetch->getLeg(), 0u);
  out.clear();

  // The answer: header + 1000 bytes on leg 1 (seq 2, 3), then the exit switches to leg 0
  // (relative 3) for 1000 bytes (seq 4), back to leg 1 (relative 1 after seq 3: seq 5) for the
  // rest, and the END on leg 1 (seq 6). Leg 0's cells arrive last: seq 5 and 6 wait for seq 4.
  std::vector<uint8_t> header = bytesOf("HTTP/1.0 200 OK\r\nContent-Length: 3000\r\n\r\n");
  std::vector<uint8_t> c2 = header;
  c2.insert(c2.end(), file.begin(), file.begin() + 200);
  ASSERT_FALSE(msg(1, RelayCmd::kData, 1, c2));
  ASSERT_FALSE(
      msg(1, RelayCmd::kData, 1, std::vector<uint8_t>(file.begin() + 200, file.begin() + 1000)));
  ASSERT_FALSE(msg(1, RelayCmd::kConfluxSwitch, 0, switchBody(1)));
  ASSERT_FALSE(msg(1, RelayCmd::kData, 1, std::vector<uint8_t>(file.begin() + 2000, file.end())));
  ASSERT_FALSE(msg(1, RelayCmd::kEnd, 1, {6}));
  EXPECT_FALSE(fetch->done());
  EXPECT_EQ(fetch->bodyBytes(), 1000u);
  EXPECT_EQ(fetch->maxReorderQueue(), 2u);
  ASSERT_FALSE(msg(0, RelayCmd::kConfluxSwitch, 0, switchBody(3)));
  ASSERT_FALSE(
      msg(0, RelayCmd::kData, 1, std::vector<uint8_t>(file.begin() + 1000, file.begin() + 2000)));
  EXPECT_TRUE(fetch->done());
  EXPECT_EQ(fetch->bodyBytes(), 3000u);
  EXPECT_TRUE(out.empty());
  const auto& st = fetch->legStats();
  EXPECT_EQ(st.at(0).dataCells, 1u);
  EXPECT_EQ(st.at(1).dataCells, 3u);
  EXPECT_EQ(st.at(0).switchesSeen, 1u);
  EXPECT_EQ(st.at(1).switchesSeen, 1u);
  EXPECT_EQ(st.at(0).switchesSent, 1u);
  EXPECT_EQ(st.at(1).switchesSent, 0u);
  EXPECT_GT(st.at(0).rttUsec, st.at(1).rttUsec);
}

TEST_F(Fixture, WithoutTheClientSwitchTheGetFollowsTheBegin) {
  make(false);
  ASSERT_NO_FATAL_FAILURE(link());
  out.clear();
  ASSERT_FALSE(msg(1, RelayCmd::kConnected, 1, {}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].leg, 1u);
  EXPECT_EQ(out[0].cmd, rcmd(RelayCmd::kData));
}

TEST_F(Fixture, ALinkedWithAnotherNonceFails) {
  fetch->start(now, out);
  conflux::Nonce other = nonce;
  other[0] ^= 1;
  EXPECT_TRUE(msg(0, RelayCmd::kConfluxLinked, 0, linked(other)));
  EXPECT_TRUE(msg(1, RelayCmd::kConfluxLinked, 0, linked(nonce)));  // stays failed
}

TEST_F(Fixture, ALinkedClaimingDataWeNeverGotFails) {
  fetch->start(now, out);
  EXPECT_TRUE(msg(0, RelayCmd::kConfluxLinked, 0, linked(nonce, 5)));
}

TEST_F(Fixture, ASecondLinkedOnALegFails) {
  ASSERT_NO_FATAL_FAILURE(link());
  EXPECT_TRUE(msg(0, RelayCmd::kConfluxLinked, 0, linked(nonce)));
}

TEST_F(Fixture, DataOnALegNotYetLinkedFails) {
  fetch->start(now, out);
  EXPECT_TRUE(msg(0, RelayCmd::kData, 1, {1, 2, 3}));
}

TEST_F(Fixture, AMessageOnAnUnknownLegFails) {
  fetch->start(now, out);
  EXPECT_TRUE(msg(7, RelayCmd::kConfluxLinked, 0, linked(nonce)));
}

TEST_F(Fixture, UnexpectedCommandsAndStreamsFail) {
  ASSERT_NO_FATAL_FAILURE(link());
  EXPECT_TRUE(msg(0, RelayCmd::kExtended2, 0, {}));
  make(true);
  ASSERT_NO_FATAL_FAILURE(link());
  EXPECT_TRUE(msg(1, RelayCmd::kConnected, 2, {}));  // a stream we never opened
  make(true);
  ASSERT_NO_FATAL_FAILURE(link());
  EXPECT_TRUE(msg(1, RelayCmd::kData, 1, {1}));  // DATA before CONNECTED
  make(true);
  ASSERT_NO_FATAL_FAILURE(link());
  EXPECT_TRUE(msg(1, RelayCmd::kConfluxSwitch, 0, {1, 2}));  // truncated SWITCH
}

// --resolve: a RESOLVE multiplexed on the set, its RESOLVED's answers read; once each.
TEST_F(Fixture, AResolveOnTheSetGetsItsAnswersOnce) {
  EXPECT_TRUE(fetch->resolve("many.example", out)) << "not before the set linked";
  make(true);
  ASSERT_NO_FATAL_FAILURE(link());
  out.clear();
  ASSERT_FALSE(fetch->resolve("many.example", out));
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().cmd, rcmd(RelayCmd::kResolve));
  EXPECT_EQ(out.back().streamId, kResolveStreamId);
  EXPECT_EQ(out.back().body, bytesOf(std::string_view("many.example\0", 13)));
  std::array<uint8_t, 4> a{192, 0, 2, 1}, b{192, 0, 2, 2};
  cell::ResolvedMsg m;
  m.answers[m.count++] = cell::ResolvedAnswer{cell::ResolvedAnswer::kIpv4, Bytes(a), 60};
  m.answers[m.count++] = cell::ResolvedAnswer{cell::ResolvedAnswer::kIpv4, Bytes(b), 60};
  std::vector<uint8_t> body(100);
  Writer w{MutBytes(body)};
  ASSERT_TRUE(cell::encodeResolved(m, w));
  body.resize(w.size());
  ASSERT_FALSE(msg(1, RelayCmd::kResolved, kResolveStreamId, body));
  ASSERT_TRUE(fetch->resolved());
  EXPECT_EQ(*fetch->resolved(), (std::vector<std::string>{"ipv4 192.0.2.1", "ipv4 192.0.2.2"}));
  EXPECT_TRUE(msg(1, RelayCmd::kResolved, kResolveStreamId, body)) << "a second RESOLVED";
}

TEST_F(Fixture, DropIsIgnored) {
  ASSERT_NO_FATAL_FAILURE(link());
  EXPECT_FALSE(msg(0, RelayCmd::kDrop, 0, {}));
}

struct BodyFixture : Fixture {
  void toBody() {
    ASSERT_NO_FATAL_FAILURE(link());
    ASSERT_FALSE(msg(1, RelayCmd::kConnected, 1, {}));
  }
};

TEST_F(BodyFixture, AWrongStatusFails) {
  ASSERT_NO_FATAL_FAILURE(toBody());
  auto e = msg(1, RelayCmd::kData, 1, bytesOf("HTTP/1.0 404 Not Found\r\n\r\n"));
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("404"), std::string::npos);
}

TEST_F(BodyFixture, AnEndlessHeaderFails) {
  ASSERT_NO_FATAL_FAILURE(toBody());
  std::vector<uint8_t> chunk(498, 'a');
  std::optional<std::string> e;
  for (int i = 0; i < 100 && !e; ++i)
    e = msg(1, RelayCmd::kData, 1, chunk);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("16 KiB"), std::string::npos);
}

TEST_F(BodyFixture, MoreBytesThanTheFileFail) {
  ASSERT_NO_FATAL_FAILURE(toBody());
  ASSERT_FALSE(msg(1, RelayCmd::kData, 1, bytesOf("HTTP/1.0 200 OK\r\n\r\n")));
  std::optional<std::string> e;
  for (int i = 0; i < 10 && !e; ++i)
    e = msg(1, RelayCmd::kData, 1, std::vector<uint8_t>(400, 1));
  EXPECT_TRUE(e);
}

TEST_F(BodyFixture, AChangedByteFailsAtTheEnd) {
  ASSERT_NO_FATAL_FAILURE(toBody());
  std::vector<uint8_t> body = bytesOf("HTTP/1.0 200 OK\r\n\r\n");
  ASSERT_FALSE(msg(1, RelayCmd::kData, 1, body));
  std::vector<uint8_t> bad = file;
  bad[1234] ^= 0x80;
  for (size_t off = 0; off < bad.size(); off += 498)
    ASSERT_FALSE(msg(
        1, RelayCmd::kData, 1,
        std::vector<uint8_t>(bad.begin() + static_cast<long>(off),
                             bad.begin() + static_cast<long>(std::min(off + 498, bad.size())))));
  auto e = msg(1, RelayCmd::kEnd, 1, {6});
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("SHA-256"), std::string::npos);
  EXPECT_FALSE(fetch->done());
}

TEST_F(BodyFixture, NothingMayFollowTheEnd) {
  ASSERT_NO_FATAL_FAILURE(toBody());
  std::vector<uint8_t> all = bytesOf("HTTP/1.0 200 OK\r\n\r\n");
  all.insert(all.end(), file.begin(), file.begin() + 400);
  ASSERT_FALSE(msg(1, RelayCmd::kData, 1, all));
  for (size_t off = 400; off < file.size(); off += 400)
    ASSERT_FALSE(msg(
        1, RelayCmd::kData, 1,
        std::vector<uint8_t>(file.begin() + static_cast<long>(off),
                             file.begin() + static_cast<long>(std::min(off + 400, file.size())))));
  ASSERT_FALSE(msg(1, RelayCmd::kEnd, 1, {6}));
  EXPECT_TRUE(fetch->done());
  auto e = msg(1, RelayCmd::kData, 1, {1});
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("after its END"), std::string::npos);
}

TEST_F(BodyFixture, AnEarlyEndFails) {
  ASSERT_NO_FATAL_FAILURE(toBody());
  ASSERT_FALSE(msg(1, RelayCmd::kData, 1, bytesOf("HTTP/1.0 200 OK\r\n\r\nabc")));
  auto e = msg(1, RelayCmd::kEnd, 1, {6});
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("3 of 3000"), std::string::npos);
}

}  // namespace
}  // namespace onionsplit::client

namespace onionsplit::client {
namespace {

TEST_F(Fixture, AnExitThatSkipsAheadCannotFillOurMemory) {
  ASSERT_NO_FATAL_FAILURE(link());
  ASSERT_FALSE(msg(1, RelayCmd::kConnected, 1, {}));
  // A SWITCH far ahead on leg 0: everything after it waits for sequence numbers that never come.
  ASSERT_FALSE(msg(0, RelayCmd::kConfluxSwitch, 0, switchBody(1000)));
  std::vector<uint8_t> chunk(498, 7);
  std::optional<std::string> e;
  size_t sent = 0;
  for (; sent < 100000 && !e; ++sent)
    e = msg(0, RelayCmd::kData, 1, chunk);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("sequencing"), std::string::npos) << *e;
  EXPECT_LE(sent * (498 + conflux::kQueuedOverheadBytes), kMaxReorderBytes + 1024);
}

// Random messages from a hostile exit after linking: an error string or nothing, never a crash,
// and the reorder queue stays under its cap.
TEST_F(Fixture, RandomMessagesEndInAnErrorOrNothing) {
  std::mt19937 rng(12345);
  auto next = [&] { return static_cast<uint32_t>(rng()); };
  int errors = 0;
  for (int run = 0; run < 300; ++run) {
    make(next() % 2 == 0);
    ASSERT_NO_FATAL_FAILURE(link());
    for (int i = 0; i < 200; ++i) {
      static constexpr uint8_t kCmds[] = {2, 3, 4, 5, 10, 12, 19, 20, 21, 22, 43, 44, 200};
      uint8_t cmd = next() % 4 == 0 ? static_cast<uint8_t>(next()) : kCmds[next() % sizeof kCmds];
      std::vector<uint8_t> body(next() % 499);
      for (auto& b : body)
        b = static_cast<uint8_t>(next());
      if (cmd == 22 && next() % 2) body.resize(4);
      if (cmd == 2 && next() % 3 == 0) {
        std::string ok = "HTTP/1.0 200 OK\r\n\r\n";
        body.assign(ok.begin(), ok.end());
      }
      auto e = fetch->onMessage(next() % 3, cmd, static_cast<uint16_t>(next() % 3), Bytes(body),
                                now += 10, out);
      ASSERT_LE(fetch->maxReorderQueue() * conflux::kQueuedOverheadBytes, kMaxReorderBytes);
      if (e) {
        ++errors;
        break;
      }
    }
    out.clear();
  }
  EXPECT_GT(errors, 200);
}

}  // namespace
}  // namespace onionsplit::client

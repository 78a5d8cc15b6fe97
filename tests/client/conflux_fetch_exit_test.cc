// tests/client/conflux_fetch_exit_test.cc: the test client's conflux core against onionsplit's own
// exit-side conflux core in memory. client/conflux_fetch.h links two legs with common/conflux's
// ConfluxMgr (what confluxd runs), whose controller then schedules a whole HTTP answer across the
// legs as the exit does (LowRTT for the client's throughput UX, each leg's congestion window, its
// SWITCHes). The legs deliver at different speeds, so the client sees cells out of order; every
// byte must come out right, and the client's own SWITCH must put its GET in sequence at the exit.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <deque>
#include <string>

#include "client/conflux_fetch.h"
#include "common/cell/relay.h"
#include "common/conflux/mgr.h"

namespace onionsplit::client {
namespace {

using cell::RelayCmd;

uint8_t rcmd(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

struct Cell {
  uint8_t cmd = 0;
  uint16_t stream = 0;
  std::vector<uint8_t> body;
};

struct ExitLeg {
  std::deque<Cell> toClient;  // in flight toward the client
  conflux::CcFacts cc;        // the exit's view of this leg's congestion window
  uint64_t dataSinceSendme = 0;
};

struct Harness {
  conflux::ConfluxMgr mgr;
  std::optional<ConfluxFetch> fetch;
  std::vector<Send> out;
  ExitLeg legs[2];
  std::vector<uint8_t> file;
  uint64_t now = 1'000'000;
  std::vector<conflux::Delivery> delivered;  // at the exit, in order
  std::vector<std::pair<uint8_t, uint16_t>> toStreamd;
  std::string request;
  uint64_t exitSwitches = 0;

  explicit Harness(size_t size) {
    for (size_t i = 0; i < size; ++i)
      file.push_back(static_cast<uint8_t>(i * 31 + 7));
    FetchTarget t{"127.0.0.1", 80, "/file", size, {}};
    unsigned n = 0;
    EVP_Digest(file.data(), file.size(), t.expectSha256.data(), &n, EVP_sha256(), nullptr);
    conflux::Nonce nonce{};
    nonce.fill(0x42);
    fetch.emplace(nonce, std::vector<conflux::LegId>{0, 1}, t, true);
  }

  // The exit's stream side waits here while no leg can send (confluxd holds it with its credit).
  std::deque<Cell> pendingAtExit;

  // The exit sends what waits through its controller while a leg can take it.
  void pumpExit() {
    conflux::ConfluxController* ctl = mgr.controllerFor(0);
    ASSERT_NE(ctl, nullptr);
    while (!pendingAtExit.empty() && ctl->peekLeg(pendingAtExit.front().cmd)) {
      Cell c = std::move(pendingAtExit.front());
      pendingAtExit.pop_front();
      conflux::SendPlan plan = ctl->send(c.cmd);
      ASSERT_EQ(plan.kind, conflux::SendPlan::kSend);
      ExitLeg& leg = legs[plan.leg];
      if (plan.switchSeq) {
        std::vector<uint8_t> sw(4);
        Writer w{MutBytes(sw)};
        cell::encodeConfluxSwitch(cell::ConfluxSwitchMsg{*plan.switchSeq}, w);
        leg.toClient.push_back(Cell{rcmd(RelayCmd::kConfluxSwitch), 0, std::move(sw)});
        ++exitSwitches;
      }
      if (c.cmd == rcmd(RelayCmd::kData)) {
        ++leg.cc.inflight;
        ctl->onLegState(plan.leg, leg.cc);
      }
      leg.toClient.push_back(std::move(c));
    }
  }
  void exitSend(uint8_t cmd, std::vector<uint8_t> body) {
    pendingAtExit.push_back(Cell{cmd, kFetchStreamId, std::move(body)});
  }

  // The client's messages reach the exit (at once: the client sends little).
  void clientToExit() {
    std::vector<Send> pending;
    pending.swap(out);
    for (auto& s : pending) {
      if (s.cmd == rcmd(RelayCmd::kConfluxLinkedAck)) {
        ASSERT_EQ(mgr.onLinkedAck(s.leg, now).kind, conflux::Verdict::kOk);
        continue;
      }
      conflux::ConfluxController* ctl = mgr.controllerFor(s.leg);
      ASSERT_NE(ctl, nullptr);
      if (s.cmd == rcmd(RelayCmd::kConfluxSwitch)) {
        auto sw = cell::decodeConfluxSwitch(Bytes(s.body));
        ASSERT_TRUE(sw);
        ASSERT_EQ(ctl->onSwitch(s.leg, sw->relativeSeq).kind, conflux::Verdict::kOk);
        continue;
      }
      std::vector<conflux::Delivery> ds;
      ASSERT_EQ(ctl->onMultiplexed(s.leg, s.cmd, s.streamId, Bytes(s.body), ds).kind,
                conflux::Verdict::kOk);
      for (auto& d : ds)
        ASSERT_NO_FATAL_FAILURE(streamd(d));
    }
  }

  // The stream side at the exit: CONNECTED for the BEGIN, the file for the GET, then END.
  void streamd(const conflux::Delivery& d) {
    toStreamd.emplace_back(d.cmd, d.streamId);
    if (d.cmd == rcmd(RelayCmd::kBegin)) {
      exitSend(rcmd(RelayCmd::kConnected), {});
      return;
    }
    ASSERT_EQ(d.cmd, rcmd(RelayCmd::kData));
    request.assign(d.body.begin(), d.body.end());
    std::string header = "HTTP/1.0 200 OK\r\n\r\n";
    std::vector<uint8_t> all(header.begin(), header.end());
    all.insert(all.end(), file.begin(), file.end());
    for (size_t off = 0; off < all.size(); off += cell::kRelayBodyMax) {
      size_t n = std::min(cell::kRelayBodyMax, all.size() - off);
      exitSend(rcmd(RelayCmd::kData),
               std::vector<uint8_t>(all.begin() + static_cast<long>(off),
                                    all.begin() + static_cast<long>(off + n)));
    }
    exitSend(rcmd(RelayCmd::kEnd), {6});
  }
};

TEST(ConfluxFetchAgainstTheExitsConfluxCore, AFileArrivesIntactAcrossTwoLegsOutOfOrder) {
  Harness h(300 * 1000);
  h.fetch->start(h.now, h.out);
  ASSERT_EQ(h.out.size(), 2u);
  // The exit links both legs; leg 1's LINKED_ACK comes back slower (a longer RTT at the exit).
  for (auto& s : h.out) {
    conflux::LegFacts facts;
    auto r = h.mgr.onLinkBody(s.leg, Bytes(s.body), facts, h.now);
    ASSERT_EQ(r.kind, conflux::LinkResult::kLinked);
    std::vector<uint8_t> linked(100);
    Writer w{MutBytes(linked)};
    cell::encodeConfluxLink(r.linked, w);
    linked.resize(w.size());
    h.legs[s.leg].toClient.push_back(Cell{rcmd(RelayCmd::kConfluxLinked), 0, linked});
  }
  h.out.clear();
  ASSERT_EQ(h.mgr.setCount(), 1u);

  // Each round: leg 0 delivers up to 8 cells, leg 1 up to 3; every 31 DATA cells a leg's SENDME
  // (here: its inflight falls by 31) reaches the exit, which may then send more.
  for (int round = 0; round < 100000 && !h.fetch->done(); ++round) {
    h.now += 1000;
    for (int l = 0; l < 2; ++l) {
      ExitLeg& leg = h.legs[l];
      for (int k = 0; k < (l == 0 ? 8 : 3) && !leg.toClient.empty(); ++k) {
        Cell c = std::move(leg.toClient.front());
        leg.toClient.pop_front();
        auto e = h.fetch->onMessage(static_cast<conflux::LegId>(l), c.cmd, c.stream, Bytes(c.body),
                                    h.now + static_cast<uint64_t>(l) * 5000, h.out);
        ASSERT_FALSE(e) << *e;
        if (c.cmd == rcmd(RelayCmd::kData) && ++leg.dataSinceSendme == 31) {
          leg.dataSinceSendme = 0;
          leg.cc.inflight -= 31;
          h.mgr.controllerFor(0)->onLegState(static_cast<conflux::LegId>(l), leg.cc);
        }
      }
    }
    ASSERT_NO_FATAL_FAILURE(h.clientToExit());
    ASSERT_NO_FATAL_FAILURE(h.pumpExit());
  }
  ASSERT_TRUE(h.fetch->done());
  EXPECT_EQ(h.fetch->bodyBytes(), h.file.size());
  EXPECT_EQ(h.request, "GET /file HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  // The exit delivered the BEGIN and then the GET, which came on the other leg behind our SWITCH.
  ASSERT_EQ(h.toStreamd.size(), 2u);
  EXPECT_EQ(h.toStreamd[0].first, rcmd(RelayCmd::kBegin));
  EXPECT_EQ(h.toStreamd[1].first, rcmd(RelayCmd::kData));
  ASSERT_TRUE(h.fetch->beginLeg() && h.fetch->getLeg());
  EXPECT_NE(*h.fetch->beginLeg(), *h.fetch->getLeg());
  const auto& st = h.fetch->legStats();
  EXPECT_GT(st.at(0).dataCells, 0u);
  EXPECT_GT(st.at(1).dataCells, 0u);
  EXPECT_EQ(st.at(0).switchesSeen + st.at(1).switchesSeen, h.exitSwitches);
  EXPECT_GT(h.exitSwitches, 2u);
  EXPECT_GT(h.fetch->maxReorderQueue(), 0u) << "the legs' speeds put cells out of order";
}

}  // namespace
}  // namespace onionsplit::client

// tests/common/ipc/batch_arena_test.cc: data frames built in a pipe's reused arena carry only the
// events they hold, and reusing the arena (after a batch that outgrew it) leaves nothing of an
// earlier batch in a later one. Two pipes with the daemons' maxBatch, over a real socketpair.
#include "common/ipc/batch_arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "tests/common/ipc/pipe_harness.h"

namespace onionsplit::ipc {
namespace {

using testing::Peer;
constexpr uint8_t kBegin = 1, kData = 2;

struct Link {
  Link() { testing::connect(loop, circuitd.pipe, streamd, server); }
  // Sends one relay message on flow f; `fill` 0 leaves the body as the arena gave it.
  void send(FlowId f, uint8_t cmd, unsigned len, uint8_t fill) {
    auto e = circuitd.pipe.add();
    e.setFlow(f);
    auto r = e.initRelay();
    r.setStreamId(1);
    r.setCommand(cmd);
    auto body = r.initBody(len);
    if (fill) std::memset(body.begin(), fill, len);
    circuitd.pipe.commit(f, e);
  }
  bool arrived(size_t n) {
    return testing::waitFor(loop, [&] { return streamd.events.size() == n; });
  }
  // The body of the i-th event received: every byte `want`?
  bool bodyIs(size_t i, unsigned len, uint8_t want) {
    auto body = streamd.events[i]->getRelay().getBody();
    if (body.size() != len) return false;
    for (auto b : body)
      if (b != want) return false;
    return true;
  }

  EventLoop loop;
  Peer<StreamTraits> circuitd{testing::fromStreamdToCircuitd};
  Peer<StreamTraits> streamd{testing::fromCircuitdToStreamd};
  std::unique_ptr<RpcConnection> server;
};

TEST(BatchArena, AFrameCarriesOnlyTheEventsItHolds) {
  Link l;
  ASSERT_TRUE(l.circuitd.pipe.openFlow(1));
  l.send(1, kBegin, 0, 0);
  l.send(1, kData, 498, 0x5a);
  ASSERT_TRUE(l.arrived(2));
  EXPECT_TRUE(l.bodyIs(1, 498, 0x5a));
  // Two events in a batch of up to 256: no unused slots (24 bytes each) on the wire.
  EXPECT_EQ(l.circuitd.pipe.stats().batchesSent, 1u);
  EXPECT_LT(l.circuitd.pipe.stats().frameBytesSent, 1024u);
  EXPECT_LT(l.streamd.pipe.stats().frameBytesReceived, 1024u);  // with its segment table
}

TEST(BatchArena, ABatchThatOutgrowsTheArenaAndLaterOnesArriveIntact) {
  Link l;
  constexpr FlowId kFlows = 8;
  for (FlowId f = 1; f <= kFlows; ++f) {
    ASSERT_TRUE(l.circuitd.pipe.openFlow(f));
    l.send(f, kBegin, 0, 0);
  }
  // 256 full messages in one turn: more than the arena's first body holds.
  for (unsigned i = 0; i < 248; ++i)
    l.send(1 + i % kFlows, kData, 498, static_cast<uint8_t>(1 + i % 250));
  ASSERT_TRUE(l.arrived(256));
  // The event list doubles from 16 as batches fill it: 16, 32, 64, 128, then the rest.
  EXPECT_LE(l.circuitd.pipe.stats().batchesSent, 5u);
  for (unsigned i = 0; i < 248; ++i)
    ASSERT_TRUE(l.bodyIs(8 + i, 498, static_cast<uint8_t>(1 + i % 250))) << i;
  // Later batches reuse the (grown) arena: bodies left unset read as zeros, as capnp promises.
  for (int round = 0; round < 3; ++round) {
    size_t before = l.streamd.events.size();
    for (FlowId f = 1; f <= kFlows; ++f)
      l.send(f, kData, 300, 0);
    ASSERT_TRUE(l.arrived(before + kFlows));
    for (size_t i = before; i < before + kFlows; ++i)
      EXPECT_TRUE(l.bodyIs(i, 300, 0)) << round << " " << i;
  }
  EXPECT_TRUE(l.streamd.violation.empty()) << l.streamd.violation;
  EXPECT_TRUE(l.circuitd.violation.empty()) << l.circuitd.violation;
}

}  // namespace
}  // namespace onionsplit::ipc

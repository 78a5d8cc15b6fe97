// Tests for common/ipc/batch_pipe.h over real Unix socketpairs and Cap'n Proto connections in one
// loop: windows are never exceeded, a stalled flow leaves the others their throughput, memory stays
// within the windows, a slow consumer slows the source through a relay, and a lying peer loses its
// connection while the daemon (the test) carries on.
#include "common/ipc/batch_pipe.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "common/ipc/boundaries.h"
#include "common/ipc/event_loop.h"

namespace onionsplit::ipc {
namespace {

using Pipe = BatchPipe<StreamTraits>;
constexpr uint8_t kBegin = 1, kData = 2;

// One end: a pipe, its handler (queues what arrives per flow with its credit, like an edge that
// has not written it yet), and its connection. It plays streamd toward circuitd's pipe.
struct End final : Pipe::Handler {
  struct Held {
    size_t bytes;
    CreditToken credit;
  };
  explicit End(flowctl::CreditWindows w) : pipe(w, *this, 64) {}
  Verdict admit(proto::StreamEvent::Reader e) override {
    return StreamTraits::admit(Side::kCircuitd, Side::kStreamd, e);
  }
  Verdict onControl(proto::StreamEvent::Reader) override { return Verdict::breach("no control"); }
  FlowVerdict onFlowEvent(FlowId f, NoState&, proto::StreamEvent::Reader e,
                          CreditToken credit) override {
    queued[f].push_back(Held{e.getRelay().getBody().size(), std::move(credit)});
    if (relayTo) relayTo();
    auto c = closeOn.find(f);
    return c != closeOn.end() ? FlowVerdict::closeFlow(c->second) : FlowVerdict::accept();
  }
  void onPeerClose(FlowId f, NoState&, proto::StreamEvent::Reader) override {
    peerClosed.push_back(f);
    queued.erase(f);
  }
  void onCredit() override {
    ++credits;
    if (onCreditHook) onCreditHook();
  }
  void onViolation(const std::string& why) override { violation = why; }

  // Our edge takes up to n queued messages of flow f: their tokens go, and with them the credit.
  size_t take(FlowId f, size_t n) {
    auto& q = queued[f];
    size_t k = std::min(n, q.size());
    q.erase(q.begin(), q.begin() + static_cast<long>(k));
    delivered[f] += k;
    return k;
  }
  // Sends as many DATA messages on f as credit allows, up to `budget`. Returns how many.
  size_t pump(FlowId f, size_t budget) {
    size_t n = 0;
    while (n < budget && pipe.canSend(f)) {
      auto e = pipe.add();
      e.setFlow(f);
      auto r = e.initRelay();
      r.setStreamId(1);
      r.setCommand(kData);
      r.initBody(498);
      pipe.commit(f, e);
      ++n;
    }
    sent[f] += n;
    return n;
  }
  void open(FlowId f) {
    ASSERT_TRUE(pipe.openFlow(f));
    auto e = pipe.add();
    e.setFlow(f);
    auto r = e.initRelay();
    r.setStreamId(1);
    r.setCommand(kBegin);
    r.initBody(0);
    pipe.commit(f, e);
    sent[f]++;
  }

  Pipe pipe;
  std::map<FlowId, std::deque<Held>> queued;
  std::map<FlowId, size_t> delivered, sent;
  std::vector<FlowId> peerClosed;
  std::string violation;
  int credits = 0;
  std::map<FlowId, uint8_t> closeOn;  // flows the handler closes at their next event (reason)
  std::function<void()> relayTo, onCreditHook;
  std::unique_ptr<RpcConnection> conn;
};

// Connects two ends over a socketpair: each end's bootstrap is its local sink.
void connect(EventLoop& loop, End& a, End& b) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  a.conn = std::make_unique<RpcConnection>(loop.base(), sv[0], false, a.pipe.makeLocalSink());
  b.conn = std::make_unique<RpcConnection>(loop.base(), sv[1], true, b.pipe.makeLocalSink());
  a.pipe.setPeer(a.conn->bootstrap<proto::StreamSink>());
  b.pipe.setPeer(b.conn->bootstrap<proto::StreamSink>());
}

// Runs the loop for a while (every test is bounded by turns, never by wall-clock assertions).
void spin(EventLoop& loop, int turns = 50) {
  for (int i = 0; i < turns; ++i) {
    kj::evalLater([] {}).wait(loop.waitScope());
    event_base_loop(loop.base(), EVLOOP_NONBLOCK);
  }
}

flowctl::CreditWindows windows(uint32_t flow, uint32_t conn) {
  flowctl::CreditWindows w;
  w.flowMessages = flow;
  w.connBytes = conn;
  w.maxFlows = 64;
  return w;
}

TEST(BatchPipe, ASenderNeverExceedsItsWindowsAndMemoryStaysWithinThem) {
  EventLoop loop;
  End a(windows(32, 1 << 20)), b(windows(32, 1 << 20));
  connect(loop, a, b);
  for (FlowId f = 1; f <= 4; ++f)
    a.open(f);
  for (int round = 0; round < 20; ++round) {
    for (FlowId f = 1; f <= 4; ++f)
      a.pump(f, 1000);
    spin(loop, 5);
  }
  // Nobody took anything: each flow holds exactly its window at the receiver, no more.
  for (FlowId f = 1; f <= 4; ++f) {
    EXPECT_EQ(b.queued[f].size(), 32u) << f;
    EXPECT_EQ(a.sent[f], 32u);
    EXPECT_EQ(a.pipe.flowAvailable(f), 0u);
  }
  EXPECT_TRUE(a.violation.empty());
  EXPECT_TRUE(b.violation.empty());
  // Batches, not a call per message.
  EXPECT_LT(a.pipe.stats().batchesSent, 20u);
}

TEST(BatchPipe, AStalledFlowLeavesTheOthersTheirThroughput) {
  EventLoop loop;
  End a(windows(16, 64 * 1024)), b(windows(16, 64 * 1024));
  connect(loop, a, b);
  for (FlowId f = 1; f <= 4; ++f)
    a.open(f);
  // Flow 1's consumer never reads; the others' consumers read everything every turn.
  a.onCreditHook = [&] {
    for (FlowId f = 1; f <= 4; ++f)
      a.pump(f, 1 << 20);
  };
  b.relayTo = nullptr;
  for (FlowId f = 1; f <= 4; ++f)
    a.pump(f, 1 << 20);
  for (int round = 0; round < 400; ++round) {
    spin(loop, 1);
    for (FlowId f = 2; f <= 4; ++f)
      b.take(f, 1 << 20);
  }
  EXPECT_EQ(b.queued[1].size(), 16u);  // a window, and no more
  EXPECT_EQ(b.delivered[1], 0u);
  for (FlowId f = 2; f <= 4; ++f)
    EXPECT_GT(b.delivered[f], 16u * 50) << f;
  EXPECT_TRUE(a.violation.empty() && b.violation.empty());
}

TEST(BatchPipe, ASlowSinkSlowsTheSourceThroughARelay) {
  EventLoop loop;
  auto w = windows(16, 64 * 1024);
  End source(w), relayIn(w), relayOut(w), sink(w);
  connect(loop, source, relayIn);
  connect(loop, relayOut, sink);
  source.open(1);
  // The relay's edge: it takes a message from its inbound queue only when it can send it on.
  auto forward = [&] {
    auto& q = relayIn.queued[1];
    if (!relayOut.pipe.isOpen(1) && !q.empty()) {
      relayOut.open(1);
      relayIn.take(1, 1);  // the BEGIN
    }
    while (!q.empty() && relayOut.pipe.canSend(1)) {
      relayOut.pump(1, 1);
      relayIn.take(1, 1);
    }
  };
  relayIn.relayTo = forward;
  relayOut.onCreditHook = forward;
  source.onCreditHook = [&] { source.pump(1, 1 << 20); };
  source.pump(1, 1 << 20);
  size_t consumed = 0;
  for (int round = 0; round < 300; ++round) {
    spin(loop, 1);
    if (round % 3 == 0) consumed += sink.take(1, 1);  // the slow consumer
    size_t inFlight = source.sent[1] - consumed;
    ASSERT_LE(inFlight, 2u * 16 + 2) << "round " << round;
  }
  EXPECT_GT(consumed, 50u);
  EXPECT_TRUE(source.violation.empty() && relayIn.violation.empty() && relayOut.violation.empty() &&
              sink.violation.empty());
}

TEST(BatchPipe, FlowsCloseInTwoPhasesAndIdsCanBeReused) {
  EventLoop loop;
  End a(windows(8, 1 << 20)), b(windows(8, 1 << 20));
  connect(loop, a, b);
  a.open(7);
  spin(loop, 5);
  ASSERT_TRUE(a.pipe.close(7, 1));
  EXPECT_FALSE(a.pipe.close(7, 1));  // once
  EXPECT_FALSE(a.pipe.isOpen(7));
  EXPECT_TRUE(a.pipe.inUse(7));  // half closed until b's close comes back
  EXPECT_FALSE(a.pipe.canSend(7));
  spin(loop, 5);
  // b heard the close and answered it by itself: the id is free on both sides.
  EXPECT_EQ(b.peerClosed, std::vector<FlowId>{7});
  EXPECT_FALSE(a.pipe.inUse(7));
  EXPECT_FALSE(b.pipe.inUse(7));
  a.open(7);
  spin(loop, 5);
  EXPECT_TRUE(b.pipe.isOpen(7));
  EXPECT_TRUE(a.violation.empty() && b.violation.empty());
}

// A hostile peer: raw pushes on b's sink, bypassing a's pipe.
class HostilePeer : public ::testing::Test {
 protected:
  ~HostilePeer() noexcept override {}
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    b.conn = std::make_unique<RpcConnection>(loop.base(), sv[1], true, b.pipe.makeLocalSink());
    raw = std::make_unique<RpcConnection>(loop.base(), sv[0], false,
                                          capnp::Capability::Client(nullptr));
    sink = raw->bootstrap<proto::StreamSink>();
  }
  // Sends one batch; returns true if the push succeeded.
  bool push(const std::function<void(proto::StreamBatch::Builder)>& fill) {
    auto req = sink->pushRequest();
    fill(req.initBatch());
    bool ok = true;
    req.send().then([](auto&&) {}, [&](kj::Exception&&) { ok = false; }).wait(loop.waitScope());
    return ok;
  }
  static void relay(proto::StreamEvent::Builder e, FlowId f, uint8_t cmd, size_t len) {
    e.setFlow(f);
    auto r = e.initRelay();
    r.setStreamId(1);
    r.setCommand(cmd);
    r.initBody(static_cast<unsigned>(len));
  }

  EventLoop loop;
  End b{windows(4, 1 << 20)};
  std::unique_ptr<RpcConnection> raw;
  std::optional<proto::StreamSink::Client> sink;
};

TEST_F(HostilePeer, MessagesBeyondTheFlowWindowCloseTheConnection) {
  EXPECT_FALSE(push([](auto batch) {
    auto ev = batch.initEvents(6);
    relay(ev[0], 1, kBegin, 0);
    for (unsigned i = 1; i < 6; ++i)
      relay(ev[i], 1, kData, 10);
  }));
  EXPECT_EQ(b.violation, "message beyond the flow's credit window");
}

TEST_F(HostilePeer, AnEventForAFlowNeverOpenedClosesTheConnection) {
  EXPECT_FALSE(push([](auto batch) { relay(batch.initEvents(1)[0], 9, kData, 10); }));
  EXPECT_EQ(b.violation, "event for a flow that was never opened");
}

TEST_F(HostilePeer, OverGrantedCreditClosesTheConnection) {
  EXPECT_FALSE(push([](auto batch) { batch.initCredit().setConnectionBytes(1); }));
  EXPECT_EQ(b.violation, "connection credit over-granted");
}

TEST_F(HostilePeer, OversizedEventsAndBatchesCloseTheConnection) {
  EXPECT_FALSE(push([](auto batch) { relay(batch.initEvents(1)[0], 1, kBegin, 4000); }));
  EXPECT_EQ(b.violation, "event too large");
}

TEST_F(HostilePeer, TooManyEventsInOneBatch) {
  EXPECT_FALSE(push([](auto batch) {
    auto ev = batch.initEvents(kMaxEventsPerBatch + 1);
    for (auto e : ev)
      e.setClosed(0);
  }));
  EXPECT_EQ(b.violation, "batch too long");
}

TEST_F(HostilePeer, AWellBehavedBatchIsAccepted) {
  EXPECT_TRUE(push([](auto batch) {
    auto ev = batch.initEvents(3);
    relay(ev[0], 1, kBegin, 0);
    relay(ev[1], 1, kData, 498);
    relay(ev[2], 2, kBegin, 0);
  }));
  EXPECT_TRUE(b.violation.empty());
  EXPECT_EQ(b.queued[1].size(), 2u);
}

}  // namespace
}  // namespace onionsplit::ipc

namespace onionsplit::ipc {
namespace {

// What the peer may not send at all (the direction table) is the peer's breach, whatever flow.
TEST_F(HostilePeer, ACommandThePeerMayNotSendClosesTheConnection) {
  constexpr uint8_t kConnected = 4;  // streamd's to send, never circuitd's
  EXPECT_FALSE(push([](auto batch) {
    auto ev = batch.initEvents(2);
    relay(ev[0], 1, kBegin, 0);
    relay(ev[1], 1, kConnected, 0);
  }));
  EXPECT_EQ(b.violation, "a relay command this side may not send");
}

// Issue 15, finding 1: whatever the peer sent before it saw our close crossed it. Those events are
// dropped here, whatever their kind, their credit goes back, and the connection stays.
TEST_F(HostilePeer, EventsThatCrossOurCloseAreDropped) {
  ASSERT_TRUE(push([](auto batch) { relay(batch.initEvents(1)[0], 1, kBegin, 0); }));
  ASSERT_EQ(b.queued[1].size(), 1u);
  ASSERT_TRUE(b.pipe.close(1, 2));
  EXPECT_TRUE(push([](auto batch) {
    auto ev = batch.initEvents(4);
    relay(ev[0], 1, kData, 100);
    relay(ev[1], 1, kBegin, 0);
    relay(ev[2], 1, kData, 498);
    ev[3].setFlow(1);
    ev[3].setClosed(3);  // the peer's own close ends it
  }));
  EXPECT_TRUE(b.violation.empty()) << b.violation;
  EXPECT_EQ(b.pipe.stats().crossedClose, 3u);
  EXPECT_FALSE(b.pipe.inUse(1));
  EXPECT_TRUE(b.peerClosed.empty());  // we closed first: no onPeerClose
  // The id is free: a new BEGIN opens it again.
  EXPECT_TRUE(push([](auto batch) { relay(batch.initEvents(1)[0], 1, kBegin, 0); }));
  EXPECT_TRUE(b.pipe.isOpen(1));
}

// A handler's FlowVerdict closes only that flow; the others and the connection carry on.
TEST_F(HostilePeer, AFlowVerdictClosesOnlyItsFlow) {
  b.closeOn[1] = 5;
  EXPECT_TRUE(push([](auto batch) {
    auto ev = batch.initEvents(4);
    relay(ev[0], 1, kBegin, 0);
    relay(ev[1], 1, kData, 10);  // crossed the close the verdict on the BEGIN sent
    relay(ev[2], 2, kBegin, 0);
    relay(ev[3], 2, kData, 10);
  }));
  EXPECT_TRUE(b.violation.empty());
  EXPECT_FALSE(b.pipe.isOpen(1));
  EXPECT_TRUE(b.pipe.isOpen(2));
  EXPECT_EQ(b.queued[2].size(), 2u);
  EXPECT_EQ(b.pipe.stats().crossedClose, 1u);
}

// A close for a flow the pipe never knew is not something an honest peer sends.
TEST_F(HostilePeer, ACloseOfAFlowNeverOpenedClosesTheConnection) {
  EXPECT_FALSE(push([](auto batch) {
    auto e = batch.initEvents(1)[0];
    e.setFlow(3);
    e.setClosed(1);
  }));
  EXPECT_EQ(b.violation, "event for a flow that was never opened");
}

// Credit tokens may outlive their pipe (a queue destroyed after its connection): harmless.
TEST(BatchPipe, TokensOutlivingTheirPipeReturnNothing) {
  EventLoop loop;
  std::deque<End::Held> kept;
  {
    End a(windows(8, 1 << 20)), b(windows(8, 1 << 20));
    connect(loop, a, b);
    a.open(1);
    a.pump(1, 3);
    spin(loop, 5);
    ASSERT_EQ(b.queued[1].size(), 4u);
    kept = std::move(b.queued[1]);
  }
  kept.clear();  // the pipe is gone: nothing to return to, nothing to crash on
  SUCCEED();
}

}  // namespace
}  // namespace onionsplit::ipc

// Tests for common/flowctl/xon_xoff.h: XOFF after the grace period over the limit, XON on drain
// with the measured rate, advisory XONs, and the checks on the client's XOFF/XON.
#include "common/flowctl/xon_xoff.h"

#include <gtest/gtest.h>

namespace onionsplit::flowctl {
namespace {

constexpr size_t kLimit = 500 * 488;

TEST(StreamFlowWriter, XoffOnlyAfterTheGracePeriod) {
  StreamFlowWriter w;
  EXPECT_EQ(w.onBuffer(kLimit, 0, 1000).emit, FlowEmit::kNone) << "at the limit is not over it";
  EXPECT_EQ(w.onBuffer(kLimit + 1, 0, 2000).emit, FlowEmit::kNone) << "grace starts";
  EXPECT_EQ(w.onBuffer(kLimit + 1, 0, 6000).emit, FlowEmit::kNone);
  EXPECT_EQ(w.onBuffer(kLimit + 1, 0, 7000).emit, FlowEmit::kXoff);
  EXPECT_EQ(w.onBuffer(kLimit + 9, 0, 9000).emit, FlowEmit::kNone) << "one XOFF only";
  EXPECT_TRUE(w.xoffSent());
}

TEST(StreamFlowWriter, ShortBurstDoesNotXoff) {
  StreamFlowWriter w;
  w.onBuffer(kLimit + 1, 0, 1000);
  EXPECT_EQ(w.onBuffer(kLimit - 1, 1000, 3000).emit, FlowEmit::kNone);
  EXPECT_EQ(w.onBuffer(kLimit + 1, 0, 5000).emit, FlowEmit::kNone) << "the grace restarts";
  EXPECT_FALSE(w.xoffSent());
}

TEST(StreamFlowWriter, XonWhenDrainedWithTheDrainRate) {
  StreamFlowWriter w;
  uint64_t t = 1000;
  w.onBuffer(kLimit + 1, 0, t);
  ASSERT_EQ(w.onBuffer(kLimit + 1, 0, t + 6000).emit, FlowEmit::kXoff);
  // The socket drains 1 MB/s: 488 kB per 0.488 s.
  size_t buffered = kLimit + 1;
  FlowDecision d;
  t += 6000;
  while (buffered > 0) {
    size_t chunk = std::min<size_t>(buffered, 48800);
    buffered -= chunk;
    t += 48800;  // us for 48800 bytes at 1 MB/s
    d = w.onBuffer(buffered, chunk, t);
    if (buffered > 0) {
      ASSERT_EQ(d.emit, FlowEmit::kNone);
    }
  }
  EXPECT_EQ(d.emit, FlowEmit::kXon);
  EXPECT_NEAR(d.kbpsEwma, 1000, 50) << "1000 kB/s";
  EXPECT_FALSE(w.xoffSent());
}

TEST(StreamFlowWriter, AdvisoryXonWhenTheRateChanges) {
  StreamFlowWriter w;
  uint64_t t = 1000;
  // First an XOFF/XON cycle at 1 MB/s so there is a rate on record.
  w.onBuffer(kLimit + 1, 0, t);
  t += 6000;
  w.onBuffer(kLimit + 1, 0, t);
  t += 244000;
  ASSERT_EQ(w.onBuffer(0, kLimit + 1, t).emit, FlowEmit::kXon);
  // Then the socket slows to a quarter: an advisory XON follows a sample.
  FlowDecision d;
  for (int i = 0; i < 10 && d.emit == FlowEmit::kNone; ++i) {
    t += 4 * 48800;
    d = w.onBuffer(1000, 48800, t);
  }
  EXPECT_EQ(d.emit, FlowEmit::kXon);
  EXPECT_LT(d.kbpsEwma, 700u);
}

TEST(StreamFlowReader, XoffPausesXonResumesDuplicatesAndEarlyXoffsIgnored) {
  StreamFlowReader r;
  EXPECT_EQ(r.onXoff(), FlowInput::kIgnoredEarly) << "nothing sent yet";
  EXPECT_FALSE(r.paused());
  r.onBytesSent(500 * 488);
  EXPECT_EQ(r.onXoff(), FlowInput::kApplied);
  EXPECT_TRUE(r.paused());
  EXPECT_EQ(r.onXoff(), FlowInput::kIgnoredDuplicate);
  EXPECT_EQ(r.onXon(250), FlowInput::kApplied);
  EXPECT_FALSE(r.paused());
  EXPECT_EQ(r.rateLimitBytesPerSec(), 250000u);
  EXPECT_EQ(r.onXoff(), FlowInput::kIgnoredEarly) << "needs another limit's worth since the last";
  r.onXon(0);
  EXPECT_EQ(r.rateLimitBytesPerSec(), 0u) << "0 means unlimited";
}

}  // namespace
}  // namespace onionsplit::flowctl

// Tests for common/dos/stream_dos: the per-circuit BEGIN/RESOLVE bucket and C tor's actions.
#include "common/dos/stream_dos.h"

#include <gtest/gtest.h>

namespace onionsplit::dos {
namespace {

DosParams streamParams(StreamDefense d, uint32_t rate, uint32_t burst) {
  DosParams p;
  p.streamEnabled = true;
  p.streamDefense = d;
  p.streamRatePerSec = rate;
  p.streamBurst = burst;
  return p;
}

TEST(StreamDos, BurstThenRefuseThenRefillPerSecond) {
  const DosParams p = streamParams(StreamDefense::kRefuseStream, 2, 3);
  DosCounters c;
  StreamDos s(p, 1000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 1000, c), StreamAction::kAllow) << i;
  }
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 1000, c), StreamAction::kEndStreamMisc);
  EXPECT_EQ(s.onRequest(StreamRequest::kResolve, p, 1000, c),
            StreamAction::kResolvedErrorTransient);
  EXPECT_EQ(c.streamRejected, 2u);
  // One second later: two tokens (the rate), not more.
  EXPECT_EQ(s.onRequest(StreamRequest::kResolve, p, 1001, c), StreamAction::kAllow);
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 1001, c), StreamAction::kAllow);
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 1001, c), StreamAction::kEndStreamMisc);
  EXPECT_EQ(c.streamRejected, 3u);
  // A long pause refills only up to the burst.
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 5000, c), StreamAction::kAllow);
  EXPECT_EQ(s.tokens(), 2u);
}

TEST(StreamDos, BeginDirIsNotCounted) {
  const DosParams p = streamParams(StreamDefense::kCloseCircuit, 1, 1);
  DosCounters c;
  StreamDos s(p, 10);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(s.onRequest(StreamRequest::kBeginDir, p, 10, c), StreamAction::kAllow);
  }
  EXPECT_EQ(s.tokens(), 1u);
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 10, c), StreamAction::kAllow);
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 10, c), StreamAction::kCloseCircuitResourceLimit);
  EXPECT_EQ(s.onRequest(StreamRequest::kResolve, p, 10, c),
            StreamAction::kCloseCircuitResourceLimit);
  EXPECT_EQ(c.streamRejected, 2u);
}

TEST(StreamDos, DefenseNoneCountsButAllows) {
  const DosParams p = streamParams(StreamDefense::kNone, 1, 1);
  DosCounters c;
  StreamDos s(p, 0);
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 0, c), StreamAction::kAllow);
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 0, c), StreamAction::kAllow);
  EXPECT_EQ(s.onRequest(StreamRequest::kResolve, p, 0, c), StreamAction::kAllow);
  EXPECT_EQ(c.streamRejected, 2u);
}

TEST(StreamDos, DisabledNeitherCountsNorSpends) {
  DosParams p = streamParams(StreamDefense::kCloseCircuit, 1, 1);
  p.streamEnabled = false;
  DosCounters c;
  StreamDos s(p, 0);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 0, c), StreamAction::kAllow);
  }
  EXPECT_EQ(c.streamRejected, 0u);
  EXPECT_EQ(s.tokens(), 1u);
}

TEST(StreamDos, EachCircuitHasItsOwnBucketWithItsCreationParams) {
  DosParams p = streamParams(StreamDefense::kRefuseStream, 1, 2);
  DosCounters c;
  StreamDos a(p, 100);
  StreamDos b(p, 100);
  EXPECT_EQ(a.onRequest(StreamRequest::kBegin, p, 100, c), StreamAction::kAllow);
  EXPECT_EQ(a.onRequest(StreamRequest::kBegin, p, 100, c), StreamAction::kAllow);
  EXPECT_EQ(a.onRequest(StreamRequest::kBegin, p, 100, c), StreamAction::kEndStreamMisc);
  EXPECT_EQ(b.onRequest(StreamRequest::kBegin, p, 100, c), StreamAction::kAllow);
  // A consensus with a bigger burst does not resize existing circuits' buckets (C tor initialises
  // the bucket once, at circuit creation), but a new circuit gets it.
  p.streamBurst = 10;
  EXPECT_EQ(a.onRequest(StreamRequest::kBegin, p, 200, c), StreamAction::kAllow);
  EXPECT_EQ(a.tokens(), 1u);
  StreamDos fresh(p, 200);
  EXPECT_EQ(fresh.tokens(), 10u);
  // And the defence type is read at each request.
  p.streamDefense = StreamDefense::kCloseCircuit;
  EXPECT_EQ(a.onRequest(StreamRequest::kBegin, p, 200, c), StreamAction::kAllow);
  EXPECT_EQ(a.onRequest(StreamRequest::kBegin, p, 200, c),
            StreamAction::kCloseCircuitResourceLimit);
}

TEST(StreamDos, HugeClockJumpIsIgnoredLikeCTor) {
  const DosParams p = streamParams(StreamDefense::kRefuseStream, 5, 5);
  DosCounters c;
  StreamDos s(p, 10);
  for (int i = 0; i < 5; ++i)
    s.onRequest(StreamRequest::kBegin, p, 10, c);
  EXPECT_EQ(s.tokens(), 0u);
  // The 32-bit coarse clock going backwards looks like a jump of nearly 2^32 s: no refill.
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 9, c), StreamAction::kEndStreamMisc);
  EXPECT_EQ(s.onRequest(StreamRequest::kBegin, p, 10, c), StreamAction::kAllow);
}

}  // namespace
}  // namespace onionsplit::dos

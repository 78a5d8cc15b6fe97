// Unit tests of streamd/dns/nameservers.h: which nameserver a query's attempts go to, each one's
// counts, leaving out a nameserver that keeps timing out (with time passed in), and the latency
// histogram's buckets.
#include "streamd/dns/nameservers.h"

#include <gtest/gtest.h>

namespace onionsplit::streamd {
namespace {

TEST(NameserverRotation, FirstAttemptsTakeTurnsAndARetryGoesToTheNext) {
  NameserverRotation r(3);
  EXPECT_EQ(r.first(0), 0u);
  EXPECT_EQ(r.first(0), 1u);
  EXPECT_EQ(r.first(0), 2u);
  EXPECT_EQ(r.first(0), 0u);
  EXPECT_EQ(r.retry(0), 1u);
  EXPECT_EQ(r.retry(2), 0u);
  NameserverRotation one(1);
  EXPECT_EQ(one.first(0), 0u);
  EXPECT_EQ(one.retry(0), 0u);  // the only one: the retry goes to it again
}

TEST(NameserverRotation, CountsAreEachNameserversOwn) {
  NameserverRotation r(2);
  r.sent(0);
  r.sent(0);
  r.sent(1);
  r.timedOut(0, 0);
  EXPECT_EQ(r.counts(0).attempts, 2u);
  EXPECT_EQ(r.counts(0).timeouts, 1u);
  EXPECT_EQ(r.counts(1).attempts, 1u);
  EXPECT_EQ(r.counts(1).timeouts, 0u);
}

TEST(NameserverRotation, TenTimeoutsInARowLeaveANameserverOutUntilItsRetryTime) {
  NameserverRotation r(2);
  for (uint32_t i = 0; i < kNameserverDownAfter - 1; ++i)
    r.timedOut(0, 1000);
  r.answered(0);  // an answer between: the run starts again
  for (uint32_t i = 0; i < kNameserverDownAfter - 1; ++i)
    r.timedOut(0, 1000);
  EXPECT_FALSE(r.down(0));
  r.timedOut(0, 1000);
  EXPECT_TRUE(r.down(0));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(r.first(1000 + kNameserverRetryMs - 1), 1u);
  // Its retry time: one query goes to it, the next ones do not until 10 s later.
  uint64_t t = 1000 + kNameserverRetryMs;
  size_t probe = r.first(t);
  size_t after = r.first(t);
  EXPECT_EQ(probe + after, 1u);  // one of each, in whichever turn
  EXPECT_EQ(r.first(t + 1), 1u);
  r.answered(0);
  EXPECT_FALSE(r.down(0));
  EXPECT_EQ(r.first(t + 2) + r.first(t + 2), 1u);  // back in turn
}

TEST(NameserverRotation, AllDownStillTakeTurns) {
  NameserverRotation r(2);
  for (uint32_t i = 0; i < kNameserverDownAfter; ++i) {
    r.timedOut(0, 0);
    r.timedOut(1, 0);
  }
  EXPECT_EQ(r.first(1) + r.first(1), 1u);
}

TEST(LatencyHistogram, BucketsAreCumulativeAndTheSumIsInMicroseconds) {
  LatencyHistogram h;
  h.observe(4'000);       // <= 0.005
  h.observe(5'000);       // <= 0.005 (le is inclusive)
  h.observe(300'000);     // <= 0.5
  h.observe(2'000'000);   // <= 2.5
  h.observe(60'000'000);  // +Inf only
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.sumMicros(), 62'309'000u);
  EXPECT_EQ(h.atMost(0), 2u);
  EXPECT_EQ(h.atMost(5), 2u);  // 0.25
  EXPECT_EQ(h.atMost(6), 3u);  // 0.5
  EXPECT_EQ(h.atMost(8), 4u);  // 2.5
  EXPECT_EQ(h.atMost(LatencyHistogram::kBoundsUs.size() - 1), 4u);
  for (size_t i = 0; i < LatencyHistogram::kBoundsUs.size(); ++i)  // labels match the bounds
    EXPECT_EQ(std::stod(std::string(LatencyHistogram::kBoundLabels[i])) * 1e6,
              static_cast<double>(LatencyHistogram::kBoundsUs[i]));
}

}  // namespace
}  // namespace onionsplit::streamd

// Tests for channeld/net/consensus_fetcher.h: when a relay fetches the next consensus.
#include "channeld/net/consensus_fetcher.h"

#include <gtest/gtest.h>

namespace onionsplit::channeld {
namespace {

dirdoc::Consensus hourly(int64_t validAfter) {
  dirdoc::Consensus c;
  c.validAfterUnix = validAfter;
  c.freshUntilUnix = validAfter + 3600;
  c.validUntilUnix = validAfter + 3 * 3600;
  return c;
}

TEST(ConsensusFetcher, NextFetchFallsBetweenFreshUntilAndHalfwayToValidUntil) {
  auto c = hourly(1000000);
  int64_t now = c.validAfterUnix + 60;
  EXPECT_EQ(ConsensusFetcher::secondsUntilNextFetch(c, now, 0), 3600 - 60);
  EXPECT_EQ(ConsensusFetcher::secondsUntilNextFetch(c, now, 500), 3600 - 60 + 1800);
  int64_t latest = ConsensusFetcher::secondsUntilNextFetch(c, now, 999);
  EXPECT_LT(latest, 3600 - 60 + 3600);
  EXPECT_GT(latest, 3600 - 60 + 3590);
}

TEST(ConsensusFetcher, AStaleConsensusIsReplacedAtOnce) {
  auto c = hourly(1000000);
  EXPECT_EQ(ConsensusFetcher::secondsUntilNextFetch(c, c.validUntilUnix + 100, 999), 1);
  dirdoc::Consensus broken = c;  // valid-until before fresh-until (never verified, but bounded)
  broken.validUntilUnix = c.freshUntilUnix - 10;
  EXPECT_EQ(ConsensusFetcher::secondsUntilNextFetch(broken, c.validAfterUnix, 999), 3600);
}

}  // namespace
}  // namespace onionsplit::channeld

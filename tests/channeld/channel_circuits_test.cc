// Tests for channeld/link/channel_circuits.h: the per-channel circuit limit, duplicate CREATEs, and
// idleness.
#include "channeld/link/channel_circuits.h"

#include <gtest/gtest.h>

namespace onionsplit::channeld {
namespace {

using D = ChannelCircuits::Decision;
constexpr uint8_t kCreate2 = 10, kCreateFast = 5, kRelay = 3, kDestroy = 4;

TEST(ChannelCircuits, RefusesCreatesBeyondTheLimitAndFreesOnDestroy) {
  ChannelCircuits c(2, 180, 0);
  EXPECT_EQ(c.fromPeer(kCreate2, 1, 0), D::kForward);
  EXPECT_EQ(c.fromPeer(kCreateFast, 2, 0), D::kForward);
  EXPECT_EQ(c.fromPeer(kCreate2, 3, 0), D::kRefuseCreate);
  EXPECT_EQ(c.fromPeer(kRelay, 1, 0), D::kForward);
  EXPECT_EQ(c.fromPeer(kDestroy, 1, 0), D::kForward);
  EXPECT_EQ(c.fromPeer(kCreate2, 3, 0), D::kForward);
  c.toPeer(kDestroy, 2, 0);  // circuitd closed it
  EXPECT_EQ(c.circuits(), 1u);
}

TEST(ChannelCircuits, ASecondCreateOnALiveIdIsDropped) {
  ChannelCircuits c(10, 180, 0);
  EXPECT_EQ(c.fromPeer(kCreate2, 7, 0), D::kForward);
  EXPECT_EQ(c.fromPeer(kCreate2, 7, 0), D::kDrop);
  EXPECT_EQ(c.circuits(), 1u);
}

TEST(ChannelCircuits, IdleOnlyWithoutCircuitsForTheTimeout) {
  ChannelCircuits c(10, 180, 1000);
  EXPECT_FALSE(c.idle(1100));
  EXPECT_TRUE(c.idle(1180));
  c.fromPeer(kCreate2, 1, 1200);
  EXPECT_FALSE(c.idle(5000));  // a circuit keeps it busy however long
  c.toPeer(kDestroy, 1, 5000);
  EXPECT_FALSE(c.idle(5100));
  EXPECT_TRUE(c.idle(5180));
}

}  // namespace
}  // namespace onionsplit::channeld

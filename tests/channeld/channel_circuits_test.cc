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

TEST(ChannelCircuits, OurCircuitIdsCarryTheInitiatorsBit) {
  ChannelCircuits out(10, 180, 0), in(10, 180, 0);
  uint32_t next = 5;
  auto random = [&next] { return next++; };
  auto a = out.originate(true, random, 0);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, 0x80000005u) << "we opened the link: the top bit is set (tor-spec 5.1.1)";
  EXPECT_TRUE(out.ours(*a));
  auto b = in.originate(false, random, 0);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, 6u) << "the peer opened it: the top bit is clear";
  // An id already in use (the peer's circuit 7) is skipped.
  EXPECT_EQ(in.fromPeer(kCreate2, 7, 0), D::kForward);
  auto c = in.originate(false, random, 0);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, 8u);
  EXPECT_TRUE(in.toPeer(kCreate2, *c, 0)) << "our CREATE2 may go out";
}

TEST(ChannelCircuits, CreatedOnlyAnswersOurOwnCircuits) {
  constexpr uint8_t kCreated2 = 11;
  ChannelCircuits c(10, 180, 0);
  auto zero = [] { return 0u; };
  EXPECT_FALSE(c.originate(false, zero, 0)) << "id 0 is never used";
  auto id = c.originate(true, zero, 0);
  ASSERT_TRUE(id);
  EXPECT_EQ(c.fromPeer(kCreated2, *id, 0), D::kForward);
  EXPECT_EQ(c.fromPeer(kCreate2, 3, 0), D::kForward);
  EXPECT_EQ(c.fromPeer(kCreated2, 3, 0), D::kDrop) << "the peer's own circuit";
  EXPECT_EQ(c.fromPeer(kCreated2, 99, 0), D::kDrop) << "no such circuit";
  EXPECT_EQ(c.fromPeer(kDestroy, *id, 0), D::kForward);
  EXPECT_FALSE(c.ours(*id));
  EXPECT_EQ(c.fromPeer(kCreated2, *id, 0), D::kDrop);
}

TEST(ChannelCircuits, OriginateRespectsTheCircuitLimit) {
  ChannelCircuits c(2, 180, 0);
  uint32_t next = 1;
  auto random = [&next] { return next++; };
  EXPECT_TRUE(c.originate(true, random, 0));
  EXPECT_EQ(c.fromPeer(kCreate2, 1, 0), D::kForward);
  EXPECT_FALSE(c.originate(true, random, 0));
}

}  // namespace
}  // namespace onionsplit::channeld

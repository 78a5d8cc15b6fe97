// Tests for channeld/link/channel_dos.h: the circuit creation and connection defences keyed by
// client address across its channels, relays of the consensus exempt, parameters from the torrc
// over the consensus.
#include "channeld/link/channel_dos.h"

#include <gtest/gtest.h>

namespace onionsplit::channeld {
namespace {

constexpr std::array<uint64_t, 2> kKey{7, 11};

dos::RandRange lowest() {
  return [](uint32_t lo, uint32_t) { return lo; };
}

dos::ClientAddr addr(const char* ip) {
  auto a = ChannelDos::parseAddr(ip);
  EXPECT_TRUE(a) << ip;
  return a ? *a : dos::ClientAddr{};
}

// DoSCircuitCreation on with a burst of 5 and the default minimum of 3 connections.
dos::DosTorrc circuitDefence() {
  dos::DosTorrc t;
  t.circuitCreationEnabled = true;
  t.circuitCreationBurst = 5;
  t.circuitCreationRate = 1;
  return t;
}

TEST(ChannelDos, ParsesAddressesExactly) {
  EXPECT_EQ(addr("1.2.3.4"), dos::ClientAddr::v4(0x01020304));
  EXPECT_TRUE(addr("2001:db8::1").v6);
  EXPECT_FALSE(ChannelDos::parseAddr("not an address"));
  EXPECT_FALSE(ChannelDos::parseAddr(""));
}

TEST(ChannelDos, AFloodingAddressIsRefusedAcrossItsChannelsAnotherIsServed) {
  ChannelDos d(circuitDefence(), lowest(), kKey);
  const uint64_t now = 5000;
  auto flooder = addr("203.0.113.9"), honest = addr("198.51.100.7");
  // Three connections each (the defence marks only addresses with MinConnections open).
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(d.admit(flooder, now));
    ASSERT_TRUE(d.admit(honest, now));
  }
  // The flooder's CREATEs, spread over its channels, spend one bucket and mark the address.
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    d.noteCreate(flooder, false, now);
    if (d.refuseCreate(flooder, false, now)) ++refused;
  }
  EXPECT_GT(refused, 0);
  EXPECT_TRUE(d.tracker().isCircMarked(flooder, now));
  EXPECT_EQ(d.counters().markedAddress, 1u);
  EXPECT_EQ(d.counters().circuitRejected, static_cast<uint64_t>(refused));
  // The honest address, within its own bucket, is answered.
  for (int i = 0; i < 4; ++i) {
    d.noteCreate(honest, false, now);
    EXPECT_FALSE(d.refuseCreate(honest, false, now)) << i;
  }
  // A relay's channel from the marked address is not a client channel: never refused.
  d.noteCreate(flooder, true, now);
  EXPECT_FALSE(d.refuseCreate(flooder, true, now));
}

TEST(ChannelDos, RelaysOfTheConsensusAreNeverTracked) {
  ChannelDos d(circuitDefence(), lowest(), kKey);
  dirdoc::Consensus c;
  dirdoc::RouterEntry r;
  r.ipv4 = *exitpolicy::IpAddress::parse("192.0.2.1");
  r.ipv6 = *exitpolicy::IpAddress::parse("2001:db8::5");
  c.routers.push_back(r);
  c.params.push_back({"DoSCircuitCreationMinConnections", 1});
  d.setConsensus(c);
  EXPECT_TRUE(d.isKnownRelay(addr("192.0.2.1")));
  EXPECT_TRUE(d.isKnownRelay(addr("2001:db8::5")));
  EXPECT_FALSE(d.isKnownRelay(addr("192.0.2.2")));
  EXPECT_EQ(d.params().circMinConnections, 1u) << "the consensus fills what the torrc leaves";
  EXPECT_EQ(d.params().circBurst, 5u) << "the torrc wins";
  auto relay = addr("192.0.2.1");
  auto t = d.admit(relay, 100);
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->counted());
  for (int i = 0; i < 50; ++i) {
    d.noteCreate(relay, false, 100);
    EXPECT_FALSE(d.refuseCreate(relay, false, 100));
  }
  EXPECT_FALSE(d.tracker().tracks(relay));
  EXPECT_EQ(d.counters().circuitRejected, 0u);
}

TEST(ChannelDos, ConnectionDefenceAndParametersFollowTheTorrcAndConsensus) {
  dos::DosTorrc t;
  t.connectionMaxConcurrentCount = 1;
  ChannelDos d(t, lowest(), kKey);
  auto a = addr("203.0.113.1");
  // Off by default (no consensus, no DoSConnectionEnabled): nothing refused.
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(d.admit(a, 10));
  dirdoc::Consensus c;
  c.params.push_back({"DoSConnectionEnabled", 1});
  d.setConsensus(c);
  EXPECT_TRUE(d.params().connEnabled);
  auto b = addr("203.0.113.2");
  auto first = d.admit(b, 10);
  ASSERT_TRUE(first && first->counted());
  ASSERT_TRUE(d.admit(b, 10)) << "at the maximum, not over it";
  EXPECT_FALSE(d.admit(b, 10)) << "over the maximum";
  EXPECT_TRUE(d.admit(addr("203.0.113.3"), 10)) << "another address";
  d.closed(*first);
  EXPECT_TRUE(d.admit(b, 10));
  // A reload that turns the defence off in the torrc wins over the consensus.
  t.connectionEnabled = false;
  d.setTorrc(t);
  EXPECT_FALSE(d.params().connEnabled);
  EXPECT_TRUE(d.admit(b, 10));
}

}  // namespace
}  // namespace onionsplit::channeld

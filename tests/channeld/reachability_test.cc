// tests/channeld/reachability_test.cc: the ORPort self-test's shell (channeld/net/reachability.h)
// without a network of relays: the consensus's assume-reachable=1 passes it once; a relay that
// cannot be connected to is a failed attempt, counted, logged and tried again, and nothing is
// published. (Its success, a circuit through a C tor relay back to channeld, is shown in
// tests/interop/test_join_network.py.)
#include "channeld/net/reachability.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/channeld/fresh_identity.h"

namespace onionsplit::channeld {
namespace {

void spin(event_base* base, int ms) {
  timeval tv{0, ms * 1000};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

// A port on 127.0.0.1 nothing listens on (bound, then closed).
uint16_t closedPort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  bind(s, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t len = sizeof sin;
  getsockname(s, reinterpret_cast<sockaddr*>(&sin), &len);
  close(s);
  return ntohs(sin.sin_port);
}

struct Fixture : ::testing::Test {
  event_base* base = event_base_new();
  testing::FreshIdentity me{std::time(nullptr)};
  std::optional<LinkTlsContext> tls = testing::initiatorTls(me);
  client::RelayInfo self;
  int published = 0;

  Fixture() {
    self.ipv4 = {127, 0, 0, 1};
    self.orPort = 9;
  }
  ~Fixture() override { event_base_free(base); }
};

TEST_F(Fixture, TheConsensusAssumeReachablePassesItOnce) {
  ASSERT_TRUE(tls);
  ReachabilityTest t(
      base, *tls, self, [] { return std::optional<OutboundTarget>(); }, [this] { ++published; });
  t.start();
  spin(base, 50);
  EXPECT_FALSE(t.reachable());
  EXPECT_EQ(t.attempts(), 0u) << "no relay known yet: no attempt";
  t.assume("the consensus sets assume-reachable=1");
  t.assume("again");
  EXPECT_TRUE(t.reachable());
  EXPECT_EQ(published, 1);
  EXPECT_EQ(t.selfText(), "127.0.0.1:9");
}

TEST_F(Fixture, ARelayThatCannotBeReachedIsAFailedAttemptTriedAgain) {
  ASSERT_TRUE(tls);
  OutboundTarget relay;
  relay.ip = "127.0.0.1";
  relay.port = closedPort();
  int picked = 0;
  ReachabilityConfig cfg;
  cfg.attemptTimeout = std::chrono::seconds(2);
  cfg.retryInterval = std::chrono::seconds(1);
  ReachabilityTest t(
      base, *tls, self,
      [&] {
        ++picked;
        return std::optional<OutboundTarget>(relay);
      },
      [this] { ++published; }, cfg);
  t.start();
  for (int i = 0; i < 100 && t.failures() < 2; ++i)
    spin(base, 50);
  EXPECT_GE(t.failures(), 2u);
  EXPECT_GE(picked, 2) << "each attempt picks a relay again";
  EXPECT_LE(t.attempts() - t.failures(), 1u) << "at most the attempt in progress has no verdict";
  EXPECT_FALSE(t.reachable());
  EXPECT_EQ(published, 0);
}

}  // namespace
}  // namespace onionsplit::channeld

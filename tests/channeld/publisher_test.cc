// Tests for channeld/net/publisher.h against fake directory authorities on 127.0.0.1
// (tests/channeld/fake_authority.h): the descriptor reaches every authority, and one that refused
// the first uploads gets it again after the backoff, while the others are not asked again.
#include "channeld/net/publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "tests/channeld/fake_authority.h"

namespace onionsplit::channeld {
namespace {

using testing::FakeAuthority;

config::DirAuthority authorityAt(const std::string& nickname, uint16_t dirPort) {
  config::DirAuthority a;
  a.nickname = nickname;
  a.address = "127.0.0.1";
  a.dirPort = dirPort;
  a.orPort = 1;
  return a;
}

TEST(DescriptorPublisher, AnAuthorityThatRefusedGetsTheDescriptorAgainAfterTheBackoff) {
  char tmpl[] = "/tmp/onionsplit-publisher-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto now = std::time(nullptr);
  ASSERT_TRUE(keys::ensureRelayKeys(dir, "pubtest", static_cast<uint64_t>(now), {}));
  auto id = keys::loadIdentityKeys(dir);
  auto onion = keys::loadDescriptorOnionKeys(dir);
  ASSERT_TRUE(id && onion);
  event_base* base = event_base_new();
  {
    FakeAuthority good(base), flaky(base);
    flaky.failPosts = 2;
    config::Config cfg;
    cfg.nickname = "pubtest";
    cfg.address = "127.0.0.1";
    cfg.dirAuthorities = {authorityAt("good", good.port), authorityAt("flaky", flaky.port)};
    DescriptorPublisher pub(base, cfg, *id, *onion, 9001, now);
    pub.setRetryDelays(std::chrono::milliseconds(50), std::chrono::milliseconds(200));
    pub.start();
    for (int i = 0; i < 500 && pub.acceptedBy() < 2; ++i) {
      timeval tick{0, 20'000};
      event_base_loopexit(base, &tick);
      event_base_dispatch(base);
    }
    EXPECT_EQ(pub.acceptedBy(), 2u);
    EXPECT_EQ(pub.retries(), 2u) << "two refusals, two retries";
    EXPECT_EQ(flaky.posts, 3);
    EXPECT_EQ(good.posts, 1) << "an authority that has it is not asked again";
    EXPECT_NE(flaky.stored.find("router pubtest 127.0.0.1 9001"), std::string::npos);
  }
  event_base_free(base);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace onionsplit::channeld

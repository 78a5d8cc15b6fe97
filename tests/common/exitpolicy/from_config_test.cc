// Tests for common/exitpolicy/from_config.h: the policy channeld advertises and streamd enforces is
// built from the torrc options the way C tor combines them.
#include "common/exitpolicy/from_config.h"

#include <gtest/gtest.h>

namespace onionsplit::exitpolicy {
namespace {

IpAddress ip(std::string_view s) {
  return *IpAddress::parse(s);
}

TEST(PolicyFromConfig, ANonExitRejectsEverything) {
  auto c = config::parseConfig("Nickname a\n");
  ASSERT_TRUE(c);
  auto p = policyFromConfig(c->config);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->isExit());
  EXPECT_EQ(p->evaluate(ip("8.8.8.8"), 80), Verdict::kReject);
}

TEST(PolicyFromConfig, ExitPolicyItemsPrivateRangesAndOwnAddress) {
  auto c =
      config::parseConfig("Address 203.0.113.5\nExitRelay 1\nExitPolicy accept *:80, reject *:*\n");
  ASSERT_TRUE(c);
  auto in = policyInputsFromConfig(c->config);
  EXPECT_TRUE(in.exitRelay);
  ASSERT_EQ(in.ownAddresses.size(), 1u);
  auto p = policyFromConfig(c->config);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->evaluate(ip("8.8.8.8"), 80), Verdict::kAccept);
  EXPECT_EQ(p->evaluate(ip("8.8.8.8"), 443), Verdict::kReject);
  EXPECT_EQ(p->evaluate(ip("203.0.113.5"), 80), Verdict::kReject);  // our own address
  EXPECT_EQ(p->evaluate(ip("10.1.2.3"), 80), Verdict::kReject);     // private
}

TEST(PolicyFromConfig, RejectPrivateOffAndIpv6Exit) {
  auto c = config::parseConfig("ExitPolicyRejectPrivate 0\nIPv6Exit 1\nExitPolicy accept *:*\n");
  ASSERT_TRUE(c);
  auto p = policyFromConfig(c->config);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->evaluate(ip("127.0.0.1"), 22), Verdict::kAccept);
  EXPECT_EQ(p->evaluate(ip("2001:db8::1"), 22), Verdict::kAccept);
}

TEST(CheckExitPolicyEntries, EveryBadItemWithItsFileAndLine) {
  auto entries = config::lexTorrc(
      "ExitPolicy accept *:443\n"
      "ExitPolicy allow *:80\n"
      "exitpolicy accept *:80, accept *:99999, reject *:*\n"
      "ContactInfo allow *:80\n",
      "torrc");
  ASSERT_TRUE(entries);
  auto errors = checkExitPolicyEntries(*entries);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(config::describe(errors[0]).rfind("torrc:2: ExitPolicy \"allow *:80\"", 0), 0u);
  EXPECT_EQ(config::describe(errors[1]).rfind("torrc:3: ExitPolicy \"accept *:99999\"", 0), 0u);
  EXPECT_TRUE(checkExitPolicyEntries({}).empty());
}

}  // namespace
}  // namespace onionsplit::exitpolicy

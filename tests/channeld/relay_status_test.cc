// Tests for channeld/net/relay_status.h: the relay's flags as counters, and the refusal to run
// when the consensus requires a protocol of our roles we lack.
#include "channeld/net/relay_status.h"

#include <gtest/gtest.h>

#include <map>

#include "channeld/net/publisher.h"
#include "tests/common/dirdoc/dirdoc_data.h"

namespace onionsplit::channeld {
namespace {

namespace testdata = dirdoc::testdata;

std::map<std::string, uint64_t> countersOf(const RelayStatus& s) {
  std::vector<std::pair<std::string, uint64_t>> out;
  s.addCounters(out);
  return {out.begin(), out.end()};
}

TEST(RelayStatus, FlagsBecomeCountersAndTheRealConsensusLetsUsRun) {
  auto c = dirdoc::parseConsensus(testdata::consensusText(), dirdoc::kTestnet);
  ASSERT_TRUE(c);
  const auto& entry = c->routers.front();
  RelayStatus status(entry.identity, kProtoLine);
  auto before = countersOf(status);
  EXPECT_EQ(before.size(), 9u) << "C tor's nine tor_relay_flag types";
  EXPECT_EQ(before["relay_flag_Running"], 0u);
  EXPECT_TRUE(status.update(*c));
  auto after = countersOf(status);
  EXPECT_EQ(after["relay_flag_Running"], entry.has(dirdoc::RelayFlag::kRunning) ? 1u : 0u);
  EXPECT_EQ(after["relay_flag_Authority"], entry.has(dirdoc::RelayFlag::kAuthority) ? 1u : 0u);
  EXPECT_TRUE(status.last().listed);
}

TEST(RelayStatus, ARequiredRelayProtocolWeLackMeansWeMustNotRun) {
  std::string text = testdata::consensusText();
  size_t at = text.find("\nrequired-relay-protocols ");
  ASSERT_NE(at, std::string::npos);
  size_t end = text.find('\n', at + 1);
  text.replace(at + 1, end - at - 1, "required-relay-protocols Link=4-5 Relay=2-7");
  auto c = dirdoc::parseConsensus(text, dirdoc::kTestnet);
  ASSERT_TRUE(c);
  RelayStatus status(dirdoc::Sha1Digest{}, kProtoLine);
  EXPECT_FALSE(status.update(*c));
  EXPECT_EQ(status.last().missingRequired, "Relay=7");
  EXPECT_FALSE(status.last().listed);
}

}  // namespace
}  // namespace onionsplit::channeld

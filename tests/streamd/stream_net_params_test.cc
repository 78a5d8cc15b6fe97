// Tests for streamd/core/net_params.h: the XON/XOFF and stream-creation parameters streamd takes
// from the consensus, clamped as C tor clamps them, and the contract's bounds.
#include "streamd/core/net_params.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onionsplit::streamd {
namespace {

using Wire = std::vector<std::pair<std::string_view, int32_t>>;

TEST(StreamNetParams, WithoutTheParametersCtorsDefaults) {
  auto p = streamNetParamsFromWire(Wire{});
  ASSERT_TRUE(p);
  flowctl::XonXoffParams d;
  EXPECT_EQ(p->xonXoff.xoffExitCells, d.xoffExitCells);
  EXPECT_EQ(p->xonXoff.xoffClientCells, d.xoffClientCells);
  EXPECT_EQ(p->xonXoff.xonRateCells, d.xonRateCells);
  EXPECT_EQ(p->xonXoff.xonChangePct, d.xonChangePct);
  EXPECT_EQ(p->xonXoff.xonEwmaCnt, d.xonEwmaCnt);
  EXPECT_EQ(p->xonXoff.cellPayloadBytes, d.cellPayloadBytes);
  EXPECT_TRUE(p->dos.empty());
  EXPECT_EQ(dos::resolve({}, p->dos), dos::resolve({}, {}));
  EXPECT_EQ(p->dnsTimeoutSeconds, 1u);  // exit_dns_timeout 1000 ms
  EXPECT_EQ(p->dnsAttempts, 2u);        // exit_dns_num_attempts 2
}

// dns.c: exit_dns_timeout in ms (1..120000) goes to libevent in whole seconds, at least 1;
// exit_dns_num_attempts (0..255) as libevent's attempts:, where 0 still sends a query once.
TEST(StreamNetParams, DnsTimeoutAndAttemptsAsCtorHandsThemToLibevent) {
  auto p = streamNetParamsFromWire(Wire{{"exit_dns_timeout", 4500}, {"exit_dns_num_attempts", 5}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->dnsTimeoutSeconds, 4u);
  EXPECT_EQ(p->dnsAttempts, 5u);
  p = streamNetParamsFromWire(Wire{{"exit_dns_timeout", 300}, {"exit_dns_num_attempts", 0}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->dnsTimeoutSeconds, 1u);
  EXPECT_EQ(p->dnsAttempts, 1u);
  p = streamNetParamsFromWire(Wire{{"exit_dns_timeout", 999999}, {"exit_dns_num_attempts", 1000}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->dnsTimeoutSeconds, 120u);
  EXPECT_EQ(p->dnsAttempts, 255u);
}

TEST(StreamNetParams, FlowControlValuesAreTakenAndClampedToCtorsRanges) {
  auto p = streamNetParamsFromWire(Wire{{"cc_xoff_exit", 40},
                                        {"cc_xoff_client", 60},
                                        {"cc_xon_rate", 100},
                                        {"cc_xon_change_pct", 50},
                                        {"cc_xon_ewma_cnt", 7}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->xonXoff.xoffExitCells, 40u);
  EXPECT_EQ(p->xonXoff.xoffClientCells, 60u);
  EXPECT_EQ(p->xonXoff.xonRateCells, 100u);
  EXPECT_EQ(p->xonXoff.xonChangePct, 50u);
  EXPECT_EQ(p->xonXoff.xonEwmaCnt, 7u);
  // congestion_control_flow.c: cc_xoff_exit 1..10000, cc_xon_rate 1..5000, cc_xon_change_pct
  // 1..99, cc_xon_ewma_cnt 2..100.
  p = streamNetParamsFromWire(Wire{{"cc_xoff_exit", 0},
                                   {"cc_xon_rate", 99999},
                                   {"cc_xon_change_pct", 100},
                                   {"cc_xon_ewma_cnt", -3}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->xonXoff.xoffExitCells, 1u);
  EXPECT_EQ(p->xonXoff.xonRateCells, 5000u);
  EXPECT_EQ(p->xonXoff.xonChangePct, 99u);
  EXPECT_EQ(p->xonXoff.xonEwmaCnt, 2u);
}

TEST(StreamNetParams, OnlyTheStreamCreationParametersTheConsensusHasGoToTheDosResolver) {
  auto p = streamNetParamsFromWire(Wire{{"DoSStreamCreationEnabled", 1},
                                        {"DoSStreamCreationRate", 0},
                                        {"DoSCircuitCreationEnabled", 1}});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->dos.size(), 2u);
  EXPECT_EQ(p->dos.at("DoSStreamCreationEnabled"), 1);
  EXPECT_EQ(p->dos.at("DoSStreamCreationRate"), 1);  // clamped to dos.c's minimum
  dos::DosParams resolved = dos::resolve({}, p->dos);
  EXPECT_TRUE(resolved.streamEnabled);
  EXPECT_EQ(resolved.streamRatePerSec, 1u);
  EXPECT_EQ(resolved.streamBurst, 300u);
  EXPECT_FALSE(resolved.circEnabled);  // not streamd's to apply
}

TEST(StreamNetParams, ACallPastTheContractIsRefused) {
  EXPECT_FALSE(streamNetParamsFromWire(Wire{{"cc xoff", 1}}));
  std::string longName(dirdoc::kMaxNetParamNameBytes + 1, 'c');
  EXPECT_FALSE(streamNetParamsFromWire(Wire{{longName, 1}}));
  Wire many(dirdoc::kMaxWireNetParams + 1, {"cc_xoff_exit", 3});
  EXPECT_FALSE(streamNetParamsFromWire(many));
}

}  // namespace
}  // namespace onionsplit::streamd

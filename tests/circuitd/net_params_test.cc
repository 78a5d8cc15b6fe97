// Tests for circuitd/core/net_params.h: the consensus parameters new circuits take.
#include "circuitd/core/net_params.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onionsplit::circuitd {
namespace {

CircuitParams from(std::vector<dirdoc::NetParam> params) {
  return circuitParamsFrom(dirdoc::resolveNetParams(params));
}

TEST(NetParams, NoConsensusMeansCtorsDefaults) {
  CircuitParams p = from({});
  CircuitParams defaults;
  EXPECT_EQ(p.cc.ccAlg, defaults.cc.ccAlg);
  EXPECT_EQ(p.cc.sendmeInc, defaults.cc.sendmeInc);
  EXPECT_EQ(p.vegas.cwndInit, defaults.vegas.cwndInit);
  EXPECT_EQ(p.vegas.alpha, defaults.vegas.alpha);
  EXPECT_EQ(p.vegas.ssCwndCap, defaults.vegas.ssCwndCap);
  EXPECT_EQ(p.acceptSendmeV0, defaults.acceptSendmeV0);
}

TEST(NetParams, TheConsensusValuesReachTheNtorReplyAndVegas) {
  CircuitParams p = from({{"cc_sendme_inc", 33},
                          {"cc_vegas_alpha_exit", 200},
                          {"cc_cwnd_init", 200},
                          {"sendme_accept_min_version", 1}});
  EXPECT_EQ(p.cc.sendmeInc, 33);
  EXPECT_EQ(p.vegas.sendmeInc, 33u);
  EXPECT_EQ(p.vegas.alpha, 200u);
  EXPECT_EQ(p.vegas.cwndInit, 200u);
  EXPECT_FALSE(p.acceptSendmeV0);
}

TEST(NetParams, OutOfRangeValuesAreClampedAsCtorDoes) {
  CircuitParams p = from({{"cc_sendme_inc", 1000}, {"cc_cwnd_init", 1}});
  EXPECT_EQ(p.cc.sendmeInc, 254);
  EXPECT_EQ(p.vegas.cwndInit, 31u);
}

TEST(NetParams, CircwindowIsClampedToCtorsRange) {
  EXPECT_EQ(from({}).circWindow, 1000u);
  EXPECT_EQ(from({{"circwindow", 500}}).circWindow, 500u);
  EXPECT_EQ(from({{"circwindow", 5}}).circWindow, 100u);
  EXPECT_EQ(from({{"circwindow", 5000}}).circWindow, 1000u);
  EXPECT_EQ(from({{"circwindow", -1}}).circWindow, 100u);
}

// What circuitd forwards: each peer only the names it reads.
TEST(NetParams, StreamdGetsFlowControlAndStreamDosConfluxdTheCfxOnes) {
  std::vector<dirdoc::NetParam> all = {
      {"cc_sendme_inc", 33},   {"cc_xoff_exit", 40},         {"cc_xon_rate", 9},
      {"cc_xoff_client", 7},   {"DoSStreamCreationRate", 5}, {"DoSCircuitCreationRate", 5},
      {"cfx_max_legs_set", 4}, {"circwindow", 200},          {"exit_dns_timeout", 2000}};
  auto streamd = dirdoc::selectNetParams(all, isStreamdNetParam);
  std::vector<dirdoc::NetParam> wantStreamd = {{"cc_xoff_exit", 40},
                                               {"cc_xon_rate", 9},
                                               {"cc_xoff_client", 7},
                                               {"DoSStreamCreationRate", 5},
                                               {"exit_dns_timeout", 2000}};
  EXPECT_EQ(streamd, wantStreamd);
  auto confluxd = dirdoc::selectNetParams(all, isConfluxdNetParam);
  std::vector<dirdoc::NetParam> wantConfluxd = {{"cfx_max_legs_set", 4}};
  EXPECT_EQ(confluxd, wantConfluxd);
}

TEST(NetParams, RemovedAlgorithmsMeanVegasAndZeroTurnsCongestionControlOff) {
  EXPECT_EQ(from({{"cc_alg", 1}}).cc.ccAlg, 2);
  EXPECT_EQ(from({{"cc_alg", 3}}).cc.ccAlg, 2);
  EXPECT_EQ(from({{"cc_alg", 0}}).cc.ccAlg, 0);
}

// What channeld sends is checked before it is used: the contract's bounds, or a refusal.
TEST(NetParams, TheWireFormIsCheckedAgainstTheContract) {
  using Wire = std::vector<std::pair<std::string_view, int32_t>>;
  auto ok = circuitParamsFromWire(Wire{{"cc_sendme_inc", 33}, {"not_read_by_us", 7}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->cc.sendmeInc, 33);
  EXPECT_FALSE(circuitParamsFromWire(Wire{{"", 1}}));
  EXPECT_FALSE(circuitParamsFromWire(Wire{{"cc-sendme-inc", 1}}));
  EXPECT_FALSE(circuitParamsFromWire(Wire{{"cc_sendme\ninc", 1}}));
  std::string longName(dirdoc::kMaxNetParamNameBytes + 1, 'a');
  EXPECT_FALSE(circuitParamsFromWire(Wire{{longName, 1}}));
  EXPECT_TRUE(circuitParamsFromWire(Wire{{std::string_view(longName).substr(1), 1}}));
  Wire many(dirdoc::kMaxWireNetParams + 1, {"cc_alg", 2});
  EXPECT_FALSE(circuitParamsFromWire(many));
  many.pop_back();
  EXPECT_TRUE(circuitParamsFromWire(many));
}

}  // namespace
}  // namespace onionsplit::circuitd

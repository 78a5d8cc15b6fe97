// Tests for circuitd/core/net_params.h: the consensus parameters new circuits take.
#include "circuitd/core/net_params.h"

#include <gtest/gtest.h>

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

TEST(NetParams, RemovedAlgorithmsMeanVegasAndZeroTurnsCongestionControlOff) {
  EXPECT_EQ(from({{"cc_alg", 1}}).cc.ccAlg, 2);
  EXPECT_EQ(from({{"cc_alg", 3}}).cc.ccAlg, 2);
  EXPECT_EQ(from({{"cc_alg", 0}}).cc.ccAlg, 0);
}

}  // namespace
}  // namespace onionsplit::circuitd

// Tests for common/dos/dos_params: C tor's defaults, torrc-over-consensus precedence, clamping.
#include "common/dos/dos_params.h"

#include <gtest/gtest.h>

namespace onionsplit::dos {
namespace {

TEST(DosParams, DefaultsAreCTors) {
  const DosParams p = resolve(DosTorrc{}, ConsensusParams{});
  EXPECT_FALSE(p.circEnabled);
  EXPECT_EQ(p.circMinConnections, 3u);
  EXPECT_EQ(p.circRatePerSec, 3u);
  EXPECT_EQ(p.circBurst, 90u);
  EXPECT_EQ(p.circDefense, CircDefense::kRefuseCell);
  EXPECT_EQ(p.circDefenseTimePeriodSec, 3600u);
  EXPECT_FALSE(p.connEnabled);
  EXPECT_EQ(p.connMaxConcurrentCount, 100u);
  EXPECT_EQ(p.connDefense, ConnDefense::kClose);
  EXPECT_EQ(p.connConnectRatePerSec, 20u);
  EXPECT_EQ(p.connConnectBurst, 40u);
  EXPECT_EQ(p.connConnectDefenseTimePeriodSec, 86400u);
  EXPECT_FALSE(p.streamEnabled);
  EXPECT_EQ(p.streamRatePerSec, 100u);
  EXPECT_EQ(p.streamBurst, 300u);
  EXPECT_EQ(p.streamDefense, StreamDefense::kRefuseStream);
  EXPECT_FALSE(p.refuseSingleHopClientRendezvous);
  EXPECT_EQ(p.numCircMaxOutq, 3u);
}

TEST(DosParams, ConsensusAppliesWhenTorrcIsUnset) {
  const ConsensusParams c{{"DoSCircuitCreationEnabled", 1},
                          {"DoSCircuitCreationRate", 7},
                          {"DoSConnectionEnabled", 1},
                          {"DoSConnectionMaxConcurrentCount", 50},
                          {"DoSStreamCreationEnabled", 1},
                          {"DoSStreamCreationDefenseType", 3},
                          {"DoSRefuseSingleHopClientRendezvous", 1},
                          {"dos_num_circ_max_outq", 0}};
  const DosParams p = resolve(DosTorrc{}, c);
  EXPECT_TRUE(p.circEnabled);
  EXPECT_EQ(p.circRatePerSec, 7u);
  EXPECT_TRUE(p.connEnabled);
  EXPECT_EQ(p.connMaxConcurrentCount, 50u);
  EXPECT_TRUE(p.streamEnabled);
  EXPECT_EQ(p.streamDefense, StreamDefense::kCloseCircuit);
  EXPECT_TRUE(p.refuseSingleHopClientRendezvous);
  EXPECT_EQ(p.numCircMaxOutq, 0u);
}

TEST(DosParams, TorrcOverridesConsensusBothWays) {
  DosTorrc t;
  t.circuitCreationEnabled = false;  // explicit 0 beats a consensus 1
  t.connectionEnabled = true;        // explicit 1 beats a consensus 0
  t.circuitCreationBurst = 5;
  t.streamCreationDefenseType = 1;
  const ConsensusParams c{{"DoSCircuitCreationEnabled", 1},
                          {"DoSConnectionEnabled", 0},
                          {"DoSCircuitCreationBurst", 500},
                          {"DoSStreamCreationDefenseType", 3}};
  const DosParams p = resolve(t, c);
  EXPECT_FALSE(p.circEnabled);
  EXPECT_TRUE(p.connEnabled);
  EXPECT_EQ(p.circBurst, 5u);
  EXPECT_EQ(p.streamDefense, StreamDefense::kNone);
}

TEST(DosParams, TorrcZeroMeansUnsetForNumbers) {
  DosTorrc t;
  t.circuitCreationRate = 0;
  t.connectionConnectDefenseTimePeriodSec = 0;
  t.connectionDefenseType = 0;
  const ConsensusParams c{{"DoSCircuitCreationRate", 11},
                          {"DoSConnectionConnectDefenseTimePeriod", 600},
                          {"DoSConnectionDefenseType", 1}};
  const DosParams p = resolve(t, c);
  EXPECT_EQ(p.circRatePerSec, 11u);
  EXPECT_EQ(p.connConnectDefenseTimePeriodSec, 600u);
  EXPECT_EQ(p.connDefense, ConnDefense::kNone);
}

TEST(DosParams, ConsensusIsClampedToCTorsRanges) {
  const ConsensusParams low{{"DoSCircuitCreationEnabled", -5},
                            {"DoSCircuitCreationMinConnections", 0},
                            {"DoSCircuitCreationRate", -1},
                            {"DoSCircuitCreationBurst", 0},
                            {"DoSCircuitCreationDefenseType", 0},
                            {"DoSCircuitCreationDefenseTimePeriod", -100},
                            {"DoSConnectionConnectDefenseTimePeriod", 3},
                            {"DoSConnectionConnectRate", 0},
                            {"DoSStreamCreationDefenseType", -7},
                            {"dos_num_circ_max_outq", -2}};
  const DosParams lo = resolve(DosTorrc{}, low);
  EXPECT_FALSE(lo.circEnabled);
  EXPECT_EQ(lo.circMinConnections, 1u);
  EXPECT_EQ(lo.circRatePerSec, 1u);
  EXPECT_EQ(lo.circBurst, 1u);
  EXPECT_EQ(lo.circDefense, CircDefense::kNone);  // clamped to 1
  EXPECT_EQ(lo.circDefenseTimePeriodSec, 0u);
  EXPECT_EQ(lo.connConnectDefenseTimePeriodSec, 10u);
  EXPECT_EQ(lo.connConnectRatePerSec, 1u);
  EXPECT_EQ(lo.streamDefense, StreamDefense::kNone);
  EXPECT_EQ(lo.numCircMaxOutq, 0u);

  const ConsensusParams high{{"DoSConnectionEnabled", 9},
                             {"DoSCircuitCreationDefenseType", 9},
                             {"DoSConnectionDefenseType", 9},
                             {"DoSStreamCreationDefenseType", 9},
                             {"DoSStreamCreationBurst", INT32_MAX}};
  const DosParams hi = resolve(DosTorrc{}, high);
  EXPECT_TRUE(hi.connEnabled);  // clamped to 1
  EXPECT_EQ(hi.circDefense, CircDefense::kRefuseCell);
  EXPECT_EQ(hi.connDefense, ConnDefense::kClose);
  EXPECT_EQ(hi.streamDefense, StreamDefense::kCloseCircuit);
  EXPECT_EQ(hi.streamBurst, static_cast<uint32_t>(INT32_MAX));
}

TEST(DosParams, TorrcValuesAreNotClampedButOutOfEnumDefenseActsAsNone) {
  DosTorrc t;
  t.connectionConnectDefenseTimePeriodSec = 2;  // below the consensus minimum: C tor keeps it
  t.circuitCreationDefenseType = 7;             // no such defence: acts as none
  t.streamCreationDefenseType = -1;
  t.connectionMaxConcurrentCount = 0xFFFFFFFFu;  // beyond what C tor's parser accepts
  const DosParams p = resolve(t, ConsensusParams{{"DoSCircuitCreationDefenseType", 2}});
  EXPECT_EQ(p.connConnectDefenseTimePeriodSec, 2u);
  EXPECT_EQ(p.circDefense, CircDefense::kNone);
  EXPECT_EQ(p.streamDefense, StreamDefense::kNone);
  EXPECT_EQ(p.connMaxConcurrentCount, static_cast<uint32_t>(INT32_MAX));
}

TEST(DosParams, UnknownConsensusNamesAreIgnored) {
  const DosParams p =
      resolve(DosTorrc{}, ConsensusParams{{"dosCircuitCreationEnabled", 1}, {"Other", 4}});
  EXPECT_EQ(p, DosParams{});
}

}  // namespace
}  // namespace onionsplit::dos

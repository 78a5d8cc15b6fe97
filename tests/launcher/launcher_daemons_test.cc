// Unit tests of launcher/daemons.h: the daemons the launcher runs with NumCPUs' circuitd shards,
// and the program each name runs.
#include "launcher/daemons.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config/relay_options.h"
#include "common/daemon/shards.h"

namespace onionsplit::launcher {
namespace {

using Names = std::vector<std::string>;

TEST(LauncherDaemons, OneNamePerCircuitdShardBetweenChanneldAndStreamd) {
  EXPECT_EQ(daemonNames(1), (Names{"channeld", "circuitd", "streamd", "confluxd"}));
  EXPECT_EQ(daemonNames(0), daemonNames(1)) << "at least one circuitd";
  EXPECT_EQ(daemonNames(3),
            (Names{"channeld", "circuitd", "circuitd-1", "circuitd-2", "streamd", "confluxd"}));
}

TEST(LauncherDaemons, NumCpusSetsTheShardsAndUnsetMeansTheCoresLessOne) {
  config::Config cfg;
  cfg.numCpus = 4;
  EXPECT_EQ(daemonNames(cfg).size(), 7u);
  cfg.numCpus = 0;
  EXPECT_EQ(daemonNames(cfg), daemonNames(config::circuitdShards(cfg, daemon::usableCores())));
}

TEST(LauncherDaemons, EveryShardRunsCircuitd) {
  EXPECT_EQ(baseName("circuitd"), "circuitd");
  EXPECT_EQ(baseName("circuitd-1"), "circuitd");
  EXPECT_EQ(baseName("circuitd-63"), "circuitd");
  EXPECT_EQ(baseName("channeld"), "channeld");
  EXPECT_EQ(baseName("confluxd"), "confluxd");
  EXPECT_EQ(baseName("circuitd-"), "circuitd-");
  EXPECT_EQ(baseName("circuitd-x"), "circuitd-x");
  EXPECT_EQ(baseName("circuitd-1a"), "circuitd-1a");
}

}  // namespace
}  // namespace onionsplit::launcher

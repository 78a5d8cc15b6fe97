// Tests for launcher/heartbeat.h: the heartbeat line, SIGNAL DUMP's line and C tor's ConnLimit
// verdict.
#include "launcher/heartbeat.h"

#include <gtest/gtest.h>

namespace onionsplit::launcher {
namespace {

TEST(Heartbeat, UptimeAndRestartsPerDaemon) {
  EXPECT_EQ(heartbeatLine(3 * 60, {}), "Heartbeat: onionsplit's uptime is 0:03 hours.");
  EXPECT_EQ(heartbeatLine(86400 + 2 * 3600 + 3 * 60 + 59, {{"channeld", 0}, {"streamd", 2}}),
            "Heartbeat: onionsplit's uptime is 1 day 2:03 hours. Daemon restarts: channeld 0, "
            "streamd 2.");
  EXPECT_NE(heartbeatLine(3 * 86400, {}).find("3 days 0:00 hours"), std::string::npos);
}

TEST(Heartbeat, DumpLineKeepsTheConnectionAndCircuitCounters) {
  DaemonMetrics d;
  d.daemon = "channeld";
  d.up = true;
  d.counters = {{"channels_open", 3},
                {"circuits_total", 7},
                {"memory_bytes", 9},
                {"link_bytes_read_total", 100}};
  EXPECT_EQ(dumpLine(d, 42, 1),
            "channeld (pid 42, 1 restart): channels_open 3, circuits_total 7, "
            "link_bytes_read_total 100");
  d.up = false;
  EXPECT_EQ(dumpLine(d, 0, 2), "channeld: did not answer");
}

TEST(Heartbeat, ConnLimitNeedsThatManyDescriptors) {
  EXPECT_FALSE(judgeConnLimit(1000, 1024));
  EXPECT_FALSE(judgeConnLimit(1024, 1024));
  auto e = judgeConnLimit(1000, 512);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("need 1000"), std::string::npos);
  EXPECT_NE(e->find("limited to 512"), std::string::npos);
}

}  // namespace
}  // namespace onionsplit::launcher

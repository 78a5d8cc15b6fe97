// Tests for launcher/heartbeat.h: the heartbeat line and C tor's ConnLimit verdict.
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

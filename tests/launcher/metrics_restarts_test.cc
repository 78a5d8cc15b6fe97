// Unit tests of RestartCounter (launcher/metrics_restarts.h), the restarts `onionsplit metrics`
// reports under systemd: a new pid or start time in a daemon's answer is one restart, the first
// answer is the baseline, the same instance answering again (or after being unreachable) is not
// a restart, answers without a start time are ignored, and daemons are counted apart.
#include <gtest/gtest.h>

#include "launcher/metrics_restarts.h"

namespace onionsplit::launcher {
namespace {

TEST(RestartCounter, TheFirstAnswerIsTheBaseline) {
  RestartCounter c;
  EXPECT_EQ(c.restartsOf("circuitd"), 0u);
  c.observe("circuitd", 100, 5000);
  EXPECT_EQ(c.restartsOf("circuitd"), 0u);
}

TEST(RestartCounter, TheSameInstanceAgainIsNoRestart) {
  RestartCounter c;
  for (int i = 0; i < 5; ++i)
    c.observe("streamd", 42, 7000);
  EXPECT_EQ(c.restartsOf("streamd"), 0u);
}

TEST(RestartCounter, ANewPidOrStartTimeIsOneRestartEach) {
  RestartCounter c;
  c.observe("streamd", 42, 7000);
  c.observe("streamd", 43, 9000);  // kill -9, systemd started it again
  EXPECT_EQ(c.restartsOf("streamd"), 1u);
  c.observe("streamd", 43, 9000);
  EXPECT_EQ(c.restartsOf("streamd"), 1u);
  c.observe("streamd", 43, 9500);  // the pid came round again; the start time tells
  EXPECT_EQ(c.restartsOf("streamd"), 2u);
  c.observe("streamd", 44, 9500);  // a start in the same millisecond; the pid tells
  EXPECT_EQ(c.restartsOf("streamd"), 3u);
  c.observe("streamd", 42, 7000);  // an old instance's identity again is still another instance
  EXPECT_EQ(c.restartsOf("streamd"), 4u);
}

TEST(RestartCounter, AnAnswerWithoutAStartTimeIsIgnored) {
  RestartCounter c;
  c.observe("confluxd", 0, 0);
  c.observe("confluxd", 10, 1000);
  c.observe("confluxd", 11, 0);
  EXPECT_EQ(c.restartsOf("confluxd"), 0u);
  c.observe("confluxd", 12, 2000);
  EXPECT_EQ(c.restartsOf("confluxd"), 1u);
}

TEST(RestartCounter, DaemonsAreCountedApart) {
  RestartCounter c;
  c.observe("channeld", 1, 1000);
  c.observe("circuitd", 2, 1000);
  c.observe("circuitd", 3, 2000);
  EXPECT_EQ(c.restartsOf("channeld"), 0u);
  EXPECT_EQ(c.restartsOf("circuitd"), 1u);
  EXPECT_EQ(c.restartsOf("never-seen"), 0u);
}

}  // namespace
}  // namespace onionsplit::launcher

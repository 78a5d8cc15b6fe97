// Tests for common/base/backoff.h: restart delays of a crashing daemon.
#include "common/base/backoff.h"

#include <gtest/gtest.h>

namespace onionsplit {
namespace {

using std::chrono::milliseconds;

TEST(RestartBackoff, DoublesUpToTheCap) {
  RestartBackoff b({milliseconds(100), milliseconds(1000), milliseconds(60000)});
  RestartBackoff::TimePoint t{};
  std::vector<long> waits;
  for (int i = 0; i < 6; ++i) {
    b.started(t);
    t += milliseconds(10);  // crashes at once
    auto w = b.exited(t);
    waits.push_back(static_cast<long>(w.count()));
    t += w;
  }
  EXPECT_EQ(waits, (std::vector<long>{100, 200, 400, 800, 1000, 1000}));
  EXPECT_EQ(b.restarts(), 6u);
}

TEST(RestartBackoff, StableRunResetsTheDelay) {
  RestartBackoff b({milliseconds(100), milliseconds(1000), milliseconds(5000)});
  RestartBackoff::TimePoint t{};
  b.started(t);
  t += milliseconds(1);
  b.exited(t);
  b.started(t);
  t += milliseconds(1);
  EXPECT_EQ(b.exited(t).count(), 200);
  b.started(t);
  t += milliseconds(6000);  // ran long enough to count as healthy
  EXPECT_EQ(b.exited(t).count(), 100);
}

}  // namespace
}  // namespace onionsplit

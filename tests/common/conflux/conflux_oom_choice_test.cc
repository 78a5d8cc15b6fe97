// tests/common/conflux/conflux_oom_choice_test.cc: confluxd's OOM choice: the largest reorder
// queue first, ties by all a set holds, only as many as it takes to get under the low-water mark,
// never a set that holds nothing.
#include "common/conflux/oom_choice.h"

#include <gtest/gtest.h>

namespace onionsplit::conflux {
namespace {

std::vector<size_t> refs(const std::vector<SetOomCandidate>& c, size_t n) {
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(c[i].ref);
  return out;
}

TEST(SetOomChoice, LargestReorderQueueFirstUntilUnderTheTarget) {
  // {reorder bytes, all bytes, ref}
  std::vector<SetOomCandidate> c = {{100, 900, 0}, {800, 850, 1}, {300, 300, 2}, {0, 50, 3}};
  // Holding 2100, target 1500: the set with the largest reorder queue frees enough.
  EXPECT_EQ(refs(c, chooseSetOomVictims(c, 2100, 1500)), (std::vector<size_t>{1}));
  // Target 800: then 300, then 100 (850 + 300 free 1150 of the 1300 needed).
  EXPECT_EQ(refs(c, chooseSetOomVictims(c, 2100, 800)), (std::vector<size_t>{1, 2, 0}));
}

TEST(SetOomChoice, TiesGoToTheSetHoldingMore) {
  std::vector<SetOomCandidate> c = {{200, 300, 0}, {200, 700, 1}};
  EXPECT_EQ(refs(c, chooseSetOomVictims(c, 1000, 900)), (std::vector<size_t>{1}));
}

TEST(SetOomChoice, NothingUnderTheTargetAndNeverASetThatHoldsNothing) {
  std::vector<SetOomCandidate> c = {{0, 0, 0}, {0, 100, 1}};
  EXPECT_EQ(chooseSetOomVictims(c, 90, 90), 0u);
  EXPECT_EQ(refs(c, chooseSetOomVictims(c, 1000, 10)), (std::vector<size_t>{1}));
  std::vector<SetOomCandidate> none;
  EXPECT_EQ(chooseSetOomVictims(none, 1000, 10), 0u);
}

}  // namespace
}  // namespace onionsplit::conflux

// tests/common/flowctl/flowctl_oom_choice_test.cc: the OOM handlers' choice: the highest rank
// first (confluxd: the largest reorder queue; channeld: the most bytes), ties by all an object
// holds, then the smaller handle (the older channel), only as many as it takes to get under the
// low-water mark, never one that holds nothing.
#include "common/flowctl/oom_choice.h"

#include <gtest/gtest.h>

namespace onionsplit::flowctl {
namespace {

std::vector<size_t> refs(const std::vector<OomCandidate>& c, size_t n) {
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(c[i].ref);
  return out;
}

TEST(OomChoice, LargestReorderQueueFirstUntilUnderTheTarget) {
  // {reorder bytes, all bytes, ref}
  std::vector<OomCandidate> c = {{100, 900, 0}, {800, 850, 1}, {300, 300, 2}, {0, 50, 3}};
  // Holding 2100, target 1500: the set with the largest reorder queue frees enough.
  EXPECT_EQ(refs(c, chooseOomVictims(c, 2100, 1500)), (std::vector<size_t>{1}));
  // Target 800: then 300, then 100 (850 + 300 free 1150 of the 1300 needed).
  EXPECT_EQ(refs(c, chooseOomVictims(c, 2100, 800)), (std::vector<size_t>{1, 2, 0}));
}

TEST(OomChoice, TiesGoToTheSetHoldingMore) {
  std::vector<OomCandidate> c = {{200, 300, 0}, {200, 700, 1}};
  EXPECT_EQ(refs(c, chooseOomVictims(c, 1000, 900)), (std::vector<size_t>{1}));
}

TEST(OomChoice, NothingUnderTheTargetAndNeverASetThatHoldsNothing) {
  std::vector<OomCandidate> c = {{0, 0, 0}, {0, 100, 1}};
  EXPECT_EQ(chooseOomVictims(c, 90, 90), 0u);
  EXPECT_EQ(refs(c, chooseOomVictims(c, 1000, 10)), (std::vector<size_t>{1}));
  std::vector<OomCandidate> none;
  EXPECT_EQ(chooseOomVictims(none, 1000, 10), 0u);
}

TEST(OomChoice, ChannelsByBytesTheOlderFirstAmongEquals) {
  // channeld ranks by bytes; its refs are channel ids in order of opening.
  std::vector<OomCandidate> c = {{500, 500, 9}, {900, 900, 4}, {500, 500, 2}, {100, 100, 1}};
  EXPECT_EQ(refs(c, chooseOomVictims(c, 2000, 700)), (std::vector<size_t>{4, 2}));
  EXPECT_EQ(refs(c, chooseOomVictims(c, 2000, 0)), (std::vector<size_t>{4, 2, 9, 1}));
}

}  // namespace
}  // namespace onionsplit::flowctl

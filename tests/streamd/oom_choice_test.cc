// tests/streamd/oom_choice_test.cc: the OOM handler's choice: largest first, ties oldest first,
// only as many as it takes to get under the low-water mark.
#include "streamd/core/oom_choice.h"

#include <gtest/gtest.h>

namespace onionsplit::streamd {
namespace {

std::vector<size_t> refs(const std::vector<OomCandidate>& c, size_t n) {
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(c[i].ref);
  return out;
}

TEST(OomChoice, LargestFirstUntilUnderTheTarget) {
  std::vector<OomCandidate> c = {{100, 1, 0}, {500, 2, 1}, {300, 3, 2}, {50, 4, 3}};
  // Holding 950, target 500: closing 500 leaves 450.
  size_t n = chooseOomVictims(c, 950, 500);
  EXPECT_EQ(refs(c, n), (std::vector<size_t>{1}));
  // Target 200: 500 then 300.
  n = chooseOomVictims(c, 950, 200);
  EXPECT_EQ(refs(c, n), (std::vector<size_t>{1, 2}));
}

TEST(OomChoice, TiesGoOldestFirst) {
  std::vector<OomCandidate> c = {{200, 9, 0}, {200, 3, 1}, {200, 5, 2}, {10, 1, 3}};
  size_t n = chooseOomVictims(c, 610, 250);
  EXPECT_EQ(refs(c, n), (std::vector<size_t>{1, 2}));
}

TEST(OomChoice, NothingUnderTheTargetAndNeverAStreamThatFreesNothing) {
  std::vector<OomCandidate> c = {{100, 1, 0}, {0, 0, 1}};
  EXPECT_EQ(chooseOomVictims(c, 90, 90), 0u);
  // Not enough to free (the rest is held elsewhere, e.g. lingering sockets): all that free bytes.
  size_t n = chooseOomVictims(c, 1000, 10);
  EXPECT_EQ(refs(c, n), (std::vector<size_t>{0}));
  std::vector<OomCandidate> none;
  EXPECT_EQ(chooseOomVictims(none, 1000, 10), 0u);
}

}  // namespace
}  // namespace onionsplit::streamd

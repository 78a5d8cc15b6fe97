// tests/circuitd/circuit_oom_choice_test.cc: circuitd's OOM choice: the circuit whose oldest queued
// cell is oldest first (C tor's circuits_handle_oom), ties by bytes, only as many as it takes to
// get under the low-water mark, never one that holds nothing.
#include "circuitd/core/oom_choice.h"

#include <gtest/gtest.h>

namespace onionsplit::circuitd {
namespace {

std::vector<size_t> refs(const std::vector<OomCandidate>& c, size_t n) {
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(c[i].ref);
  return out;
}

TEST(CircuitOomChoice, OldestQueuedCellFirstNotTheLargest) {
  // {bytes, oldest stamp, ref}
  std::vector<OomCandidate> c = {{500, 40, 0}, {100, 7, 1}, {300, 12, 2}, {50, 90, 3}};
  // Holding 950, target 850: the circuit with the oldest cell (stamp 7) frees enough.
  EXPECT_EQ(refs(c, chooseOomVictims(c, 950, 850)), (std::vector<size_t>{1}));
  // Target 300: 7, then 12 (100 + 300 frees 400 of the 650 needed), then 40.
  EXPECT_EQ(refs(c, chooseOomVictims(c, 950, 300)), (std::vector<size_t>{1, 2, 0}));
}

TEST(CircuitOomChoice, TiesGoToTheLargerQueue) {
  std::vector<OomCandidate> c = {{100, 5, 0}, {400, 5, 1}, {200, 9, 2}};
  EXPECT_EQ(refs(c, chooseOomVictims(c, 700, 600)), (std::vector<size_t>{1}));
}

TEST(CircuitOomChoice, NothingUnderTheTargetAndNeverACircuitThatHoldsNothing) {
  std::vector<OomCandidate> c = {{0, 0, 0}, {100, 3, 1}};
  EXPECT_EQ(chooseOomVictims(c, 90, 90), 0u);
  // Not enough to free: every circuit that holds something, and only those.
  EXPECT_EQ(refs(c, chooseOomVictims(c, 1000, 10)), (std::vector<size_t>{1}));
  std::vector<OomCandidate> none;
  EXPECT_EQ(chooseOomVictims(none, 1000, 10), 0u);
}

}  // namespace
}  // namespace onionsplit::circuitd

// tests/common/flowctl/flowctl_oom_choice_test.cc: the OOM handlers' choice: the highest rank
// first, ties by all an object holds, then the older, only as many as it takes to get under the
// low-water mark, never one that holds nothing; with each daemon's ranking (streamd and channeld:
// the most bytes; circuitd: the oldest queued cell; confluxd: the largest reorder queue).
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

// streamd: the most buffered bytes first; among equals the older stream (age), whatever the order
// they were collected in (ref).
TEST(OomChoice, StreamsLargestFirstTiesGoOldestFirst) {
  // {rank = bytes, bytes, ref, age}
  std::vector<OomCandidate> c = {
      {200, 200, 0, 9}, {200, 200, 1, 3}, {200, 200, 2, 5}, {10, 10, 3, 1}};
  EXPECT_EQ(refs(c, chooseOomVictims(c, 610, 250)), (std::vector<size_t>{1, 2}));
  std::vector<OomCandidate> d = {{100, 100, 0, 1}, {500, 500, 1, 2}, {300, 300, 2, 3}};
  EXPECT_EQ(refs(d, chooseOomVictims(d, 950, 200)), (std::vector<size_t>{1, 2}));
}

// circuitd: the circuit whose oldest queued cell is oldest first (C tor's circuits_handle_oom),
// not the largest; ties to the larger queue.
TEST(OomChoice, CircuitsOldestQueuedCellFirstNotTheLargest) {
  auto circuit = [](uint64_t bytes, uint64_t oldestStamp, size_t ref) {
    return OomCandidate{~oldestStamp, bytes, ref};
  };
  std::vector<OomCandidate> c = {circuit(500, 40, 0), circuit(100, 7, 1), circuit(300, 12, 2),
                                 circuit(50, 90, 3)};
  EXPECT_EQ(refs(c, chooseOomVictims(c, 950, 850)), (std::vector<size_t>{1}));
  // 7, then 12 (100 + 300 frees 400 of the 650 needed), then 40.
  EXPECT_EQ(refs(c, chooseOomVictims(c, 950, 300)), (std::vector<size_t>{1, 2, 0}));
  std::vector<OomCandidate> t = {circuit(100, 5, 0), circuit(400, 5, 1), circuit(200, 9, 2)};
  EXPECT_EQ(refs(t, chooseOomVictims(t, 700, 600)), (std::vector<size_t>{1}));
  // One holding nothing has the oldest stamp (0): never chosen, closing it frees nothing.
  std::vector<OomCandidate> z = {circuit(0, 0, 0), circuit(100, 3, 1)};
  EXPECT_EQ(refs(z, chooseOomVictims(z, 1000, 10)), (std::vector<size_t>{1}));
}

}  // namespace
}  // namespace onionsplit::flowctl

// Tests for channeld/link/output_scheduler.h: round robin among circuits, FIFO within one, bounds,
// dropping a destroyed circuit's cells, and slot reuse.
#include "channeld/link/output_scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "tests/common/flowctl/counting_ledger.h"

namespace onionsplit::channeld {
namespace {

Bytes tag(uint8_t& storage, uint8_t v) {
  storage = v;
  return Bytes(&storage, 1);
}

std::string drain(OutputScheduler& s) {
  std::string order;
  while (const auto* c = s.peek()) {
    order += std::to_string(c->circId) + ":" + std::to_string(c->payload[0]) + " ";
    s.pop();
  }
  return order;
}

TEST(OutputScheduler, CircuitsTakeTurnsAndEachKeepsItsOrder) {
  OutputScheduler s;
  uint8_t b;
  for (uint8_t i = 1; i <= 4; ++i)
    ASSERT_TRUE(s.push(7, 3, tag(b, i)));  // a busy circuit queues four cells first
  ASSERT_TRUE(s.push(9, 3, tag(b, 1)));
  ASSERT_TRUE(s.push(11, 3, tag(b, 1)));
  ASSERT_TRUE(s.push(9, 3, tag(b, 2)));
  EXPECT_EQ(s.size(), 7u);
  EXPECT_EQ(drain(s), "7:1 9:1 11:1 7:2 9:2 7:3 7:4 ");
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.circuits(), 0u);
}

TEST(OutputScheduler, ACircuitCannotQueueBeyondItsBound) {
  OutputScheduler s(3);
  uint8_t b;
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(s.push(1, 3, tag(b, 0)));
  EXPECT_FALSE(s.push(1, 3, tag(b, 0)));
  EXPECT_TRUE(s.push(2, 3, tag(b, 0))) << "other circuits are not affected";
  std::vector<uint8_t> big(510);
  EXPECT_FALSE(s.push(3, 3, Bytes(big)));
}

TEST(OutputScheduler, DroppingADestroyedCircuitLeavesTheOthers) {
  OutputScheduler s;
  uint8_t b;
  s.push(1, 3, tag(b, 1));
  s.push(2, 3, tag(b, 1));
  s.push(1, 3, tag(b, 2));
  s.push(3, 3, tag(b, 1));
  EXPECT_EQ(s.drop(1), 2u);
  EXPECT_EQ(s.drop(1), 0u);
  EXPECT_EQ(drain(s), "2:1 3:1 ");
}

TEST(OutputScheduler, PayloadsArePaddedAndSlotsReused) {
  OutputScheduler s;
  std::vector<uint8_t> full(509, 0xee);
  s.push(1, 3, Bytes(full));
  s.pop();
  uint8_t b;
  s.push(1, 4, tag(b, 5));
  const auto* c = s.peek();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->command, 4);
  EXPECT_EQ(c->payload[0], 5);
  EXPECT_EQ(c->payload[1], 0) << "no bytes of the previous cell in the reused slot";
  EXPECT_EQ(c->payload[508], 0);
}

using flowctl::testing::CountingLedger;

TEST(OutputScheduler, ACellsCreditGoesBackWhenItLeavesHoweverItLeaves) {
  CountingLedger ledger;
  auto token = [&](flowctl::FlowId f) { return ledger.token(f); };
  OutputScheduler s;
  uint8_t b;
  ASSERT_TRUE(s.push(1, 3, tag(b, 1), token(1)));
  ASSERT_TRUE(s.push(1, 3, tag(b, 2), token(1)));
  ASSERT_TRUE(s.push(2, 3, tag(b, 1), token(2)));
  ASSERT_TRUE(s.push(3, 3, tag(b, 1), token(3)));
  EXPECT_TRUE(ledger.returned.empty()) << "held while the cells wait";
  ASSERT_NE(s.peek(), nullptr);
  s.pop();  // circuit 1's first cell left for TLS
  EXPECT_EQ(ledger.returned[1], 1u);
  EXPECT_EQ(s.drop(1), 1u);  // circuit 1 destroyed: its queued cell is dropped
  EXPECT_EQ(ledger.returned[1], 2u);
  s.clear();  // the channel went
  EXPECT_EQ(ledger.returned[2], 1u);
  EXPECT_EQ(ledger.returned[3], 1u);
  OutputScheduler full(1);
  ASSERT_TRUE(full.push(9, 3, tag(b, 1), token(9)));
  EXPECT_FALSE(full.push(9, 3, tag(b, 2), token(9)));
  EXPECT_EQ(ledger.returned[9], 1u) << "a refused cell's credit goes back at once";
}

}  // namespace
}  // namespace onionsplit::channeld

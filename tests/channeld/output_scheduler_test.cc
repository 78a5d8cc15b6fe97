// Tests for channeld/link/output_scheduler.h: round robin among circuits, FIFO within one, bounds,
// dropping a destroyed circuit's cells, and slot reuse.
#include "channeld/link/output_scheduler.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace onionsplit::channeld

// tests/common/flowctl/msg_queue_test.cc: the bounded relay-message FIFO.
#include "common/flowctl/msg_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace onionsplit::flowctl {
namespace {

TEST(MsgQueue, GrowsToItsBoundAndKeepsOrder) {
  MsgQueue q(10);
  for (uint8_t i = 0; i < 10; ++i)
    ASSERT_TRUE(q.push(i, 2, Bytes(&i, 1), i % 2 == 0, 100 + i));
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.push(99, 2, {}));
  for (uint8_t i = 0; i < 10; ++i) {
    EXPECT_EQ(q.front().streamId, i);
    EXPECT_EQ(q.front().owed, i % 2 == 0);
    EXPECT_EQ(q.front().tag, 100u + i);
    ASSERT_EQ(q.front().bytes().size(), 1u);
    EXPECT_EQ(q.front().bytes()[0], i);
    q.pop();
  }
  EXPECT_TRUE(q.empty());
}

TEST(MsgQueue, WrapsAroundWithoutLosingOrder) {
  MsgQueue q(8);
  uint16_t next = 0, expect = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(q.push(next++, 2, {}));
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(q.front().streamId, expect++);
      q.pop();
    }
    if (q.size() > 5) {
      while (!q.empty()) {
        EXPECT_EQ(q.front().streamId, expect++);
        q.pop();
      }
    }
  }
}

TEST(MsgQueue, RefusesABodyLongerThanARelayMessage) {
  MsgQueue q(4);
  std::vector<uint8_t> big(cell::kRelayBodyMax + 1, 7);
  EXPECT_FALSE(q.push(1, 2, Bytes(big)));
  big.pop_back();
  EXPECT_TRUE(q.push(1, 2, Bytes(big)));
  EXPECT_EQ(q.front().length, cell::kRelayBodyMax);
  q.clear();
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace onionsplit::flowctl

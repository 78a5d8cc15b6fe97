// tests/circuitd/middle_memory_test.cc: the middle role's waiting cells against the memory budget
// (flowctl/mem_budget.h): each cell charged while it waits, given back on every path out (sent,
// dropped with its hop, the Middle moved or destroyed), and the oldest cell's stamp.
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <utility>

#include "circuitd/core/middle.h"

namespace onionsplit::circuitd {
namespace {

using flowctl::MemCounter;

TEST(MiddleMemory, WaitingCellsAreChargedUntilTheyLeave) {
  MemCounter memory;
  std::array<uint8_t, cell::kCellPayloadLen> cellBytes{};
  {
    std::optional<Middle> m(std::in_place);
    ASSERT_TRUE(m->queueBack(cellBytes, {}));  // before account(): counted when it is called
    m->account(memory);
    EXPECT_EQ(memory.bytes(), Middle::kCellBytes);
    EXPECT_EQ(m->oldestStamp(), 0u);
    m->popBack();
    ASSERT_TRUE(m->queueForward(false, cellBytes, {}));
    ASSERT_TRUE(m->queueBack(cellBytes, {}));
    ASSERT_TRUE(m->queueForward(true, cellBytes, {}));
    EXPECT_EQ(memory.bytes(), 3 * Middle::kCellBytes);
    EXPECT_EQ(m->memHeld(), memory.bytes());
    uint64_t oldest = m->oldestStamp();
    EXPECT_EQ(oldest, m->forward().front().stamp);
    m->popForward();
    EXPECT_EQ(m->oldestStamp(), m->back().front().stamp);
    EXPECT_GT(m->oldestStamp(), oldest);
    m->dropBack();
    EXPECT_EQ(memory.bytes(), Middle::kCellBytes);
    m->dropForward();
    EXPECT_EQ(memory.bytes(), 0u);
    EXPECT_EQ(m->oldestStamp(), 0u);
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(m->queueForward(false, cellBytes, {}));
    Middle moved = std::move(*m);
    m.reset();
    EXPECT_EQ(memory.bytes(), 3 * Middle::kCellBytes);
    EXPECT_EQ(memory.charges(), 1u);
  }  // destroyed holding three
  EXPECT_EQ(memory.bytes(), 0u);
  EXPECT_EQ(memory.charges(), 0u);
}

}  // namespace
}  // namespace onionsplit::circuitd

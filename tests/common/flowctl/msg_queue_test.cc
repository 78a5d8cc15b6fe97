// tests/common/flowctl/msg_queue_test.cc: the bounded relay-message FIFO, its two kinds of slot
// (a peer's messages with their credit, the owner's own answers), and the credit tokens it carries.
#include "common/flowctl/msg_queue.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace onionsplit::flowctl {
namespace {

// A ledger that counts what its tokens return, per flow.
struct CountingLedger final : CreditLedger {
  void release(FlowId f, uint32_t gen) override { returned[f] += gen; }
  std::map<FlowId, uint32_t> returned;
};

struct Tokens {
  CountingLedger ledger;
  LedgerHandle handle = std::make_shared<CreditLedger*>(&ledger);
  CreditToken make(FlowId f) { return CreditToken(handle, f, 1); }
  ~Tokens() { *handle = nullptr; }
};

TEST(MsgQueue, GrowsToItsBoundAndKeepsOrder) {
  Tokens t;
  MsgQueue q(10);
  for (uint8_t i = 0; i < 10; ++i)
    ASSERT_EQ(q.push(i, 2, Bytes(&i, 1), t.make(i)), MsgQueue::Push::kOk);
  EXPECT_EQ(q.push(99, 2, {}, t.make(99)), MsgQueue::Push::kPeerFull);
  EXPECT_EQ(t.ledger.returned[99], 1u);  // refused: its credit went back at once
  for (uint8_t i = 0; i < 10; ++i) {
    EXPECT_EQ(q.front().streamId, i);
    ASSERT_EQ(q.front().bytes().size(), 1u);
    EXPECT_EQ(q.front().bytes()[0], i);
    EXPECT_EQ(t.ledger.returned.count(i), 0u);
    q.pop();
    EXPECT_EQ(t.ledger.returned[i], 1u);  // it left: its credit goes back
  }
  EXPECT_TRUE(q.empty());
}

TEST(MsgQueue, WrapsAroundWithoutLosingOrder) {
  Tokens t;
  MsgQueue q(8);
  uint16_t next = 0, expect = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(q.push(next++, 2, {}, t.make(1)), MsgQueue::Push::kOk);
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
  EXPECT_EQ(t.ledger.returned[1], expect);  // every message returned its credit once
}

TEST(MsgQueue, RefusesABodyLongerThanARelayMessage) {
  MsgQueue q(4, 4);
  std::vector<uint8_t> big(cell::kRelayBodyMax + 1, 7);
  EXPECT_EQ(q.pushLocal(1, 2, Bytes(big)), MsgQueue::Push::kTooLong);
  big.pop_back();
  EXPECT_EQ(q.pushLocal(1, 2, Bytes(big)), MsgQueue::Push::kOk);
  EXPECT_EQ(q.front().length, cell::kRelayBodyMax);
  q.clear();
  EXPECT_TRUE(q.empty());
}

// The owner's own answers have a bound of their own: however many of them a client provokes, the
// peer's window still fits (issue 15, finding 2: TRUNCATED answers filled streamd's window).
TEST(MsgQueue, LocalAnswersNeverTakeThePeersSlots) {
  Tokens t;
  MsgQueue q(4, 2);
  EXPECT_EQ(q.pushLocal(0, 9, {}), MsgQueue::Push::kOk);
  EXPECT_EQ(q.pushLocal(0, 9, {}), MsgQueue::Push::kOk);
  EXPECT_TRUE(q.localFull());
  EXPECT_EQ(q.pushLocal(0, 9, {}), MsgQueue::Push::kLocalFull);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(q.push(1, 2, {}, t.make(7)), MsgQueue::Push::kOk);
  EXPECT_EQ(q.push(1, 2, {}, t.make(7)), MsgQueue::Push::kPeerFull);
  EXPECT_EQ(q.size(), 6u);
  EXPECT_EQ(q.localCount(), 2u);
  q.pop();                              // a local answer: no credit
  EXPECT_EQ(t.ledger.returned[7], 1u);  // only the refused one so far
  EXPECT_EQ(q.pushLocal(0, 9, {}), MsgQueue::Push::kOk);
}

TEST(MsgQueue, ClearingOrDestroyingReturnsEveryCredit) {
  Tokens t;
  {
    MsgQueue q(8, 2);
    for (int i = 0; i < 5; ++i)
      ASSERT_EQ(q.push(1, 2, {}, t.make(3)), MsgQueue::Push::kOk);
    ASSERT_EQ(q.pushLocal(0, 9, {}), MsgQueue::Push::kOk);
    q.clear();
    EXPECT_EQ(t.ledger.returned[3], 5u);
    EXPECT_EQ(q.localCount(), 0u);
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(q.push(1, 2, {}, t.make(4)), MsgQueue::Push::kOk);
  }
  EXPECT_EQ(t.ledger.returned[4], 3u);
}

// A token whose ledger is gone (its connection ended first) returns nothing and does not crash.
TEST(CreditToken, OutlivingItsLedgerIsHarmless) {
  CreditToken kept;
  {
    Tokens t;
    kept = t.make(5);
    CreditToken moved = t.make(6);
    CreditToken other(std::move(moved));
    EXPECT_FALSE(moved.holds());  // NOLINT(bugprone-use-after-move): moved-from is empty
    other.release();
    other.release();
    EXPECT_EQ(t.ledger.returned[6], 1u);
  }
  EXPECT_TRUE(kept.holds());
  kept.release();
  EXPECT_FALSE(kept.holds());
}

// The memory budget (mem_budget.h): an accounted queue charges kMsgBytes per message it holds,
// through push, pop, clear, a move and its destruction, and stamps each message in enqueue order.
TEST(MsgQueue, ChargesWhatItHoldsAndGivesItBackOnEveryPath) {
  Tokens t;
  MemCounter memory;
  {
    MsgQueue q(8, 2);
    ASSERT_EQ(q.pushLocal(1, 2, {}), MsgQueue::Push::kOk);
    q.account(memory);  // what it holds already counts
    EXPECT_EQ(memory.bytes(), MsgQueue::kMsgBytes);
    for (uint16_t i = 2; i < 6; ++i)
      ASSERT_EQ(q.push(i, 2, {}, t.make(i)), MsgQueue::Push::kOk);
    EXPECT_EQ(q.push(9, 2, Bytes(std::vector<uint8_t>(999).data(), 999), t.make(9)),
              MsgQueue::Push::kTooLong);
    EXPECT_EQ(memory.bytes(), 5 * MsgQueue::kMsgBytes) << "a refused push charges nothing";
    EXPECT_EQ(q.memHeld(), memory.bytes());
    EXPECT_EQ(q.oldestStamp(), 0u) << "pushed before it was accounted";
    q.pop();
    uint64_t first = q.oldestStamp();
    EXPECT_GT(first, 0u);
    q.pop();
    EXPECT_GT(q.oldestStamp(), first) << "stamps follow the enqueue order";
    EXPECT_EQ(memory.bytes(), 3 * MsgQueue::kMsgBytes);
    q.clear();
    EXPECT_EQ(memory.bytes(), 0u);
    EXPECT_EQ(q.oldestStamp(), 0u);
    ASSERT_EQ(q.push(7, 2, {}, t.make(7)), MsgQueue::Push::kOk);
    MsgQueue moved = std::move(q);
    EXPECT_EQ(memory.bytes(), MsgQueue::kMsgBytes);
    EXPECT_EQ(memory.charges(), 1u);
    ASSERT_EQ(moved.push(8, 2, {}, t.make(8)), MsgQueue::Push::kOk);
    EXPECT_EQ(memory.bytes(), 2 * MsgQueue::kMsgBytes);
  }  // destroyed holding two
  EXPECT_EQ(memory.bytes(), 0u);
  EXPECT_EQ(memory.charges(), 0u);
}

}  // namespace
}  // namespace onionsplit::flowctl

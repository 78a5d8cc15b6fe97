// Tests for common/flowctl/sendme.h: which cells are acknowledged, tag checks, window limits.
#include "common/flowctl/sendme.h"

#include <gtest/gtest.h>

namespace onionsplit::flowctl {
namespace {

SendmeTag tag(uint8_t b) {
  SendmeTag t{};
  t.fill(b);
  return t;
}

TEST(ClassicSendWindow, EveryHundredthCellIsAcknowledged) {
  ClassicSendWindow w;
  std::vector<int> acked;
  for (int i = 1; w.canSend(); ++i)
    if (w.onDataSent()) acked.push_back(i);
  EXPECT_EQ(acked.size(), 10u);
  EXPECT_EQ(acked.front(), 100);
  EXPECT_EQ(acked.back(), 1000);
  EXPECT_FALSE(w.canSend());
  EXPECT_TRUE(w.onSendme());
  EXPECT_EQ(w.window(), 100u);
}

TEST(ClassicSendWindow, SendmeBeyondTheStartIsRefused) {
  ClassicSendWindow w;
  EXPECT_FALSE(w.onSendme());
  for (int i = 0; i < 100; ++i)
    w.onDataSent();
  EXPECT_TRUE(w.onSendme());
  EXPECT_FALSE(w.onSendme());
}

// circwindow below 1000: the window starts there, the peer still acknowledges every 100th cell,
// and its SENDMEs may open the window up to 1000 (C tor's CIRCWINDOW_START_MAX).
TEST(ClassicSendWindow, ASmallerStartKeepsTheHundredCellRhythm) {
  for (uint32_t start : {100u, 150u, 101u, 999u}) {
    ClassicSendWindow w(start);
    EXPECT_EQ(w.window(), start);
    std::vector<uint32_t> acked;
    for (uint32_t i = 1; w.canSend(); ++i)
      if (w.onDataSent()) acked.push_back(i);
    ASSERT_EQ(acked.size(), start / 100) << start;
    for (size_t k = 0; k < acked.size(); ++k)
      EXPECT_EQ(acked[k], 100 * (k + 1)) << start;
  }
  ClassicSendWindow w(100);
  for (int i = 0; i < 100; ++i)
    w.onDataSent();
  EXPECT_FALSE(w.canSend());
  for (int i = 0; i < 10; ++i)
    EXPECT_TRUE(w.onSendme());
  EXPECT_EQ(w.window(), 1000u);
  EXPECT_FALSE(w.onSendme());
}

TEST(DeliverWindow, SendmeEveryIncrement) {
  DeliverWindow d(31);
  int sendmes = 0;
  for (int i = 1; i <= 310; ++i) {
    if (d.onDataReceived()) {
      EXPECT_EQ(i % 31, 0) << i;
      ++sendmes;
    }
  }
  EXPECT_EQ(sendmes, 10);

  EXPECT_EQ(d.window(), 1000u) << "refilled by the increment each time a SENDME is due";
  DeliverWindow classic;
  for (int i = 1; i < 100; ++i)
    ASSERT_FALSE(classic.onDataReceived());
  EXPECT_TRUE(classic.onDataReceived());
}

TEST(SendmeTags, OldestFirstAndChecked) {
  SendmeTagQueue q;
  for (uint8_t i = 0; i < 20; ++i)
    q.push(tag(i));  // grows past its first size
  EXPECT_EQ(q.size(), 20u);
  auto t0 = tag(0);
  EXPECT_EQ(checkCircuitSendme(q, Bytes(t0), false), SendmeCheck::kOk);
  auto wrong = tag(9);
  EXPECT_EQ(checkCircuitSendme(q, Bytes(wrong), false), SendmeCheck::kBadTag);
  EXPECT_EQ(checkCircuitSendme(q, std::nullopt, false), SendmeCheck::kV0Refused);
  EXPECT_EQ(checkCircuitSendme(q, std::nullopt, true), SendmeCheck::kOk);
  for (uint8_t i = 4; i < 20; ++i) {
    auto t = tag(i);
    ASSERT_EQ(checkCircuitSendme(q, Bytes(t), false), SendmeCheck::kOk);
  }
  EXPECT_EQ(checkCircuitSendme(q, Bytes(t0), false), SendmeCheck::kUnexpected);
  auto shortTag = std::array<uint8_t, 16>{};
  q.push(tag(0));
  EXPECT_EQ(checkCircuitSendme(q, Bytes(shortTag), false), SendmeCheck::kBadTag);
}

}  // namespace
}  // namespace onionsplit::flowctl

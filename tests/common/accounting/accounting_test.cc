// Tests for common/accounting/accounting.h: AccountingStart's intervals, the soft and hard limits,
// waking at the next interval, the wake-up time within an interval, and the stored record. Every
// clock value is given (Unix seconds).
#include "common/accounting/accounting.h"

#include <gtest/gtest.h>
#include <cstdio>

namespace onionsplit::accounting {
namespace {

using Unit = config::AccountingStart::Unit;

config::AccountingStart startAt(Unit unit, uint8_t day, uint8_t hour, uint8_t minute) {
  config::AccountingStart s;
  s.unit = unit;
  s.day = day;
  s.hour = hour;
  s.minute = minute;
  return s;
}

constexpr int64_t kMar15Noon = 1773576000;  // 2026-03-15 12:00 UTC, a Sunday
constexpr int64_t kMar1 = 1772323200, kApr1 = 1775001600;

TEST(AccountingInterval, MonthDefault) {
  config::AccountingStart s;  // month 1 00:00
  EXPECT_EQ(intervalStartContaining(s, 0, kMar15Noon), kMar1);
  EXPECT_EQ(intervalStartAfter(s, 0, kMar15Noon), kApr1);
  EXPECT_EQ(intervalStartContaining(s, 0, kMar1), kMar1);
  EXPECT_EQ(intervalStartContaining(s, 0, kMar1 - 1), 1769904000);  // 2026-02-01
  // Across the year's end: December's interval ends on 2027-01-01.
  EXPECT_EQ(intervalStartAfter(s, 0, 1798754400), 1798761600);
}

TEST(AccountingInterval, WeekAndDay) {
  // Monday 05:30: the week of Sunday 2026-03-15 began on Monday 03-09.
  EXPECT_EQ(intervalStartContaining(startAt(Unit::kWeek, 1, 5, 30), 0, kMar15Noon), 1773034200);
  EXPECT_EQ(intervalStartAfter(startAt(Unit::kWeek, 1, 5, 30), 0, kMar15Noon), 1773639000);
  // Sunday (7) 05:30: that Sunday after 05:30, and the one before when earlier in the day.
  auto sunday = startAt(Unit::kWeek, 7, 5, 30);
  EXPECT_EQ(intervalStartContaining(sunday, 0, kMar15Noon), 1773552600);
  EXPECT_EQ(intervalStartAfter(sunday, 0, kMar15Noon), 1774157400);
  EXPECT_EQ(intervalStartContaining(sunday, 0, 1773547200), 1773552600 - 7 * 86400);
  // day 11:00, in UTC and an hour east of it (local 11:00 is 10:00 UTC).
  auto day = startAt(Unit::kDay, 0, 11, 0);
  EXPECT_EQ(intervalStartContaining(day, 0, kMar15Noon), 1773572400);
  EXPECT_EQ(intervalStartAfter(day, 0, kMar15Noon), 1773658800);
  EXPECT_EQ(intervalStartContaining(day, 3600, kMar15Noon), 1773572400 - 3600);
  EXPECT_EQ(intervalStartContaining(day, 0, 1773572400 - 1), 1773572400 - 86400);
}

Settings budget(uint64_t max, config::AccountingRule rule = config::AccountingRule::kMax) {
  Settings s;
  s.maxBytes = max;
  s.rule = rule;
  s.rateBytes = 1 << 20;
  return s;
}

constexpr std::array<uint8_t, 20> kId{1, 2, 3};

TEST(Accounting, SoftThenHardThenAwakeAtTheNextInterval) {
  Accounting a(budget(1000 * 1024), kId);
  a.start(kMar15Noon);
  EXPECT_EQ(a.state(), State::kAwake);
  EXPECT_EQ(a.record().intervalStart, kMar1);
  EXPECT_EQ(a.intervalEnd(), kApr1);
  EXPECT_EQ(a.wakeTime(), kMar1) << "no estimate: awake from the interval's start";
  a.addBytes(900 * 1024, 100, 1);
  a.tick(kMar15Noon + 1);
  EXPECT_EQ(a.state(), State::kAwake) << "under 95%";
  a.addBytes(60 * 1024, 0, 1);  // 960 KiB read: over 95% of the budget (max of read, written)
  a.tick(kMar15Noon + 2);
  EXPECT_EQ(a.state(), State::kSoft);
  EXPECT_EQ(a.record().softLimitHitAt, kMar15Noon + 2);
  EXPECT_EQ(a.bytesLeft(), std::make_pair(uint64_t{40 * 1024}, uint64_t{1000 * 1024 - 100}));
  a.addBytes(0, 1000 * 1024, 1);  // written reaches the budget
  a.tick(kMar15Noon + 3);
  EXPECT_EQ(a.state(), State::kHard);
  a.tick(kApr1 - 1);
  EXPECT_EQ(a.state(), State::kHard) << "asleep until the interval ends";
  a.tick(kApr1);
  EXPECT_EQ(a.state(), State::kAwake);
  EXPECT_EQ(a.record().intervalStart, kApr1);
  EXPECT_EQ(a.record().bytesRead, 0u);
  EXPECT_EQ(a.usedBytes(), 0u);
  auto notes = a.takeNotes();
  EXPECT_FALSE(notes.empty());
  EXPECT_NE(notes.back().find("Resuming normal activity"), std::string::npos);
}

TEST(Accounting, Rules) {
  using R = config::AccountingRule;
  for (auto [rule, used, left] :
       {std::tuple{R::kSum, 700u, std::pair<uint64_t, uint64_t>{300, 300}},
        std::tuple{R::kMax, 400u, std::pair<uint64_t, uint64_t>{700, 600}},
        std::tuple{R::kIn, 300u, std::pair<uint64_t, uint64_t>{700, 1000}},
        std::tuple{R::kOut, 400u, std::pair<uint64_t, uint64_t>{1000, 600}}}) {
    Accounting a(budget(1000, rule), kId);
    a.start(kMar15Noon);
    a.addBytes(300, 400, 1);
    EXPECT_EQ(a.usedBytes(), used);
    EXPECT_EQ(a.bytesLeft(), left);
  }
  Accounting in(budget(1000, R::kIn), kId);
  in.start(kMar15Noon);
  in.addBytes(10, 5000, 1);  // only what is read counts
  in.tick(kMar15Noon + 1);
  EXPECT_EQ(in.state(), State::kAwake);
}

TEST(Accounting, ARestartCarriesTheIntervalOn) {
  Record r;
  r.intervalStart = kMar1;
  r.bytesRead = 2000;
  Accounting a(budget(1000), kId);
  a.restore(r);
  a.start(kMar15Noon);
  EXPECT_EQ(a.state(), State::kHard) << "the stored bytes are over the budget";
  EXPECT_EQ(a.record().bytesRead, 2000u);
  // A record of an interval long gone starts a fresh one.
  r.intervalStart = kMar1 - 90 * 86400;
  Accounting b(budget(1000), kId);
  b.restore(r);
  b.start(kMar15Noon);
  EXPECT_EQ(b.state(), State::kAwake);
  EXPECT_EQ(b.record().intervalStart, kMar1);
  EXPECT_EQ(b.record().bytesRead, 0u);
}

TEST(Accounting, WakesAtAPointOfTheIntervalFromTheLastRate) {
  // Last interval (February) the relay moved 1 MiB a minute for 10 hours; the budget lasts
  // 1000 minutes at that rate, so it sleeps into March and wakes with time left to spend it.
  Record r;
  r.intervalStart = 1769904000;  // 2026-02-01
  r.secondsActive = 36000;
  r.bytesRead = r.bytesWritten = uint64_t{600} << 20;
  const uint64_t max = uint64_t{1000} << 20;
  Accounting a(budget(max), kId);
  a.restore(r);
  a.start(kMar1 + 60);
  EXPECT_EQ(a.record().intervalStart, kMar1);
  EXPECT_EQ(a.record().expectedPerMinute, uint64_t{1} << 20);
  const int64_t latest = kApr1 - 1000 * 60;
  EXPECT_GE(a.wakeTime(), kMar1);
  EXPECT_LT(a.wakeTime(), latest);
  // The same identity and interval give the same point; the state follows it.
  Accounting again(budget(max), kId);
  again.restore(r);
  again.start(kMar1 + 60);
  EXPECT_EQ(again.wakeTime(), a.wakeTime());
  if (a.wakeTime() > kMar1 + 60) {
    EXPECT_EQ(a.state(), State::kHard) << "asleep until the wake-up time";
    a.tick(a.wakeTime() - 1);
    EXPECT_EQ(a.state(), State::kHard);
  }
  a.tick(a.wakeTime());
  EXPECT_EQ(a.state(), State::kAwake);
  // The soft limit is the latest of 95%, 500 MiB left and three hours of that rate left.
  a.addBytes(max - (uint64_t{180} << 20), 0, 1);
  a.tick(a.wakeTime() + 1);
  EXPECT_EQ(a.state(), State::kAwake);
  a.addBytes((uint64_t{180} << 20) - max / 20, 0, 1);
  a.tick(a.wakeTime() + 2);
  EXPECT_EQ(a.state(), State::kSoft);
  // Another identity picks another point (for this one and interval).
  Accounting other(budget(max), std::array<uint8_t, 20>{9, 9, 9});
  other.restore(r);
  other.start(kMar1 + 60);
  EXPECT_NE(other.wakeTime(), a.wakeTime());
}

TEST(Accounting, DisabledNeverHibernates) {
  Accounting a(budget(0), kId);
  a.start(kMar15Noon);
  a.addBytes(uint64_t{1} << 40, uint64_t{1} << 40, 1);
  a.tick(kMar15Noon + 1);
  EXPECT_EQ(a.state(), State::kAwake);
  EXPECT_FALSE(a.recordDue(kMar15Noon + 10000));
}

TEST(Accounting, RecordDueEveryTenMinutesTwentyMiBOrChange) {
  Accounting a(budget(uint64_t{1} << 40), kId);
  a.start(kMar15Noon);
  EXPECT_TRUE(a.recordDue(kMar15Noon));  // the first decision is a change
  EXPECT_FALSE(a.recordDue(kMar15Noon + 1));
  a.addBytes(20 << 20, 0, 1);
  EXPECT_TRUE(a.recordDue(kMar15Noon + 2));
  EXPECT_FALSE(a.recordDue(kMar15Noon + 3));
  EXPECT_TRUE(a.recordDue(kMar15Noon + 602));
}

TEST(Accounting, HeartbeatLineAsCtor) {
  Settings s = budget(uint64_t{2} << 30);
  Accounting a(s, kId);
  a.start(kMar15Noon);
  a.addBytes(uint64_t{3} << 19, 5 << 10, 1);
  EXPECT_EQ(heartbeatLine(a, kMar15Noon),
            "Heartbeat: Accounting enabled. Sent: 5 kB, Received: 1.50 MB, Used: 1.50 MB / 2.00 "
            "GB, Rule: max. The current accounting interval ends on 2026-04-01 00:00:00, in 16 "
            "days 12:00 hours.");
}

TEST(AccountingRecord, TwoSlotsSurviveATornWrite) {
  Record r;
  r.intervalStart = kMar1;
  r.bytesRead = 5000;  // stored rounded up to the KiB, as C tor does
  r.bytesWritten = 1024;
  r.expectedPerMinute = 77;
  r.softLimitHitAt = kMar15Noon;
  std::string file = encodeSlot(r, 7) + encodeSlot(Record{}, 6);
  ASSERT_EQ(file.size(), 2 * kSlotBytes);
  auto got = decodeFile(file);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->sequence, 7u);
  EXPECT_EQ(got->record.intervalStart, kMar1);
  EXPECT_EQ(got->record.bytesRead, 5120u);
  EXPECT_EQ(got->record.bytesWritten, 1024u);
  EXPECT_EQ(got->record.expectedPerMinute, 77u);
  EXPECT_EQ(got->record.softLimitHitAt, kMar15Noon);
  // The newer slot torn: the other one is read.
  std::string torn = file;
  torn[40] ^= 1;
  got = decodeFile(torn);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->sequence, 6u);
  // Nothing whole: nothing.
  EXPECT_FALSE(decodeFile(torn.substr(0, kSlotBytes)));
  EXPECT_FALSE(decodeFile(""));
  EXPECT_FALSE(decodeFile(std::string(4096, 'x')));
  EXPECT_FALSE(decodeFile("onionsplit-accounting 1\ncheck 0000000000000000\n"));
}

// A slot with a valid checksum but a key twice, a key missing or a key unknown is not read: each
// field comes from its own line (a hand-edited or foreign file starts fresh instead).
TEST(AccountingRecord, EachKeyExactlyOnce) {
  auto sealed = [](std::string body) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : body)
      h = (h ^ c) * 1099511628211ULL;
    char check[40];
    std::snprintf(check, sizeof check, "check %016llx\n", static_cast<unsigned long long>(h));
    body += check;
    body.resize(kSlotBytes, '\n');
    return body;
  };
  std::string good = encodeSlot(Record{}, 3);
  std::string body = good.substr(0, good.find("check "));
  ASSERT_TRUE(decodeFile(sealed(body)));
  std::string last = "seconds-to-soft-limit 0\n";
  ASSERT_NE(body.find(last), std::string::npos);
  std::string without = body.substr(0, body.find(last));
  EXPECT_FALSE(decodeFile(sealed(without)));                     // missing
  EXPECT_FALSE(decodeFile(sealed(without + "bytes-read 5\n")));  // twice
  EXPECT_FALSE(decodeFile(sealed(without + "nonsense 0\n")));    // unknown
  // A count too large to round up to the KiB is kept at the largest multiple, not wrapped to 0.
  Record huge;
  huge.bytesRead = UINT64_MAX;
  auto got = decodeFile(encodeSlot(huge, 1));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->record.bytesRead, UINT64_MAX & ~uint64_t{0x3ff});
}

}  // namespace
}  // namespace onionsplit::accounting

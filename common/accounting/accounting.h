// common/accounting/accounting.h: AccountingMax, AccountingStart and AccountingRule, and the
// hibernation they lead to, as C tor 0.4.9 does it (hibernate.c), without I/O: the clock, the bytes
// and the stored record come in as parameters, and what to log goes out as lines.
//
// An interval runs from AccountingStart's edge to the next (civil time at `utcOffset` seconds east
// of UTC; C tor uses local time). At its start the relay picks a wake-up time, at random within the
// interval but the same for the same identity and interval (a hash of both): with no estimate of
// its rate it wakes at the start, else early enough to spend AccountingMax at the rate it saw last
// interval before the interval ends. Before the wake-up time it is asleep (hard hibernation).
// Awake, once the bytes counted by AccountingRule come near AccountingMax (C tor's soft limit: 95%,
// or less than 500 MB or three hours of the expected rate left) it refuses new circuits (soft
// hibernation), and at AccountingMax it closes every connection (hard) until the next interval.
//
// Used by channeld (channeld/net/hibernation.h), which feeds it the bytes of its links and keeps
// the record in DataDirectory/accounting-state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"

namespace onionsplit::accounting {

// C tor's hibernation states as GETINFO accounting/hibernating names them: awake, soft, hard.
enum class State : uint8_t { kAwake, kSoft, kHard };
const char* stateName(State s);

struct Settings {
  uint64_t maxBytes = 0;  // AccountingMax; 0 is no accounting
  config::AccountingStart start;
  config::AccountingRule rule = config::AccountingRule::kMax;
  uint64_t rateBytes = 0;  // the relayed BandwidthRate, which caps the expected rate
  int64_t utcOffset = 0;   // seconds east of UTC of the civil time AccountingStart is read in
};

// The start of the interval that contains `now`, and the start of the next one (Unix seconds).
int64_t intervalStartContaining(const config::AccountingStart& s, int64_t utcOffset, int64_t now);
int64_t intervalStartAfter(const config::AccountingStart& s, int64_t utcOffset, int64_t now);

// "YYYY-MM-DD HH:MM:SS" in UTC, as C tor's GETINFO accounting/interval-* answers.
std::string isoTime(int64_t t);

// What survives a restart (C tor keeps the same in its state file, Accounting*).
struct Record {
  int64_t intervalStart = 0;
  uint64_t bytesRead = 0, bytesWritten = 0;
  uint64_t secondsActive = 0;
  uint64_t expectedPerMinute = 0;  // bytes a minute expected this interval; 0: no estimate
  int64_t softLimitHitAt = 0;
  uint64_t bytesAtSoftLimit = 0;
  uint64_t secondsToSoftLimit = 0;
};

// The record as DataDirectory/accounting-state holds it: two slots of kSlotBytes, written in turn,
// each with a sequence number and a checksum, so a write torn by a crash leaves the other slot.
inline constexpr size_t kSlotBytes = 512;
std::string encodeSlot(const Record& r, uint64_t sequence);
struct StoredRecord {
  Record record;
  uint64_t sequence = 0;
};
// The newest whole slot of `file`; nullopt if none is whole (the caller says why and starts fresh).
std::optional<StoredRecord> decodeFile(std::string_view file);

class Accounting {
 public:
  // `identity`: the relay's RSA identity digest, which with the interval's start picks the wake-up
  // time.
  Accounting(const Settings& settings, const std::array<uint8_t, 20>& identity);

  // The stored record, if there was one (before start()).
  void restore(const Record& r) { rec_ = r; }
  // The first decision: carries on the stored interval or begins a new one, then as tick().
  void start(int64_t now);
  // Bytes read and written on the relay's connections since the last call, `seconds` apart.
  void addBytes(uint64_t read, uint64_t written, uint64_t seconds);
  // Once a second: a new interval when one ended, and the hibernation decision.
  void tick(int64_t now);

  State state() const { return state_; }
  bool enabled() const { return settings_.maxBytes != 0; }
  const Settings& settings() const { return settings_; }
  // The bytes AccountingRule counts, and GETINFO accounting/bytes-left's two numbers.
  uint64_t usedBytes() const;
  std::pair<uint64_t, uint64_t> bytesLeft() const;
  const Record& record() const { return rec_; }
  int64_t intervalEnd() const { return end_; }
  int64_t wakeTime() const { return wake_; }
  // True when the record should be stored now (C tor's rule: every 10 minutes, every 20 MiB either
  // way, at the interval's end, and at each change of state).
  bool recordDue(int64_t now);
  // Lines for the log since the last call (notice level).
  std::vector<std::string> takeNotes() { return std::move(notes_); }

 private:
  void configure(int64_t now);
  void reset(int64_t now);
  void updateExpected();
  void setWakeTime(int64_t now);
  bool softLimitReached() const;
  bool hardLimitReached() const;
  void beginSoft(int64_t now);
  void goDormant(int64_t now);
  void endTimeElapsed(int64_t now);
  void housekeeping(int64_t now);

  Settings settings_;
  std::array<uint8_t, 20> identity_;
  Record rec_;
  int64_t end_ = 0, wake_ = 0;
  int64_t hibernateEnd_ = 0;  // soft or hard: when to consider waking
  State state_ = State::kAwake;
  bool initial_ = true;
  bool changed_ = false;  // a change of state not yet recorded
  int64_t notedAt_ = 0;
  uint64_t notedRead_ = 0, notedWritten_ = 0;
  std::vector<std::string> notes_;
};

// C tor's heartbeat line of accounting ("Heartbeat: Accounting enabled. Sent: 1.50 MB, Received:
// ..., Used: ... / ..., Rule: max. The current accounting interval ends on ..., in 2 days 3:04
// hours."), for a relay that is awake; times in UTC.
std::string heartbeatLine(const Accounting& a, int64_t now);

}  // namespace onionsplit::accounting

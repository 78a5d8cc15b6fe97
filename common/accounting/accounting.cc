// common/accounting/accounting.cc: see accounting.h. Facts (the interval's edges, the wake-up
// time, the soft and hard limits, the record's contents) are C tor 0.4.9's hibernate.c.
#include "common/accounting/accounting.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdio>
#include <functional>

namespace onionsplit::accounting {
namespace {

constexpr int64_t kDay = 86400;
constexpr uint64_t kMinTimeForMeasurement = 1800;  // seconds of traffic for a rate estimate
constexpr uint64_t kNoteSeconds = 600;
constexpr uint64_t kNoteBytes = 20 * 1024 * 1024;

int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t daysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = floorDiv(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int64_t y, m, d;
};

Civil civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = floorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (m <= 2), m, d};
}

// The start of the interval containing `now` (getEnd false) or of the one after it.
int64_t edge(const config::AccountingStart& s, int64_t utcOffset, int64_t now, bool getEnd) {
  const int64_t local = now + utcOffset;
  int64_t z = floorDiv(local, kDay);
  const int64_t sod = local - z * kDay;
  const bool before = sod < s.hour * 3600 + s.minute * 60;
  switch (s.unit) {
    case config::AccountingStart::Unit::kMonth: {
      Civil c = civilFromDays(z);
      int64_t month = c.y * 12 + (c.m - 1);
      if (c.d < s.day || (c.d == s.day && before)) --month;
      if (getEnd) ++month;
      z = daysFromCivil(floorDiv(month, 12), month - floorDiv(month, 12) * 12 + 1, s.day);
      break;
    }
    case config::AccountingStart::Unit::kWeek: {
      const int64_t wday = floorDiv(z + 4, 7) * -7 + z + 4;  // 0 = Sunday, as struct tm
      int64_t delta = (7 + wday - s.day % 7) % 7;
      if (delta == 0 && before) delta = 7;
      z -= delta;
      if (getEnd) z += 7;
      break;
    }
    case config::AccountingStart::Unit::kDay:
      z += (getEnd ? 1 : 0) - (before ? 1 : 0);
      break;
  }
  return z * kDay + s.hour * 3600 + s.minute * 60 - utcOffset;
}

}  // namespace

std::string isoTime(int64_t t) {
  const int64_t z = floorDiv(t, kDay), sod = t - z * kDay;
  Civil c = civilFromDays(z);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld",
                static_cast<long long>(c.y), static_cast<long long>(c.m),
                static_cast<long long>(c.d), static_cast<long long>(sod / 3600),
                static_cast<long long>(sod % 3600 / 60), static_cast<long long>(sod % 60));
  return buf;
}

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ULL;
  return h;
}

// C tor stores the byte counts rounded up to the KiB.
uint64_t roundUpKib(uint64_t n) {
  constexpr uint64_t kMask = ~uint64_t{0x3ff};
  return n > (UINT64_MAX & kMask) ? UINT64_MAX & kMask : (n + 0x3ff) & kMask;
}

}  // namespace

const char* stateName(State s) {
  switch (s) {
    case State::kSoft:
      return "soft";
    case State::kHard:
      return "hard";
    case State::kAwake:
      break;
  }
  return "awake";
}

int64_t intervalStartContaining(const config::AccountingStart& s, int64_t utcOffset, int64_t now) {
  return edge(s, utcOffset, now, false);
}

int64_t intervalStartAfter(const config::AccountingStart& s, int64_t utcOffset, int64_t now) {
  return edge(s, utcOffset, now, true);
}

std::string encodeSlot(const Record& r, uint64_t sequence) {
  std::string body = "onionsplit-accounting 1\n";
  auto line = [&body](const char* key, auto v) {
    body += std::string(key) + " " + std::to_string(v) + "\n";
  };
  line("sequence", sequence);
  line("interval-start", r.intervalStart);
  line("bytes-read", roundUpKib(r.bytesRead));
  line("bytes-written", roundUpKib(r.bytesWritten));
  line("seconds-active", r.secondsActive);
  line("expected-usage", r.expectedPerMinute);
  line("soft-limit-hit-at", r.softLimitHitAt);
  line("bytes-at-soft-limit", r.bytesAtSoftLimit);
  line("seconds-to-soft-limit", r.secondsToSoftLimit);
  char check[40];
  std::snprintf(check, sizeof check, "check %016llx\n",
                static_cast<unsigned long long>(fnv1a(body)));
  body += check;
  body.resize(kSlotBytes, '\n');
  return body;
}

namespace {

template <class T>
bool readNumber(std::string_view v, T& out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size();
}

std::optional<StoredRecord> decodeSlot(std::string_view slot) {
  size_t at = slot.find("check ");
  if (at == slot.npos || slot.substr(0, 24) != "onionsplit-accounting 1\n") return std::nullopt;
  std::string_view body = slot.substr(0, at), check = slot.substr(at + 6, 16);
  uint64_t want = 0;
  auto [p, ec] = std::from_chars(check.data(), check.data() + check.size(), want, 16);
  if (ec != std::errc() || p != check.data() + 16 || want != fnv1a(body)) return std::nullopt;
  StoredRecord out;
  Record& r = out.record;
  // Each key exactly once; an unknown key makes the slot unreadable, not a default.
  const auto fields =
      std::to_array<std::pair<std::string_view, std::function<bool(std::string_view)>>>({
          {"sequence", [&](std::string_view v) { return readNumber(v, out.sequence); }},
          {"interval-start", [&](std::string_view v) { return readNumber(v, r.intervalStart); }},
          {"bytes-read", [&](std::string_view v) { return readNumber(v, r.bytesRead); }},
          {"bytes-written", [&](std::string_view v) { return readNumber(v, r.bytesWritten); }},
          {"seconds-active", [&](std::string_view v) { return readNumber(v, r.secondsActive); }},
          {"expected-usage",
           [&](std::string_view v) { return readNumber(v, r.expectedPerMinute); }},
          {"soft-limit-hit-at",
           [&](std::string_view v) { return readNumber(v, r.softLimitHitAt); }},
          {"bytes-at-soft-limit",
           [&](std::string_view v) { return readNumber(v, r.bytesAtSoftLimit); }},
          {"seconds-to-soft-limit",
           [&](std::string_view v) { return readNumber(v, r.secondsToSoftLimit); }},
      });
  std::array<bool, fields.size()> seen{};
  for (size_t i = 24; i < body.size();) {
    size_t nl = body.find('\n', i), sp = body.find(' ', i);
    if (nl == body.npos || sp == body.npos || sp > nl) return std::nullopt;
    std::string_view key = body.substr(i, sp - i), v = body.substr(sp + 1, nl - sp - 1);
    auto f =
        std::find_if(fields.begin(), fields.end(), [&](const auto& e) { return e.first == key; });
    if (f == fields.end()) return std::nullopt;
    size_t k = static_cast<size_t>(f - fields.begin());
    if (seen[k] || !f->second(v)) return std::nullopt;
    seen[k] = true;
    i = nl + 1;
  }
  if (std::find(seen.begin(), seen.end(), false) != seen.end()) return std::nullopt;
  return out;
}

}  // namespace

std::optional<StoredRecord> decodeFile(std::string_view file) {
  std::optional<StoredRecord> best;
  for (size_t off = 0; off < file.size() && off < 2 * kSlotBytes; off += kSlotBytes) {
    auto slot = decodeSlot(file.substr(off, kSlotBytes));
    if (slot && (!best || slot->sequence > best->sequence)) best = slot;
  }
  return best;
}

Accounting::Accounting(const Settings& settings, const std::array<uint8_t, 20>& identity)
    : settings_(settings), identity_(identity) {}

uint64_t Accounting::usedBytes() const {
  switch (settings_.rule) {
    case config::AccountingRule::kSum:
      return rec_.bytesRead + rec_.bytesWritten;
    case config::AccountingRule::kIn:
      return rec_.bytesRead;
    case config::AccountingRule::kOut:
      return rec_.bytesWritten;
    case config::AccountingRule::kMax:
      break;
  }
  return std::max(rec_.bytesRead, rec_.bytesWritten);
}

std::pair<uint64_t, uint64_t> Accounting::bytesLeft() const {
  const uint64_t max = settings_.maxBytes;
  auto left = [max](uint64_t used) { return used < max ? max - used : 0; };
  switch (settings_.rule) {
    case config::AccountingRule::kSum: {
      uint64_t l = left(usedBytes());
      return {l, l};
    }
    case config::AccountingRule::kIn:
      return {left(rec_.bytesRead), max};
    case config::AccountingRule::kOut:
      return {max, left(rec_.bytesWritten)};
    case config::AccountingRule::kMax:
      break;
  }
  return {left(rec_.bytesRead), left(rec_.bytesWritten)};
}

void Accounting::addBytes(uint64_t read, uint64_t written, uint64_t seconds) {
  rec_.bytesRead += read;
  rec_.bytesWritten += written;
  // More than 10 seconds apart: the clock jumped, as C tor reads it.
  if (read + written > 0 && seconds < 10) rec_.secondsActive += seconds;
}

// The rate expected this interval (bytes a minute) from the last one's, capped by the relayed
// BandwidthRate (twice that for AccountingRule sum).
void Accounting::updateExpected() {
  uint64_t cap = settings_.rateBytes * 60;
  if (settings_.rule == config::AccountingRule::kSum) cap *= 2;
  uint64_t expected = 0;
  if (rec_.softLimitHitAt > rec_.intervalStart && rec_.bytesAtSoftLimit &&
      static_cast<uint64_t>(rec_.softLimitHitAt - rec_.intervalStart) > kMinTimeForMeasurement) {
    expected = rec_.bytesAtSoftLimit /
               static_cast<uint64_t>(rec_.softLimitHitAt - rec_.intervalStart) * 60;
  } else if (rec_.secondsActive >= kMinTimeForMeasurement) {
    expected = usedBytes() / (rec_.secondsActive / 60);
  }
  rec_.expectedPerMinute = std::min(expected, cap);
}

void Accounting::reset(int64_t now) {
  updateExpected();
  const uint64_t expected = rec_.expectedPerMinute;
  rec_ = Record{};
  rec_.expectedPerMinute = expected;
  rec_.intervalStart = intervalStartContaining(settings_.start, settings_.utcOffset, now);
  end_ = intervalStartAfter(settings_.start, settings_.utcOffset, rec_.intervalStart);
}

void Accounting::configure(int64_t now) {
  const auto& s = settings_.start;
  const int64_t off = settings_.utcOffset;
  const int64_t startNow = intervalStartContaining(s, off, now);
  if (!rec_.intervalStart) {
    reset(now);
  } else if (startNow == rec_.intervalStart) {
    end_ = intervalStartAfter(s, off, rec_.intervalStart);
  } else {
    const int64_t length = intervalStartAfter(s, off, rec_.intervalStart) -
                           intervalStartContaining(s, off, rec_.intervalStart);
    const double delta = static_cast<double>(startNow - rec_.intervalStart) /
                         static_cast<double>(length > 0 ? length : 1);
    if (delta >= -0.5 && delta <= 0.5) {
      end_ = intervalStartAfter(s, off, now);  // AccountingStart moved a little: keep the bytes
    } else {
      if (delta < 0.99) {
        char pct[32];
        std::snprintf(pct, sizeof pct, "%.02f%%", delta * 100);
        notes_.push_back(std::string("Mismatched accounting interval: moved by ") + pct +
                         ". Starting a fresh one.");
      }
      reset(now);
    }
  }
  setWakeTime(now);
}

void Accounting::setWakeTime(int64_t now) {
  const int64_t start = rec_.intervalStart;
  if (!rec_.expectedPerMinute) {
    wake_ = start;
    notes_.push_back("Configured hibernation. This interval begins at " + isoTime(start) +
                     " and ends at " + isoTime(end_) +
                     " (UTC). We have no prior estimate for bandwidth, so we will start out "
                     "awake and hibernate when we exhaust our quota.");
    return;
  }
  const uint64_t exhaust = settings_.maxBytes / rec_.expectedPerMinute * 60;
  const int64_t consider = exhaust > INT_MAX ? 0 : (end_ - start) - static_cast<int64_t>(exhaust);
  wake_ = start;
  if (consider > 0) {
    // A point of the interval that depends on the identity and the interval only, so a restart
    // keeps it.
    uint8_t in[28], digest[EVP_MAX_MD_SIZE];
    for (int i = 0; i < 8; ++i)
      in[i] = static_cast<uint8_t>(static_cast<uint64_t>(start) >> (56 - 8 * i));
    std::copy(identity_.begin(), identity_.end(), in + 8);
    unsigned len = 0;
    EVP_Digest(in, sizeof in, digest, &len, EVP_sha256(), nullptr);
    const uint32_t r = (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) |
                       (uint32_t{digest[2]} << 8) | digest[3];
    wake_ = start + static_cast<int64_t>(r % static_cast<uint64_t>(consider));
  }
  const int64_t down =
      std::min<int64_t>(end_, exhaust > INT_MAX ? end_ : wake_ + static_cast<int64_t>(exhaust));
  notes_.push_back("Configured hibernation. This interval began at " + isoTime(start) +
                   "; the scheduled wake-up time " + (now < wake_ ? "is " : "was ") +
                   isoTime(wake_) + "; we expect" + (now < down ? "" : "ed") +
                   " to exhaust our quota for this interval around " + isoTime(down) +
                   "; the next interval begins at " + isoTime(end_) + " (all times UTC)");
}

bool Accounting::hardLimitReached() const {
  return settings_.maxBytes && usedBytes() >= settings_.maxBytes;
}

bool Accounting::softLimitReached() const {
  const uint64_t max = settings_.maxBytes;
  constexpr uint64_t kSoftBytes = 500 * 1024 * 1024, kSoftMinutes = 3 * 60;
  uint64_t soft = static_cast<uint64_t>(static_cast<double>(max) * 0.95);
  if (max > kSoftBytes && max - kSoftBytes > soft) soft = max - kSoftBytes;
  if (rec_.expectedPerMinute) {
    const uint64_t expected = rec_.expectedPerMinute * kSoftMinutes;
    if (max > expected && max - expected > soft) soft = max - expected;
  }
  return soft && usedBytes() >= soft;
}

void Accounting::beginSoft(int64_t now) {
  notes_.push_back(
      "Bandwidth soft limit reached; commencing hibernation. No new connections will be "
      "accepted");
  rec_.softLimitHitAt = now;
  rec_.secondsToSoftLimit = rec_.secondsActive;
  rec_.bytesAtSoftLimit = usedBytes();
  hibernateEnd_ = end_;
  state_ = State::kSoft;
  changed_ = true;
}

void Accounting::goDormant(int64_t now) {
  if (state_ == State::kHard) return;
  notes_.push_back("Going dormant. Blowing away remaining connections.");
  state_ = State::kHard;
  hibernateEnd_ = now < wake_ ? wake_ : end_;
  changed_ = true;
}

void Accounting::housekeeping(int64_t now) {
  if (now >= end_) configure(now);
}

void Accounting::endTimeElapsed(int64_t now) {
  housekeeping(now);
  if (wake_ <= now) {
    if (!initial_) notes_.push_back("Hibernation period ended. Resuming normal activity.");
    state_ = State::kAwake;
    hibernateEnd_ = 0;
    changed_ = true;
    return;
  }
  hibernateEnd_ = wake_;
  if (state_ != State::kHard) {
    notes_.push_back("Accounting period ended. Commencing hibernation until " + isoTime(wake_) +
                     " UTC");
    goDormant(now);
  } else {
    notes_.push_back("Accounting period ended. This period, we will hibernate until " +
                     isoTime(wake_) + " UTC");
  }
}

void Accounting::start(int64_t now) {
  configure(now);
  notedAt_ = now;
  changed_ = true;  // the interval's start is stored at once
  tick(now);
}

void Accounting::tick(int64_t now) {
  if (!enabled()) return;
  housekeeping(now);
  if (state_ == State::kHard) {
    if (hibernateEnd_ > now) return;  // asleep until then, even across an interval's end
    endTimeElapsed(now);
  }
  if (state_ == State::kAwake) {
    if (softLimitReached()) {
      beginSoft(now);
    } else if (now < wake_) {
      notes_.push_back("Commencing hibernation. We will wake up at " + isoTime(wake_) + " UTC.");
      goDormant(now);
    }
  }
  if (state_ == State::kSoft) {
    if (hardLimitReached())
      goDormant(now);
    else if (hibernateEnd_ <= now)
      endTimeElapsed(now);
  }
  initial_ = false;
}

bool Accounting::recordDue(int64_t now) {
  if (!enabled()) return false;
  if (!changed_ && notedAt_ + static_cast<int64_t>(kNoteSeconds) > now &&
      notedRead_ + kNoteBytes > rec_.bytesRead && notedWritten_ + kNoteBytes > rec_.bytesWritten &&
      end_ > now)
    return false;
  changed_ = false;
  notedAt_ = now;
  notedRead_ = rec_.bytesRead;
  notedWritten_ = rec_.bytesWritten;
  return true;
}

namespace {

std::string usage(uint64_t bytes) {
  char buf[64];
  if (bytes < (uint64_t{1} << 20))
    std::snprintf(buf, sizeof buf, "%llu kB", static_cast<unsigned long long>(bytes >> 10));
  else if (bytes < (uint64_t{1} << 30))
    std::snprintf(buf, sizeof buf, "%.2f MB", static_cast<double>(bytes) / (1 << 20));
  else
    std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(bytes) / (1 << 30));
  return buf;
}

std::string uptime(int64_t secs) {
  const int64_t days = secs / 86400, hours = secs % 86400 / 3600, minutes = secs % 3600 / 60;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld:%02lld hours", static_cast<long long>(hours),
                static_cast<long long>(minutes));
  if (days == 0) return buf;
  return std::to_string(days) + (days == 1 ? " day " : " days ") + buf;
}

}  // namespace

std::string heartbeatLine(const Accounting& a, int64_t now) {
  static constexpr const char* kRules[] = {"max", "sum", "in", "out"};
  const Settings& s = a.settings();
  const Record& r = a.record();
  return "Heartbeat: Accounting enabled. Sent: " + usage(r.bytesWritten) +
         ", Received: " + usage(r.bytesRead) + ", Used: " + usage(a.usedBytes()) + " / " +
         usage(s.maxBytes) + ", Rule: " + kRules[static_cast<int>(s.rule)] +
         ". The current accounting interval ends on " + isoTime(a.intervalEnd()) + ", in " +
         uptime(a.intervalEnd() > now ? a.intervalEnd() - now : 0) + ".";
}

}  // namespace onionsplit::accounting

// channeld/net/hibernation.cc: see hibernation.h.
#include "channeld/net/hibernation.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <tuple>

namespace onionsplit::channeld {
namespace {

accounting::Settings settingsOf(const config::Config& cfg) {
  accounting::Settings s;
  s.maxBytes = cfg.accountingMaxBytes;
  s.start = cfg.accountingStart;
  s.rule = cfg.accountingRule;
  s.rateBytes = config::relayedBandwidthRate(cfg);
  s.utcOffset = localUtcOffset();
  return s;
}

// The file's first bytes (both slots); "" if it is empty or unreadable.
std::string readSlots(int fd) {
  std::string text(2 * accounting::kSlotBytes, '\0');
  ssize_t n;
  do {
    n = pread(fd, text.data(), text.size(), 0);
  } while (n < 0 && errno == EINTR);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return text;
}

}  // namespace

bool accountingChanged(const config::Config& running, const config::Config& fresh) {
  const auto &a = running.accountingStart, &b = fresh.accountingStart;
  return running.accountingMaxBytes != fresh.accountingMaxBytes ||
         running.accountingRule != fresh.accountingRule ||
         std::tie(a.unit, a.day, a.hour, a.minute) != std::tie(b.unit, b.day, b.hour, b.minute);
}

int64_t localUtcOffset() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (!localtime_r(&now, &tm)) return 0;
  return tm.tm_gmtoff;
}

Hibernation::Hibernation(event_base* base, const config::Config& cfg,
                         const std::array<uint8_t, 20>& identity, Hooks hooks)
    : base_(base),
      path_(cfg.dataDirectory + "/accounting-state"),
      hooks_(std::move(hooks)),
      core_(settingsOf(cfg), identity),
      heartbeatSeconds_(static_cast<int64_t>(cfg.heartbeatPeriodSeconds)) {
  if (!core_.enabled()) return;
  fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  struct stat st {};
  if (fd_ >= 0 && (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode))) {
    close(fd_);
    fd_ = -1;
    errno = EINVAL;
  }
  if (fd_ < 0) {
    spdlog::warn(
        "accounting: cannot open {} ({}); the bytes of this interval will not survive a "
        "restart",
        path_, std::strerror(errno));
    return;
  }
  std::string text = readSlots(fd_);
  if (text.empty()) return;  // a new file: a fresh interval
  if (auto stored = accounting::decodeFile(text)) {
    core_.restore(stored->record);
    sequence_ = stored->sequence;
    spdlog::info("accounting: read {} ({} bytes read, {} written in the interval from {} UTC)",
                 path_, stored->record.bytesRead, stored->record.bytesWritten,
                 accounting::isoTime(stored->record.intervalStart));
    return;
  }
  spdlog::warn(
      "accounting: {} holds no whole record (corrupt or not ours); starting a fresh "
      "accounting interval",
      path_);
}

Hibernation::~Hibernation() {
  if (timer_) {
    event_free(timer_);
    store();  // what was counted since the last write
  }
  if (fd_ >= 0) close(fd_);
}

void Hibernation::start() {
  if (!core_.enabled()) return;
  for (const auto& source : hooks_.traffic)
    seen_.push_back(source());
  lastTick_ = static_cast<int64_t>(std::time(nullptr));
  core_.start(lastTick_);
  lastHeartbeat_ = lastTick_;
  log();
  if (core_.state() != accounting::State::kAwake && hooks_.change) hooks_.change(core_.state());
  if (core_.recordDue(lastTick_)) store();
  timer_ = event_new(base_, -1, EV_PERSIST, &Hibernation::onTimer, this);
  timeval second{1, 0};
  event_add(timer_, &second);
}

void Hibernation::onTimer(evutil_socket_t, short, void* arg) {
  static_cast<Hibernation*>(arg)->tick(static_cast<int64_t>(std::time(nullptr)));
}

void Hibernation::tick(int64_t now) {
  if (!core_.enabled()) return;
  uint64_t read = 0, written = 0;
  for (size_t i = 0; i < hooks_.traffic.size() && i < seen_.size(); ++i) {
    LinkTraffic t = hooks_.traffic[i]();
    read += t.read >= seen_[i].read ? t.read - seen_[i].read : t.read;
    written += t.written >= seen_[i].written ? t.written - seen_[i].written : t.written;
    seen_[i] = t;
  }
  core_.addBytes(read, written, now > lastTick_ ? static_cast<uint64_t>(now - lastTick_) : 0);
  lastTick_ = now;
  accounting::State before = core_.state();
  core_.tick(now);
  log();
  if (core_.state() != before && hooks_.change) hooks_.change(core_.state());
  if (core_.recordDue(now)) store();
  if (heartbeatSeconds_ > 0 && now - lastHeartbeat_ >= heartbeatSeconds_) {
    lastHeartbeat_ = now;
    if (core_.state() == accounting::State::kAwake)
      spdlog::info("{}", accounting::heartbeatLine(core_, now));
  }
}

void Hibernation::log() {
  for (const auto& line : core_.takeNotes())
    spdlog::info("accounting: {}", line);
}

void Hibernation::store() {
  if (fd_ < 0) return;
  ++sequence_;
  std::string slot = accounting::encodeSlot(core_.record(), sequence_);
  auto at = static_cast<off_t>((sequence_ % 2) * accounting::kSlotBytes);
  ssize_t n;
  do {
    n = pwrite(fd_, slot.data(), slot.size(), at);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(slot.size()) || fdatasync(fd_) != 0)
    spdlog::warn("accounting: cannot write {} ({})", path_,
                 n < 0 ? std::strerror(errno) : "short write");
}

void Hibernation::counters(std::vector<std::pair<std::string, uint64_t>>& out) const {
  out.emplace_back("accounting_enabled", core_.enabled());
  if (!core_.enabled()) return;
  const auto& r = core_.record();
  auto left = core_.bytesLeft();
  out.emplace_back("accounting_state", static_cast<uint64_t>(core_.state()));
  out.emplace_back("accounting_bytes_read", r.bytesRead);
  out.emplace_back("accounting_bytes_written", r.bytesWritten);
  out.emplace_back("accounting_bytes_left_read", left.first);
  out.emplace_back("accounting_bytes_left_written", left.second);
  out.emplace_back("accounting_interval_start", static_cast<uint64_t>(r.intervalStart));
  out.emplace_back("accounting_interval_wake", static_cast<uint64_t>(core_.wakeTime()));
  out.emplace_back("accounting_interval_end", static_cast<uint64_t>(core_.intervalEnd()));
}

}  // namespace onionsplit::channeld

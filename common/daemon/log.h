// common/daemon/log.h: logging for the daemons and the launcher (spdlog). Every line carries the
// daemon's name; under systemd (JOURNAL_STREAM set, or forced) stderr lines start with the
// sd-daemon priority prefix "<N>" so the journal records their level. Messages about misbehaving
// peers go through RateLimiter so that a hostile peer cannot flood the log.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config/config.h"

namespace onionsplit::daemon {

struct LogOptions {
  std::string name;               // "channeld", ...; prefixed to every line
  bool journal = false;           // write sd-daemon "<N>" priority prefixes on stderr
  std::string syslogIdentityTag;  // SyslogIdentityTag: see syslogIdentity()
};

// The identity `Log ... syslog` lines carry: "onionsplit", or "onionsplit-<tag>" with
// SyslogIdentityTag (C tor's are "Tor" and "Tor-<tag>"); the daemon's name starts the message.
std::string syslogIdentity(const std::string& tag);

// True when stderr is connected to the journal (systemd sets JOURNAL_STREAM to its dev:inode).
bool stderrIsJournal();

// Installs the default spdlog logger with one sink per configured Log target. Returns false with
// `error` set if a log file cannot be opened.
bool setupLogging(const LogOptions& opts, const std::vector<config::LogTarget>& targets,
                  std::string& error);

// SIGHUP after logrotate moved the files away: every `Log ... file` of the logger is opened again
// by its path (a sandboxed daemon cannot: it gets descriptors from the launcher instead). Returns
// "path: why" for each that could not be opened; it keeps writing where it did.
std::vector<std::string> reopenLogFiles();
// A descriptor the launcher opened for the Log file `path`: the logger writes there from now on.
// Takes `fd` (closed if no Log file of the logger has that path, which returns false).
bool replaceLogFile(const std::string& path, int fd);

// C tor's SIGUSR2 (SIGNAL DEBUG): every Log target takes debug..err from now on (true); false puts
// back the ranges the torrc gave them (a reload). The control port's sink is left alone.
void switchLogsToDebug(bool debug);
// The launcher's message that tells a daemon to switch its logs to debug (until its next SIGHUP).
inline constexpr std::string_view kLogsDebugMessage = "logs debug";

// Log lines for the launcher's control port, whatever the Log targets say: from `min` (nullopt:
// none) every line also goes to stderr, which the launcher reads, as kControlLogMark then
// "[severity] name: message", and the launcher hands it to its controllers only. The launcher
// asks for the lowest severity a controller wants (SETEVENTS DEBUG ... ERR).
inline constexpr char kControlLogMark = '\x1f';
void setControlLogLevel(std::optional<config::LogSeverity> min);
// "control-log debug" ... "control-log err", "control-log off": the launcher's message.
std::optional<std::optional<config::LogSeverity>> parseControlLogMessage(std::string_view msg);

// Allows at most `burst` events per key per `period`; counts what it suppressed so the next allowed
// line can say how many were dropped. Pure: the caller passes the time.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(unsigned burst, std::chrono::milliseconds period) : burst_(burst), period_(period) {}

  // Returns true if an event for `key` may be logged now; `suppressed` is then set to how many
  // events for that key were dropped since the last one logged.
  bool allow(std::string_view key, Clock::time_point now, uint64_t& suppressed);

 private:
  struct Window {
    Clock::time_point start{};
    unsigned used = 0;
    uint64_t dropped = 0;
  };
  unsigned burst_;
  std::chrono::milliseconds period_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace onionsplit::daemon

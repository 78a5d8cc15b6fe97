// common/daemon/log.cc: see log.h.
#include "common/daemon/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>

namespace onionsplit::daemon {
namespace {

// C tor's five severities on spdlog's levels: the daemons log notices with spdlog::info, C tor's
// info with spdlog::debug and its debug with spdlog::trace.
spdlog::level::level_enum toSpd(config::LogSeverity s) {
  switch (s) {
    case config::LogSeverity::kDebug:
      return spdlog::level::trace;
    case config::LogSeverity::kInfo:
      return spdlog::level::debug;
    case config::LogSeverity::kNotice:
      return spdlog::level::info;
    case config::LogSeverity::kWarn:
      return spdlog::level::warn;
    case config::LogSeverity::kErr:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// "%&" in a pattern: the line's severity by C tor's name (debug, info, notice, warn, err).
class CtorSeverityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view name = "err";
    switch (msg.level) {
      case spdlog::level::trace:
        name = "debug";
        break;
      case spdlog::level::debug:
        name = "info";
        break;
      case spdlog::level::info:
        name = "notice";
        break;
      case spdlog::level::warn:
        name = "warn";
        break;
      default:
        break;
    }
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<CtorSeverityFlag>();
  }
};

// Wraps a sink and drops messages above a maximum level (torrc's "info-warn" ranges).
class RangeSink : public spdlog::sinks::sink {
 public:
  RangeSink(spdlog::sink_ptr inner, spdlog::level::level_enum max)
      : inner_(std::move(inner)), max_(max) {}
  void log(const spdlog::details::log_msg& msg) override {
    if (msg.level <= max_ || msg.level == spdlog::level::critical) inner_->log(msg);
  }
  void flush() override { inner_->flush(); }
  void setMax(spdlog::level::level_enum max) { max_ = max; }
  spdlog::level::level_enum max() const { return max_; }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> f) override {
    inner_->set_formatter(std::move(f));
  }

 private:
  spdlog::sink_ptr inner_;
  spdlog::level::level_enum max_;
};

// "%*" in a pattern: the sd-daemon priority prefix ("<3>" for errors ... "<7>" for debug).
class SdPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    int prio = 3;
    switch (msg.level) {
      case spdlog::level::trace:
        prio = 7;
        break;
      case spdlog::level::debug:
        prio = 6;
        break;
      case spdlog::level::info:
        prio = 5;
        break;
      case spdlog::level::warn:
        prio = 4;
        break;
      case spdlog::level::critical:
        prio = 2;
        break;
      default:
        break;
    }
    const char text[4] = {'<', static_cast<char>('0' + prio), '>', 0};
    dest.append(text, text + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SdPriorityFlag>();
  }
};

// `Log ... syslog`: each line to syslog(3) at C tor's priority (notice for notices, where spdlog's
// own syslog sink says info), facility daemon. openlog connects at once (LOG_NDELAY), before the
// sandbox; a reconnection needs only an AF_UNIX datagram socket, which the sandbox allows.
class SyslogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit SyslogSink(std::string ident) : ident_(std::move(ident)) {
    openlog(ident_.c_str(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
  }
  ~SyslogSink() override { closelog(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    size_t n = line.size();
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      --n;
    syslog(priority(msg.level), "%.*s", static_cast<int>(n), line.data());
  }
  void flush_() override {}

 private:
  static int priority(spdlog::level::level_enum l) {
    switch (l) {
      case spdlog::level::trace:
        return LOG_DEBUG;
      case spdlog::level::debug:
        return LOG_INFO;
      case spdlog::level::info:
        return LOG_NOTICE;
      case spdlog::level::warn:
        return LOG_WARNING;
      case spdlog::level::critical:
        return LOG_CRIT;
      default:
        return LOG_ERR;
    }
  }
  std::string ident_;  // openlog keeps the pointer
};

// `Log ... file`: appends to a file it holds open. Its descriptor can be replaced while it runs
// (the file was moved away by logrotate and SIGHUP came), by opening the path again where the
// process may, or with one the launcher opened for it (reopenLogFile in log.h).
class LogFileSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogFileSink(std::string path) : path_(std::move(path)) {}
  ~LogFileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& path() const { return path_; }
  // Opens the path (appending, created 0640); false with errno set.
  bool open() {
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return false;
    replace(fd);
    return true;
  }
  void replace(int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    for (size_t done = 0; fd_ >= 0 && done < line.size();) {
      ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // a full disk loses the line, never the process
      done += static_cast<size_t>(n);
    }
  }
  void flush_() override {}

 private:
  std::string path_;
  int fd_ = -1;
};

// The file targets of the logger in place (reopened on SIGHUP).
std::vector<std::shared_ptr<LogFileSink>>& fileSinks() {
  static std::vector<std::shared_ptr<LogFileSink>> sinks;
  return sinks;
}

// The Log targets' sinks of the logger in place with their configured range (min, max), which
// switchLogsToDebug(false) puts back.
struct TargetSink {
  std::shared_ptr<RangeSink> sink;
  spdlog::level::level_enum min, max;
};
std::vector<TargetSink>& targetSinks() {
  static std::vector<TargetSink> sinks;
  return sinks;
}

// The control port's sink of the logger in place (setControlLogLevel), once asked for.
std::shared_ptr<spdlog::sinks::sink>& controlSink() {
  static std::shared_ptr<spdlog::sinks::sink> sink;
  return sink;
}

std::unique_ptr<spdlog::formatter> makeFormatter(const std::string& pattern) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<SdPriorityFlag>('*').add_flag<CtorSeverityFlag>('&').set_pattern(pattern);
  return f;
}

}  // namespace

bool stderrIsJournal() {
  return std::getenv("JOURNAL_STREAM") != nullptr;
}

std::string syslogIdentity(const std::string& tag) {
  return tag.empty() ? "onionsplit" : "onionsplit-" + tag;
}

namespace {

// The sink of one Log target; nullptr with `error` set when its file cannot be opened.
spdlog::sink_ptr makeSink(const LogOptions& opts, const config::LogTarget& t,
                          std::vector<std::shared_ptr<LogFileSink>>& files, std::string& error) {
  switch (t.kind) {
    case config::LogTarget::Kind::kStderr:
      return std::make_shared<spdlog::sinks::stderr_sink_mt>();
    case config::LogTarget::Kind::kStdout:
      return std::make_shared<spdlog::sinks::stdout_sink_mt>();
    case config::LogTarget::Kind::kSyslog:
      return std::make_shared<SyslogSink>(syslogIdentity(opts.syslogIdentityTag));
    case config::LogTarget::Kind::kFile:
      break;
  }
  auto file = std::make_shared<LogFileSink>(t.path);
  std::error_code ec;  // as spdlog's file sink did for a daemon started alone
  std::filesystem::create_directories(std::filesystem::path(t.path).parent_path(), ec);
  if (!file->open()) {
    error = "Log file " + t.path + ": " + std::strerror(errno);
    return nullptr;
  }
  files.push_back(file);
  return file;
}

}  // namespace

bool setupLogging(const LogOptions& opts, const std::vector<config::LogTarget>& targets,
                  std::string& error) {
  std::vector<spdlog::sink_ptr> sinks;
  std::vector<std::shared_ptr<LogFileSink>> files;
  std::vector<TargetSink> ranges;
  // C tor's layout ("Dec 06 23:02:12.123 [notice] ..."), the daemon's name before the message;
  // syslog stamps the time and keeps the severity itself.
  std::string plain = "%b %d %H:%M:%S.%e [%&] " + opts.name + ": %v";
  std::string journal = "%*[%&] " + opts.name + ": %v";
  std::string syslog = opts.name + ": %v";
  for (const auto& t : targets) {
    spdlog::sink_ptr sink = makeSink(opts, t, files, error);
    if (!sink) return false;
    auto range = std::make_shared<RangeSink>(std::move(sink), toSpd(t.maxSeverity));
    range->set_level(toSpd(t.minSeverity));
    ranges.push_back({range, toSpd(t.minSeverity), toSpd(t.maxSeverity)});
    sink = range;
    using Kind = config::LogTarget::Kind;
    bool toJournal = opts.journal && (t.kind == Kind::kStderr || t.kind == Kind::kStdout);
    sink->set_formatter(makeFormatter(t.kind == Kind::kSyslog ? syslog
                                      : toJournal             ? journal
                                                              : plain));
    sinks.push_back(std::move(sink));
  }
  auto logger = std::make_shared<spdlog::logger>(opts.name, sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  fileSinks() = std::move(files);
  targetSinks() = std::move(ranges);
  controlSink() = nullptr;
  return true;
}

void switchLogsToDebug(bool debug) {
  for (auto& t : targetSinks()) {
    t.sink->set_level(debug ? spdlog::level::trace : t.min);  // trace: C tor's debug
    t.sink->setMax(debug ? spdlog::level::err : t.max);
  }
}

void setControlLogLevel(std::optional<config::LogSeverity> min) {
  auto& sink = controlSink();
  auto logger = spdlog::default_logger();
  if (!sink) {
    if (!min) return;
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(
        makeFormatter(std::string(1, kControlLogMark) + "[%&] " + logger->name() + ": %v"));
    logger->sinks().push_back(sink);
  }
  sink->set_level(min ? toSpd(*min) : spdlog::level::off);
}

std::optional<std::optional<config::LogSeverity>> parseControlLogMessage(std::string_view msg) {
  using S = config::LogSeverity;
  static constexpr std::pair<std::string_view, std::optional<S>> kLevels[] = {
      {"control-log off", std::nullopt}, {"control-log debug", S::kDebug},
      {"control-log info", S::kInfo},    {"control-log notice", S::kNotice},
      {"control-log warn", S::kWarn},    {"control-log err", S::kErr}};
  for (const auto& [text, level] : kLevels)
    if (msg == text) return level;
  return std::nullopt;
}

std::vector<std::string> reopenLogFiles() {
  std::vector<std::string> failed;
  for (auto& f : fileSinks())
    if (!f->open()) failed.push_back(f->path() + ": " + std::strerror(errno));
  return failed;
}

bool replaceLogFile(const std::string& path, int fd) {
  bool used = false;
  for (auto& f : fileSinks()) {
    if (f->path() != path) continue;
    f->replace(used ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : fd);
    used = true;
  }
  if (!used) ::close(fd);
  return used;
}

bool RateLimiter::allow(std::string_view key, Clock::time_point now, uint64_t& suppressed) {
  auto [it, inserted] = windows_.try_emplace(std::string(key));
  Window& w = it->second;
  if (inserted || now - w.start >= period_) {
    w.start = now;
    w.used = 0;
  }
  if (w.used >= burst_) {
    ++w.dropped;
    return false;
  }
  ++w.used;
  suppressed = w.dropped;
  w.dropped = 0;
  // Bound the map: a hostile peer could otherwise vary the key. Old windows are simply forgotten.
  if (windows_.size() > 1024) windows_.clear();
  return true;
}

}  // namespace onionsplit::daemon

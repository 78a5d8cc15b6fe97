// common/daemon/log.cc: see log.h.
#include "common/daemon/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
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

std::unique_ptr<spdlog::formatter> makeFormatter(const std::string& pattern) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<SdPriorityFlag>('*').add_flag<CtorSeverityFlag>('&').set_pattern(pattern);
  return f;
}

}  // namespace

bool stderrIsJournal() {
  return std::getenv("JOURNAL_STREAM") != nullptr;
}

bool setupLogging(const LogOptions& opts, const std::vector<config::LogTarget>& targets,
                  std::string& error) {
  std::vector<spdlog::sink_ptr> sinks;
  // C tor's layout ("Dec 06 23:02:12.123 [notice] ..."), the daemon's name before the message.
  std::string plain = "%b %d %H:%M:%S.%e [%&] " + opts.name + ": %v";
  std::string journal = "%*[%&] " + opts.name + ": %v";
  for (const auto& t : targets) {
    spdlog::sink_ptr sink;
    auto max = toSpd(t.maxSeverity);
    try {
      switch (t.kind) {
        case config::LogTarget::Kind::kStderr:
        case config::LogTarget::Kind::kSyslog:  // under systemd, stderr is the journal
          sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
          break;
        case config::LogTarget::Kind::kStdout:
          sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
          break;
        case config::LogTarget::Kind::kFile:
          sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(t.path);
          break;
      }
    } catch (const spdlog::spdlog_ex& e) {
      error = e.what();
      return false;
    }
    sink = std::make_shared<RangeSink>(std::move(sink), max);
    sink->set_level(toSpd(t.minSeverity));
    bool toJournal = opts.journal && t.kind != config::LogTarget::Kind::kFile;
    sink->set_formatter(makeFormatter(toJournal ? journal : plain));
    sinks.push_back(std::move(sink));
  }
  auto logger = std::make_shared<spdlog::logger>(opts.name, sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return true;
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

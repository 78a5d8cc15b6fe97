// common/control/events.cc: see events.h.
#include "common/control/events.h"

#include <algorithm>

#include "common/control/protocol.h"

namespace onionsplit::control {
namespace {

// C tor's event name for the severity tag a line carries ("notice" -> "NOTICE").
std::optional<std::string> severityOf(std::string_view tag) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"debug", "DEBUG"}, {"info", "INFO"}, {"notice", "NOTICE"}, {"warn", "WARN"}, {"err", "ERR"}};
  for (const auto& [name, event] : kNames)
    if (tag == name) return std::string(event);
  return std::nullopt;
}

std::vector<std::string> valuesOf(const std::vector<config::TorrcEntry>& entries,
                                  std::string_view key) {
  std::vector<std::string> out;
  for (const auto& e : entries)
    if (iequals(e.key, key)) out.push_back(e.value);
  return out;
}

}  // namespace

std::string logEvent(const LogLine& l) {
  std::string msg = l.message;
  std::replace_if(
      msg.begin(), msg.end(), [](char ch) { return ch == '\r' || ch == '\n'; }, ' ');
  while (!msg.empty() && msg.back() == ' ')
    msg.pop_back();
  return "650 " + l.severity + " " + msg + "\r\n";
}

LogLine relayedLogLine(std::string_view relayed) {
  size_t colon = relayed.find(": ");
  if (colon != std::string_view::npos) {
    std::string_view own = relayed.substr(colon + 2);  // the daemon's own line
    size_t open = own.find('[');
    size_t close = own.find("] ", open == std::string_view::npos ? 0 : open);
    if (open != std::string_view::npos && close != std::string_view::npos && open < 32) {
      if (auto sev = severityOf(own.substr(open + 1, close - open - 1)))
        return {*sev, std::string(own.substr(close + 2))};
    }
  }
  return {"NOTICE", std::string(relayed)};
}

std::vector<ConfChange> confChanges(const std::vector<config::TorrcEntry>& before,
                                    const std::vector<config::TorrcEntry>& after) {
  std::vector<ConfChange> out;
  std::vector<std::string> seen;
  auto consider = [&](const std::string& key) {
    bool done = std::any_of(seen.begin(), seen.end(),
                            [&](const std::string& s) { return iequals(s, key); });
    if (done) return;
    seen.push_back(key);
    auto now = valuesOf(after, key);
    if (now == valuesOf(before, key)) return;
    if (now.empty()) out.emplace_back(key, std::nullopt);
    for (auto& v : now)
      out.emplace_back(key, std::move(v));
  };
  for (const auto& e : after)
    consider(e.key);
  for (const auto& e : before)
    consider(e.key);
  return out;
}

std::vector<config::TorrcEntry> withChanges(std::vector<config::TorrcEntry> entries,
                                            const std::vector<ConfChange>& changes) {
  for (const auto& change : changes)
    std::erase_if(entries,
                  [&](const config::TorrcEntry& e) { return iequals(e.key, change.first); });
  for (const auto& [key, value] : changes)
    if (value) entries.push_back(config::TorrcEntry{key, *value, 0, "SETCONF"});
  return entries;
}

std::string confChangedEvent(const std::vector<ConfChange>& changes) {
  if (changes.empty()) return "";
  std::string out = "650-CONF_CHANGED\r\n";
  for (const auto& [key, value] : changes)
    out += "650-" + key + (value ? "=" + *value : std::string()) + "\r\n";
  return out + "650 OK\r\n";
}

std::string statusServerEvent(std::string_view severity, std::string_view what) {
  return "650 STATUS_SERVER " + std::string(severity) + " " + std::string(what) + "\r\n";
}

std::vector<std::string> ServerStatusEvents::update(const RelayStanding& now,
                                                    const std::string& address,
                                                    const std::vector<std::string>& authorities) {
  std::vector<std::string> out;
  std::string orAddress = "ORADDRESS=" + address + ":" + std::to_string(now.orPort);
  bool restarted = now.selfTests < last_.selfTests;
  if (now.selfTests > 0 && (last_.selfTests == 0 || restarted))
    out.push_back(statusServerEvent("NOTICE", "CHECKING_REACHABILITY " + orAddress));
  if (now.reachable && (!last_.reachable || restarted) && now.selfTests > 0)
    out.push_back(statusServerEvent("NOTICE", "REACHABILITY_SUCCEEDED " + orAddress));
  uint64_t fresh =
      now.acceptedMask & (now.rounds != last_.rounds ? ~uint64_t{0} : ~last_.acceptedMask);
  for (size_t i = 0; i < 64 && i < authorities.size(); ++i) {
    if (!(fresh & (uint64_t{1} << i))) continue;
    out.push_back(
        statusServerEvent("NOTICE", "ACCEPTED_SERVER_DESCRIPTOR DIRAUTH=" + authorities[i]));
    out.push_back(statusServerEvent("NOTICE", "GOOD_SERVER_DESCRIPTOR"));
  }
  last_ = now;
  return out;
}

}  // namespace onionsplit::control

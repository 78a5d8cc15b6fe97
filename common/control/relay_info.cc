// common/control/relay_info.cc: see relay_info.h.
#include "common/control/relay_info.h"

#include <functional>
#include <map>

#include "common/accounting/accounting.h"
#include "common/base/hex.h"
#include "common/control/protocol.h"

namespace onionsplit::control {
namespace {

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Each entry's "r" line words and the lines after it up to the next entry or the footer; stops
// when `fn` returns true.
using EntryFn =
    std::function<bool(const std::vector<std::string_view>&, const std::vector<std::string_view>&)>;
void scanEntries(std::string_view consensus, const EntryFn& fn) {
  std::vector<std::string_view> r, body;
  size_t pos = 0;
  auto flush = [&]() { return r.size() == 9 && fn(r, body); };
  while (pos < consensus.size()) {
    size_t end = consensus.find('\n', pos);
    if (end == std::string_view::npos) end = consensus.size();
    std::string_view line = consensus.substr(pos, end - pos);
    pos = end + 1;
    bool starts = line.substr(0, 2) == "r ", footer = line.substr(0, 16) == "directory-footer";
    if (!starts && !footer) {
      if (!r.empty()) body.push_back(line);
      continue;
    }
    if (flush()) return;
    r.clear();
    body.clear();
    if (footer) return;
    r = words(line);
  }
  flush();
}

std::string format(const std::vector<std::string_view>& r,
                   const std::vector<std::string_view>& body) {
  std::string out = "r";
  for (size_t i = 1; i < r.size(); ++i)
    out += " " + std::string(i == 4 ? "2038-01-01" : i == 5 ? "00:00:00" : r[i]);
  out += "\n";
  bool a = false;
  for (auto line : body) {
    if (line.substr(0, 2) == "a " && !a) {
      out += std::string(line) + "\n";
      a = true;
    }
  }
  for (auto line : body)
    if (line.substr(0, 2) == "s " || line == "s") out += std::string(line) + "\n";
  for (auto line : body) {
    if (line.substr(0, 2) != "w ") continue;
    for (auto w : words(line))
      if (w.substr(0, 10) == "Bandwidth=") out += "w " + std::string(w) + "\n";
  }
  for (auto line : body)
    if (line.substr(0, 2) == "p ") out += std::string(line) + "\n";
  return out;
}

// The consensus's base64 identity for a hex fingerprint, or "" if it is not one.
std::string identity64(std::string_view fingerprint) {
  if (!fingerprint.empty() && fingerprint[0] == '$') fingerprint.remove_prefix(1);
  auto raw = fromHex(fingerprint);
  if (!raw || raw->size() != 20) return "";
  return toBase64NoPad(*raw);
}

// One "Name Value" line per row (the value quoted for config/defaults, as C tor writes it).
template <size_t N>
std::string nameValueLines(const std::pair<std::string_view, std::string_view> (&rows)[N],
                           bool quoted) {
  std::string out;
  for (const auto& [name, value] : rows) {
    out += std::string(name) + " ";
    out += quoted ? "\"" + std::string(value) + "\"" : std::string(value);
    out += "\n";
  }
  return out;
}

}  // namespace

const std::string& configNames() {
  static constexpr std::pair<std::string_view, std::string_view> kOptions[] = {
      {"Address", "LineList"},
      {"AssumeReachable", "Boolean"},
      {"BandwidthBurst", "DataSize"},
      {"BandwidthRate", "DataSize"},
      {"ConnLimit", "Integer"},
      {"ContactInfo", "String"},
      {"ControlPort", "Dependent"},
      {"ControlSocket", "LineList"},
      {"CookieAuthFile", "Filename"},
      {"CookieAuthFileGroupReadable", "Boolean"},
      {"CookieAuthentication", "Boolean"},
      {"DataDirectory", "Filename"},
      {"DirAuthority", "LineList"},
      {"DirPortFrontPage", "Filename"},
      {"DoSCircuitCreationBurst", "Integer"},
      {"DoSCircuitCreationDefenseTimePeriod", "TimeInterval"},
      {"DoSCircuitCreationDefenseType", "SignedInteger"},
      {"DoSCircuitCreationEnabled", "Boolean+Auto"},
      {"DoSCircuitCreationMinConnections", "Integer"},
      {"DoSCircuitCreationRate", "Integer"},
      {"DoSConnectionConnectBurst", "Integer"},
      {"DoSConnectionConnectDefenseTimePeriod", "TimeInterval"},
      {"DoSConnectionConnectRate", "Integer"},
      {"DoSConnectionDefenseType", "SignedInteger"},
      {"DoSConnectionEnabled", "Boolean+Auto"},
      {"DoSConnectionMaxConcurrentCount", "Integer"},
      {"DoSRefuseSingleHopClientRendezvous", "Boolean+Auto"},
      {"DoSStreamCreationBurst", "Integer"},
      {"DoSStreamCreationDefenseType", "SignedInteger"},
      {"DoSStreamCreationEnabled", "Boolean+Auto"},
      {"DoSStreamCreationRate", "Integer"},
      {"ExitPolicy", "LineList"},
      {"ExitPolicyRejectLocalInterfaces", "Boolean"},
      {"ExitPolicyRejectPrivate", "Boolean"},
      {"ExitRelay", "Boolean+Auto"},
      {"ExtendAllowPrivateAddresses", "Boolean"},
      {"FamilyId", "LineList"},
      {"FamilyKeyDirectory", "Filename"},
      {"HashedControlPassword", "LineList"},
      {"HeartbeatPeriod", "TimeInterval"},
      {"IPCDirectory", "Filename"},
      {"IPv6Exit", "Boolean"},
      {"KeepalivePeriod", "TimeInterval"},
      {"Log", "LineList"},
      {"MaxMemInQueues", "DataSize"},
      {"MetricsPort", "Dependent"},
      {"MetricsPortPolicy", "LineList"},
      {"MyFamily", "LineList"},
      {"Nickname", "String"},
      {"ORPort", "Dependent"},
      {"OfflineMasterKey", "Boolean"},
      {"OutboundBindAddress", "LineList"},
      {"OutboundBindAddressExit", "LineList"},
      {"OutboundBindAddressOR", "LineList"},
      {"PidFile", "Filename"},
      {"PublishServerDescriptor", "CommaList"},
      {"ReducedExitPolicy", "Boolean"},
      {"RelayBandwidthBurst", "DataSize"},
      {"RelayBandwidthRate", "DataSize"},
      {"RunAsDaemon", "Boolean"},
      {"Sandbox", "Boolean"},
      {"SandboxSyscalls", "String"},
      {"ServerDNSAllowNonRFC953Hostnames", "Boolean"},
      {"ServerDNSDetectHijacking", "Boolean"},
      {"ServerDNSResolvConfFile", "Filename"},
      {"ServerDNSTestAddresses", "CommaList"},
      {"ShutdownWaitLength", "TimeInterval"},
      {"SigningKeyLifetime", "TimeInterval"},
      {"SyslogIdentityTag", "String"},
      {"TestingTorNetwork", "Boolean"},
      {"User", "String"},
  };
  static const std::string text = nameValueLines(kOptions, false);
  return text;
}

const std::string& configDefaults() {
  static constexpr std::pair<std::string_view, std::string_view> kDefaults[] = {
      {"AssumeReachable", "0"},
      {"BandwidthBurst", "1 GB"},
      {"BandwidthRate", "1 GB"},
      {"ConnLimit", "1000"},
      {"CookieAuthFileGroupReadable", "0"},
      {"CookieAuthentication", "0"},
      {"DataDirectory", "/var/lib/onionsplit"},
      {"DoSCircuitCreationBurst", "0"},
      {"DoSCircuitCreationDefenseTimePeriod", "0"},
      {"DoSCircuitCreationDefenseType", "0"},
      {"DoSCircuitCreationEnabled", "auto"},
      {"DoSCircuitCreationMinConnections", "0"},
      {"DoSCircuitCreationRate", "0"},
      {"DoSConnectionConnectBurst", "0"},
      {"DoSConnectionConnectDefenseTimePeriod", "0"},
      {"DoSConnectionConnectRate", "0"},
      {"DoSConnectionDefenseType", "0"},
      {"DoSConnectionEnabled", "auto"},
      {"DoSConnectionMaxConcurrentCount", "0"},
      {"DoSRefuseSingleHopClientRendezvous", "auto"},
      {"DoSStreamCreationBurst", "0"},
      {"DoSStreamCreationDefenseType", "0"},
      {"DoSStreamCreationEnabled", "auto"},
      {"DoSStreamCreationRate", "0"},
      {"ExitPolicyRejectLocalInterfaces", "0"},
      {"ExitPolicyRejectPrivate", "1"},
      {"ExitRelay", "auto"},
      {"ExtendAllowPrivateAddresses", "0"},
      {"HeartbeatPeriod", "6 hours"},
      {"IPv6Exit", "0"},
      {"KeepalivePeriod", "5 minutes"},
      {"MaxMemInQueues", "0"},
      {"Nickname", "Unnamed"},
      {"OfflineMasterKey", "0"},
      {"PublishServerDescriptor", "1"},
      {"ReducedExitPolicy", "0"},
      {"RelayBandwidthBurst", "0"},
      {"RelayBandwidthRate", "0"},
      {"RunAsDaemon", "0"},
      {"Sandbox", "1"},
      {"SandboxSyscalls", "kill"},
      {"ServerDNSAllowNonRFC953Hostnames", "0"},
      {"ServerDNSDetectHijacking", "1"},
      {"ServerDNSResolvConfFile", "/etc/resolv.conf"},
      {"ServerDNSTestAddresses", "www.google.com,www.mit.edu,www.yahoo.com,www.slashdot.org"},
      {"ShutdownWaitLength", "30 seconds"},
      {"SigningKeyLifetime", "30 days"},
      {"TestingTorNetwork", "0"},
  };
  static const std::string text = nameValueLines(kDefaults, true);
  return text;
}

std::string configText(const std::vector<config::TorrcEntry>& entries) {
  std::string out;
  for (const auto& e : entries)
    if (!e.key.starts_with("__")) out += e.key + " " + e.value + "\n";
  return out;
}

std::optional<std::string> entryById(std::string_view consensus, std::string_view fingerprint) {
  std::string id = identity64(fingerprint);
  std::optional<std::string> out;
  if (id.empty()) return out;
  scanEntries(consensus, [&](const auto& r, const auto& body) {
    if (r[2] == id) out = format(r, body);
    return out.has_value();
  });
  return out;
}

std::optional<std::string> entryByName(std::string_view consensus, std::string_view nickname) {
  std::optional<std::string> out;
  scanEntries(consensus, [&](const auto& r, const auto& body) {
    if (iequals(r[1], nickname)) out = format(r, body);
    return out.has_value();
  });
  return out;
}

std::string allEntries(std::string_view consensus) {
  std::string out;
  scanEntries(consensus, [&](const auto& r, const auto& body) {
    out += format(r, body);
    return false;
  });
  return out;
}

std::string newConsensusEvent(std::string_view consensus) {
  std::string entries = allEntries(consensus);
  if (entries.empty()) return "";
  return "650+NEWCONSENSUS\r\n" + dataLines(entries) + "650 OK\r\n";
}

std::string orconnStatus(const std::vector<OrConnView>& conns, std::string_view consensus) {
  std::map<std::string, std::string> nicknames;  // base64 identity -> nickname
  bool any = false;
  for (const auto& c : conns)
    any = any || !c.fingerprint.empty();
  if (any)
    scanEntries(consensus, [&](const auto& r, const auto&) {
      nicknames.emplace(std::string(r[2]), std::string(r[1]));
      return false;
    });
  std::string out;
  for (const auto& c : conns) {
    std::string name = "[scrubbed]";
    if (std::string id = identity64(c.fingerprint); !id.empty()) {
      name = "$" + c.fingerprint;
      if (auto it = nicknames.find(id); it != nicknames.end()) name += "~" + it->second;
    }
    const char* state = c.open ? "CONNECTED" : c.launched ? "LAUNCHED" : "NEW";
    out += (out.empty() ? "" : "\n") + name + " " + state;
  }
  return out;
}

std::optional<std::string> dangerousVersionEvent(std::string_view current, std::string_view status,
                                                 std::string_view recommended) {
  std::string_view reason;
  if (status == "new" || status == "new in series")
    reason = "NEW";
  else if (status == "obsolete")
    reason = "OBSOLETE";
  else if (status == "unrecommended")
    reason = "UNRECOMMENDED";
  else
    return std::nullopt;
  return "650 STATUS_GENERAL WARN DANGEROUS_VERSION CURRENT=" + std::string(current) +
         " REASON=" + std::string(reason) + " RECOMMENDED=\"" + std::string(recommended) + "\"\r\n";
}

std::optional<std::string> addressInConsensus(std::string_view consensus,
                                              std::string_view fingerprint) {
  std::string id = identity64(fingerprint);
  std::optional<std::string> out;
  if (id.empty()) return out;
  scanEntries(consensus, [&](const auto& r, const auto&) {
    if (r[2] == id) out = std::string(r[6]);
    return out.has_value();
  });
  return out;
}

void readAccountingCounter(AccountingCounters& a, std::string_view name, uint64_t value) {
  auto t = static_cast<int64_t>(value);
  if (name == "accounting_enabled") a.enabled = value != 0;
  if (name == "accounting_state") a.state = value;
  if (name == "accounting_bytes_read") a.read = value;
  if (name == "accounting_bytes_written") a.written = value;
  if (name == "accounting_bytes_left_read") a.leftRead = value;
  if (name == "accounting_bytes_left_written") a.leftWritten = value;
  if (name == "accounting_interval_start") a.start = t;
  if (name == "accounting_interval_wake") a.wake = t;
  if (name == "accounting_interval_end") a.end = t;
}

std::optional<std::string> accountingInfo(std::string_view key, const AccountingCounters& a) {
  auto pair = [](uint64_t x, uint64_t y) { return std::to_string(x) + " " + std::to_string(y); };
  if (key == "accounting/enabled") return std::string(a.enabled ? "1" : "0");
  if (key == "accounting/hibernating")
    return std::string(accounting::stateName(static_cast<accounting::State>(a.state)));
  if (key == "accounting/bytes") return pair(a.read, a.written);
  if (key == "accounting/bytes-left") return pair(a.leftRead, a.leftWritten);
  if (key == "accounting/interval-start") return accounting::isoTime(a.start);
  if (key == "accounting/interval-wake") return accounting::isoTime(a.wake);
  if (key == "accounting/interval-end") return accounting::isoTime(a.end);
  return std::nullopt;
}

}  // namespace onionsplit::control

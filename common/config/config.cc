// common/config/config.cc: see config.h. The option table below is the list of what onionsplit
// implements; each handler checks its value and fills Config.
#include "common/config/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>

#include "common/base/hex.h"
#include "common/config/dos_options.h"
#include "common/config/relay_options.h"
#include "common/config/text.h"

namespace onionsplit::config {
namespace {

using text::iequals;
using text::trim;

constexpr std::string_view kCtorOptions[] = {
#include "common/config/ctor_options.inc"
};

std::vector<std::string_view> splitWords(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
      ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])))
      ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string> splitCommas(std::string_view s) {
  auto items = text::split(s, ',');
  return std::vector<std::string>(items.begin(), items.end());
}

std::optional<uint16_t> parsePort(std::string_view s) {
  return text::number<uint16_t>(s);
}

bool isIpv4Literal(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t d = s.find('.', i);
    auto octet = text::number<unsigned>(s.substr(i, d == s.npos ? s.npos : d - i));
    if (!octet || *octet > 255) return false;
    ++parts;
    if (d == s.npos) break;
    i = d + 1;
  }
  return parts == 4;
}

std::optional<std::array<uint8_t, 20>> parseFingerprint(std::string_view s) {
  auto bytes = fromHex(s);
  if (!bytes || bytes->size() != 20) return std::nullopt;
  std::array<uint8_t, 20> fp{};
  std::copy(bytes->begin(), bytes->end(), fp.begin());
  return fp;
}

std::optional<LogSeverity> parseSeverity(std::string_view s) {
  if (iequals(s, "debug")) return LogSeverity::kDebug;
  if (iequals(s, "info")) return LogSeverity::kInfo;
  if (iequals(s, "notice")) return LogSeverity::kNotice;
  if (iequals(s, "warn")) return LogSeverity::kWarn;
  if (iequals(s, "err")) return LogSeverity::kErr;
  return std::nullopt;
}

const char* severityName(LogSeverity s) {
  static constexpr const char* kNames[] = {"debug", "info", "notice", "warn", "err"};
  return kNames[static_cast<size_t>(s)];
}

using Status = Expected<void, std::string>;
using Handler = std::function<Status(Config&, std::string_view)>;

Status setBool(bool& out, std::string_view v, std::string_view name) {
  auto b = parseBool(v);
  if (!b) return fail(std::string(name) + " takes 0 or 1, not \"" + std::string(v) + "\"");
  out = *b;
  return {};
}

// ORPort and DirPort: "[address:]port [flags]" (C tor's server-port forms; port 0 means none).
Status parseServerPort(std::vector<OrPort>& out, std::string_view name, std::string_view v) {
  auto words = splitWords(v);
  auto bad = [&](const std::string& what) { return fail(std::string(name) + ": " + what); };
  if (words.empty()) return fail(std::string(name) + " needs a port");
  OrPort p;
  std::string_view addrPort = words[0];
  std::string_view portText = addrPort;
  if (!addrPort.empty() && addrPort.front() == '[') {
    size_t close = addrPort.find("]:");
    if (close == addrPort.npos) return bad("bad IPv6 address in " + std::string(addrPort));
    p.address = std::string(addrPort.substr(1, close - 1));
    portText = addrPort.substr(close + 2);
  } else if (size_t colon = addrPort.rfind(':'); colon != addrPort.npos) {
    p.address = std::string(addrPort.substr(0, colon));
    if (!isIpv4Literal(p.address)) return bad("bad IPv4 address " + p.address);
    portText = addrPort.substr(colon + 1);
  }
  auto port = parsePort(portText);
  if (!port) return bad("bad port \"" + std::string(portText) + "\"");
  p.port = *port;
  for (size_t i = 1; i < words.size(); ++i) {
    if (iequals(words[i], "NoAdvertise")) {
      p.noAdvertise = true;
    } else if (iequals(words[i], "NoListen")) {
      p.noListen = true;
    } else if (iequals(words[i], "IPv4Only")) {
      p.ipv4Only = true;
    } else if (iequals(words[i], "IPv6Only")) {
      p.ipv6Only = true;
    } else {
      return bad("unknown flag " + std::string(words[i]));
    }
  }
  if (p.noAdvertise && p.noListen) return bad("NoListen and NoAdvertise together");
  if (p.ipv4Only && p.ipv6Only) return bad("IPv4Only and IPv6Only together");
  if (p.port != 0) out.push_back(std::move(p));
  return {};
}

Status parseOrPort(Config& c, std::string_view v) {
  return parseServerPort(c.orPorts, "ORPort", v);
}

// C tor refuses a DirPort that can only be IPv6 (its self-test and clients use IPv4).
Status parseDirPort(Config& c, std::string_view v) {
  if (auto st = parseServerPort(c.dirPorts, "DirPort", v); !st) return st;
  if (!c.dirPorts.empty() && c.dirPorts.back().ipv6Only)
    return fail(std::string("DirPort: IPv6Only is not allowed (a DirPort is IPv4)"));
  return {};
}

// C tor's MetricsPort: "[address:]port [format]", prometheus the only format; port 0 means none.
Status parseMetricsPort(Config& c, std::string_view v) {
  auto words = splitWords(v);
  if (words.empty() || words.size() > 2)
    return fail(std::string("MetricsPort needs [address:]port"));
  if (words.size() == 2 && !iequals(words[1], "prometheus"))
    return fail("MetricsPort: unknown format " + std::string(words[1]) + " (only prometheus)");
  if (c.metricsPort) return fail(std::string("MetricsPort: only one is supported"));
  MetricsPort m;
  std::string_view portText = words[0];
  if (!portText.empty() && portText.front() == '[') {
    size_t close = portText.find("]:");
    if (close == portText.npos) return fail("MetricsPort: bad address " + std::string(portText));
    m.address = std::string(portText.substr(1, close - 1));
    if (m.address.find(':') == std::string::npos)
      return fail("MetricsPort: bad IPv6 address " + m.address);
    portText = portText.substr(close + 2);
  } else if (size_t colon = portText.rfind(':'); colon != portText.npos) {
    m.address = std::string(portText.substr(0, colon));
    if (!isIpv4Literal(m.address)) return fail("MetricsPort: bad IPv4 address " + m.address);
    portText = portText.substr(colon + 1);
  }
  auto port = parsePort(portText);
  if (!port) return fail("MetricsPort: bad port \"" + std::string(portText) + "\"");
  m.port = *port;
  if (m.port != 0) c.metricsPort = std::move(m);
  return {};
}

Status parseDirAuthority(Config& c, std::string_view v) {
  auto words = splitWords(v);
  DirAuthority a;
  size_t i = 0;
  if (i < words.size() && words[i].find('=') == words[i].npos &&
      words[i].find(':') == words[i].npos && !iequals(words[i], "no-v2") &&
      !iequals(words[i], "hs") && !iequals(words[i], "bridge") && !iequals(words[i], "v3ident"))
    a.nickname = std::string(words[i++]);
  bool haveAddr = false;
  for (; i < words.size() && !haveAddr; ++i) {
    std::string_view w = words[i];
    if (w.starts_with("orport=")) {
      auto p = parsePort(w.substr(7));
      if (!p || *p == 0) return fail("DirAuthority: bad " + std::string(w));
      a.orPort = *p;
    } else if (w.starts_with("v3ident=")) {
      auto fp = parseFingerprint(w.substr(8));
      if (!fp) return fail("DirAuthority: bad " + std::string(w));
      a.v3Identity = *fp;
      a.hasV3Identity = true;
    } else if (w.starts_with("ipv6=") || w.starts_with("weight=") || iequals(w, "no-v2") ||
               iequals(w, "hs") || iequals(w, "bridge") || iequals(w, "v3")) {
      // Accepted flags that do not change what onionsplit does with an authority.
    } else if (size_t colon = w.rfind(':'); colon != w.npos) {
      a.address = std::string(w.substr(0, colon));
      if (!isIpv4Literal(a.address)) return fail("DirAuthority: bad address " + a.address);
      auto p = parsePort(w.substr(colon + 1));
      if (!p || *p == 0) return fail("DirAuthority: bad DirPort in " + std::string(w));
      a.dirPort = *p;
      haveAddr = true;
    } else {
      return fail("DirAuthority: unexpected \"" + std::string(w) + "\"");
    }
  }
  if (!haveAddr) return fail(std::string("DirAuthority: missing address:dirport"));
  std::string fpText;
  for (; i < words.size(); ++i)
    fpText.append(words[i]);
  auto fp = parseFingerprint(fpText);
  if (!fp) return fail("DirAuthority: bad fingerprint \"" + fpText + "\"");
  a.fingerprint = *fp;
  if (a.orPort == 0) return fail(std::string("DirAuthority: missing orport="));
  c.dirAuthorities.push_back(std::move(a));
  return {};
}

// One "[domains]severity[-severity]" item of a Log line; fills the severities it covers (C tor's
// order: debug is 0, err is 4) in `covered`. Returns whether a domain list narrowed it.
Expected<bool, std::string> parseLogItem(std::string_view item, std::array<bool, 5>& covered) {
  bool narrowed = false;
  if (item.starts_with("[")) {
    size_t close = item.find(']');
    if (close == item.npos) return fail("Log: no ] in " + std::string(item));
    for (const std::string& d : splitCommas(item.substr(1, close - 1))) {
      if (d == "*") continue;
      std::string_view name = d;
      if (name.starts_with("~")) name.remove_prefix(1);
      if (!isLogDomain(name)) return fail("Log: no such logging domain as " + std::string(name));
      narrowed = true;
    }
    item.remove_prefix(close + 1);
  }
  size_t dash = item.find('-');
  auto lo = parseSeverity(item.substr(0, dash));
  auto hi = dash == item.npos ? std::optional<LogSeverity>(LogSeverity::kErr)
                              : parseSeverity(item.substr(dash + 1));
  if (!lo || !hi) return fail("Log: unknown severity " + std::string(item));
  for (int s = static_cast<int>(*lo); s <= static_cast<int>(*hi); ++s)
    covered[static_cast<size_t>(s)] = true;
  return narrowed;
}

}  // namespace

bool isLogDomain(std::string_view name) {
  // C tor 0.4.9's logging domains (tor(1), "Log"), case-insensitive.
  static constexpr std::string_view kDomains[] = {
      "general",  "crypto",  "net",     "config",    "fs",        "protocol", "mm",      "http",
      "app",      "control", "circ",    "rend",      "bug",       "dir",      "dirserv", "or",
      "edge",     "acct",    "hist",    "handshake", "heartbeat", "channel",  "sched",   "guard",
      "consdiff", "dos",     "process", "pt",        "btrack",    "mesg"};
  return std::any_of(std::begin(kDomains), std::end(kDomains),
                     [&](std::string_view d) { return iequals(d, name); });
}

Expected<ParsedLog, std::string> parseLogValue(std::string_view v) {
  // C tor: "[domains]sev[-sev] ... [domains]sev[-sev] (stderr|stdout|syslog|file PATH)"; a domain
  // list may be separated from its severities by spaces ("[handshake] debug").
  auto words = splitWords(v);
  ParsedLog out;
  std::array<bool, 5> covered{};
  size_t i = 0, unqualified = 0;
  for (; i < words.size(); ++i) {
    std::string item(words[i]);
    if (item.starts_with("[") && item.back() == ']' && i + 1 < words.size()) item += words[++i];
    std::string_view w = item;
    if (iequals(w, "stderr") || iequals(w, "stdout") || iequals(w, "syslog") || iequals(w, "file"))
      break;
    if (!w.starts_with("[") && ++unqualified > 1)
      return fail("Log: more than one severity range without a domain in \"" + std::string(v) +
                  "\"");
    auto narrowed = parseLogItem(w, covered);
    if (!narrowed) return fail(narrowed.error());
    out.domainsIgnored |= *narrowed;
  }
  auto first = std::find(covered.begin(), covered.end(), true);
  if (first == covered.end()) return fail(std::string("Log needs a severity"));
  auto last = std::find(covered.rbegin(), covered.rend(), true);
  out.target.minSeverity = static_cast<LogSeverity>(first - covered.begin());
  out.target.maxSeverity = static_cast<LogSeverity>(covered.rend() - last - 1);
  // A gap ("debug-debug err") is logged as the whole range: one range per target is what the sinks
  // do; the warning says so.
  out.domainsIgnored |= std::find(first, last.base(), false) != last.base();
  std::string_view kind = i < words.size() ? words[i] : "stdout";
  if (iequals(kind, "stderr")) {
    out.target.kind = LogTarget::Kind::kStderr;
  } else if (iequals(kind, "stdout")) {
    out.target.kind = LogTarget::Kind::kStdout;
  } else if (iequals(kind, "syslog")) {
    out.target.kind = LogTarget::Kind::kSyslog;
  } else {
    if (i + 1 >= words.size()) return fail(std::string("Log: file needs a path"));
    out.target.kind = LogTarget::Kind::kFile;
    out.target.path = std::string(words[i + 1]);
  }
  size_t expected = i + (out.target.kind == LogTarget::Kind::kFile ? 2 : 1);
  if (words.size() > expected)
    return fail("Log: unexpected \"" + std::string(words[expected]) + "\"");
  return out;
}

namespace {

Status parseLog(Config& c, std::string_view v) {
  auto p = parseLogValue(v);
  if (!p) return fail(p.error());
  c.logs.push_back(std::move(p->target));
  return {};
}

}  // namespace

std::optional<uint64_t> parseInterval(std::string_view value) {
  std::string_view v = value;
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end == v.data()) return std::nullopt;
  std::string unit(end, v.data() + v.size());
  unit.erase(0, unit.find_first_not_of(' '));
  while (!unit.empty() && unit.back() == ' ')
    unit.pop_back();
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  static const std::pair<const char*, uint64_t> kUnits[] = {{"", 1},
                                                            {"second", 1},
                                                            {"seconds", 1},
                                                            {"minute", 60},
                                                            {"minutes", 60},
                                                            {"hour", 3600},
                                                            {"hours", 3600},
                                                            {"day", 86400},
                                                            {"days", 86400},
                                                            {"week", 7 * 86400},
                                                            {"weeks", 7 * 86400},
                                                            {"month", 30 * 86400},
                                                            {"months", 30 * 86400}};
  for (const auto& [name, mult] : kUnits)
    if (unit == name) {
      if (n > UINT64_MAX / mult) return std::nullopt;
      return n * mult;
    }
  return std::nullopt;
}

namespace {

bool validNickname(std::string_view n) {
  if (n.empty() || n.size() > 19) return false;
  return std::all_of(n.begin(), n.end(),
                     [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; });
}

struct OptionDef {
  const char* name;
  Handler handle;
};

const std::vector<OptionDef>& implementedOptions() {
  static const std::vector<OptionDef> table = {
      {"TestingTorNetwork",
       [](Config& c, std::string_view v) {
         return setBool(c.testingTorNetwork, v, "TestingTorNetwork");
       }},
      {"DataDirectory",
       [](Config& c, std::string_view v) -> Status {
         if (v.empty()) return fail(std::string("DataDirectory needs a path"));
         c.dataDirectory = std::string(v);
         return {};
       }},
      {"IPCDirectory",
       [](Config& c, std::string_view v) -> Status {
         if (v.empty()) return fail(std::string("IPCDirectory needs a path"));
         c.ipcDirectory = std::string(v);
         return {};
       }},
      {"Nickname",
       [](Config& c, std::string_view v) -> Status {
         if (!validNickname(v))
           return fail("Nickname must be 1 to 19 letters or digits, not \"" + std::string(v) +
                       "\"");
         c.nickname = std::string(v);
         return {};
       }},
      {"Address",
       [](Config& c, std::string_view v) -> Status {
         c.address = std::string(v);
         return {};
       }},
      {"ORPort", parseOrPort},
      {"DirPort", parseDirPort},
      {"ContactInfo",
       [](Config& c, std::string_view v) -> Status {
         c.contactInfo = std::string(v);
         return {};
       }},
      {"AssumeReachable",
       [](Config& c, std::string_view v) {
         return setBool(c.assumeReachable, v, "AssumeReachable");
       }},
      {"ExtendAllowPrivateAddresses",
       [](Config& c, std::string_view v) {
         return setBool(c.extendAllowPrivateAddresses, v, "ExtendAllowPrivateAddresses");
       }},
      {"Log", parseLog},
      {"DirAuthority", parseDirAuthority},
      {"ExitRelay",
       [](Config& c, std::string_view v) -> Status {
         if (iequals(v, "auto")) {
           c.exitRelay.reset();
           return {};
         }
         bool b = false;
         if (auto s = setBool(b, v, "ExitRelay"); !s) return s;
         c.exitRelay = b;
         return {};
       }},
      {"ExitPolicy",
       [](Config& c, std::string_view v) -> Status {
         for (auto& item : splitCommas(v))
           c.exitPolicy.push_back(std::move(item));
         return {};
       }},
      {"ExitPolicyRejectPrivate",
       [](Config& c, std::string_view v) {
         return setBool(c.exitPolicyRejectPrivate, v, "ExitPolicyRejectPrivate");
       }},
      {"ExitPolicyRejectLocalInterfaces",
       [](Config& c, std::string_view v) {
         return setBool(c.exitPolicyRejectLocalInterfaces, v, "ExitPolicyRejectLocalInterfaces");
       }},
      {"ReducedExitPolicy",
       [](Config& c, std::string_view v) {
         return setBool(c.reducedExitPolicy, v, "ReducedExitPolicy");
       }},
      {"IPv6Exit",
       [](Config& c, std::string_view v) { return setBool(c.ipv6Exit, v, "IPv6Exit"); }},
      {"ServerDNSResolvConfFile",
       [](Config& c, std::string_view v) -> Status {
         if (v.empty()) return fail(std::string("ServerDNSResolvConfFile needs a path"));
         c.serverDnsResolvConfFile = std::string(v);
         return {};
       }},
      {"MyFamily",
       [](Config& c, std::string_view v) -> Status {
         for (auto& item : splitCommas(v))
           c.myFamily.push_back(std::move(item));
         return {};
       }},
      {"BandwidthRate",
       [](Config& c, std::string_view v) -> Status {
         auto b = parseBandwidth(v);
         if (!b) return fail("BandwidthRate: cannot read \"" + std::string(v) + "\"");
         c.bandwidthRateBytes = *b;
         return {};
       }},
      {"BandwidthBurst",
       [](Config& c, std::string_view v) -> Status {
         auto b = parseBandwidth(v);
         if (!b) return fail("BandwidthBurst: cannot read \"" + std::string(v) + "\"");
         c.bandwidthBurstBytes = *b;
         return {};
       }},
      {"User",
       [](Config& c, std::string_view v) -> Status {
         c.user = std::string(v);
         return {};
       }},
      {"OfflineMasterKey",
       [](Config& c, std::string_view v) {
         return setBool(c.offlineMasterKey, v, "OfflineMasterKey");
       }},
      {"Sandbox", [](Config& c, std::string_view v) { return setBool(c.sandbox, v, "Sandbox"); }},
      {"SandboxSyscalls",
       [](Config& c, std::string_view v) -> Status {
         if (iequals(v, "kill")) {
           c.sandboxSyscalls = SandboxSyscalls::kKill;
         } else if (iequals(v, "trap")) {
           c.sandboxSyscalls = SandboxSyscalls::kTrap;
         } else if (iequals(v, "log")) {
           c.sandboxSyscalls = SandboxSyscalls::kLog;
         } else {
           return fail("SandboxSyscalls must be kill, trap or log, not \"" + std::string(v) + "\"");
         }
         return {};
       }},
      {"MetricsPort", parseMetricsPort},
      {"MetricsPortPolicy",
       [](Config& c, std::string_view v) -> Status {
         auto items = splitCommas(v);
         if (items.empty()) return fail(std::string("MetricsPortPolicy needs accept or reject"));
         for (auto& item : items)
           c.metricsPortPolicy.push_back(std::move(item));
         return {};
       }},
      {"SigningKeyLifetime",
       [](Config& c, std::string_view v) -> Status {
         auto secs = parseInterval(v);
         if (!secs || *secs < 2 * 86400)  // C tor's minimum: two days
           return fail("SigningKeyLifetime: need an interval of at least 2 days, not \"" +
                       std::string(v) + "\"");
         c.signingKeyLifetimeSeconds = *secs;
         return {};
       }},
  };
  return table;
}

// C tor options with no effect on the relay's behaviour on the network: accepted with a warning.
constexpr std::string_view kNoEffectOptions[] = {
    "AvoidDiskWrites",    "DataDirectoryGroupReadable",
    "DisableAllSwap",     "DisableDebuggerAttachment",
    "HardwareAccel",      "LogMessageDomains",
    "LogTimeGranularity", "SafeLogging",
    "TruncateLogFile",
};

// Client listeners: onionsplit has none, so "0" (off) is what it does anyway; another value is
// ignored with a warning.
constexpr std::string_view kOffWhenZero[] = {
    "DNSPort", "ExtORPort", "HTTPTunnelPort", "NATDPort", "SocksPort", "TransPort",
};

}  // namespace

bool isCtorOption(std::string_view name) {
  return std::any_of(std::begin(kCtorOptions), std::end(kCtorOptions),
                     [&](std::string_view o) { return iequals(o, name); });
}

std::optional<bool> parseBool(std::string_view value) {
  if (value == "1") return true;
  if (value == "0") return false;
  return std::nullopt;
}

std::optional<uint64_t> parseBandwidth(std::string_view value) {
  auto words = splitWords(value);
  if (words.empty() || words.size() > 2) return std::nullopt;
  auto n = text::number<uint64_t>(words[0]);
  if (!n) return std::nullopt;
  if (words.size() == 1) return n;
  struct Unit {
    std::string_view name;
    uint64_t num, den;  // bytes = n * num / den
  };
  static constexpr Unit kUnits[] = {
      {"b", 1, 1},
      {"byte", 1, 1},
      {"bytes", 1, 1},
      {"kb", 1 << 10, 1},
      {"kbyte", 1 << 10, 1},
      {"kbytes", 1 << 10, 1},
      {"kilobyte", 1 << 10, 1},
      {"kilobytes", 1 << 10, 1},
      {"mb", 1 << 20, 1},
      {"mbyte", 1 << 20, 1},
      {"mbytes", 1 << 20, 1},
      {"megabyte", 1 << 20, 1},
      {"megabytes", 1 << 20, 1},
      {"gb", 1 << 30, 1},
      {"gbyte", 1 << 30, 1},
      {"gbytes", 1 << 30, 1},
      {"gigabyte", 1 << 30, 1},
      {"gigabytes", 1 << 30, 1},
      {"tb", 1ULL << 40, 1},
      {"tbytes", 1ULL << 40, 1},
      {"terabytes", 1ULL << 40, 1},
      {"kbit", 1000, 8},
      {"kbits", 1000, 8},
      {"kilobit", 1000, 8},
      {"kilobits", 1000, 8},
      {"mbit", 1000000, 8},
      {"mbits", 1000000, 8},
      {"megabit", 1000000, 8},
      {"megabits", 1000000, 8},
      {"gbit", 1000000000, 8},
      {"gbits", 1000000000, 8},
      {"gigabit", 1000000000, 8},
      {"gigabits", 1000000000, 8},
  };
  for (const Unit& u : kUnits) {
    if (!iequals(words[1], u.name)) continue;
    if (*n > UINT64_MAX / u.num) return std::nullopt;
    return *n * u.num / u.den;
  }
  return std::nullopt;
}

namespace {

// C tor's memory_units table.
struct MemUnit {
  std::string_view name;
  uint64_t bytes;
};
constexpr MemUnit kMemUnits[] = {
    {"", 1},
    {"b", 1},
    {"byte", 1},
    {"bytes", 1},
    {"kb", 1 << 10},
    {"kbyte", 1 << 10},
    {"kbytes", 1 << 10},
    {"kilobyte", 1 << 10},
    {"kilobytes", 1 << 10},
    {"kilobits", 1 << 7},
    {"kilobit", 1 << 7},
    {"kbits", 1 << 7},
    {"kbit", 1 << 7},
    {"m", 1 << 20},
    {"mb", 1 << 20},
    {"mbyte", 1 << 20},
    {"mbytes", 1 << 20},
    {"megabyte", 1 << 20},
    {"megabytes", 1 << 20},
    {"megabits", 1 << 17},
    {"megabit", 1 << 17},
    {"mbits", 1 << 17},
    {"mbit", 1 << 17},
    {"gb", 1 << 30},
    {"gbyte", 1 << 30},
    {"gbytes", 1 << 30},
    {"gigabyte", 1 << 30},
    {"gigabytes", 1 << 30},
    {"gigabits", 1 << 27},
    {"gigabit", 1 << 27},
    {"gbits", 1 << 27},
    {"gbit", 1 << 27},
    {"tb", 1ULL << 40},
    {"tbyte", 1ULL << 40},
    {"tbytes", 1ULL << 40},
    {"terabyte", 1ULL << 40},
    {"terabytes", 1ULL << 40},
    {"terabits", 1ULL << 37},
    {"terabit", 1ULL << 37},
    {"tbits", 1ULL << 37},
    {"tbit", 1ULL << 37},
};

}  // namespace

std::optional<uint64_t> parseMemUnit(std::string_view value) {
  std::string_view v = trim(value);
  size_t i = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])))
    ++i;
  size_t j = i;
  bool fraction = j < v.size() && v[j] == '.';
  if (fraction)
    for (++j; j < v.size() && std::isdigit(static_cast<unsigned char>(v[j]));)
      ++j;
  if (i == 0 && !(fraction && j > i + 1)) return std::nullopt;
  std::string_view unit = trim(v.substr(j));
  constexpr uint64_t kMax = INT64_MAX;
  for (const MemUnit& u : kMemUnits) {
    if (!iequals(unit, u.name)) continue;
    if (fraction) {
      double d =
          std::strtod(std::string(v.substr(0, j)).c_str(), nullptr) * static_cast<double>(u.bytes);
      if (!(d >= 0) || d >= static_cast<double>(kMax)) return std::nullopt;
      return static_cast<uint64_t>(d);
    }
    auto n = text::number<uint64_t>(v.substr(0, i));
    if (!n || *n > kMax / u.bytes) return std::nullopt;
    return *n * u.bytes;
  }
  return std::nullopt;
}

namespace {

// Applies one entry to `out`: an implemented option fills Config, a no-effect option warns,
// anything else is an error that names the option.
Status applyEntry(BuildResult& out, const TorrcEntry& e) {
  const auto& table = implementedOptions();
  auto it = std::find_if(table.begin(), table.end(),
                         [&](const OptionDef& d) { return iequals(d.name, e.key); });
  std::string warning;
  if (auto st = applyDosOption(out.config, e.key, e.value)) return *st;
  if (auto st = applyControlOption(out.config, e.key, e.value)) return *st;
  if (auto st = applyRelayOption(out.config, e.key, e.value, warning)) {
    if (*st && !warning.empty()) out.warnings.push_back(where(e) + e.key + ": " + warning);
    return *st;
  }
  if (it != table.end()) {
    Status st = it->handle(out.config, e.value);
    if (st && iequals(e.key, "Log")) {
      auto p = parseLogValue(e.value);
      if (p && p->domainsIgnored)
        out.warnings.push_back(where(e) +
                               "Log: onionsplit does not filter by log domain; this target logs " +
                               "every message from " + severityName(p->target.minSeverity) +
                               " to " + severityName(p->target.maxSeverity));
    }
    return st;
  }
  auto matches = [&](std::string_view o) { return iequals(o, e.key); };
  if (std::any_of(std::begin(kNoEffectOptions), std::end(kNoEffectOptions), matches)) {
    out.warnings.push_back(where(e) + e.key + " has no effect in onionsplit; ignored");
    return {};
  }
  if (std::any_of(std::begin(kOffWhenZero), std::end(kOffWhenZero), matches)) {
    if (e.value == "0") {
      out.warnings.push_back(where(e) + e.key + " 0: onionsplit has no such listener; ignored");
      return {};
    }
    // Accepted, not refused (a C tor exit's file must run, and Debian's defaults torrc opens
    // SocksPort 9050): nothing listens there, and the warning says so once per line.
    out.warnings.push_back(where(e) + e.key + " " + e.value +
                           ": onionsplit is a relay without a client role and opens no such "
                           "listener; ignored (set " +
                           e.key + " 0 to silence this)");
    return {};
  }
  if (e.key == "%include")
    return fail(std::string("%include is only read from a file (onionsplit -f FILE)"));
  if (isCtorOption(e.key))
    return fail(e.key + " is a C tor option that onionsplit does not implement");
  return fail("unknown option " + e.key);
}

// Checks that need the whole configuration; each error names the options involved.
void checkWhole(BuildResult& out, ConfigErrors& errors, const std::string& file) {
  Config& c = out.config;
  if (c.ipcDirectory.empty()) c.ipcDirectory = c.dataDirectory + "/ipc";
  if (c.dirAuthorities.empty() && c.testingTorNetwork)
    errors.push_back(ConfigError{0, "TestingTorNetwork needs DirAuthority lines", file});
  if (!c.testingOfferCgo && !c.testingTorNetwork)
    errors.push_back(ConfigError{0, "TestingOfferCgo 0 needs TestingTorNetwork 1", file});
  if (c.bandwidthBurstBytes < c.bandwidthRateBytes)  // before RelayBandwidth* raises them
    errors.push_back(ConfigError{0, "BandwidthBurst must be at least BandwidthRate", file});
  if (c.logs.empty()) c.logs.push_back(LogTarget{});
  checkRelayOptions(out, errors, file);
  // C tor's checks for a relay (compute_real_max_mem_in_queues): below 64 MB it uses 64 MB.
  uint64_t mib = c.maxMemInQueuesBytes >> 20;
  if (c.maxMemInQueuesBytes != 0 && mib < 64)
    out.warnings.push_back(
        "MaxMemInQueues must be at least 64 MB on relays; using 64 MB. Ideally, have it as large "
        "as you can afford.");
  else if (c.maxMemInQueuesBytes != 0 && mib < 256)
    out.warnings.push_back("MaxMemInQueues is set to a low value (" + std::to_string(mib) +
                           " MB); if the relay runs out of room it closes the streams and "
                           "circuits that hold the most");
  for (auto& w : controlWarnings(c))
    out.warnings.push_back(std::move(w));
  if (c.metricsPort && c.metricsPortPolicy.empty())
    out.warnings.push_back(
        "MetricsPort without MetricsPortPolicy: every request will be refused (as in C tor); "
        "add e.g. \"MetricsPortPolicy accept 127.0.0.1\"");
}

}  // namespace

Expected<BuildResult, ConfigErrors> buildConfig(const std::vector<TorrcEntry>& entries) {
  BuildResult out;
  ConfigErrors errors;
  for (const TorrcEntry& e : entries) {
    Status s = applyEntry(out, e);
    if (!s) errors.push_back(ConfigError{e.line, s.error(), e.file});
  }
  checkWhole(out, errors, entries.empty() ? std::string() : entries.front().file);
  if (!errors.empty()) return fail(std::move(errors));
  return out;
}

Expected<BuildResult, ConfigErrors> parseConfig(std::string_view torrcText) {
  std::vector<TorrcEntry> entries;
  ConfigErrors errors;
  lexTorrcInto(torrcText, "", entries, errors);
  auto built = buildConfig(entries);
  if (!built) errors.insert(errors.end(), built.error().begin(), built.error().end());
  sortErrors(errors);
  if (!errors.empty()) return fail(std::move(errors));
  return built;
}

}  // namespace onionsplit::config

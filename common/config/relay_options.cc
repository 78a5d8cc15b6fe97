// common/config/relay_options.cc: see relay_options.h. Facts (syntax, defaults, ranges) are C tor
// 0.4.9's (tor(1) and its relay_config.c checks).
#include "common/config/relay_options.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "common/config/config.h"
#include "common/config/text.h"

namespace onionsplit::config {
namespace {

using Status = Expected<void, std::string>;
using text::iequals;
using text::number;
using text::split;
using text::trim;

// C tor's RELAY_REQUIRED_MIN_BANDWIDTH and ROUTER_MAX_DECLARED_BANDWIDTH.
constexpr uint64_t kMinRelayBandwidth = 75 * 1024;
constexpr uint64_t kMaxDeclaredBandwidth = 2147483647;
constexpr uint64_t kMinHeartbeatSeconds = 30 * 60;

Status readBool(bool& out, std::string_view name, std::string_view v) {
  auto b = parseBool(v);
  if (!b) return fail(std::string(name) + " takes 0 or 1, not \"" + std::string(v) + "\"");
  out = *b;
  return {};
}

Status readBandwidth(uint64_t& out, std::string_view name, std::string_view v) {
  auto b = parseBandwidth(v);
  if (!b) return fail(std::string(name) + ": cannot read \"" + std::string(v) + "\"");
  out = *b;
  return {};
}

Status readInterval(uint64_t& out, std::string_view name, std::string_view v) {
  auto s = parseInterval(v);
  if (!s) return fail(std::string(name) + ": cannot read the interval \"" + std::string(v) + "\"");
  if (*s > 2147483647)  // C tor's intervals are ints
    return fail(std::string(name) + ": \"" + std::string(v) + "\" is too long");
  out = *s;
  return {};
}

// "HH:MM", 24-hour time; C tor's messages (hibernate.c accounting_parse_options).
std::optional<std::string> readClock(std::string_view s, AccountingStart& out) {
  size_t colon = s.find(':');
  auto h = number<unsigned>(s.substr(0, colon));
  if (!h || *h > 23) return std::string("Accounting start time not parseable: bad hour.");
  if (colon == s.npos)
    return std::string("Accounting start time not parseable: not in HH:MM format");
  auto m = number<unsigned>(s.substr(colon + 1));
  if (!m || *m > 59) return std::string("Accounting start time not parseable: bad minute");
  out.hour = static_cast<uint8_t>(*h);
  out.minute = static_cast<uint8_t>(*m);
  return std::nullopt;
}

// AccountingStart day|week|month [day] HH:MM, with C tor's messages.
Status readAccountingStart(Config& c, std::string_view v) {
  auto words = split(v, ' ');
  AccountingStart a;
  auto bad = [&](const std::string& why) {
    return fail("AccountingStart \"" + std::string(v) + "\": " + why);
  };
  if (words.size() < 2) return bad("Too few arguments to AccountingStart");
  if (iequals(words[0], "day")) {
    a.unit = AccountingStart::Unit::kDay;
  } else if (iequals(words[0], "week")) {
    a.unit = AccountingStart::Unit::kWeek;
  } else if (iequals(words[0], "month")) {
    a.unit = AccountingStart::Unit::kMonth;
  } else {
    return bad("Unrecognized accounting unit '" + std::string(words[0]) +
               "': only 'month', 'week', and 'day' are supported.");
  }
  size_t want = a.unit == AccountingStart::Unit::kDay ? 2 : 3;
  if (want == 3) {
    bool week = a.unit == AccountingStart::Unit::kWeek;
    auto d = number<unsigned>(words[1]);
    if (!d || *d < 1 || *d > (week ? 7u : 28u))
      return bad(week ? "Weekly accounting must begin on a day between 1 (Monday) and 7 (Sunday)"
                      : "Monthly accounting must begin on a day between 1 and 28");
    a.day = static_cast<uint8_t>(*d);
  }
  if (words.size() != want)
    return bad("Accounting unit '" + std::string(words[0]) + "' requires " +
               std::to_string(want - 1) + " argument" + (want > 2 ? "s." : "."));
  if (auto why = readClock(words[want - 1], a)) return bad(*why);
  c.accountingStart = a;
  return {};
}

Status readOutboundBind(OutboundBind& out, std::string_view name, std::string_view v) {
  std::string addr(v);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']')
    addr = addr.substr(1, addr.size() - 2);
  std::array<unsigned char, 16> buf{};
  std::string* slot = nullptr;
  if (inet_pton(AF_INET, addr.c_str(), buf.data()) == 1) {
    slot = &out.ipv4;
  } else if (inet_pton(AF_INET6, addr.c_str(), buf.data()) == 1) {
    slot = &out.ipv6;
  } else {
    return fail(std::string(name) + ": \"" + std::string(v) + "\" is not an IP address");
  }
  if (!slot->empty())
    return fail(std::string(name) + ": more than one " + (slot == &out.ipv4 ? "IPv4" : "IPv6") +
                " address (C tor allows one of each)");
  *slot = addr;
  return {};
}

// FamilyId: the family key's identity as `tor --keygen-family` writes it in NAME.public_family_id
// (an ed25519 public key, base64 without padding), or "*" for every key in FamilyKeyDirectory.
Status readFamilyId(Config& c, std::string_view v) {
  if (v == "*") {
    c.allFamilyIds = true;
    return {};
  }
  std::string_view id = v;
  while (!id.empty() && id.back() == '=')
    id.remove_suffix(1);
  bool ok = id.size() == 43 && std::all_of(id.begin(), id.end(), [](char ch) {
              return std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '/';
            });
  if (!ok) return fail("FamilyId: \"" + std::string(v) + "\" is not a family key identity");
  c.familyIds.emplace_back(v);
  return {};
}

Status readPublish(Config& c, std::string_view v) {
  bool publish = false;
  auto items = split(v, ',');
  if (items.empty()) return fail(std::string("PublishServerDescriptor needs a value"));
  for (std::string_view item : items) {
    if (item == "1" || iequals(item, "v3")) {
      publish = true;
    } else if (item == "0") {
      // nothing published unless another item asks
    } else if (iequals(item, "bridge")) {
      return fail(std::string("PublishServerDescriptor bridge: onionsplit is not a bridge"));
    } else {
      return fail("PublishServerDescriptor: unrecognized value \"" + std::string(item) + "\"");
    }
  }
  c.publishServerDescriptor = publish;
  return {};
}

Status readTestAddresses(Config& c, std::string_view v) {
  c.serverDnsTestAddresses.clear();
  for (std::string_view h : split(v, ','))
    c.serverDnsTestAddresses.emplace_back(h);
  return {};
}

}  // namespace

namespace {

std::optional<Status> readRelayOption(Config& c, std::string_view key, std::string_view v);

}  // namespace

std::optional<Status> applyRelayOption(Config& c, std::string_view key, std::string_view v,
                                       std::string& warning) {
  auto st = readRelayOption(c, key, v);
  if (!st || !*st) return st;
  auto is = [&](std::string_view name) { return iequals(key, name); };
  // Accepted values without an effect on the network that onionsplit does not give them.
  if (is("ServerDNSDetectHijacking") && v == "1")
    warning = "streamd does not test its resolvers for hijacking; set 0 to silence this";
  if (is("ServerDNSTestAddresses"))
    warning = "has no effect: streamd does not test its resolvers for hijacking";
  return st;
}

namespace {

std::optional<Status> readRelayOption(Config& c, std::string_view key, std::string_view v) {
  auto is = [&](std::string_view name) { return iequals(key, name); };
  if (is("RelayBandwidthRate"))
    return readBandwidth(c.relayBandwidthRateBytes, "RelayBandwidthRate", v);
  if (is("RelayBandwidthBurst"))
    return readBandwidth(c.relayBandwidthBurstBytes, "RelayBandwidthBurst", v);
  if (is("RunAsDaemon")) return readBool(c.runAsDaemon, "RunAsDaemon", v);
  if (is("TestingOfferCgo")) return readBool(c.testingOfferCgo, "TestingOfferCgo", v);
  if (is("MaxMemInQueues")) {
    auto b = parseMemUnit(v);
    if (!b) return Status(fail("MaxMemInQueues: cannot read \"" + std::string(v) + "\""));
    c.maxMemInQueuesBytes = *b;
    return Status();
  }
  if (is("PidFile")) {
    if (v.empty()) return Status(fail(std::string("PidFile needs a file name")));
    c.pidFile = std::string(v);
    return Status{};
  }
  if (is("AccountingMax")) return readBandwidth(c.accountingMaxBytes, "AccountingMax", v);
  if (is("AccountingStart")) return readAccountingStart(c, v);
  if (is("AccountingRule")) {
    static constexpr std::pair<std::string_view, AccountingRule> kRules[] = {
        {"max", AccountingRule::kMax},
        {"sum", AccountingRule::kSum},
        {"in", AccountingRule::kIn},
        {"out", AccountingRule::kOut}};
    for (const auto& [name, rule] : kRules)
      if (v == name) {
        c.accountingRule = rule;
        return Status{};
      }
    return Status(fail(std::string("AccountingRule must be 'sum', 'max', 'in', or 'out'")));
  }
  if (is("OutboundBindAddress"))
    return readOutboundBind(c.outboundBindAddress, "OutboundBindAddress", v);
  if (is("OutboundBindAddressExit"))
    return readOutboundBind(c.outboundBindAddressExit, "OutboundBindAddressExit", v);
  if (is("OutboundBindAddressOR"))
    return readOutboundBind(c.outboundBindAddressOr, "OutboundBindAddressOR", v);
  if (is("FamilyId")) return readFamilyId(c, v);
  if (is("FamilyKeyDirectory")) {
    if (v.empty()) return Status(fail(std::string("FamilyKeyDirectory needs a directory")));
    c.familyKeyDirectory = std::string(v);
    return Status{};
  }
  if (is("HeartbeatPeriod")) return readInterval(c.heartbeatPeriodSeconds, "HeartbeatPeriod", v);
  if (is("ShutdownWaitLength"))
    return readInterval(c.shutdownWaitLengthSeconds, "ShutdownWaitLength", v);
  if (is("SyslogIdentityTag")) {
    c.syslogIdentityTag = std::string(v);
    return Status{};
  }
  if (is("PublishServerDescriptor")) return readPublish(c, v);
  if (is("KeepalivePeriod")) {
    auto st = readInterval(c.keepalivePeriodSeconds, "KeepalivePeriod", v);
    if (st && c.keepalivePeriodSeconds < 1)
      return Status(fail(std::string("KeepalivePeriod option must be positive")));
    return st;
  }
  if (is("ConnLimit")) {
    auto n = number<uint64_t>(v);
    if (!n || *n < 1 || *n > 2147483647)
      return Status(fail("ConnLimit must be greater than 0, not \"" + std::string(v) + "\""));
    c.connLimit = *n;
    return Status{};
  }
  if (is("NumCPUs")) {
    auto n = number<uint64_t>(v);
    if (!n || *n > kMaxCircuitdShards)
      return Status(fail("NumCPUs must be between 0 and " + std::to_string(kMaxCircuitdShards) +
                         ", not \"" + std::string(v) + "\""));
    c.numCpus = static_cast<unsigned>(*n);
    return Status{};
  }
  if (is("DirPortFrontPage")) {
    if (v.empty()) return Status(fail(std::string("DirPortFrontPage needs a file")));
    c.dirPortFrontPage = std::string(v);
    return Status{};
  }
  if (is("ServerDNSAllowNonRFC953Hostnames"))
    return readBool(c.serverDnsAllowNonRfc953Hostnames, "ServerDNSAllowNonRFC953Hostnames", v);
  if (is("ServerDNSDetectHijacking"))
    return readBool(c.serverDnsDetectHijacking, "ServerDNSDetectHijacking", v);
  if (is("ServerDNSTestAddresses")) return readTestAddresses(c, v);
  return std::nullopt;
}

}  // namespace

unsigned circuitdShards(const Config& c, unsigned cores) {
  if (c.numCpus > 0) return c.numCpus;
  unsigned n = cores > 1 ? cores - 1 : 1;
  return n > kMaxCircuitdShards ? kMaxCircuitdShards : n;
}

std::string circuitdShardName(unsigned shard) {
  return shard == 0 ? std::string("circuitd") : "circuitd-" + std::to_string(shard);
}

std::string exitBindAddress(const Config& c, bool ipv6) {
  const std::string& exit = ipv6 ? c.outboundBindAddressExit.ipv6 : c.outboundBindAddressExit.ipv4;
  if (!exit.empty()) return exit;
  return ipv6 ? c.outboundBindAddress.ipv6 : c.outboundBindAddress.ipv4;
}

std::string orBindAddress(const Config& c, bool ipv6) {
  const std::string& own = ipv6 ? c.outboundBindAddressOr.ipv6 : c.outboundBindAddressOr.ipv4;
  if (!own.empty()) return own;
  return ipv6 ? c.outboundBindAddress.ipv6 : c.outboundBindAddress.ipv4;
}

uint64_t relayedBandwidthRate(const Config& c) {
  if (c.relayBandwidthRateBytes != 0)
    return std::min(c.bandwidthRateBytes, c.relayBandwidthRateBytes);
  return c.bandwidthRateBytes;
}

uint64_t relayedBandwidthBurst(const Config& c) {
  if (c.relayBandwidthBurstBytes != 0)
    return std::min(c.bandwidthBurstBytes, c.relayBandwidthBurstBytes);
  return c.bandwidthBurstBytes;
}

namespace {

void checkBandwidth(Config& c, ConfigErrors& errors, const std::string& file) {
  auto err = [&](std::string m) { errors.push_back(ConfigError{0, std::move(m), file}); };
  for (auto [value, name] : {std::pair{c.relayBandwidthRateBytes, "RelayBandwidthRate"},
                             std::pair{c.relayBandwidthBurstBytes, "RelayBandwidthBurst"}})
    if (value > kMaxDeclaredBandwidth)
      err(std::string(name) + " (" + std::to_string(value) + ") must be at most " +
          std::to_string(kMaxDeclaredBandwidth));
  if (c.relayBandwidthRateBytes && !c.relayBandwidthBurstBytes)
    c.relayBandwidthBurstBytes = c.relayBandwidthRateBytes;
  if (c.relayBandwidthBurstBytes && !c.relayBandwidthRateBytes)
    c.relayBandwidthRateBytes = c.relayBandwidthBurstBytes;
  if (!c.orPorts.empty() && c.relayBandwidthRateBytes &&
      c.relayBandwidthRateBytes < kMinRelayBandwidth)
    err("RelayBandwidthRate is set to " + std::to_string(c.relayBandwidthRateBytes) +
        " bytes/second. For servers, it must be at least " + std::to_string(kMinRelayBandwidth) +
        ".");
  if (c.relayBandwidthRateBytes > c.relayBandwidthBurstBytes)
    err("RelayBandwidthBurst must be at least equal to RelayBandwidthRate.");
  // Set high with BandwidthRate/Burst left at their defaults: those are raised, as C tor does.
  c.bandwidthRateBytes = std::max(c.bandwidthRateBytes, c.relayBandwidthRateBytes);
  c.bandwidthBurstBytes = std::max(c.bandwidthBurstBytes, c.relayBandwidthBurstBytes);
}

}  // namespace

void checkRelayOptions(BuildResult& out, ConfigErrors& errors, const std::string& file) {
  Config& c = out.config;
  auto warn = [&](std::string m) { out.warnings.push_back(std::move(m)); };
  checkBandwidth(c, errors, file);
  if (c.heartbeatPeriodSeconds && c.heartbeatPeriodSeconds < kMinHeartbeatSeconds &&
      !c.testingTorNetwork) {
    warn("HeartbeatPeriod option is too short; raising to 1800 seconds");
    c.heartbeatPeriodSeconds = kMinHeartbeatSeconds;
  }
}

}  // namespace onionsplit::config

// common/config/reload.cc: see reload.h.
#include "common/config/reload.h"

#include <tuple>

#include "common/base/quoted.h"

namespace onionsplit::config {
namespace {

auto tie(const OrPort& p) {
  return std::tie(p.address, p.port, p.noAdvertise, p.noListen, p.ipv4Only, p.ipv6Only);
}
auto tie(const DirAuthority& a) {
  return std::tie(a.nickname, a.orPort, a.v3Identity, a.hasV3Identity, a.address, a.dirPort,
                  a.fingerprint);
}
auto tie(const LogTarget& t) {
  return std::tie(t.minSeverity, t.maxSeverity, t.kind, t.path);
}
auto tie(const MetricsPort& m) {
  return std::tie(m.address, m.port);
}
auto tie(const OutboundBind& b) {
  return std::tie(b.ipv4, b.ipv6);
}

template <class T>
bool sameList(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (tie(a[i]) != tie(b[i])) return false;
  return true;
}

bool sameMetricsPort(const std::optional<MetricsPort>& a, const std::optional<MetricsPort>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || tie(*a) == tie(*b);
}

}  // namespace

std::vector<std::string> fixedWhileRunning(const Config& running, const Config& fresh) {
  std::vector<std::string> out;
  auto check = [&out](bool same, const char* name) {
    if (!same) out.emplace_back(name);
  };
  check(running.dataDirectory == fresh.dataDirectory, "DataDirectory");
  check(running.ipcDirectory == fresh.ipcDirectory, "IPCDirectory");
  check(running.user == fresh.user, "User");
  check(sameList(running.orPorts, fresh.orPorts), "ORPort");
  check(sameList(running.dirPorts, fresh.dirPorts), "DirPort");
  check(sameList(running.dirAuthorities, fresh.dirAuthorities), "DirAuthority");
  // Log files are opened before the sandbox, which allows no file to be opened for writing later.
  check(sameList(running.logs, fresh.logs), "Log");
  check(running.sandbox == fresh.sandbox, "Sandbox");
  check(running.sandboxSyscalls == fresh.sandboxSyscalls, "SandboxSyscalls");
  check(sameMetricsPort(running.metricsPort, fresh.metricsPort), "MetricsPort");
  check(running.testingTorNetwork == fresh.testingTorNetwork, "TestingTorNetwork");
  check(running.extendAllowPrivateAddresses == fresh.extendAllowPrivateAddresses,
        "ExtendAllowPrivateAddresses");
  check(running.offlineMasterKey == fresh.offlineMasterKey, "OfflineMasterKey");
  // streamd reads its nameservers once, before its sandbox closes the file system.
  check(running.serverDnsResolvConfFile == fresh.serverDnsResolvConfFile,
        "ServerDNSResolvConfFile");
  // The sandboxes allow bind() only when an outbound address was configured at start.
  check(tie(running.outboundBindAddress) == tie(fresh.outboundBindAddress), "OutboundBindAddress");
  check(tie(running.outboundBindAddressExit) == tie(fresh.outboundBindAddressExit),
        "OutboundBindAddressExit");
  check(tie(running.outboundBindAddressOr) == tie(fresh.outboundBindAddressOr),
        "OutboundBindAddressOR");
  // Read once at start by channeld (its keepalive timer, the publisher) and the launcher.
  check(running.keepalivePeriodSeconds == fresh.keepalivePeriodSeconds, "KeepalivePeriod");
  check(running.publishServerDescriptor == fresh.publishServerDescriptor,
        "PublishServerDescriptor");
  check(running.heartbeatPeriodSeconds == fresh.heartbeatPeriodSeconds, "HeartbeatPeriod");
  check(running.connLimit == fresh.connLimit, "ConnLimit");
  check(running.numCpus == fresh.numCpus, "NumCPUs");
  // C tor's too (VAR_IMMUTABLE); channeld reads the family keys there before its sandbox.
  check(running.familyKeyDirectory == fresh.familyKeyDirectory, "FamilyKeyDirectory");
  check(sameControlOptions(running.control, fresh.control),
        "ControlPort (or ControlSocket, CookieAuth*, HashedControlPassword)");
  return out;
}

bool exitPolicyChanged(const Config& running, const Config& fresh) {
  return std::tie(running.exitRelay, running.exitPolicy, running.exitPolicyRejectPrivate,
                  running.exitPolicyRejectLocalInterfaces, running.reducedExitPolicy,
                  running.ipv6Exit, running.address) !=
         std::tie(fresh.exitRelay, fresh.exitPolicy, fresh.exitPolicyRejectPrivate,
                  fresh.exitPolicyRejectLocalInterfaces, fresh.reducedExitPolicy, fresh.ipv6Exit,
                  fresh.address);
}

bool descriptorChanged(const Config& running, const Config& fresh) {
  return exitPolicyChanged(running, fresh) ||
         std::tie(running.nickname, running.contactInfo, running.myFamily) !=
             std::tie(fresh.nickname, fresh.contactInfo, fresh.myFamily) ||
         relayedBandwidthRate(running) != relayedBandwidthRate(fresh) ||
         relayedBandwidthBurst(running) != relayedBandwidthBurst(fresh);
}

std::string renderTorrc(const std::vector<TorrcEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    out += e.key;
    out += ' ';
    out += cQuoted(e.value);
    out += '\n';
  }
  return out;
}

}  // namespace onionsplit::config

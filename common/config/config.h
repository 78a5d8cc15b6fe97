// common/config/config.h: onionsplit's configuration (pure): the torrc options it implements, with
// C tor's names and meanings, checked and typed. The launcher and every daemon build their Config
// from the same file with buildConfig(); nothing else reads options.
//
// Option policy (DESIGN.md §6): an option nobody knows is an error that names it; a C tor option
// that onionsplit does not implement is an error that says so, unless it has no effect on the
// relay's behaviour on the network, in which case it is accepted with a warning. onionsplit's own
// options (IPCDirectory) are few and documented in docs/OPERATING.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/config/control_options.h"
#include "common/config/torrc.h"
#include "common/dos/dos_params.h"

namespace onionsplit::config {

struct OrPort {
  std::string address;  // "" means all IPv4 addresses (C tor's default for a bare port)
  uint16_t port = 0;
  bool noAdvertise = false;
  bool noListen = false;
  bool ipv4Only = false;
  bool ipv6Only = false;
};

struct DirAuthority {
  std::string nickname;
  uint16_t orPort = 0;
  std::array<uint8_t, 20> v3Identity{};  // v3ident=HEX: the authority's signing-key identity
  bool hasV3Identity = false;
  std::string address;  // IPv4 literal
  uint16_t dirPort = 0;
  std::array<uint8_t, 20> fingerprint{};  // RSA identity fingerprint
};

// What the seccomp filter does with a system call outside a daemon's allowlist (SandboxSyscalls).
// kKill is production; kTrap and kLog are for finding a missing call while developing.
enum class SandboxSyscalls : uint8_t {
  kKill,  // the process dies with SIGSYS
  kTrap,  // the call fails with ENOSYS and the daemon logs its name, then carries on
  kLog,   // the call is allowed and the kernel's audit log records it
};

// MetricsPort [address:]port [prometheus]: where the launcher serves GET /metrics (C tor's option;
// a bare port means 127.0.0.1, as in C tor).
struct MetricsPort {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal (no brackets)
  uint16_t port = 0;
};

enum class LogSeverity : uint8_t { kDebug, kInfo, kNotice, kWarn, kErr };

struct LogTarget {
  LogSeverity minSeverity = LogSeverity::kNotice;
  LogSeverity maxSeverity = LogSeverity::kErr;
  enum class Kind : uint8_t { kStderr, kStdout, kSyslog, kFile } kind = Kind::kStderr;
  std::string path;  // for kFile
};

enum class AccountingRule : uint8_t { kMax, kSum, kIn, kOut };

// AccountingStart day|week|month [day] HH:MM (C tor's default: "month 1 0:00").
struct AccountingStart {
  enum class Unit : uint8_t { kDay, kWeek, kMonth } unit = Unit::kMonth;
  uint8_t day = 1;  // month: 1..28; week: 1 (Monday)..7; unused for day
  uint8_t hour = 0;
  uint8_t minute = 0;
};

// OutboundBindAddress*: at most one address per family ("" = unset), as C tor allows.
struct OutboundBind {
  std::string ipv4;
  std::string ipv6;  // without brackets
};

struct Config {
  std::string dataDirectory = "/var/lib/onionsplit";
  std::string ipcDirectory;  // IPCDirectory; defaults to DataDirectory/ipc
  std::string nickname = "Unnamed";
  std::string address;  // Address, may be empty (unset)
  std::vector<OrPort> orPorts;
  // DirPort lines (C tor's forms and flags): where the launcher serves DirPortFrontPage
  // (launcher/dirport_server.h); never advertised (C tor 0.4.6 and later: only authorities do).
  std::vector<OrPort> dirPorts;
  std::string contactInfo;
  bool assumeReachable = false;
  std::vector<LogTarget> logs;
  std::vector<DirAuthority> dirAuthorities;
  std::optional<bool> exitRelay;        // unset = C tor's "auto"
  std::vector<std::string> exitPolicy;  // one policy item per element, in order
  bool exitPolicyRejectPrivate = true;
  bool exitPolicyRejectLocalInterfaces = false;
  bool reducedExitPolicy = false;
  bool ipv6Exit = false;
  std::string serverDnsResolvConfFile = "/etc/resolv.conf";  // ServerDNSResolvConfFile
  std::vector<std::string> myFamily;  // "$FINGERPRINT" or nicknames, as written
  uint64_t bandwidthRateBytes = 1ULL << 30;
  uint64_t bandwidthBurstBytes = 1ULL << 30;
  std::string user;
  std::string pidFile;       // PidFile: the launcher writes its pid there, removes it at exit
  bool runAsDaemon = false;  // RunAsDaemon: the launcher goes to the background
  bool testingTorNetwork = false;
  // TestingOfferCgo 0 (only with TestingTorNetwork 1): the descriptor advertises Relay=2-4 instead
  // of Relay=2-6, so C tor clients build tor1 circuits through this relay (bench/exit compares
  // the two cryptos). A client that asks for CGO without the advertisement still gets it.
  bool testingOfferCgo = true;
  // ExtendAllowPrivateAddresses: channeld may open channels to private addresses for EXTEND2 (as in
  // C tor, TestingTorNetwork allows it too).
  bool extendAllowPrivateAddresses = false;
  bool offlineMasterKey = false;                    // OfflineMasterKey
  uint64_t signingKeyLifetimeSeconds = 30 * 86400;  // SigningKeyLifetime (C tor: 30 days)
  bool sandbox = true;  // Sandbox (C tor's name; on by default here, see docs/OPERATING.md)
  SandboxSyscalls sandboxSyscalls = SandboxSyscalls::kKill;  // SandboxSyscalls kill|trap|log
  std::optional<MetricsPort> metricsPort;  // unset or "MetricsPort 0": no metrics listener
  ControlOptions control;                  // ControlPort and its authentication (control_options.h)
  // C tor's relay options of relay_options.h. RelayBandwidth*: 0 = unset.
  uint64_t relayBandwidthRateBytes = 0;
  uint64_t relayBandwidthBurstBytes = 0;
  uint64_t accountingMaxBytes = 0;  // 0 = no accounting
  AccountingStart accountingStart;
  AccountingRule accountingRule = AccountingRule::kMax;
  OutboundBind outboundBindAddress;      // every outgoing connection
  OutboundBind outboundBindAddressExit;  // streamd's exit connections (overrides the above)
  OutboundBind outboundBindAddressOr;    // channeld's connections to relays (overrides the above)
  std::vector<std::string> familyIds;    // FamilyId, base64 ed25519 keys as C tor writes them
  bool allFamilyIds = false;             // "FamilyId *": every key in FamilyKeyDirectory
  std::string familyKeyDirectory;        // "" = DataDirectory/keys (common/keys/family_keys.h)
  uint64_t heartbeatPeriodSeconds = 6 * 3600;  // 0 = no heartbeat
  // SIGINT: stop taking connections and circuits, exit this much later (a second SIGINT: now).
  uint64_t shutdownWaitLengthSeconds = 30;
  std::string syslogIdentityTag;        // `Log ... syslog` lines go out as "onionsplit-<tag>"
  bool publishServerDescriptor = true;  // PublishServerDescriptor 0 turns it off
  uint64_t keepalivePeriodSeconds = 300;
  uint64_t connLimit = 1000;  // file descriptors needed to start
  unsigned numCpus = 0;       // NumCPUs: circuitd shards, 0 = from the cores (circuitdShards)
  std::string dirPortFrontPage;
  bool serverDnsAllowNonRfc953Hostnames = false;
  bool serverDnsDetectHijacking = true;
  std::vector<std::string> serverDnsTestAddresses = {"www.google.com", "www.mit.edu",
                                                     "www.yahoo.com", "www.slashdot.org"};
  // MetricsPortPolicy items in order ("accept 127.0.0.1"); checked by the launcher, which applies
  // them with an implicit "reject *" after the last (C tor's default: every request refused).
  std::vector<std::string> metricsPortPolicy;
  // DoS* (dos_options.h): what the torrc sets; common/dos resolves it against the consensus.
  dos::DosTorrc dos;
  // MaxMemInQueues in bytes, as written; 0 (C tor's default) means "from the physical memory".
  // common/flowctl/mem_budget.h turns it into the budget and splits it among the daemons.
  uint64_t maxMemInQueuesBytes = 0;
};

struct BuildResult {
  Config config;
  std::vector<std::string> warnings;  // accepted-but-ignored options, one line each, with file:line
};

// Applies every entry and reports every bad one (each with its file and line), not only the first.
Expected<BuildResult, ConfigErrors> buildConfig(const std::vector<TorrcEntry>& entries);
// Lexes and builds in one step (no %include: that needs files, see common/config/include.h).
Expected<BuildResult, ConfigErrors> parseConfig(std::string_view torrcText);

// The rate and burst channeld's buckets and the descriptor use: every byte onionsplit moves is
// relayed, so C tor's relay bucket (RelayBandwidthRate/Burst, when set) caps BandwidthRate/Burst.
uint64_t relayedBandwidthRate(const Config& c);
uint64_t relayedBandwidthBurst(const Config& c);

// A Log line's value, as C tor parses it: "[domain,~domain]severity[-severity] ... target". The
// domains must be C tor's; onionsplit's sinks filter by severity only, so the target gets the span
// of every severity named, and `domainsIgnored` says that a domain list (or a gap between ranges)
// asked for less than that.
struct ParsedLog {
  LogTarget target;
  bool domainsIgnored = false;
};
Expected<ParsedLog, std::string> parseLogValue(std::string_view value);
bool isLogDomain(std::string_view name);

// Exposed for tests and for --verify-config's messages.
bool isCtorOption(std::string_view name);
std::optional<uint64_t> parseBandwidth(std::string_view value);
// C tor's memory units (MEMUNIT options such as MaxMemInQueues): "N [unit]" or "N.M [unit]", the
// unit case-insensitive, with or without a space (b, kb, mb, m, gb, tb and their long forms;
// kbits and the like are 1024-based bits), at most INT64_MAX bytes. nullopt if unreadable.
std::optional<uint64_t> parseMemUnit(std::string_view value);
std::optional<bool> parseBool(std::string_view value);
// C tor's interval syntax: "N [seconds|minutes|hours|days|weeks|months]" (singular too; a month is
// 30 days). nullopt if unreadable.
std::optional<uint64_t> parseInterval(std::string_view value);

}  // namespace onionsplit::config

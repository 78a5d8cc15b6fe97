// common/config/relay_options.h: the C tor relay options of an exit operator's torrc beyond the
// core set of config.cc (pure): RelayBandwidthRate/Burst, Accounting*, OutboundBindAddress*,
// FamilyId, FamilyKeyDirectory, HeartbeatPeriod, PublishServerDescriptor, KeepalivePeriod,
// ConnLimit, NumCPUs, DirPortFrontPage, ShutdownWaitLength, SyslogIdentityTag and
// ServerDNS{AllowNonRFC953Hostnames,DetectHijacking,TestAddresses}. Each is read with C tor's
// syntax, default and range into Config; where onionsplit does not give an option its effect
// (ServerDNSDetectHijacking 1, ServerDNSTestAddresses), the value is accepted with a warning.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/config/torrc.h"

namespace onionsplit::config {

struct Config;
struct BuildResult;

// nullopt if `key` is none of these options; else the outcome of reading `value` into `c`. An
// accepted value that has no effect here sets `warning` (without the option's name).
std::optional<Expected<void, std::string>> applyRelayOption(Config& c, std::string_view key,
                                                            std::string_view value,
                                                            std::string& warning);

// circuitd shards: NumCPUs sets how many circuitd processes run; 0 (the default) means the cores
// less one (for channeld and streamd), at least one. At most kMaxCircuitdShards.
constexpr unsigned kMaxCircuitdShards = 64;
unsigned circuitdShards(const Config& c, unsigned cores);
// Shard k's daemon name, which names its socket (IPCDirectory/<name>.sock), its socket-activation
// fd, its log lines and its counters: "circuitd" for shard 0, "circuitd-<k>" for the others.
std::string circuitdShardName(unsigned shard);

// The local address streamd binds an exit connection of that family to ("" = none):
// OutboundBindAddressExit, else OutboundBindAddress, as in C tor. (Loopback destinations are never
// bound; the caller checks that.)
std::string exitBindAddress(const Config& c, bool ipv6);

// The same for channeld's connections to relays: OutboundBindAddressOR, else OutboundBindAddress.
std::string orBindAddress(const Config& c, bool ipv6);

// After every entry: C tor's normalisation (RelayBandwidthBurst defaults to RelayBandwidthRate and
// the other way round; BandwidthRate/Burst raised to them), the ranges that need several options,
// and the refusals and warnings for what onionsplit does not do.
void checkRelayOptions(BuildResult& out, ConfigErrors& errors, const std::string& file);

}  // namespace onionsplit::config

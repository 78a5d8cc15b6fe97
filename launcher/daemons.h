// launcher/daemons.h: the daemons the launcher starts, supervises and asks (status, MetricsPort,
// ControlPort): channeld, circuitd's shards (NumCPUs: "circuitd", "circuitd-1", ...; see
// common/config/relay_options.h), streamd and confluxd. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"

namespace onionsplit::launcher {

// In this order: channeld, circuitd, circuitd-1 ... circuitd-<shards-1>, streamd, confluxd.
std::vector<std::string> daemonNames(unsigned circuitdShards);

// daemonNames for the shards `cfg` asks for on the cores this process may use
// (daemon::circuitdShards).
std::vector<std::string> daemonNames(const config::Config& cfg);

// The program a daemon name runs: "circuitd" for every circuitd shard, else the name itself.
std::string_view baseName(std::string_view daemon);

}  // namespace onionsplit::launcher

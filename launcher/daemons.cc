// launcher/daemons.cc: see daemons.h.
#include "launcher/daemons.h"

#include <algorithm>

#include "common/config/relay_options.h"
#include "common/daemon/shards.h"

namespace onionsplit::launcher {

std::vector<std::string> daemonNames(unsigned circuitdShards) {
  std::vector<std::string> names{"channeld"};
  for (unsigned k = 0; k < std::max(circuitdShards, 1U); ++k)
    names.push_back(config::circuitdShardName(k));
  names.emplace_back("streamd");
  names.emplace_back("confluxd");
  return names;
}

std::vector<std::string> daemonNames(const config::Config& cfg) {
  return daemonNames(daemon::circuitdShards(cfg));
}

std::string_view baseName(std::string_view daemon) {
  constexpr std::string_view kShard = "circuitd-";
  if (!daemon.starts_with(kShard) || daemon.size() == kShard.size()) return daemon;
  std::string_view k = daemon.substr(kShard.size());
  if (!std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; })) return daemon;
  return daemon.substr(0, kShard.size() - 1);
}

}  // namespace onionsplit::launcher

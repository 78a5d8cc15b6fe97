// launcher/metrics_policy.h: who may read the MetricsPort (pure). C tor's MetricsPortPolicy:
// accept/reject items in the form of exit policy items (ports ignored), first match wins, and
// everything no item accepts is refused, so that without a policy every request is.
//
// Where it sits: the launcher builds it from the config at start (and for --verify-config);
// launcher/metrics_server.h asks it about each connection's peer before reading a byte.
#pragma once

#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/exitpolicy/exit_policy.h"

namespace onionsplit::launcher {

class MetricsPolicy {
 public:
  // `items` as in Config::metricsPortPolicy; the error names the bad item.
  static Expected<MetricsPolicy, std::string> parse(const std::vector<std::string>& items);

  bool permits(const exitpolicy::IpAddress& peer) const;

 private:
  std::vector<exitpolicy::Rule> rules_;
};

}  // namespace onionsplit::launcher

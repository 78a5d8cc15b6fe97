// launcher/metrics_policy.cc: see metrics_policy.h.
#include "launcher/metrics_policy.h"

namespace onionsplit::launcher {

Expected<MetricsPolicy, std::string> MetricsPolicy::parse(const std::vector<std::string>& items) {
  MetricsPolicy p;
  for (const auto& item : items) {
    auto rules = exitpolicy::parseItem(item);
    if (!rules) return fail("MetricsPortPolicy: " + rules.error());
    p.rules_.insert(p.rules_.end(), rules->begin(), rules->end());
  }
  return p;
}

bool MetricsPolicy::permits(const exitpolicy::IpAddress& peer) const {
  for (const auto& r : rules_)
    if (r.matches(peer, r.portLo)) return r.accept;  // the item's ports do not matter here
  return false;
}

}  // namespace onionsplit::launcher

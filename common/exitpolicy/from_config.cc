// common/exitpolicy/from_config.cc: see from_config.h.
#include "common/exitpolicy/from_config.h"

#include <algorithm>
#include <cctype>

namespace onionsplit::exitpolicy {

PolicyInputs policyInputsFromConfig(const config::Config& cfg) {
  PolicyInputs pi;
  pi.exitRelay =
      resolveExitRelay(cfg.exitRelay, !cfg.exitPolicy.empty(), cfg.reducedExitPolicy, cfg.ipv6Exit);
  pi.items = cfg.exitPolicy;
  pi.rejectPrivate = cfg.exitPolicyRejectPrivate;
  pi.ipv6Exit = cfg.ipv6Exit;
  pi.reduced = cfg.reducedExitPolicy;
  if (auto a = IpAddress::parse(cfg.address)) pi.ownAddresses.push_back(*a);
  return pi;
}

Expected<Policy, std::string> policyFromConfig(const config::Config& cfg) {
  return Policy::build(policyInputsFromConfig(cfg));
}

config::ConfigErrors checkExitPolicyEntries(const std::vector<config::TorrcEntry>& entries) {
  config::ConfigErrors errors;
  for (const config::TorrcEntry& e : entries) {
    std::string key = e.key;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (key != "exitpolicy") continue;
    size_t i = 0;
    while (i <= e.value.size()) {
      size_t comma = e.value.find(',', i);
      std::string_view item(e.value);
      item = item.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front())))
        item.remove_prefix(1);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back())))
        item.remove_suffix(1);
      if (!item.empty()) {
        auto rules = parseItem(item);
        if (!rules)
          errors.push_back(config::ConfigError{
              e.line, "ExitPolicy \"" + std::string(item) + "\": " + rules.error(), e.file});
      }
      if (comma == std::string::npos) break;
      i = comma + 1;
    }
  }
  return errors;
}

}  // namespace onionsplit::exitpolicy

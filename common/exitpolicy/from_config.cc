// common/exitpolicy/from_config.cc: see from_config.h.
#include "common/exitpolicy/from_config.h"

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

}  // namespace onionsplit::exitpolicy

// common/exitpolicy/from_config.h: the relay's effective exit policy from its configuration (pure).
//
// Where it sits: channeld writes this policy into the server descriptor and streamd enforces it on
// every BEGIN; both call policyFromConfig so that what the relay advertises is what it does.
#pragma once

#include <string>

#include "common/base/result.h"
#include "common/config/config.h"
#include "common/exitpolicy/exit_policy.h"

namespace onionsplit::exitpolicy {

// ExitRelay (auto resolved), ExitPolicy, ExitPolicyRejectPrivate, IPv6Exit, ReducedExitPolicy and
// the advertised Address (rejected with the private ranges), as C tor combines them.
PolicyInputs policyInputsFromConfig(const config::Config& cfg);
// Policy::build of those inputs; the error names the bad ExitPolicy item.
Expected<Policy, std::string> policyFromConfig(const config::Config& cfg);

}  // namespace onionsplit::exitpolicy

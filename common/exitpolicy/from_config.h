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

// Every bad item of the torrc's ExitPolicy lines ("allow *:80", "accept *:99999"), each with its
// file and line, parsed by parseItem as streamd parses them: what --verify-config and every
// daemon's start refuse, so a policy streamd cannot build never gets past the configuration.
config::ConfigErrors checkExitPolicyEntries(const std::vector<config::TorrcEntry>& entries);

}  // namespace onionsplit::exitpolicy

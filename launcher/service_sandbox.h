// launcher/service_sandbox.h: entering the sandbox of a service mode of the launcher program
// (`onionsplit metrics`, `onionsplit control`, `onionsplit dirport`): the same steps for each,
// their policies apart (common/sandbox/policy.cc).
#pragma once

#include <string>

#include "common/config/config.h"
#include "common/sandbox/policy.h"

namespace onionsplit::launcher {

// Enters `policy` with the torrc's syscall action and checks that it holds. "" when it does, else
// why not; `described` says what was entered.
std::string enterAndCheck(const sandbox::Policy& policy, const config::Config& cfg,
                          std::string& described);

// The whole step for a service whose policy needs nothing added (metrics, dirport): its policy
// `name`, entered and checked, each outcome on stderr as "onionsplit NAME: sandbox: ...". With
// Sandbox 0 it warns and enters nothing. False if the service must not go on.
bool enterServiceSandbox(const std::string& name, const config::Config& cfg);

}  // namespace onionsplit::launcher

// launcher/service_sandbox.cc: see service_sandbox.h.
#include "launcher/service_sandbox.h"

#include <cstdio>

#include "common/sandbox/sandbox.h"

namespace onionsplit::launcher {

std::string enterAndCheck(const sandbox::Policy& policy, const config::Config& cfg,
                          std::string& described) {
  sandbox::Options opts;
  opts.syscalls = sandbox::syscallAction(cfg);
  sandbox::Entered entered;
  std::string error;
  if (!sandbox::enter(policy, opts, entered, error) || !sandbox::selfCheck(policy, entered, error))
    return error.empty() ? std::string("not entered") : error;
  described = sandbox::describe(entered);
  return "";
}

bool enterServiceSandbox(const std::string& name, const config::Config& cfg) {
  if (!cfg.sandbox) {
    std::fprintf(stderr, "onionsplit %s: warning: sandbox off (Sandbox 0)\n", name.c_str());
    return true;
  }
  auto policy = sandbox::policyFor(name, cfg);
  std::string described;
  std::string error = policy ? enterAndCheck(*policy, cfg, described) : policy.error();
  if (!error.empty()) {
    std::fprintf(stderr, "onionsplit %s: sandbox: %s\n", name.c_str(), error.c_str());
    return false;
  }
  std::fprintf(stderr, "onionsplit %s: sandbox: entered (%s)\n", name.c_str(), described.c_str());
  return true;
}

}  // namespace onionsplit::launcher

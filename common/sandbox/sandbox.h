// common/sandbox/sandbox.h: entering a daemon's sandbox (STYLE.md start-up step 4) and checking it
// (step 5). Layers, each standing alone, in this order:
//   1. leave root: a daemon that is still root (a root launcher without User, or started by hand)
//      becomes `onionsplit-<daemon>` if that user exists, else `nobody`, with every capability
//      gone except, where Policy::keepFileAccessWhenLeavingRoot, the two that let it reach the
//      root-owned sockets and keys it needs again (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH);
//   2. no_new_privs;
//   3. Landlock (files, TCP ports, scope) as far as the kernel has it;
//   4. seccomp (skipped in sanitizer builds).
// The same functions run in the daemons (common/daemon/runtime.cc) and in tests/sandbox/.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/sandbox/landlock.h"
#include "common/sandbox/policy.h"

namespace onionsplit::sandbox {

struct Options {
  config::SandboxSyscalls syscalls = config::SandboxSyscalls::kKill;
  // Tests only: behave as on a kernel whose Landlock ABI is at most this (-1: the kernel's own).
  int landlockAbiCap = -1;
};

// What was applied, for the log line and the self-check.
struct Entered {
  std::string user;  // "" when the daemon was not root; else the user it became
  LandlockResult landlock;
  bool seccomp = false;
  config::SandboxSyscalls syscalls = config::SandboxSyscalls::kKill;
};

// Applies `p` to the calling process, which must have one thread. False with `error` set when a
// layer the kernel has could not be applied; the caller must then exit.
bool enter(const Policy& p, const Options& o, Entered& out, std::string& error);

// Tries what the policy forbids and the layers in place must refuse, harmlessly: reading
// Policy::mustNotRead (EACCES), an AF_INET socket where the policy has none (EAFNOSUPPORT), and
// reads back no_new_privs and the seccomp mode. False with `error` naming what was not refused.
bool selfCheck(const Policy& p, const Entered& e, std::string& error);

// One line for the log: "user nobody; landlock ABI 7 (files, tcp, scope); seccomp kill".
std::string describe(const Entered& e);

// The SandboxSyscalls action with the ONIONSPLIT_SANDBOX_SYSCALLS environment variable
// (kill|trap|log) taking precedence, for development runs of whole test networks.
config::SandboxSyscalls syscallAction(const config::Config& cfg);

}  // namespace onionsplit::sandbox

// common/sandbox/landlock.h: the filesystem, TCP-port and scope half of a Policy, through Landlock.
// The kernel's Landlock ABI is probed and each right is asked for only where the kernel knows it:
// ABI 1-3 restrict files only, ABI 4 adds TCP bind/connect ports, ABI 6 adds signal and
// abstract-socket scoping. Without Landlock (ABI 0) nothing is applied and the result says so;
// seccomp still stands alone. Debian 12's headers know only ABI 2, so the newer constants live in
// landlock.cc.
#pragma once

#include <string>

#include "common/sandbox/policy.h"

namespace onionsplit::sandbox {

// The running kernel's Landlock ABI version, 0 when it has none (or it is disabled).
int landlockAbi();

struct LandlockResult {
  int abi = 0;
  bool filesystem = false;  // file access restricted to Policy::readPaths
  bool tcp = false;         // TCP bind forbidden and connect limited to Policy::tcpConnectPorts
  bool scoped = false;      // no signals to, no abstract sockets of, processes outside
};

// Restricts the calling thread (and its future children) for good. `extraReadExec` are paths
// the build itself needs (a sanitizer's /proc and symbolizer), allowed read and execute.
// `abiCap` >= 0 makes it behave as on a kernel with at most that ABI (tests of the fallback on
// older kernels, e.g. Debian 12's ABI 2); -1 uses what the kernel has. False with `error` set
// when the kernel has Landlock and refused.
bool applyLandlock(const Policy& p, const std::vector<std::string>& extraReadExec, int abiCap,
                   LandlockResult& out, std::string& error);

}  // namespace onionsplit::sandbox

// common/sandbox/seccomp_filter.h: the system-call half of a Policy, through libseccomp. Every
// call the policy does not name kills the process (SIGSYS), except a few that fail with an errno
// instead, so that a library probing for them, and the self-check, survive:
//   socket/socketpair of a family or type the policy does not allow  EAFNOSUPPORT / EPROTOTYPE
//   open/openat when the policy reads no file, or for writing         EACCES
//   openat2                                                           ENOSYS (glibc falls back)
//   bind                                                              EACCES
//   mmap/mprotect asking for PROT_EXEC                                EPERM
//   ioctl other than FIONREAD, FIONBIO, TCGETS, TIOCGWINSZ            ENOTTY
//   prctl other than reading its own state or naming itself           EPERM
//   kill/tgkill of another process, prlimit64 setting a limit         EPERM
// execve, ptrace, clone/fork, unshare, mount, setuid and everything else not listed: killed.
#pragma once

#include <string>

#include "common/config/config.h"
#include "common/sandbox/policy.h"

namespace onionsplit::sandbox {

// False in sanitizer builds: ASan and UBSan need system calls (and reactions to them) no daemon
// makes, so their builds run without the seccomp layer (Landlock and no_new_privs stay).
bool seccompInThisBuild();

// Loads the filter on the calling thread (no_new_privs must be set). With kTrap a SIGSYS handler
// is installed first: it writes the call's name to stderr and makes it fail with ENOSYS.
bool applySeccomp(const Policy& p, config::SandboxSyscalls action, std::string& error);

}  // namespace onionsplit::sandbox

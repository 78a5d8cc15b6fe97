// common/sandbox/sandbox.cc: see sandbox.h.
#include "common/sandbox/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/sandbox/seccomp_filter.h"

namespace onionsplit::sandbox {
namespace {

int threadCount() {
  DIR* d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

bool setCapabilities(uint64_t keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(keep >> (32 * i));
    data[i].permitted = data[i].effective;
  }
  return syscall(SYS_capset, &header, data) == 0;
}

// Layer 1 (see sandbox.h).
bool leaveRoot(const Policy& p, Entered& out, std::string& error) {
  if (geteuid() != 0) return true;
  std::string own = "onionsplit-" + p.daemon;
  const passwd* pw = getpwnam(own.c_str());
  if (!pw) pw = getpwnam("nobody");
  uid_t uid = pw ? pw->pw_uid : 65534;
  gid_t gid = pw ? pw->pw_gid : 65534;
  out.user = pw ? pw->pw_name : "65534";
  if (uid == 0) {
    error = "user " + out.user + " is root";
    return false;
  }
  uint64_t keep = p.keepFileAccessWhenLeavingRoot
                      ? (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_DAC_READ_SEARCH)
                      : 0;
  for (int cap = 0; cap < 64; ++cap)
    if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL)
      break;  // past the kernel's last capability
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    error = std::string("PR_SET_KEEPCAPS: ") + std::strerror(errno);
    return false;
  }
  if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0) {
    error = "cannot become " + out.user + ": " + std::strerror(errno);
    return false;
  }
  if (!setCapabilities(keep) || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
    error = std::string("capabilities: ") + std::strerror(errno);
    return false;
  }
  if (setresuid(0, 0, 0) == 0) {
    error = "could become root again after leaving it";
    return false;
  }
  return true;
}

// What the build itself needs beside the policy: a sanitizer reads /proc/self/maps (leak check
// at exit) and runs a symbolizer from /usr on a report.
std::vector<std::string> buildPaths() {
  if (seccompInThisBuild()) return {};
  return {"/proc", "/usr", "/lib", "/lib64"};
}

}  // namespace

bool enter(const Policy& p, const Options& o, Entered& out, std::string& error) {
  out = Entered{};
  out.syscalls = o.syscalls;
  int threads = threadCount();
  if (threads > 1) {
    error = std::to_string(threads) + " threads are running; the sandbox would cover only one";
    return false;
  }
  if (!leaveRoot(p, out, error)) return false;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    error = std::string("no_new_privs: ") + std::strerror(errno);
    return false;
  }
  if (!applyLandlock(p, buildPaths(), o.landlockAbiCap, out.landlock, error)) return false;
  if (seccompInThisBuild()) {
    if (!applySeccomp(p, o.syscalls, error)) return false;
    out.seccomp = true;
  }
  return true;
}

bool selfCheck(const Policy& p, const Entered& e, std::string& error) {
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
    error = "no_new_privs is not set";
    return false;
  }
  if (e.seccomp && prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2) {
    error = "no seccomp filter is in place";
    return false;
  }
  if (!e.user.empty() && (geteuid() == 0 || getuid() == 0)) {
    error = "still root";
    return false;
  }
  // Files: refused by Landlock, or by seccomp for a daemon that reads none. EACCES exactly: a
  // path that is missing (ENOENT) proves nothing and is skipped.
  bool filesClosed = e.landlock.filesystem || (e.seccomp && p.readPaths.empty());
  for (const auto& path : p.mustNotRead) {
    if (!filesClosed) break;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    int err = errno;
    if (fd >= 0) {
      close(fd);
      error = "could open " + path;
      return false;
    }
    if (err != EACCES && err != ENOENT) {
      error = "opening " + path + " failed with " + std::strerror(err) + ", not EACCES";
      return false;
    }
  }
  if (p.inet == Inet::kNone && e.seccomp) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = errno;
    if (fd >= 0) {
      close(fd);
      error = "could create an AF_INET socket";
      return false;
    }
    if (err != EAFNOSUPPORT) {
      error =
          std::string("socket(AF_INET) failed with ") + std::strerror(err) + ", not EAFNOSUPPORT";
      return false;
    }
  }
  return true;
}

std::string describe(const Entered& e) {
  std::string s = e.user.empty() ? "user unchanged" : "user " + e.user;
  if (e.landlock.abi == 0) {
    s += "; no landlock in this kernel (files and ports not restricted)";
  } else {
    s += "; landlock ABI " + std::to_string(e.landlock.abi) + " (files";
    if (e.landlock.tcp) s += ", tcp";
    if (e.landlock.scoped) s += ", scope";
    s += ")";
  }
  if (!e.seccomp) {
    s += "; no seccomp (sanitizer build)";
  } else {
    const char* action = e.syscalls == config::SandboxSyscalls::kKill   ? "kill"
                         : e.syscalls == config::SandboxSyscalls::kTrap ? "trap"
                                                                        : "log";
    s += std::string("; seccomp ") + action;
  }
  return s;
}

config::SandboxSyscalls syscallAction(const config::Config& cfg) {
  const char* env = std::getenv("ONIONSPLIT_SANDBOX_SYSCALLS");
  if (!env) return cfg.sandboxSyscalls;
  std::string v = env;
  if (v == "trap") return config::SandboxSyscalls::kTrap;
  if (v == "log") return config::SandboxSyscalls::kLog;
  if (v == "kill") return config::SandboxSyscalls::kKill;
  return cfg.sandboxSyscalls;
}

}  // namespace onionsplit::sandbox

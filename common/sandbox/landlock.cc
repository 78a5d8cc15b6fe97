// common/sandbox/landlock.cc: see landlock.h. Talks to the kernel through raw system calls:
// glibc 2.36 has no wrappers.
#include "common/sandbox/landlock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace onionsplit::sandbox {
namespace {

// The kernel's ABI (include/uapi/linux/landlock.h), written out because Debian 12's header stops
// at ABI 2.
constexpr uint32_t kCreateRulesetVersion = 1U << 0;
constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;

constexpr uint64_t kFsExecute = 1ULL << 0;
constexpr uint64_t kFsReadFile = 1ULL << 2;
constexpr uint64_t kFsReadDir = 1ULL << 3;
constexpr uint64_t kFsAbi1 = (1ULL << 13) - 1;      // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ULL << 13;           // ABI 2
constexpr uint64_t kFsTruncate = 1ULL << 14;        // ABI 3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;        // ABI 5
constexpr uint64_t kNetBindTcp = 1ULL << 0;         // ABI 4
constexpr uint64_t kNetConnectTcp = 1ULL << 1;      // ABI 4
constexpr uint64_t kScopeAbstractUnix = 1ULL << 0;  // ABI 6
constexpr uint64_t kScopeSignal = 1ULL << 1;        // ABI 6

// struct landlock_ruleset_attr: 8 bytes up to ABI 3, 16 from ABI 4 (net), 24 from ABI 6 (scope).
struct RulesetAttr {
  uint64_t handledAccessFs;
  uint64_t handledAccessNet;
  uint64_t scoped;
};
struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowedAccess;
  int32_t parentFd;
};
struct NetPortAttr {
  uint64_t allowedAccess;
  uint64_t port;
};

uint64_t fsRights(int abi) {
  uint64_t r = kFsAbi1;
  if (abi >= 2) r |= kFsRefer;
  if (abi >= 3) r |= kFsTruncate;
  if (abi >= 5) r |= kFsIoctlDev;
  return r;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Allows `access` (masked to what a file may carry when `path` is not a directory) beneath
// `path`. A path that does not exist is skipped: there is nothing there to read.
bool addPath(int ruleset, const std::string& path, uint64_t access, uint64_t handled,
             std::string& error) {
  Fd fd(open(path.c_str(), O_PATH | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return true;
    error = "landlock: cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    error = "landlock: cannot stat " + path + ": " + std::strerror(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) access &= kFsExecute | kFsReadFile | kFsTruncate | kFsIoctlDev;
  PathBeneathAttr attr{access & handled, fd.get()};
  if (syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &attr, 0) != 0) {
    error = "landlock: rule for " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

int landlockAbi() {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

bool applyLandlock(const Policy& p, const std::vector<std::string>& extraReadExec, int abiCap,
                   LandlockResult& out, std::string& error) {
  out = LandlockResult{};
  out.abi = landlockAbi();
  if (abiCap >= 0 && out.abi > abiCap) out.abi = abiCap;
  if (out.abi <= 0) return true;  // no Landlock: seccomp and the unit carry the weight
  RulesetAttr attr{fsRights(out.abi), 0, 0};
  size_t size = 8;
  bool tcp = out.abi >= 4;
  if (tcp) {
    // Bind is never needed after start-up; connect only where the policy lists ports.
    attr.handledAccessNet = kNetBindTcp | (p.tcpConnectPorts ? kNetConnectTcp : 0);
    size = 16;
  }
  if (out.abi >= 6) {
    // systemd's notification socket may be abstract ("@..."); sd_notify must still reach it.
    const char* notify = std::getenv("NOTIFY_SOCKET");
    bool abstractNotify = notify && notify[0] == '@';
    attr.scoped = kScopeSignal | (abstractNotify ? 0 : kScopeAbstractUnix);
    size = 24;
  }
  Fd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0)));
  if (ruleset.get() < 0) {
    error = std::string("landlock: create_ruleset: ") + std::strerror(errno);
    return false;
  }
  for (const auto& path : p.readPaths)
    if (!addPath(ruleset.get(), path, kFsReadFile | kFsReadDir, attr.handledAccessFs, error))
      return false;
  for (const auto& path : extraReadExec)
    if (!addPath(ruleset.get(), path, kFsReadFile | kFsReadDir | kFsExecute, attr.handledAccessFs,
                 error))
      return false;
  if (tcp && p.bindOutgoingTcp) {
    NetPortAttr np{kNetBindTcp, 0};  // port 0: the kernel's ephemeral range
    if (syscall(SYS_landlock_add_rule, ruleset.get(), kRuleNetPort, &np, 0) != 0) {
      error = std::string("landlock: rule for TCP bind: ") + std::strerror(errno);
      return false;
    }
  }
  if (tcp && p.tcpConnectPorts) {
    for (uint16_t port : *p.tcpConnectPorts) {
      NetPortAttr np{kNetConnectTcp, port};
      if (syscall(SYS_landlock_add_rule, ruleset.get(), kRuleNetPort, &np, 0) != 0) {
        error = "landlock: rule for TCP port " + std::to_string(port) + ": " + std::strerror(errno);
        return false;
      }
    }
  }
  if (syscall(SYS_landlock_restrict_self, ruleset.get(), 0) != 0) {
    error = std::string("landlock: restrict_self: ") + std::strerror(errno);
    return false;
  }
  out.filesystem = true;
  out.tcp = tcp;
  out.scoped = out.abi >= 6;
  return true;
}

}  // namespace onionsplit::sandbox

// common/sandbox/seccomp_filter.cc: see seccomp_filter.h.
#include "common/sandbox/seccomp_filter.h"

#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace onionsplit::sandbox {
namespace {

// A comparison on a system call argument, every field set (libseccomp's SCMP_A* macros leave
// datum_b out of their two-operand form, which clang's -Wmissing-field-initializers refuses).
scmp_arg_cmp cmpArg(unsigned index, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
  return scmp_arg_cmp{index, op, a, b};
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// For kTrap: system-call names by number, resolved before the filter is loaded, so that the
// handler only formats and writes.
constexpr int kNames = 512;
const char* gNames[kNames];

void appendStr(char* buf, size_t& len, size_t cap, const char* s) {
  while (*s && len + 1 < cap)
    buf[len++] = *s++;
}

void onSigsys(int, siginfo_t* info, void* context) {
  int saved = errno;
  char buf[128];
  size_t len = 0;
  int nr = info->si_syscall;
  appendStr(buf, len, sizeof buf, "sandbox: SIGSYS: system call ");
  if (nr >= 0 && nr < kNames && gNames[nr]) {
    appendStr(buf, len, sizeof buf, gNames[nr]);
  } else {
    char digits[12];
    int n = 0;
    for (unsigned v = static_cast<unsigned>(nr); n == 0 || v; v /= 10)
      digits[n++] = static_cast<char>('0' + v % 10);
    while (n && len + 1 < sizeof buf)
      buf[len++] = digits[--n];
  }
  appendStr(buf, len, sizeof buf, " is outside the allowlist; it fails with ENOSYS\n");
  ssize_t ignored = write(STDERR_FILENO, buf, len);
  (void)ignored;
  auto* uc = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
  uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
  uc->uc_mcontext.regs[0] = static_cast<unsigned long long>(-ENOSYS);
#else
  (void)uc;
#endif
  errno = saved;
}

bool installTrapHandler(std::string& error) {
  for (int nr = 0; nr < kNames; ++nr)
    if (!gNames[nr]) gNames[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
  struct sigaction sa {};
  sa.sa_sigaction = onSigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) {
    error = std::string("seccomp: SIGSYS handler: ") + std::strerror(errno);
    return false;
  }
  return true;
}

class Filter {
 public:
  explicit Filter(uint32_t defaultAction) : ctx_(seccomp_init(defaultAction)) {}
  ~Filter() {
    if (ctx_) seccomp_release(ctx_);
  }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  bool ok() const { return ctx_ && rc_ == 0; }
  int rc() const { return rc_; }
  scmp_filter_ctx ctx() const { return ctx_; }

  // A call by name; names this architecture does not have are skipped.
  void add(uint32_t action, const char* name, std::vector<scmp_arg_cmp> args = {}) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;
    int r = seccomp_rule_add_array(ctx_, action, nr, static_cast<unsigned>(args.size()),
                                   args.empty() ? nullptr : args.data());
    if (r != 0 && rc_ == 0) {
      rc_ = r;
      failed_ = name;
    }
  }
  // `name` allowed when argument `arg` is one of `allowed`, failing with `err` for every other
  // value (libseccomp takes one comparison per argument and rule, so the complement is spelled
  // out: below the smallest, each gap value, above the largest).
  void onlyValues(const char* name, unsigned arg, std::vector<uint64_t> allowed, int err) {
    std::sort(allowed.begin(), allowed.end());
    auto fail = SCMP_ACT_ERRNO(static_cast<uint32_t>(err));
    for (uint64_t v : allowed)
      add(SCMP_ACT_ALLOW, name, {cmpArg(arg, SCMP_CMP_EQ, v)});
    if (allowed.front() > 0) add(fail, name, {cmpArg(arg, SCMP_CMP_LT, allowed.front())});
    for (uint64_t v = allowed.front(); v < allowed.back(); ++v)
      if (!std::binary_search(allowed.begin(), allowed.end(), v))
        add(fail, name, {cmpArg(arg, SCMP_CMP_EQ, v)});
    add(fail, name, {cmpArg(arg, SCMP_CMP_GT, allowed.back())});
  }
  const char* failed() const { return failed_; }

 private:
  scmp_filter_ctx ctx_;
  int rc_ = 0;
  const char* failed_ = "";
};

// socket() and socketpair(): AF_UNIX stream and datagram always; AF_INET/AF_INET6 as the policy
// says; every other family EAFNOSUPPORT, every other type of an allowed family EPROTOTYPE.
void addSockets(Filter& f, const Policy& p) {
  constexpr uint64_t kTypeMask = 0xf;  // SOCK_NONBLOCK and SOCK_CLOEXEC sit above
  struct Family {
    uint64_t domain;
    std::vector<uint64_t> types;
  };
  std::vector<Family> families = {{AF_UNIX, {SOCK_STREAM, SOCK_DGRAM}}};
  if (p.inet != Inet::kNone) {
    std::vector<uint64_t> types = {SOCK_STREAM};
    if (p.inet == Inet::kTcpAndUdp) types.push_back(SOCK_DGRAM);
    families.push_back({AF_INET, types});
    families.push_back({AF_INET6, types});
  }
  const uint32_t noFamily = SCMP_ACT_ERRNO(EAFNOSUPPORT), noType = SCMP_ACT_ERRNO(EPROTOTYPE);
  for (const char* call : {"socket", "socketpair"}) {
    bool pair = std::strcmp(call, "socketpair") == 0;
    for (uint64_t d = 0; d < 64; ++d) {
      auto fam = std::find_if(families.begin(), families.end(),
                              [d](const Family& x) { return x.domain == d; });
      if (fam == families.end()) {
        f.add(noFamily, call, {cmpArg(0, SCMP_CMP_EQ, d)});
        continue;
      }
      if (pair && d != AF_UNIX) {  // socketpair exists only for AF_UNIX anyway
        f.add(noFamily, call, {cmpArg(0, SCMP_CMP_EQ, d)});
        continue;
      }
      for (uint64_t t = 0; t <= kTypeMask; ++t) {
        bool ok = std::find(fam->types.begin(), fam->types.end(), t) != fam->types.end();
        f.add(ok ? SCMP_ACT_ALLOW : noType, call,
              {cmpArg(0, SCMP_CMP_EQ, d), cmpArg(1, SCMP_CMP_MASKED_EQ, kTypeMask, t)});
      }
    }
    f.add(noFamily, call, {cmpArg(0, SCMP_CMP_GE, 64)});
  }
}

void addMemory(Filter& f) {
  for (const char* call : {"mmap", "mprotect"}) {
    f.add(SCMP_ACT_ALLOW, call, {cmpArg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
    f.add(SCMP_ACT_ERRNO(EPERM), call, {cmpArg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC)});
  }
}

void addFiles(Filter& f, const Policy& p) {
  f.add(SCMP_ACT_ERRNO(ENOSYS), "openat2");
  f.add(p.bindOutgoingTcp ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EACCES), "bind");
  if (p.readPaths.empty()) {
    f.add(SCMP_ACT_ERRNO(EACCES), "open");
    f.add(SCMP_ACT_ERRNO(EACCES), "openat");
    return;
  }
  // Read-only opens pass (Landlock decides where); anything that could write fails.
  constexpr uint64_t kWriting = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
  struct Call {
    const char* name;
    unsigned flagsArg;
  };
  for (Call c : {Call{"open", 1}, Call{"openat", 2}}) {
    f.add(SCMP_ACT_ALLOW, c.name, {cmpArg(c.flagsArg, SCMP_CMP_MASKED_EQ, kWriting, 0)});
    for (uint64_t bit : {uint64_t{O_WRONLY}, uint64_t{O_RDWR}, uint64_t{O_CREAT}, uint64_t{O_TRUNC},
                         uint64_t{O_APPEND}})
      f.add(SCMP_ACT_ERRNO(EACCES), c.name, {cmpArg(c.flagsArg, SCMP_CMP_MASKED_EQ, bit, bit)});
  }
}

void addProcess(Filter& f) {
  auto self = static_cast<uint64_t>(getpid());
  for (const char* call : {"kill", "tgkill"}) {
    f.add(SCMP_ACT_ALLOW, call, {cmpArg(0, SCMP_CMP_EQ, self)});  // raise(), abort()
    f.add(SCMP_ACT_ERRNO(EPERM), call, {cmpArg(0, SCMP_CMP_NE, self)});
  }
  f.add(SCMP_ACT_ALLOW, "getrlimit");
  f.add(SCMP_ACT_ALLOW, "prlimit64", {cmpArg(2, SCMP_CMP_EQ, 0)});
  f.add(SCMP_ACT_ERRNO(EPERM), "prlimit64", {cmpArg(2, SCMP_CMP_NE, 0)});
  f.onlyValues("prctl", 0,
               {PR_GET_DUMPABLE, PR_SET_NAME, PR_GET_NAME, PR_GET_SECCOMP, PR_GET_NO_NEW_PRIVS},
               EPERM);
  f.onlyValues("ioctl", 1, {TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO}, ENOTTY);
}

}  // namespace

bool seccompInThisBuild() {
  return !kSanitized;
}

bool applySeccomp(const Policy& p, config::SandboxSyscalls action, std::string& error) {
  uint32_t def = SCMP_ACT_KILL_PROCESS;
  if (action == config::SandboxSyscalls::kTrap) def = SCMP_ACT_TRAP;
  if (action == config::SandboxSyscalls::kLog) def = SCMP_ACT_LOG;
  if (action == config::SandboxSyscalls::kTrap && !installTrapHandler(error)) return false;
  Filter f(def);
  if (!f.ctx()) {
    error = "seccomp: seccomp_init failed";
    return false;
  }
  // A binary tree of system-call numbers: the hot calls (epoll_wait, read, sendmsg) need not walk
  // a list of a hundred. Older libseccomp lacks the attribute; the filter is the same.
  seccomp_attr_set(f.ctx(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (const auto& name : p.syscalls)
    f.add(SCMP_ACT_ALLOW, name.c_str());
  addSockets(f, p);
  addMemory(f);
  addFiles(f, p);
  addProcess(f);
  if (!f.ok()) {
    error = std::string("seccomp: rule for ") + f.failed() + ": " + std::strerror(-f.rc());
    return false;
  }
  // No thread exists yet (checked by enter()), so no TSYNC is needed.
  if (int r = seccomp_load(f.ctx()); r != 0) {
    error = std::string("seccomp: load: ") + std::strerror(-r);
    return false;
  }
  return true;
}

}  // namespace onionsplit::sandbox

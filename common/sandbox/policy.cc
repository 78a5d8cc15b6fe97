// common/sandbox/policy.cc: see policy.h.
#include "common/sandbox/policy.h"

#include <algorithm>

#include "common/config/relay_options.h"
#include "common/exitpolicy/from_config.h"

namespace onionsplit::sandbox {
namespace {

// What every daemon's loop calls: libevent (epoll, eventfd, timerfd, its signal pipe), Cap'n Proto
// (mmap'd segments), spdlog (write), glibc's malloc and time, OpenSSL's getrandom. Names unknown
// on the build's architecture (open, epoll_wait on arm64) are skipped.
constexpr const char* kLoopCalls[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "close", "lseek", "fstat",
    "newfstatat", "statx", "brk", "munmap", "mremap", "madvise", "rt_sigaction", "rt_sigprocmask",
    "rt_sigreturn", "sigaltstack", "restart_syscall", "getpid", "gettid", "getppid", "getuid",
    "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "clock_gettime",
    "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep", "futex", "sched_yield",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    "poll", "ppoll", "select", "pselect6", "eventfd", "eventfd2", "timerfd_create",
    "timerfd_settime", "timerfd_gettime", "pipe", "pipe2", "fcntl", "dup", "dup2", "dup3", "exit",
    "exit_group", "getrandom", "uname", "sysinfo", "fsync", "fdatasync",
    // Sockets: which ones may be created is checked on socket() itself.
    "connect", "accept", "accept4", "getsockname", "getpeername", "setsockopt", "getsockopt",
    "shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg"};

// Only for daemons that read files after start-up (Landlock says which).
constexpr const char* kFileCalls[] = {"access", "faccessat", "faccessat2"};

Policy base(std::string_view daemon, const config::Config& cfg) {
  Policy p;
  p.daemon = std::string(daemon);
  p.syscalls.assign(std::begin(kLoopCalls), std::end(kLoopCalls));
  // Nobody reads the root directory, nor the secret identity key after start-up.
  p.mustNotRead = {"/", cfg.dataDirectory + "/keys/secret_id_key"};
  return p;
}

void addFileCalls(Policy& p) {
  p.syscalls.insert(p.syscalls.end(), std::begin(kFileCalls), std::end(kFileCalls));
}

}  // namespace

bool isDaemon(std::string_view name) {
  return name == "channeld" || name == "circuitd" || name == "streamd" || name == "confluxd";
}

bool needsNetwork(std::string_view daemon) {
  return daemon == "channeld" || daemon == "streamd";
}

std::optional<std::vector<uint16_t>> exitPorts(const config::Config& cfg) {
  auto policy = exitpolicy::policyFromConfig(cfg);
  if (!policy) return std::vector<uint16_t>{};
  std::vector<uint16_t> ports;
  for (uint32_t port = 1; port <= 65535; ++port) {
    auto p = static_cast<uint16_t>(port);
    if (policy->mayAcceptPort(4, p) || policy->mayAcceptPort(6, p)) ports.push_back(p);
  }
  if (ports.size() == 65535) return std::nullopt;
  return ports;
}

bool allowConfigDirectory(Policy& p, const std::string& configDir, const config::Config& cfg) {
  if (configDir.empty()) return false;
  std::string dir = configDir.back() == '/' ? configDir : configDir + "/";
  std::string keys = cfg.dataDirectory + "/keys/";
  if (keys.rfind(dir, 0) == 0) return false;  // the keys are beneath it
  p.readPaths.push_back(configDir);
  for (const char* call : kFileCalls)
    if (std::find(p.syscalls.begin(), p.syscalls.end(), call) == p.syscalls.end())
      p.syscalls.emplace_back(call);
  return true;
}

Expected<Policy, std::string> policyFor(std::string_view daemon, const config::Config& cfg) {
  std::string keys = cfg.dataDirectory + "/keys";
  Policy p = base(daemon, cfg);
  if (daemon == "channeld") {
    // The descriptor's onion-key file sits alone in keys/descriptor (common/keys), so channeld
    // can reread it on SIGHUP while every onion secret stays out of reach.
    p.readPaths = {keys + "/descriptor"};
    p.mustNotRead.push_back(keys + "/secret_onion_key_ntor");
    p.mustNotRead.push_back(keys + "/secret_onion_key");
    addFileCalls(p);
    p.inet = Inet::kTcp;  // relays and directory ports listen anywhere: every port
    p.keepFileAccessWhenLeavingRoot = true;
    p.bindOutgoingTcp =
        !config::orBindAddress(cfg, false).empty() || !config::orBindAddress(cfg, true).empty();
    // The consensus cache is written through descriptors opened before entry
    // (channeld/net/consensus_cache.h): emptied with ftruncate, never opened for writing.
    p.syscalls.emplace_back("ftruncate");
  } else if (daemon == "circuitd") {
    // On SIGHUP circuitd reloads its copies in keys/onion (common/keys/relay_keys.h): the ntor
    // onion keys, the fingerprint and the master public key. Rotations replace those files (write
    // and rename), so a rule on each file would name the old inode: the rule is on the directory,
    // which holds nothing else.
    p.readPaths = {keys + "/onion"};
    p.mustNotRead = {"/", keys + "/secret_id_key", keys + "/ed25519_signing_secret_key",
                     keys + "/ed25519_master_id_secret_key"};
    addFileCalls(p);
    p.tcpConnectPorts = std::vector<uint16_t>{};
    p.emptyNetworkNamespace = true;
    p.keepFileAccessWhenLeavingRoot = true;
  } else if (daemon == "streamd") {
    // The nameservers were read from ServerDNSResolvConfFile at start-up; nothing is opened
    // later, so no key file either.
    p.mustNotRead.push_back(keys);
    p.mustNotRead.push_back(keys + "/secret_onion_key_ntor");
    p.inet = Inet::kTcpAndUdp;
    p.tcpConnectPorts = exitPorts(cfg);
    p.bindOutgoingTcp =
        !config::exitBindAddress(cfg, false).empty() || !config::exitBindAddress(cfg, true).empty();
    if (!exitpolicy::policyFromConfig(cfg)) return fail(std::string("exit policy does not build"));
  } else if (daemon == "confluxd" || daemon == "metrics" || daemon == "control") {
    // confluxd, `onionsplit metrics` and `onionsplit control` (the MetricsPort and ControlPort
    // under systemd): Unix sockets to the other daemons only; the services accept on the sockets
    // they were given, which needs no socket() call. The control service may add its torrc's
    // directory (allowConfigDirectory) to read it again on SIGNAL RELOAD; never a key.
    p.tcpConnectPorts = std::vector<uint16_t>{};
    p.emptyNetworkNamespace = true;
    p.keepFileAccessWhenLeavingRoot = true;
  } else if (daemon == "dirport") {
    // `onionsplit dirport` (the DirPort, under the launcher or systemd): accepts on the sockets it
    // was given and reads DirPortFrontPage again on SIGHUP, so the page's directory (read-only)
    // and no other; as root it keeps the file access it had (the page's directory may be one
    // only root may enter), Landlock then limiting it to that directory.
    p.tcpConnectPorts = std::vector<uint16_t>{};
    p.emptyNetworkNamespace = true;
    p.keepFileAccessWhenLeavingRoot = true;
    std::string page = cfg.dirPortFrontPage;
    size_t slash = page.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      std::string dir = page.substr(0, slash);
      if ((cfg.dataDirectory + "/").rfind(dir + "/", 0) == 0)
        return fail("DirPortFrontPage's directory " + dir + " holds the DataDirectory");
      p.readPaths = {dir};
      addFileCalls(p);
    }
  } else {
    return fail("no sandbox policy for " + std::string(daemon));
  }
  return p;
}

}  // namespace onionsplit::sandbox

// common/daemon/runtime.cc: see runtime.h.
#include "common/daemon/runtime.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "common/config/relay_options.h"
#include "common/config/reload.h"
#include "common/config/text.h"
#include "common/daemon/log.h"
#include "common/ipc/peers.h"
#include "common/sandbox/landlock.h"
#include "common/sandbox/policy.h"
#include "common/sandbox/sandbox.h"

namespace onionsplit::daemon {

uint64_t openFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  return rl.rlim_cur;
}

Runtime::Runtime(std::string name, std::string configPath, config::Config cfg)
    : name_(std::move(name)), configPath_(std::move(configPath)), config_(std::move(cfg)) {
  control_.daemon = name_;
  control_.version = kVersion;
  control_.startedAtMs =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  // Control.reload (proto/control.capnp): SIGHUP's path, from the loop once the call answered.
  control_.reload = [this] {
    timeval now{0, 0};
    event_base_once(
        loop_.base(), -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void* self) {
          spdlog::info("reload asked over the control socket; reloading");
          static_cast<Runtime*>(self)->reload();
        },
        this, &now);
  };
}

std::unique_ptr<Runtime> Runtime::start(int argc, char** argv, const char* name, int& exitCode) {
  std::string path;
  std::string base = name;
  std::optional<unsigned> shard;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-f" || a == "--config") && i + 1 < argc) {
      path = argv[++i];
    } else if (a == "--shard" && i + 1 < argc && base == "circuitd") {
      auto k = config::text::number<unsigned>(argv[++i]);
      if (!k || *k >= config::kMaxCircuitdShards) {
        std::fprintf(stderr, "%s: --shard needs 0..%u, not %s\n", name,
                     config::kMaxCircuitdShards - 1, argv[i]);
        exitCode = 2;
        return nullptr;
      }
      shard = *k;
    } else if (a == "-h" || a == "--help") {
      std::printf("usage: %s -f FILE\n       %s --version\n", name, name);
      exitCode = 0;
      return nullptr;
    } else if (a == "--version") {
      std::printf("%s (onionsplit) %s\n", name, kVersion);
      exitCode = 0;
      return nullptr;
    } else {
      std::fprintf(stderr, "%s: unknown argument %s\nusage: %s -f FILE\n", name, a.c_str(), name);
      exitCode = 2;
      return nullptr;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: %s -f FILE\n", name);
    exitCode = 2;
    return nullptr;
  }
  // circuitd's shards (NumCPUs): shard k runs under its own name, which names its socket, its
  // socket-activation fd, its log lines and its counters.
  std::string own = shard ? config::circuitdShardName(*shard) : base;
  name = own.c_str();
  config::BuildResult built;
  std::vector<std::string> errors;
  if (!loadConfigFile(path, built, errors)) {
    for (const auto& e : errors)
      std::fprintf(stderr, "%s: %s\n", name, e.c_str());
    exitCode = 1;
    return nullptr;
  }
  LogOptions lo;
  lo.name = name;
  lo.journal = stderrIsJournal();
  lo.syslogIdentityTag = built.config.syslogIdentityTag;
  std::string error;
  if (!setupLogging(lo, built.config.logs, error)) {
    std::fprintf(stderr, "%s: %s\n", name, error.c_str());
    exitCode = 1;
    return nullptr;
  }
  signal(SIGPIPE, SIG_IGN);
  auto rt = std::unique_ptr<Runtime>(new Runtime(own, path, std::move(built.config)));
  rt->shard_ = shard.value_or(0);
  return rt;
}

std::string Runtime::socketPath(std::string_view daemon) const {
  return config_.ipcDirectory + "/" + std::string(daemon) + ".sock";
}

int Runtime::takeListenFd() {
  // systemd socket activation, or the launcher, which passes sockets the same way: the fd named
  // after us.
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  int found = -1;
  for (int i = 0; i < n; ++i) {
    if (names && names[i] && name_ == names[i] && found < 0) found = SD_LISTEN_FDS_START + i;
    if (names && names[i] && std::string_view(names[i]) == "launcher" && launcherFd_ < 0)
      launcherFd_ = SD_LISTEN_FDS_START + i;
    if (names) free(names[i]);
  }
  free(names);
  if (found >= 0) return found;
  // Alone: make it.
  std::error_code ec;
  std::filesystem::create_directories(config_.ipcDirectory, ec);
  std::string path = socketPath(name_);
  int fd = ipc::listenUnix(path);
  if (fd < 0) spdlog::error("cannot listen on {}: {}", path, std::strerror(errno));
  return fd;
}

namespace {
void onStopSignal(evutil_socket_t, short, void* arg) {
  spdlog::info("SIGTERM received; stopping");
  static_cast<ipc::EventLoop*>(arg)->stop();
}
void onReloadSignal(evutil_socket_t, short, void* arg) {
  spdlog::info("SIGHUP received; reloading");
  static_cast<Runtime*>(arg)->reload();
}
}  // namespace

void Runtime::onInterrupt(evutil_socket_t, short, void* self) {
  auto& rt = *static_cast<Runtime*>(self);
  uint64_t wait = rt.config_.shutdownWaitLengthSeconds;
  if (rt.shutdownTimer_ || wait == 0) {
    spdlog::info("Interrupt: exiting cleanly.");
    rt.loop_.stop();
    return;
  }
  if (rt.shutdownBegin_) rt.shutdownBegin_();
  spdlog::info(
      "Interrupt: we have stopped accepting new connections, and will shut down in {} seconds. "
      "Interrupt again to exit now.",
      wait);
  rt.shutdownTimer_ = evtimer_new(rt.loop_.base(), &Runtime::onShutdownTimer, &rt);
  timeval tv{static_cast<time_t>(wait), 0};
  evtimer_add(rt.shutdownTimer_, &tv);
}

void Runtime::onShutdownTimer(evutil_socket_t, short, void* self) {
  spdlog::info("Clean shutdown finished. Exiting.");
  static_cast<Runtime*>(self)->loop_.stop();
}

// A message on the launcher's channel: a Log file's path, with a descriptor the launcher opened
// for it after logrotate moved the file (SCM_RIGHTS), or the lowest severity the launcher's
// controllers want ("control-log LEVEL", no descriptor), or SIGNAL DEBUG's kLogsDebugMessage.
// EOF: the launcher is gone.
void Runtime::onLauncherMessage(evutil_socket_t fd, short, void* self) {
  auto& rt = *static_cast<Runtime*>(self);
  for (;;) {
    char path[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    iovec iov{path, sizeof path - 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      event_free(std::exchange(rt.launcherEvent_, nullptr));
      return;
    }
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c) {
      std::string_view text(path, static_cast<size_t>(n));
      if (auto level = parseControlLogMessage(text)) setControlLogLevel(*level);
      if (text == kLogsDebugMessage) {
        switchLogsToDebug(true);
        spdlog::trace("the launcher switched every log to debug until the next reload");
      }
      continue;
    }
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int file = -1;
    std::memcpy(&file, CMSG_DATA(c), sizeof file);
    std::string name(path, static_cast<size_t>(n));
    if (replaceLogFile(name, file)) spdlog::info("Log file {} opened again", name);
  }
}

void Runtime::reload() {
  switchLogsToDebug(false);  // SIGNAL DEBUG lasts until a reload, as in C tor
  // Without the launcher (systemd), the sandbox keeps files closed to writing: the files stay.
  if (launcherFd_ < 0)
    for (const auto& e : reopenLogFiles())
      spdlog::warn("reload: cannot open the Log file {} again; writing on where it was", e);
  config::Config previous = config_;
  config::BuildResult built;
  std::vector<std::string> errors;
  if (!canReread_) {
    spdlog::info("reload: the sandbox keeps {} out of reach; the running configuration stays",
                 configPath_);
  } else if (!loadConfigFile(configPath_, built, errors)) {
    for (const auto& e : errors)
      spdlog::warn("reload: {}", e);
    spdlog::warn("reload: the running configuration stays");
  } else if (auto fixed = config::fixedWhileRunning(config_, built.config); !fixed.empty()) {
    std::string names;
    for (const auto& n : fixed)
      names += (names.empty() ? "" : ", ") + n;
    spdlog::warn(
        "reload: {} cannot change while onionsplit runs (restart it for that); the "
        "running configuration stays",
        names);
  } else {
    config_ = std::move(built.config);
    spdlog::info("reload: configuration read again from {}", configPath_);
  }
  if (reload_) reload_(previous);
}

// STYLE.md steps 4 and 5: everything is open, no thread runs; the daemon's policy goes on and is
// checked. False (logged) means the daemon must not report ready.
bool Runtime::enterSandbox() {
  if (!config_.sandbox) {
    spdlog::warn("sandbox: off (Sandbox 0)");
    return true;
  }
  // A circuitd shard runs under circuitd's policy.
  auto policy = sandbox::policyFor(shard_ ? std::string("circuitd") : name_, config_);
  if (!policy) {
    spdlog::error("sandbox: {}", policy.error());
    return false;
  }
  // Reading the configuration again (reload) needs its directory open to us. Only under Landlock:
  // without it the rule could not be enforced, and any readable path would open to everything.
  std::string configDir = std::filesystem::absolute(configPath_).parent_path().string();
  // A daemon that leaves root by itself without keeping file access (streamd, when the launcher
  // runs as root without `User`) could not read root's directories anyway.
  if (sandbox::landlockAbi() <= 0) {
    canReread_ = false;
    spdlog::warn("sandbox: no Landlock, so {} cannot be read again after start-up", configPath_);
  } else if (geteuid() == 0 && !policy->keepFileAccessWhenLeavingRoot) {
    canReread_ = false;
    spdlog::info(
        "sandbox: {} leaves root without file access, so it cannot read {} again "
        "(set User to reload it in place)",
        name_, configPath_);
  } else if (!sandbox::allowConfigDirectory(*policy, configDir, config_)) {
    canReread_ = false;
    spdlog::warn(
        "sandbox: {} holds the keys, so the configuration cannot be read again; keep "
        "the torrc elsewhere",
        configDir);
  }
  sandbox::Options opts;
  opts.syscalls = sandbox::syscallAction(config_);
  sandbox::Entered entered;
  std::string error;
  if (!sandbox::enter(*policy, opts, entered, error)) {
    spdlog::error("sandbox: cannot enter: {}", error);
    return false;
  }
  if (!sandbox::selfCheck(*policy, entered, error)) {
    spdlog::error("sandbox: self-check failed: {}", error);
    return false;
  }
  spdlog::info("sandbox: entered ({})", sandbox::describe(entered));
  if (entered.landlock.abi == 0)
    spdlog::warn("sandbox: the kernel has no Landlock; files are not restricted beyond seccomp");
  return true;
}

int Runtime::run() {
  event* term = evsignal_new(loop_.base(), SIGTERM, onStopSignal, &loop_);
  event* intr = evsignal_new(loop_.base(), SIGINT, &Runtime::onInterrupt, this);
  event* hup = evsignal_new(loop_.base(), SIGHUP, onReloadSignal, this);
  event_add(term, nullptr);
  event_add(intr, nullptr);
  event_add(hup, nullptr);
  if (launcherFd_ >= 0) {
    launcherEvent_ = event_new(loop_.base(), launcherFd_, EV_READ | EV_PERSIST,
                               &Runtime::onLauncherMessage, this);
    event_add(launcherEvent_, nullptr);
  }
  if (!enterSandbox()) {
    event_free(term);
    event_free(intr);
    event_free(hup);
    return 1;
  }
  control_.started = true;
  sd_notify(0, "READY=1");
  spdlog::info("{} {} running (pid {})", name_, kVersion, getpid());
  int rc = loop_.run();
  sd_notify(0, "STOPPING=1");
  event_free(term);
  event_free(intr);
  event_free(hup);
  if (shutdownTimer_) event_free(std::exchange(shutdownTimer_, nullptr));
  if (launcherEvent_) event_free(std::exchange(launcherEvent_, nullptr));
  return rc == 0 ? 0 : 1;
}

}  // namespace onionsplit::daemon

// launcher/main.cc: `onionsplit`, the fifth and smallest program. Reads the torrc-syntax config,
// creates the IPC directory and each daemon's listening Unix socket, starts channeld, circuitd
// (once per shard, NumCPUs: launcher/daemons.h), streamd and confluxd as children
// (launcher/supervisor.h), and stops them all on SIGTERM (on SIGINT after ShutdownWaitLength, as
// C tor). With MetricsPort it also serves the daemons' counters to Prometheus
// (launcher/metrics_server.h). Under systemd the launcher is not running: each daemon is its own
// unit with socket activation, and `onionsplit metrics -f FILE`, `onionsplit control -f FILE` and
// `onionsplit dirport -f FILE` serve the MetricsPort, the ControlPort and the DirPort alone
// (launcher/metrics_service.h, launcher/control_service.h, launcher/dirport_service.h).
//
// Usage: onionsplit -f FILE | onionsplit --verify-config -f FILE | onionsplit --version | --help
// (the whole list: usage() below, and the manual page packaging/man/onionsplit.1)
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "common/config/reload.h"
#include "common/daemon/log.h"
#include "common/daemon/mem_share.h"
#include "common/daemon/runtime.h"
#include "common/flowctl/mem_budget.h"
#include "common/ipc/event_loop.h"
#include "common/ipc/peers.h"
#include "common/keys/family_keys.h"
#include "common/keys/relay_keys.h"
#include "common/sandbox/policy.h"
#include "launcher/control_server.h"
#include "launcher/control_service.h"
#include "launcher/daemons.h"
#include "launcher/data_directory.h"
#include "launcher/dirport_server.h"  // loadFrontPage
#include "launcher/dirport_service.h"
#include "launcher/heartbeat.h"
#include "launcher/metrics_policy.h"
#include "launcher/metrics_scrape.h"
#include "launcher/metrics_server.h"
#include "launcher/metrics_service.h"
#include "launcher/status.h"
#include "launcher/supervisor.h"

namespace onionsplit::launcher {
namespace {

// After ShutdownWaitLength the daemons end by themselves; SIGTERM only for one that has not
// within this time.
constexpr std::chrono::milliseconds kDrainExitGrace{5000};

// `out` is stdout for --help (exit 0, as C tor) and stderr for a usage error (exit 2).
void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: onionsplit -f FILE              run the relay (starts the daemons)\n"
               "       onionsplit --verify-config -f FILE  check a configuration and exit\n"
               "       onionsplit status -f FILE [--counters]  ask each running daemon how it is\n"
               "       onionsplit metrics -f FILE       serve MetricsPort only (under systemd)\n"
               "       onionsplit control -f FILE       serve ControlPort only (under systemd)\n"
               "       onionsplit dirport -f FILE       serve DirPort only (under systemd)\n"
               "       onionsplit keygen -f FILE        make missing keys and a new signing key\n"
               "       onionsplit keygen --only-due -f FILE  make missing keys, renew what is due\n"
               "       onionsplit --list-fingerprint -f FILE  print the relay's fingerprint\n"
               "       onionsplit memory-limits -f FILE  each daemon's systemd memory limits\n"
               "       onionsplit --version\n"
               "       onionsplit --help\n"
               "As tor, any of them also takes --defaults-torrc FILE (a torrc under -f's) and\n"
               "options as --Key value (over the files': --RunAsDaemon 0).\n");
}

std::string selfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  return std::filesystem::path(buf).parent_path().string();
}

// Where the daemon executables are: $ONIONSPLIT_LIBEXEC, else beside this program.
std::string daemonDir() {
  if (const char* d = std::getenv("ONIONSPLIT_LIBEXEC")) return d;
  return selfDir();
}

int makeDir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    std::fprintf(stderr, "onionsplit: cannot create %s: %s\n", path.c_str(), ec.message().c_str());
    return -1;
  }
  chmod(path.c_str(), 0700);
  return 0;
}

struct Loop {
  event_base* base = nullptr;
  Supervisor* sup = nullptr;
  bool stopping = false;
  bool draining = false;             // SIGINT: ShutdownWaitLength runs
  bool refused = false;              // a daemon refused to run: exit 1 as C tor does
  config::Config cfg;                // in force: replaced by a reload that passed every check
  std::string configPath;            // the operator's torrc (-f)
  daemon::ConfigSources sources;     // it, with --defaults-torrc and command-line options
  std::string snapshotPath;          // what the daemons read (see writeSnapshot)
  std::vector<std::string> daemons;  // launcher/daemons.h: circuitd's shards fixed at start
  MetricsServer* metrics = nullptr;
  ControlServer* control = nullptr;
  uint64_t startedAtMs = 0;
  ipc::EventLoop* ev = nullptr;
  kj::Promise<void> dump = nullptr;  // SIGUSR1's scrape of the daemons' counters
};

// DirPortFrontPage checked as C tor reads it, at start and at every reload, so that the Log says
// when it cannot be read (the DirPort's child reads it for itself and then answers "/" with 404).
void checkFrontPage(const config::Config& cfg) {
  std::string warning;
  if (!cfg.dirPorts.empty() && !cfg.dirPortFrontPage.empty() &&
      !loadFrontPage(cfg.dirPortFrontPage, warning))
    spdlog::warn("{}", warning);
}

// SIGTERM to the daemons at once, or (after a drain, whose wait each daemon keeps itself)
// `termAfter` later for those that did not end by themselves; SIGKILL 10 s after that.
void stopNow(Loop& l, std::chrono::milliseconds termAfter = std::chrono::milliseconds(0)) {
  if (std::exchange(l.stopping, true)) {
    if (termAfter.count() == 0) l.sup->hurry();
    return;
  }
  l.sup->stopAll(
      std::chrono::milliseconds(10000), [&l] { event_base_loopexit(l.base, nullptr); }, termAfter);
}

void onStopSignal(evutil_socket_t, short, void* arg) {
  spdlog::info("SIGTERM received; stopping the daemons");
  stopNow(*static_cast<Loop*>(arg));
}

void onShutdownWaitOver(evutil_socket_t, short, void* arg) {
  spdlog::info("Clean shutdown finished. Exiting.");
  stopNow(*static_cast<Loop*>(arg), kDrainExitGrace);
}

// SIGINT as C tor's relay takes it: the first stops taking connections and circuits (the ORPort
// sockets close here and in channeld, which refuses new CREATEs; every daemon hears SIGINT) and
// stops everything ShutdownWaitLength later; a second SIGINT, or a wait of 0, stops at once.
void onInterrupt(evutil_socket_t, short, void* arg) {
  auto& l = *static_cast<Loop*>(arg);
  uint64_t wait = l.cfg.shutdownWaitLengthSeconds;
  if (l.draining || wait == 0) {
    spdlog::info("Interrupt: exiting cleanly.");
    stopNow(l);
    return;
  }
  if (l.stopping) return;
  l.draining = true;
  spdlog::info(
      "Interrupt: we have stopped accepting new connections, and will shut down in {} seconds. "
      "Interrupt again to exit now.",
      wait);
  l.sup->drain();
  timeval tv{static_cast<time_t>(wait), 0};
  event_base_once(l.base, -1, EV_TIMEOUT, onShutdownWaitOver, &l, &tv);
}

keys::KeyPolicy keyPolicy(const config::Config& cfg) {
  keys::KeyPolicy p;
  p.offlineMasterKey = cfg.offlineMasterKey;
  p.signingKeyLifetimeSeconds = cfg.signingKeyLifetimeSeconds;
  return p;
}

uint64_t nowUnix() {
  return static_cast<uint64_t>(std::time(nullptr));
}

// Creates or renews the relay's keys (as C tor does at start); false after printing why not.
bool prepareKeys(const config::Config& cfg, bool forceNewSigningKey) {
  auto made = keys::ensureRelayKeys(cfg.dataDirectory, cfg.nickname, nowUnix(), keyPolicy(cfg),
                                    forceNewSigningKey);
  if (!made) {
    std::fprintf(stderr, "onionsplit: keys: %s\n", made.error().c_str());
    return false;
  }
  for (const auto& line : *made)
    std::fprintf(stderr, "onionsplit: keys: %s\n", line.c_str());
  return true;
}

// `onionsplit keygen`: a new signing key and certificate with SigningKeyLifetime, and every other
// missing key (the master key too, unless OfflineMasterKey). With --only-due (`onlyDue`), what the
// launcher does at every start: only what is missing or due; under systemd, onionsplit-keys.service
// runs this, as no launcher is running.
int keygen(const config::Config& cfg, bool onlyDue) {
  if (makeDir(cfg.dataDirectory) != 0 || !prepareKeys(cfg, !onlyDue)) return 1;
  std::printf("keys ready in %s/keys\n", cfg.dataDirectory.c_str());
  return 0;
}

// `onionsplit memory-limits`: each daemon's MemoryHigh= and MemoryMax= (bytes) for its systemd
// unit, from its share of MaxMemInQueues on this machine; onionsplit-keys passes each line to
// `systemctl set-property --runtime onionsplit-DAEMON.service`. circuitd's shards (NumCPUs) split
// circuitd's share evenly, one line each (circuitd, circuitd-1, ...).
int memoryLimits(const config::Config& cfg) {
  auto b = daemon::memoryBudgets(cfg, daemon::physicalMemory());
  auto names = daemonNames(cfg);
  const uint64_t shards = names.size() - 3;  // all but channeld, streamd and confluxd
  for (const auto& name : names) {
    std::string_view base = baseName(name);
    uint64_t share = base == "channeld"   ? b.channeld
                     : base == "circuitd" ? b.circuitd / shards
                     : base == "streamd"  ? b.streamd
                                          : b.confluxd;
    auto m = flowctl::unitMemory(share);
    std::printf("%s MemoryHigh=%llu MemoryMax=%llu\n", name.c_str(),
                static_cast<unsigned long long>(m.high), static_cast<unsigned long long>(m.max));
  }
  return 0;
}

// C tor's `--list-fingerprint` output: the nickname and the fingerprint in groups of four.
int listFingerprint(const config::Config& cfg) {
  if (makeDir(cfg.dataDirectory) != 0 || !prepareKeys(cfg, false)) return 1;
  auto line = keys::fingerprintLine(cfg.dataDirectory, cfg.nickname);
  if (!line) {
    std::fprintf(stderr, "onionsplit: %s\n", line.error().c_str());
    return 1;
  }
  std::string hex = line->substr(line->find(' ') + 1), out = cfg.nickname;
  for (size_t i = 0; i < hex.size(); i += 4)
    out += (i ? " " : " ") + hex.substr(i, 4);
  std::printf("%s\n", out.c_str());
  return 0;
}

// Keys on C tor's schedule while running: the onion keys rotate every 28 days (every circuitd shard
// and channeld reload them on SIGHUP; the descriptor is republished), a signing certificate about
// to expire is renewed when the master key is here (channeld restarts to use it: its link
// certificates change). `forward` sends the SIGHUP even when nothing rotated (an operator's SIGHUP
// to the launcher).
void checkKeys(Loop& l, bool forward) {
  auto made =
      keys::ensureRelayKeys(l.cfg.dataDirectory, l.cfg.nickname, nowUnix(), keyPolicy(l.cfg));
  if (!made) {
    spdlog::error("keys: {}", made.error());
    return;
  }
  bool onion = forward, signing = false;
  for (const auto& line : *made) {
    spdlog::info("keys: {}", line);
    onion |= line.find("onion") != std::string::npos;
    signing |= line.find("signing") != std::string::npos;
  }
  for (const auto& name : l.daemons) {
    pid_t pid = l.sup->pidOf(name);
    if (pid <= 0) continue;
    bool keyed = baseName(name) == "circuitd" || name == "channeld";
    if (signing && name == "channeld") {
      kill(pid, SIGTERM);  // restarted by the supervisor with the new certificate
    } else if (forward || (onion && keyed)) {
      kill(pid, SIGHUP);
    }
  }
}

// The daemons read the configuration from a snapshot the launcher writes after checking it
// (IPCDirectory/config/torrc: the checked entries, self-contained), never from the operator's file
// directly: a daemon that restarts alone then runs with its siblings' configuration even when the
// file was edited without a reload. Written to a temporary name and renamed into place.
bool writeSnapshot(const std::vector<config::TorrcEntry>& entries, const std::string& path) {
  std::string tmp = path + ".new";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::string text = config::renderTorrc(entries);
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;
  return ok && rename(tmp.c_str(), path.c_str()) == 0;
}

// Puts checked entries in force, for a reload and for SETCONF: what cannot change while running
// and MetricsPortPolicy are checked as at start-up; only entries that pass replace the
// configuration in force and the daemons' snapshot (the caller then sends every daemon SIGHUP).
// Returns "" or why not; `policyChanged` says whether the exit policy changed.
std::string putInForce(Loop& l, const std::vector<config::TorrcEntry>& entries,
                       config::BuildResult fresh, bool& policyChanged) {
  auto metricsPolicy = MetricsPolicy::parse(fresh.config.metricsPortPolicy);
  auto fixed = config::fixedWhileRunning(l.cfg, fresh.config);
  if (!metricsPolicy) return metricsPolicy.error();
  if (!fixed.empty()) return fixed.front() + " cannot change while onionsplit runs";
  if (!writeSnapshot(entries, l.snapshotPath))
    return "cannot write " + l.snapshotPath + ": " + std::strerror(errno);
  for (const auto& w : fresh.warnings)
    spdlog::warn("{}", w);
  policyChanged = config::exitPolicyChanged(l.cfg, fresh.config);
  l.cfg = std::move(fresh.config);
  if (l.metrics) l.metrics->setPolicy(std::move(*metricsPolicy));
  checkFrontPage(l.cfg);
  if (l.control) l.control->configApplied(entries);
  return "";
}

// A reload: the operator's torrc is read and checked as at start-up (options, exit policy,
// MetricsPortPolicy, what cannot change while running) and put in force (putInForce); every daemon
// then gets SIGHUP (which also makes them read rotated keys). Otherwise the log says why and
// everything runs on unchanged. True when the exit policy changed.
bool reloadConfig(Loop& l) {
  std::vector<config::TorrcEntry> entries;
  config::BuildResult fresh;
  std::vector<std::string> errors;
  if (!daemon::loadConfigSources(l.sources, fresh, errors, &entries)) {
    for (const auto& e : errors)
      spdlog::warn("reload: {}", e);
    spdlog::warn("reload: {} refused; the running configuration stays", l.configPath);
    return false;
  }
  bool policyChanged = false;
  std::string why = putInForce(l, entries, std::move(fresh), policyChanged);
  if (!why.empty()) {
    spdlog::warn("reload: {}: {}; the running configuration stays", l.configPath, why);
    return false;
  }
  spdlog::info("reload: {} checked; the daemons read it now", l.configPath);
  return policyChanged;
}

// logrotate moved the Log files away and sent SIGHUP: the launcher opens each again by its path
// and passes a descriptor for it to every daemon (their sandboxes open no file for writing).
void reopenLogs(Loop& l) {
  for (const auto& e : daemon::reopenLogFiles())
    spdlog::warn("cannot open the Log file {} again; writing on where it was", e);
  for (const auto& t : l.cfg.logs) {
    if (t.kind != config::LogTarget::Kind::kFile) continue;
    int fd = open(t.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) continue;  // said above
    l.sup->sendLogFile(t.path, fd);
    close(fd);
  }
}

// Every daemon reads the configuration again (SIGHUP, which also makes them read rotated keys).
void tellDaemons(Loop& l, bool policyChanged) {
  checkKeys(l, true);
  if (pid_t dirPort = l.sup->pidOf("dirport"); dirPort > 0) kill(dirPort, SIGHUP);  // the page
  // Still root (no User), the daemons leave root by themselves, and streamd does so without file
  // access: it cannot read the new policy, so it starts again with it.
  pid_t streamd = l.sup->pidOf("streamd");
  if (policyChanged && geteuid() == 0 && streamd > 0) {
    spdlog::info("reload: restarting streamd for the new exit policy (it runs without User)");
    kill(streamd, SIGTERM);
  }
}

void onReloadSignal(evutil_socket_t, short, void* arg) {
  auto& l = *static_cast<Loop*>(arg);
  daemon::switchLogsToDebug(false);  // SIGUSR2's debug lasts until a reload
  reopenLogs(l);
  spdlog::info("SIGHUP received; reading the configuration again and checking keys");
  tellDaemons(l, reloadConfig(l));
}

// SETCONF/RESETCONF: the entries in force with a controller's changes, checked as a torrc is and
// put in force as a reload does. The torrc is not written (a SIGHUP reads it again).
std::string setConfFromController(Loop& l, const std::vector<config::TorrcEntry>& entries) {
  config::BuildResult built;
  std::vector<std::string> errors;
  if (!daemon::buildCheckedConfig(entries, "SETCONF", built, errors)) {
    std::string why;
    for (const auto& e : errors)
      why += (why.empty() ? "" : "; ") + e;
    return "513 Unacceptable option value: " + why;
  }
  bool policyChanged = false;
  std::string why = putInForce(l, entries, std::move(built), policyChanged);
  if (!why.empty()) return "553 Unable to set option: " + why;
  spdlog::info("SETCONF from a controller: the daemons read the changed configuration now");
  tellDaemons(l, policyChanged);
  return "";
}

// What the ControlPort asks of the launcher: its configuration and snapshot, the keys'
// fingerprint, channeld's cached consensus, and SIGNAL RELOAD, SHUTDOWN and HALT (and an owning
// controller's close) on the paths of SIGHUP, SIGINT and SIGTERM.
void onHeartbeat(evutil_socket_t, short, void* arg);

ControlHooks launcherControlHooks(Loop& l, Supervisor& sup) {
  ControlHooks h;
  h.config = [&l]() -> const config::Config& { return l.cfg; };
  h.configFile = l.configPath;
  h.entries = [&l] { return entriesOfFile(l.snapshotPath); };
  h.fingerprint = [&l]() -> std::optional<std::string> {
    auto line = keys::fingerprintLine(l.cfg.dataDirectory, l.cfg.nickname);
    if (!line) return std::nullopt;
    return line->substr(line->find(' ') + 1);
  };
  h.consensus = [&l] { return readSmallFile(l.cfg.dataDirectory + "/cached-consensus", 64 << 20); };
  h.startedAtMs = l.startedAtMs;
  h.signal = [&l](const std::string& name) -> std::optional<std::string> {
    if (name != "HEARTBEAT") return launcherSignal(name);
    onHeartbeat(-1, 0, &l);  // C tor's heartbeat line, now
    return std::string();
  };
  h.ownerGone = [] { raise(SIGTERM); };
  h.setConf = [&l](const std::vector<config::TorrcEntry>& changed) {
    return setConfFromController(l, changed);
  };
  h.controlLogLevel = [&sup](const std::string& level) { sup.setControlLogLevel(level); };
  h.daemons = l.daemons;
  return h;
}

// __OwningControllerProcess as C tor watches it: every 15 s, is the process still there? When it
// is gone (or never was), the relay stops as on SIGTERM.
void onOwnerTimer(evutil_socket_t, short, void* arg) {
  auto& l = *static_cast<Loop*>(arg);
  pid_t owner = l.cfg.control.owningControllerProcess;
  if (owner <= 0 || l.stopping || kill(owner, 0) == 0 || errno != ESRCH) return;
  spdlog::info("Monitored process {} is dead.", owner);
  spdlog::info("Owning controller process has vanished -- exiting now.");
  stopNow(l);
}

void onKeyTimer(evutil_socket_t, short, void* arg) {
  checkKeys(*static_cast<Loop*>(arg), false);
}

uint64_t nowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// HeartbeatPeriod: a notice line with the uptime and each daemon's restarts.
void onHeartbeat(evutil_socket_t, short, void* arg) {
  auto* l = static_cast<Loop*>(arg);
  std::vector<std::pair<std::string, unsigned>> restarts;
  for (const auto& name : l->daemons)
    restarts.emplace_back(name, l->sup->restartsOf(name));
  uint64_t up = (nowUnixMs() - l->startedAtMs) / 1000;
  spdlog::info("{}", heartbeatLine(up, restarts));
}

// SIGUSR1 (SIGNAL DUMP), as C tor's dumpstats at info: what each daemon's counters say about its
// connections, circuits and streams, one line per daemon, with its pid and restarts.
void onDumpSignal(evutil_socket_t, short, void* arg) {
  auto& l = *static_cast<Loop*>(arg);
  spdlog::debug("Dumping stats:");  // debug: C tor's info
  l.dump =
      scrapeDaemons(*l.ev, l.cfg.ipcDirectory, l.daemons, std::chrono::milliseconds(1000))
          .then([&l](std::vector<DaemonMetrics> daemons) {
            for (const auto& d : daemons)
              spdlog::debug("{}", dumpLine(d, l.sup->pidOf(d.daemon), l.sup->restartsOf(d.daemon)));
          })
          .eagerlyEvaluate([](kj::Exception&& e) {
            spdlog::warn("Dumping stats: {}", e.getDescription().cStr());
          });
}

// SIGUSR2 (SIGNAL DEBUG), as C tor: every Log at debug, the launcher's and the daemons', until
// the next reload (SIGHUP puts the torrc's levels back).
void onDebugSignal(evutil_socket_t, short, void* arg) {
  auto& l = *static_cast<Loop*>(arg);
  daemon::switchLogsToDebug(true);
  l.sup->switchLogsToDebug();
  spdlog::trace("Caught USR2, going to loglevel debug. Send HUP to change back.");
}

// C tor's `User`: after the launcher made the directories, keys and the daemons' sockets as root,
// everything from here on runs as that user (the launcher too, so keys it rotates later belong to
// it). The directories are handed over first. Without root, User may only name ourselves.
bool dropToUser(const config::Config& cfg) {
  if (cfg.user.empty()) return true;
  const passwd* pw = getpwnam(cfg.user.c_str());
  if (!pw) {
    spdlog::error("User {}: no such user", cfg.user);
    return false;
  }
  if (geteuid() != 0) {
    if (pw->pw_uid == geteuid()) return true;
    spdlog::error("User {} needs onionsplit to start as root", cfg.user);
    return false;
  }
  std::error_code ec;
  for (const std::string& dir : {cfg.dataDirectory, cfg.ipcDirectory}) {
    if (chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) ec.assign(errno, std::generic_category());
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (lchown(it->path().c_str(), pw->pw_uid, pw->pw_gid) != 0)
        ec.assign(errno, std::generic_category());
  }
  if (ec) {
    spdlog::error("cannot hand the directories to {}: {}", cfg.user, ec.message());
    return false;
  }
  if (setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0 ||
      setuid(0) == 0) {
    spdlog::error("cannot become {}: {}", cfg.user, std::strerror(errno));
    return false;
  }
  return true;
}

// What C tor does as root before it becomes `User`, done here for the daemons, which start as that
// user: the ORPorts are bound (a port below 1024 needs root; the launcher keeps the sockets and
// passes them to every channeld it starts, as onionsplit-channeld.socket does under systemd), and
// each `Log ... file` is created and handed to the user (so a file in a root-owned directory such
// as /var/log/tor works). Returns false with a line already printed.
bool openBeforeDrop(const config::Config& cfg, std::vector<std::pair<std::string, int>>& orPorts) {
  for (const auto& p : cfg.orPorts) {
    if (p.noListen) continue;
    int fd = ipc::listenTcp(p.address, p.port);
    if (fd < 0) {
      std::fprintf(stderr, "onionsplit: ORPort %s:%u: cannot listen: %s\n",
                   p.address.empty() ? "0.0.0.0" : p.address.c_str(), static_cast<unsigned>(p.port),
                   std::strerror(errno));
      return false;
    }
    orPorts.emplace_back("orport", fd);
  }
  const passwd* pw = cfg.user.empty() ? nullptr : getpwnam(cfg.user.c_str());
  for (const auto& t : cfg.logs) {
    if (t.kind != config::LogTarget::Kind::kFile) continue;
    int fd = open(t.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0 || (pw && geteuid() == 0 && fchown(fd, pw->pw_uid, pw->pw_gid) != 0)) {
      std::fprintf(stderr, "onionsplit: Log file %s: %s\n", t.path.c_str(), std::strerror(errno));
      if (fd >= 0) close(fd);
      return false;
    }
    close(fd);
  }
  return true;
}

// RunAsDaemon, as C tor's start_daemon/finish_daemon: the launcher forks and the parent waits
// until the child says it started (then exits 0) or the child fails (then exits 1), so start-up
// errors still reach the terminal. Returns the child's end of that pipe (-1 without RunAsDaemon).
int startDaemon(const config::Config& cfg) {
  if (!cfg.runAsDaemon) return -1;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid > 0) {
    close(p[1]);
    char c = 0;
    ssize_t n = read(p[0], &c, 1);
    _exit(n == 1 ? 0 : 1);
  }
  close(p[0]);
  setsid();
  return p[1];
}

// The daemon started: standard input and output go to /dev/null and the parent may exit.
void finishDaemon(int fd) {
  if (fd < 0) return;
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  if (write(fd, "1", 1) != 1) spdlog::warn("RunAsDaemon: the parent is gone");
  close(fd);
}

// PidFile: written once the launcher is the process that stays, removed when it stops.
bool writePidFile(const config::Config& cfg) {
  if (cfg.pidFile.empty()) return true;
  std::ofstream out(cfg.pidFile, std::ios::trunc);
  out << getpid() << "\n";
  if (!out.flush()) {
    std::fprintf(stderr, "onionsplit: PidFile %s: %s\n", cfg.pidFile.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

// Each daemon of `names` as the supervisor starts it: its program (circuitd for every shard), the
// daemons' configuration snapshot, and its listening socket IPCDirectory/<name>.sock, passed as the
// fd of that name; a circuitd shard k >= 1 also gets `--shard k`, channeld the ORPorts. False after
// logging why not.
bool daemonSpecs(const config::Config& cfg, const std::vector<std::string>& names,
                 const std::string& snapshot,
                 const std::vector<std::pair<std::string, int>>& orPorts,
                 std::vector<DaemonSpec>& specs) {
  std::string dir = daemonDir();
  for (const auto& name : names) {
    DaemonSpec s;
    s.name = name;
    std::string_view base = baseName(name);
    s.path = dir + "/" + std::string(base);
    if (access(s.path.c_str(), X_OK) != 0) {
      spdlog::error("daemon {} not found at {}", base, s.path);
      return false;
    }
    s.args = {"-f", snapshot};
    if (base != name) s.args.insert(s.args.end(), {"--shard", name.substr(base.size() + 1)});
    std::string path = cfg.ipcDirectory + "/" + name + ".sock";
    s.listenFd = ipc::listenUnix(path);
    if (s.listenFd < 0) {
      spdlog::error("cannot listen on {}: {}", path, std::strerror(errno));
      return false;
    }
    if (s.name == "channeld") s.extraFds = orPorts;
    specs.push_back(std::move(s));
  }
  return true;
}

// The DirPort as a child the supervisor runs like a daemon: `onionsplit dirport` (this program,
// launcher/dirport_service.h) in its own sandbox, on sockets bound here before User takes root away
// (DirPort 80 is common) and kept across its restarts. The launcher itself parses no request.
bool dirPortSpec(const config::Config& cfg, const std::string& snapshot,
                 std::vector<DaemonSpec>& specs) {
  DaemonSpec s;
  s.name = "dirport";
  s.path = selfDir() + "/onionsplit";
  s.args = {"dirport", "-f", snapshot};
  s.emptyNetwork = true;  // as root: a network namespace with nothing in it (it only accepts)
  for (const auto& p : cfg.dirPorts) {
    if (p.noListen) continue;
    int fd = ipc::listenTcp(p.address, p.port);
    if (fd < 0) {
      spdlog::error("DirPort {}:{}: cannot listen: {}", p.address.empty() ? "0.0.0.0" : p.address,
                    p.port, std::strerror(errno));
      return false;
    }
    s.extraFds.emplace_back("dirport", fd);
  }
  if (!s.extraFds.empty()) specs.push_back(std::move(s));
  checkFrontPage(cfg);
  return true;
}

// `entries` are what `cfg` was built from (the daemons' snapshot is written from them).
int run(const daemon::ConfigSources& sources, const config::Config& cfg,
        const std::vector<config::TorrcEntry>& entries, MetricsPolicy metricsPolicy) {
  const std::string& configPath = sources.torrc;
  int daemonPipe = startDaemon(cfg);
  if (!writePidFile(cfg)) return 1;
  uint64_t startedAtMs = nowUnixMs();
  if (makeDir(cfg.dataDirectory) != 0 || makeDir(cfg.ipcDirectory) != 0) return 1;
  if (!prepareKeys(cfg, false)) return 1;
  std::vector<std::pair<std::string, int>> orPorts;
  if (!openBeforeDrop(cfg, orPorts)) return 1;
  // The launcher's own events go where the daemons' lines go (C tor has one log); the log files
  // are open before User takes root away.
  std::string logError;
  if (!daemon::setupLogging({"launcher", daemon::stderrIsJournal(), cfg.syslogIdentityTag},
                            cfg.logs, logError)) {
    std::fprintf(stderr, "onionsplit: %s\n", logError.c_str());
    return 1;
  }
  std::string snapshot = cfg.ipcDirectory + "/config/torrc";
  if (makeDir(cfg.ipcDirectory + "/config") != 0 || !writeSnapshot(entries, snapshot)) {
    spdlog::error("cannot write the daemons' configuration {}: {}", snapshot, std::strerror(errno));
    return 1;
  }
  const std::vector<std::string> names = daemonNames(cfg);
  std::vector<DaemonSpec> specs;
  if (!daemonSpecs(cfg, names, snapshot, orPorts, specs) || !dirPortSpec(cfg, snapshot, specs))
    return 1;
  // KJ on the launcher's libevent loop: the MetricsPort asks the daemons over Cap'n Proto.
  ipc::EventLoop ev;
  std::unique_ptr<MetricsServer> metrics;
  if (cfg.metricsPort) {  // bound before User takes root away, as C tor does
    std::string error;
    metrics = MetricsServer::listen(ev.base(), *cfg.metricsPort, std::move(metricsPolicy), error);
    if (!metrics) {
      spdlog::error("{}", error);
      return 1;
    }
  }
  std::string controlError;  // ControlPort and ControlSocket too, and the cookie for User
  bool controlled = cfg.control.enabled() || cfg.control.owningControllerFd >= 0;
  auto control = controlled ? ControlServer::listen(ev, cfg, controlError) : nullptr;
  if (controlled && !control) return spdlog::error("{}", controlError), 1;
  if (!dropToUser(cfg)) return 1;
  signal(SIGPIPE, SIG_IGN);
  Loop loop;
  loop.base = ev.base();
  Supervisor sup(
      loop.base, std::move(specs), RestartBackoff::Params{},
      [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); },
      [](const std::string& line, bool warning) {
        if (warning) {
          spdlog::warn("{}", line);
        } else {
          spdlog::info("{}", line);
        }
      });
  loop.sup = &sup;
  if (control)  // the daemons' lines for controllers (SETEVENTS NOTICE ...), apart from their logs
    sup.onControlLog([&control](const std::string& line) {
      if (control) control->logLine(control::relayedLogLine(line));
    });
  sup.onRefusal([&loop](const std::string&) {
    loop.refused = true;
    stopNow(loop);
  });
  loop.cfg = cfg;
  loop.daemons = names;
  loop.configPath = configPath;
  loop.sources = sources;
  loop.snapshotPath = snapshot;
  loop.metrics = metrics.get();
  loop.control = control.get();
  loop.startedAtMs = startedAtMs;
  loop.ev = &ev;
  event* term = evsignal_new(loop.base, SIGTERM, onStopSignal, &loop);
  event* intr = evsignal_new(loop.base, SIGINT, onInterrupt, &loop);
  event* hup = evsignal_new(loop.base, SIGHUP, onReloadSignal, &loop);
  event* usr1 = evsignal_new(loop.base, SIGUSR1, onDumpSignal, &loop);
  event* usr2 = evsignal_new(loop.base, SIGUSR2, onDebugSignal, &loop);
  event_add(usr1, nullptr);
  event_add(usr2, nullptr);
  event* keyTimer = event_new(loop.base, -1, EV_PERSIST, onKeyTimer, &loop);
  timeval hourly{3600, 0};
  event_add(term, nullptr);
  event_add(intr, nullptr);
  event_add(hup, nullptr);
  event_add(keyTimer, &hourly);
  event* owner = event_new(loop.base, -1, EV_PERSIST, onOwnerTimer, &loop);
  timeval ownerPoll{15, 0};
  event_add(owner, &ownerPoll);
  event* heartbeat = event_new(loop.base, -1, EV_PERSIST, onHeartbeat, &loop);
  timeval beat{static_cast<time_t>(cfg.heartbeatPeriodSeconds), 0};
  if (cfg.heartbeatPeriodSeconds) event_add(heartbeat, &beat);
  sup.startAll();
  finishDaemon(daemonPipe);
  if (metrics) {
    metrics->serve([&ev, &sup, &loop, startedAtMs] {
      return scrapePage(
          ev, loop.cfg.ipcDirectory, loop.daemons, std::chrono::milliseconds(1000),
          [&sup](const DaemonMetrics& d) { return sup.restartsOf(d.daemon); },
          LauncherFacts{daemon::kVersion, startedAtMs, 0});
    });
    spdlog::info("MetricsPort on {} port {}", cfg.metricsPort->address, metrics->port());
  }
  if (control) control->serve(launcherControlHooks(loop, sup));
  event_base_dispatch(loop.base);
  event_free(term);
  event_free(intr);
  event_free(hup);
  event_free(usr1);
  event_free(usr2);
  loop.dump = nullptr;
  event_free(keyTimer);
  event_free(owner);
  event_free(heartbeat);
  metrics = nullptr;  // before the loop it runs on
  loop.control = nullptr;
  control = nullptr;
  if (!cfg.pidFile.empty()) unlink(cfg.pidFile.c_str());
  spdlog::info("stopped");
  return loop.refused ? 1 : 0;
}

}  // namespace
}  // namespace onionsplit::launcher

int main(int argc, char** argv) {
  using namespace onionsplit;
  std::string configPath;
  daemon::ConfigSources sources;
  bool verify = false, status = false, keygen = false, listFp = false, counters = false,
       onlyDue = false, metrics = false, memLimits = false, control = false, dirPort = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-f" || a == "--config") && i + 1 < argc) {
      configPath = argv[++i];
    } else if (a == "--verify-config") {
      verify = true;
    } else if (a == "status" || a == "--status") {
      status = true;
    } else if (a == "metrics") {
      metrics = true;
    } else if (a == "control") {
      control = true;
    } else if (a == "dirport") {
      dirPort = true;
    } else if (a == "--counters") {
      counters = true;
    } else if (a == "keygen" || a == "--keygen") {
      keygen = true;
    } else if (a == "--only-due") {
      onlyDue = true;
    } else if (a == "--list-fingerprint") {
      listFp = true;
    } else if (a == "memory-limits") {
      memLimits = true;
    } else if (a == "--version") {
      std::printf("onionsplit %s\n", daemon::kVersion);
      return 0;
    } else if (a == "-h" || a == "--help") {
      launcher::usage(stdout);
      return 0;
    } else if (a == "--defaults-torrc" && i + 1 < argc) {
      sources.defaults = argv[++i];
    } else if (a.size() > 2 && a.starts_with("--") && i + 1 < argc) {
      // C tor's options on the command line (`--RunAsDaemon 0`, `--+Log ...`, `--/ContactInfo`),
      // over the torrc's (config::layerTorrc).
      sources.commandLine.push_back(config::TorrcEntry{a.substr(2), argv[++i], 0, "command line"});
    } else {
      std::fprintf(stderr, "onionsplit: unknown argument %s\n", a.c_str());
      launcher::usage(stderr);
      return 2;
    }
  }
  if (configPath.empty()) {
    launcher::usage(stderr);
    return 2;
  }
  config::BuildResult built;
  std::vector<std::string> errors;
  std::vector<config::TorrcEntry> entries;
  sources.torrc = configPath;
  bool loaded = daemon::loadConfigSources(sources, built, errors, &entries);
  for (const auto& w : built.warnings)
    std::fprintf(stderr, "onionsplit: warning: %s\n", w.c_str());
  auto metricsPolicy = launcher::MetricsPolicy::parse(built.config.metricsPortPolicy);
  if (loaded && !metricsPolicy) errors.push_back(configPath + ": " + metricsPolicy.error());
  // What start would refuse, verify refuses too; start also makes or fixes the directory. (keygen
  // is left alone: under systemd it runs as root on a DataDirectory the daemons' group may enter.)
  if (loaded && (verify || (!status && !metrics && !control && !dirPort && !keygen && !listFp &&
                            !memLimits))) {
    auto dd = launcher::checkDataDirectory(built.config, !verify);
    errors.insert(errors.end(), dd.errors.begin(), dd.errors.end());
    for (const auto& n : dd.notes)
      std::fprintf(stderr, "onionsplit: %s%s\n", verify ? "warning: " : "", n.c_str());
    if (auto e = launcher::raiseFileLimit(built.config.connLimit, !verify)) errors.push_back(*e);
    // FamilyId: the keys are there and match, as C tor checks at start (channeld reads them).
    // The DirPort's child would refuse its sandbox (the page's directory holds DataDirectory).
    if (!built.config.dirPorts.empty() && built.config.sandbox)
      if (auto dp = sandbox::policyFor("dirport", built.config); !dp)
        errors.push_back(configPath + ": DirPort: " + dp.error());
    auto family = keys::loadFamilyKeys(built.config);
    if (!family) errors.push_back(configPath + ": " + family.error());
    for (const auto& w : family ? family->warnings : std::vector<std::string>{})
      std::fprintf(stderr, "onionsplit: warning: %s\n", w.c_str());
  }
  if (!errors.empty()) {
    for (const auto& e : errors)
      std::fprintf(stderr, "onionsplit: %s\n", e.c_str());
    return 1;
  }
  if (verify) {
    std::printf("Configuration was valid\n");
    return 0;
  }
  if (keygen) return launcher::keygen(built.config, onlyDue);
  if (metrics) return launcher::runMetricsService(built.config, std::move(*metricsPolicy));
  if (control) return launcher::runControlService(configPath, built.config, std::move(entries));
  if (dirPort) return launcher::runDirPortService(built.config);
  if (listFp) return launcher::listFingerprint(built.config);
  if (memLimits) return launcher::memoryLimits(built.config);
  if (status) {
    auto all = launcher::queryStatus(built.config.ipcDirectory, std::chrono::milliseconds(2000),
                                     launcher::daemonNames(built.config));
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    std::fputs(launcher::formatStatus(all, static_cast<uint64_t>(now.count()), counters).c_str(),
               stdout);
    for (const auto& d : all)
      if (!d.reachable || d.health != "ready") return 1;
    return 0;
  }
  return launcher::run(sources, built.config, entries, std::move(*metricsPolicy));
}

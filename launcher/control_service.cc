// launcher/control_service.cc: see control_service.h.
#include "launcher/control_service.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "common/config/reload.h"
#include "common/daemon/config_file.h"
#include "common/ipc/event_loop.h"
#include "common/sandbox/sandbox.h"
#include "launcher/control_ipc.h"
#include "launcher/control_server.h"
#include "launcher/daemons.h"
#include "launcher/heartbeat.h"
#include "launcher/metrics_restarts.h"
#include "launcher/metrics_scrape.h"
#include "launcher/service_sandbox.h"

namespace onionsplit::launcher {
namespace {

constexpr std::chrono::milliseconds kAskTimeout{1000};
// How often the service asks the daemons who they are, to tell controllers of restarts.
constexpr int kWatchSeconds = 2;

uint64_t nowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// How listeners() shows a passed socket: "127.0.0.1:9051", "[::1]:9051", "unix:/path".
std::string socketName(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char text[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
    return "unix:" + std::string(un->sun_path, strnlen(un->sun_path, sizeof un->sun_path));
  }
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

// The sockets systemd passed as "control" (a .socket unit may list several ListenStream= lines);
// any other passed fd is closed.
void takePassedSockets(std::vector<int>& fds, std::vector<std::string>& names) {
  char** passed = nullptr;
  int n = sd_listen_fds_with_names(1, &passed);
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    if (passed && passed[i] && std::string_view(passed[i]) == "control") {
      fds.push_back(fd);
      names.push_back(socketName(fd));
    } else {
      std::fprintf(stderr, "onionsplit control: closing passed fd %d (%s), not \"control\"\n", fd,
                   passed && passed[i] ? passed[i] : "unnamed");
      close(fd);
    }
    if (passed) free(passed[i]);
  }
  free(passed);
}

// A passed socket the torrc does not name: served, but controllers that read the torrc (nyx
// finds the port there) will not find it.
void warnUnnamed(const config::Config& cfg, const std::vector<std::string>& passed) {
  std::vector<std::string> named;
  for (const auto& p : cfg.control.ports)
    named.push_back((p.address.find(':') != std::string::npos ? "[" + p.address + "]" : p.address) +
                    ":" + std::to_string(p.port));
  for (const auto& path : cfg.control.sockets)
    named.push_back("unix:" + path);
  for (const auto& n : passed)
    if (std::find(named.begin(), named.end(), n) == named.end())
      spdlog::warn("{} (from systemd) is no ControlPort or ControlSocket of the torrc", n);
}

// What runs on the loop besides the server: the configuration as this process last read it, the
// daemons it watches, and the questions in flight.
struct Service {
  ipc::EventLoop* loop = nullptr;
  ControlServer* server = nullptr;
  std::string configPath;
  config::Config cfg;
  std::vector<config::TorrcEntry> entries;
  std::vector<std::string> daemons;  // launcher/daemons.h, circuitd's shards as at start
  uint64_t startedAtMs = 0;
  bool canReread = false;  // the sandbox lets it read the torrc again
  RestartCounter restarts;
  std::map<std::string, bool> up;  // each daemon's last answer, once it has answered or not
  std::optional<std::string> fingerprint;
  kj::Promise<void> watch = nullptr, identity = nullptr, reloading = nullptr;
  bool watching = false;

  void observe(const std::vector<DaemonMetrics>& answers);
  std::optional<std::string> signal(const std::string& name);
  void reload();
  void rereadTorrc();
  ControlHooks hooks();
};

// New instances and silences, as log events naming the daemon (and in this process's log).
void Service::observe(const std::vector<DaemonMetrics>& answers) {
  for (const auto& d : answers) {
    auto [it, first] = up.try_emplace(d.daemon, d.up);
    bool was = std::exchange(it->second, d.up);
    if (!d.up) {
      if (was && !first)
        spdlog::warn("{} does not answer on its socket (down or restarting)", d.daemon);
      continue;
    }
    uint64_t before = restarts.restartsOf(d.daemon);
    restarts.observe(d.daemon, d.pid, d.startedAtMs);
    if (restarts.restartsOf(d.daemon) > before)
      spdlog::info("{} restarted: a new instance answers (pid {})", d.daemon, d.pid);
    else if (!was && !first)
      spdlog::info("{} answers again (pid {})", d.daemon, d.pid);
  }
}

void Service::rereadTorrc() {
  if (!canReread) {
    spdlog::info("reload: the sandbox keeps {} out of reach; this process's view of it stays",
                 configPath);
    return;
  }
  config::BuildResult built;
  std::vector<std::string> errors;
  std::vector<config::TorrcEntry> fresh;
  if (!daemon::loadConfigFile(configPath, built, errors, &fresh)) {
    for (const auto& e : errors)
      spdlog::warn("reload: {}", e);
    return;
  }
  if (auto fixed = config::fixedWhileRunning(cfg, built.config); !fixed.empty()) {
    spdlog::warn("reload: {} cannot change while onionsplit runs; the daemons keep theirs too",
                 fixed.front());
    return;
  }
  cfg = std::move(built.config);
  entries = std::move(fresh);
  server->configApplied(entries);
}

// SIGNAL RELOAD under systemd: this process reads the torrc again, and every daemon is asked to
// (Control.reload), as each would on `systemctl reload`.
void Service::reload() {
  rereadTorrc();
  reloading =
      askReload(*loop, cfg.ipcDirectory, daemons, kAskTimeout)
          .then([](std::vector<std::string> missed) {
            for (const auto& d : missed)
              spdlog::warn("reload: {} did not take it (not running or not answering)", d);
            if (missed.empty()) spdlog::info("reload: every daemon reads the torrc again");
          })
          .eagerlyEvaluate([](kj::Exception&& e) {
            spdlog::warn("reload: asking the daemons failed: {}", e.getDescription().cStr());
          });
}

std::optional<std::string> Service::signal(const std::string& name) {
  if (name == "RELOAD" || name == "HUP") {
    reload();
    return std::string();
  }
  if (name == "HEARTBEAT") {
    std::vector<std::pair<std::string, unsigned>> seen;
    for (const auto& d : daemons)
      seen.emplace_back(d, static_cast<unsigned>(restarts.restartsOf(d)));
    spdlog::info("{}", heartbeatLine((nowUnixMs() - startedAtMs) / 1000, seen));
    return std::string();
  }
  if (name == "SHUTDOWN" || name == "INT" || name == "HALT" || name == "TERM")
    return "551 SIGNAL " + name +
           " cannot stop the relay from onionsplit control under systemd: use systemctl stop "
           "onionsplit.target";
  if (name == "DUMP" || name == "USR1")
    return "551 SIGNAL " + name +
           " is not available under systemd: the daemons' counters are on the MetricsPort and in "
           "onionsplit status --counters";
  if (name == "DEBUG" || name == "USR2")
    return "551 SIGNAL " + name +
           " is not available under systemd: set Log debug in the torrc and send SIGNAL RELOAD";
  return std::nullopt;
}

ControlHooks Service::hooks() {
  ControlHooks h;
  h.config = [this]() -> const config::Config& { return cfg; };
  h.configFile = configPath;
  h.entries = [this] { return entries; };
  h.fingerprint = [this] { return fingerprint; };
  h.startedAtMs = startedAtMs;
  h.signal = [this](const std::string& name) { return signal(name); };
  h.takeOwnership =
      "551 TAKEOWNERSHIP: onionsplit control cannot stop the relay under systemd (systemctl stop "
      "onionsplit.target does)";
  h.setConf = [](const std::vector<config::TorrcEntry>&) {
    return std::string(
        "551 SETCONF is not available under systemd: edit the torrc and send SIGNAL RELOAD");
  };
  h.logName = "control";
  h.daemons = daemons;
  return h;
}

void onWatchTimer(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<Service*>(arg);
  if (!s->fingerprint)
    s->identity = askFingerprint(*s->loop, s->cfg.ipcDirectory, kAskTimeout)
                      .then([s](std::optional<std::string> fp) { s->fingerprint = fp; })
                      .eagerlyEvaluate([](kj::Exception&&) {});
  if (s->watching) return;  // the last round is still waiting for a slow daemon
  s->watching = true;
  s->watch = scrapeDaemons(*s->loop, s->cfg.ipcDirectory, s->daemons, kAskTimeout)
                 .then([s](std::vector<DaemonMetrics> answers) {
                   s->observe(answers);
                   s->watching = false;
                 })
                 .eagerlyEvaluate([s](kj::Exception&&) { s->watching = false; });
}

void onStopSignal(evutil_socket_t, short, void* arg) {
  event_base_loopexit(static_cast<event_base*>(arg), nullptr);
}

// The "control" policy (common/sandbox/policy.cc), with the torrc's directory readable when
// Landlock can hold that to it and the keys are not beneath it.
bool enterSandbox(Service& s) {
  if (!s.cfg.sandbox) {
    spdlog::warn("sandbox: off (Sandbox 0)");
    s.canReread = true;
    return true;
  }
  auto policy = sandbox::policyFor("control", s.cfg);
  if (!policy) return spdlog::error("sandbox: {}", policy.error()), false;
  std::string dir = std::filesystem::absolute(s.configPath).parent_path().string();
  s.canReread = sandbox::landlockAbi() > 0 && sandbox::allowConfigDirectory(*policy, dir, s.cfg);
  if (!s.canReread)
    spdlog::warn("sandbox: {} cannot be read again (no Landlock, or the keys are beneath {})",
                 s.configPath, dir);
  std::string described;
  if (std::string error = enterAndCheck(*policy, s.cfg, described); !error.empty()) {
    spdlog::error("sandbox: {}", error);
    return false;
  }
  spdlog::info("sandbox: entered ({})", described);
  return true;
}

}  // namespace

int runControlService(const std::string& configPath, const config::Config& cfg,
                      std::vector<config::TorrcEntry> entries) {
  Service s;
  s.startedAtMs = nowUnixMs();
  s.configPath = configPath;
  s.cfg = cfg;
  s.entries = std::move(entries);
  s.daemons = daemonNames(cfg);  // before the sandbox: it reads this process's affinity
  std::vector<int> fds;
  std::vector<std::string> names;
  takePassedSockets(fds, names);
  warnUnnamed(cfg, names);
  if (fds.empty() && !cfg.control.enabled()) {
    std::fprintf(stderr, "onionsplit control: no ControlPort or ControlSocket: nothing to serve\n");
    return 1;
  }
  ipc::EventLoop ev;
  s.loop = &ev;
  std::string error;
  auto server = fds.empty() ? ControlServer::listen(ev, cfg, error)
                            : ControlServer::adopt(ev, cfg, fds, names, error);
  if (!server) {
    std::fprintf(stderr, "onionsplit control: %s\n", error.c_str());
    return 1;
  }
  s.server = server.get();
  signal(SIGPIPE, SIG_IGN);
  event* term = evsignal_new(ev.base(), SIGTERM, onStopSignal, ev.base());
  event* intr = evsignal_new(ev.base(), SIGINT, onStopSignal, ev.base());
  event* watchTimer = event_new(ev.base(), -1, EV_PERSIST, onWatchTimer, &s);
  event_add(term, nullptr);
  event_add(intr, nullptr);
  int rc = 0;
  if (enterSandbox(s)) {
    server->serve(s.hooks());
    timeval every{kWatchSeconds, 0};
    event_add(watchTimer, &every);
    onWatchTimer(-1, 0, &s);  // the baseline: who runs now
    std::string all;
    for (const auto& n : server->listeners())
      all += (all.empty() ? "" : ", ") + n;
    spdlog::info("ControlPort on {} ({}), daemons in {}", all,
                 fds.empty() ? "bound here" : "sockets from systemd", cfg.ipcDirectory);
    sd_notify(0, "READY=1");
    event_base_dispatch(ev.base());
    sd_notify(0, "STOPPING=1");
    spdlog::info("stopped");
  } else {
    rc = 1;
  }
  event_free(term);
  event_free(intr);
  event_free(watchTimer);
  s.watch = nullptr;  // the promises before the loop they run on
  s.identity = nullptr;
  s.reloading = nullptr;
  server = nullptr;
  return rc;
}

}  // namespace onionsplit::launcher

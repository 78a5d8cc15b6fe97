// launcher/metrics_service.cc: see metrics_service.h.
#include "launcher/metrics_service.h"

#include <event2/event.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/daemon/runtime.h"
#include "common/ipc/event_loop.h"
#include "common/sandbox/sandbox.h"
#include "launcher/daemons.h"
#include "launcher/metrics_restarts.h"
#include "launcher/metrics_scrape.h"
#include "launcher/metrics_server.h"
#include "launcher/service_sandbox.h"

namespace onionsplit::launcher {
namespace {

constexpr std::chrono::milliseconds kScrapeTimeout{1000};

uint64_t nowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// The socket systemd passed as "metrics": its fd, -1 if none was passed. Any other passed fd is
// closed (this process serves one port and nothing else).
int takePassedSocket() {
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  int found = -1;
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    if (found < 0 && names && names[i] && std::string_view(names[i]) == "metrics") {
      found = fd;
    } else {
      std::fprintf(stderr, "onionsplit metrics: closing passed fd %d (%s), not \"metrics\"\n", fd,
                   names && names[i] ? names[i] : "unnamed");
      close(fd);
    }
    if (names) free(names[i]);
  }
  free(names);
  return found;
}

// What runs on the loop: the server, the restart counts and the poll between scrapes.
struct Service {
  ipc::EventLoop* loop = nullptr;
  const config::Config* cfg = nullptr;
  std::vector<std::string> daemons;  // launcher/daemons.h, circuitd's shards as at start
  uint64_t startedAtMs = 0;
  RestartCounter restarts;
  kj::Promise<void> poll = nullptr;
  bool polling = false;

  uint64_t observe(const DaemonMetrics& d) {
    if (d.up) restarts.observe(d.daemon, d.pid, d.startedAtMs);
    return restarts.restartsOf(d.daemon);
  }

  kj::Promise<std::string> page() {
    LauncherFacts facts{daemon::kVersion, startedAtMs, 0, Server::kMetricsService};
    return scrapePage(
        *loop, cfg->ipcDirectory, daemons, kScrapeTimeout,
        [this](const DaemonMetrics& d) { return observe(d); }, facts);
  }
};

void onPollTimer(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<Service*>(arg);
  if (s->polling) return;  // the last poll is still waiting for a slow daemon
  s->polling = true;
  s->poll = scrapeDaemons(*s->loop, s->cfg->ipcDirectory, s->daemons, kScrapeTimeout)
                .then([s](std::vector<DaemonMetrics> daemons) {
                  for (const auto& d : daemons)
                    s->observe(d);
                  s->polling = false;
                })
                .eagerlyEvaluate([s](kj::Exception&&) { s->polling = false; });
}

void onStopSignal(evutil_socket_t, short, void* arg) {
  event_base_loopexit(static_cast<event_base*>(arg), nullptr);
}

}  // namespace

int runMetricsService(const config::Config& cfg, MetricsPolicy policy) {
  Service service;
  service.startedAtMs = nowUnixMs();
  service.cfg = &cfg;
  service.daemons = daemonNames(cfg);  // before the sandbox: it reads this process's affinity
  int passed = takePassedSocket();
  if (!cfg.metricsPort) {
    std::fprintf(stderr,
                 "onionsplit metrics: no MetricsPort in the configuration: nothing to serve\n");
    if (passed >= 0) close(passed);
    return 1;
  }
  ipc::EventLoop ev;
  service.loop = &ev;
  std::string error;
  auto server =
      passed >= 0
          ? MetricsServer::adopt(ev.base(), passed, *cfg.metricsPort, std::move(policy), error)
          : MetricsServer::listen(ev.base(), *cfg.metricsPort, std::move(policy), error);
  if (!server) {
    std::fprintf(stderr, "onionsplit metrics: %s\n", error.c_str());
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  event* term = evsignal_new(ev.base(), SIGTERM, onStopSignal, ev.base());
  event* intr = evsignal_new(ev.base(), SIGINT, onStopSignal, ev.base());
  event* pollTimer = event_new(ev.base(), -1, EV_PERSIST, onPollTimer, &service);
  event_add(term, nullptr);
  event_add(intr, nullptr);
  int rc = 0;
  // From here on the process only accepts on the socket it has and connects to the daemons' Unix
  // sockets: the "metrics" policy (common/sandbox/policy.cc: no IP socket of its own, no file, no
  // TCP connect or bind; as root, it becomes onionsplit-metrics if that user exists, else nobody).
  if (enterServiceSandbox("metrics", cfg)) {
    timeval every{kPollSeconds, 0};
    event_add(pollTimer, &every);
    onPollTimer(-1, 0, &service);  // the baseline: who runs now
    server->serve([&service] { return service.page(); });
    std::fprintf(stderr, "onionsplit metrics: MetricsPort on %s port %u (%s), daemons in %s\n",
                 cfg.metricsPort->address.c_str(), static_cast<unsigned>(server->port()),
                 passed >= 0 ? "socket from systemd" : "bound here", cfg.ipcDirectory.c_str());
    sd_notify(0, "READY=1");
    event_base_dispatch(ev.base());
    sd_notify(0, "STOPPING=1");
    std::fprintf(stderr, "onionsplit metrics: stopped\n");
  } else {
    rc = 1;
  }
  event_free(term);
  event_free(intr);
  event_free(pollTimer);
  service.poll = nullptr;  // before the loop it runs on
  server = nullptr;
  return rc;
}

}  // namespace onionsplit::launcher

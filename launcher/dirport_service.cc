// launcher/dirport_service.cc: see dirport_service.h.
#include "launcher/dirport_service.h"

#include <event2/event.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/sandbox/sandbox.h"
#include "launcher/dirport_server.h"
#include "launcher/service_sandbox.h"

namespace onionsplit::launcher {
namespace {

// The sockets systemd (or the launcher) passed as "dirport"; any other passed fd is closed (the
// launcher's "launcher" channel quietly: this process reopens no Log file).
std::vector<int> takePassedSockets() {
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  std::vector<int> found;
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    std::string_view name = names && names[i] ? names[i] : "";
    if (name == "dirport") {
      found.push_back(fd);
    } else if (name == "launcher") {
      close(fd);
    } else {
      std::fprintf(stderr, "onionsplit dirport: closing passed fd %d (%s), not \"dirport\"\n", fd,
                   names && names[i] ? names[i] : "unnamed");
      close(fd);
    }
    if (names) free(names[i]);
  }
  free(names);
  return found;
}

struct Service {
  const config::Config* cfg = nullptr;
  DirPortServer* server = nullptr;
};

FrontPage readPage(const config::Config& cfg) {
  if (cfg.dirPortFrontPage.empty()) return nullptr;
  std::string warning;
  FrontPage page = loadFrontPage(cfg.dirPortFrontPage, warning);
  if (!page) std::fprintf(stderr, "onionsplit dirport: warning: %s\n", warning.c_str());
  return page;
}

void onReload(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<Service*>(arg);
  s->server->setPage(readPage(*s->cfg));
  std::fprintf(stderr, "onionsplit dirport: SIGHUP: DirPortFrontPage read again\n");
}

void onStopSignal(evutil_socket_t, short, void* arg) {
  event_base_loopexit(static_cast<event_base*>(arg), nullptr);
}

// The server on the passed sockets, else bound here; nullptr (and a line) if neither works.
std::unique_ptr<DirPortServer> openServer(event_base* base, const config::Config& cfg,
                                          bool& passed) {
  std::vector<int> fds = takePassedSockets();
  passed = !fds.empty();
  std::string error;
  auto server = cfg.dirPorts.empty() ? nullptr
                : passed             ? DirPortServer::adopt(base, fds, cfg.dirPorts, error)
                                     : DirPortServer::listen(base, cfg.dirPorts, error);
  if (cfg.dirPorts.empty()) {
    error = "no DirPort in the configuration: nothing to serve";
    for (int fd : fds)
      close(fd);
  }
  if (!server) std::fprintf(stderr, "onionsplit dirport: %s\n", error.c_str());
  return server;
}

}  // namespace

int runDirPortService(const config::Config& cfg) {
  event_base* base = event_base_new();
  bool passed = false;
  auto server = openServer(base, cfg, passed);
  if (!server) {
    event_base_free(base);
    return 1;
  }
  Service service{&cfg, server.get()};
  signal(SIGPIPE, SIG_IGN);
  event* term = evsignal_new(base, SIGTERM, onStopSignal, base);
  event* intr = evsignal_new(base, SIGINT, onStopSignal, base);
  event* hup = evsignal_new(base, SIGHUP, onReload, &service);
  event_add(term, nullptr);
  event_add(intr, nullptr);
  event_add(hup, nullptr);
  server->serve(readPage(cfg));
  int rc = 0;
  if (enterServiceSandbox("dirport", cfg)) {
    for (uint16_t port : server->ports())
      std::fprintf(stderr, "onionsplit dirport: DirPort on port %u (%s)\n",
                   static_cast<unsigned>(port), passed ? "socket from systemd" : "bound here");
    sd_notify(0, "READY=1");
    event_base_dispatch(base);
    sd_notify(0, "STOPPING=1");
    std::fprintf(stderr, "onionsplit dirport: stopped\n");
  } else {
    rc = 1;
  }
  event_free(term);
  event_free(intr);
  event_free(hup);
  server = nullptr;
  event_base_free(base);
  return rc;
}

}  // namespace onionsplit::launcher

// launcher/supervisor.h: the launcher's process supervisor. Starts each daemon as a child process
// with its listening socket as fd 3, relays its output line by line prefixed with its name,
// restarts it with exponential backoff when it exits without touching the others, and stops them
// all on request (SIGTERM, then SIGKILL after a grace period).
//
// Runs on the launcher's libevent loop; the launcher does no Tor protocol work at all.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base/backoff.h"

namespace onionsplit::launcher {

struct DaemonSpec {
  std::string name;               // process name and log prefix: channeld, circuitd, ...
  std::string path;               // executable
  std::vector<std::string> args;  // argv[1..]
  int listenFd = -1;              // passed as fd 3 with ONIONSPLIT_LISTEN_FDS=<name>=3
  // When the launcher is root, the child starts in a network namespace of its own with nothing in
  // it (DESIGN.md §5). Set by the supervisor for the daemons that never use IP (circuitd,
  // confluxd: common/sandbox/policy.h); their Unix sockets on the filesystem still work.
  bool emptyNetwork = false;
};

class Supervisor {
 public:
  // `base` must outlive the supervisor. `out` receives each relayed line (already prefixed).
  Supervisor(event_base* base, std::vector<DaemonSpec> daemons, RestartBackoff::Params backoff,
             std::function<void(const std::string&)> out);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void startAll();
  // Sends SIGTERM to every child, SIGKILL to those still alive after `grace`, then calls `done`.
  void stopAll(std::chrono::milliseconds grace, std::function<void()> done);

  pid_t pidOf(const std::string& name) const;
  unsigned restartsOf(const std::string& name) const;

 private:
  struct Child;
  static void onSigchld(evutil_socket_t, short, void* self);
  static void onOutput(evutil_socket_t fd, short, void* child);
  static void onRestartTimer(evutil_socket_t, short, void* child);
  static void onStopTimer(evutil_socket_t, short, void* self);
  void start(Child& c);
  void reap();
  void finishStopIfDone();

  event_base* base_;
  std::vector<std::unique_ptr<Child>> children_;
  std::function<void(const std::string&)> out_;
  event* sigchld_ = nullptr;
  event* stopTimer_ = nullptr;
  bool stopping_ = false;
  std::function<void()> stopped_;
};

}  // namespace onionsplit::launcher

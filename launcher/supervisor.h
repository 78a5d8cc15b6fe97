// launcher/supervisor.h: the launcher's process supervisor. Starts each daemon as a child process
// with its sockets passed as systemd passes them (fds from 3, LISTEN_FDS, LISTEN_PID,
// LISTEN_FDNAMES; besides them a "launcher" socket for new Log file descriptors), so a daemon reads
// them the same way under both; relays its output line by line
// prefixed with its name, restarts it with exponential backoff when it exits without touching the
// others, and stops them all on request (SIGTERM, then SIGKILL after a grace period).
//
// Runs on the launcher's libevent loop; the launcher does no Tor protocol work at all.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/base/backoff.h"

namespace onionsplit::launcher {

struct DaemonSpec {
  std::string name;               // process name and log prefix: channeld, circuitd-1, ...
  std::string path;               // executable
  std::vector<std::string> args;  // argv[1..]
  int listenFd = -1;              // its IPC socket: fd 3, named after the daemon
  // Further sockets the launcher opened for it while still root, passed as fds 4, 5, ... with
  // these names (channeld's ORPorts: "orport", as onionsplit-channeld.socket names them). The
  // launcher keeps them open, so a restarted daemon gets the same bound sockets.
  std::vector<std::pair<std::string, int>> extraFds;
  // When the launcher is root, the child starts in a network namespace of its own with nothing in
  // it (DESIGN.md §5). Set by the supervisor for the daemons that never use IP (circuitd and its
  // shards, confluxd: common/sandbox/policy.h); their Unix sockets on the filesystem still work.
  bool emptyNetwork = false;
};

class Supervisor {
 public:
  // Where the supervisor's own events go: a line and whether it is a warning (a daemon died, was
  // killed, could not be started) rather than a notice.
  using Events = std::function<void(const std::string&, bool warning)>;
  // `base` must outlive the supervisor. `out` receives each relayed line of a daemon's output
  // (already prefixed with its name); `events` the supervisor's own lines (without it, they go to
  // `out` prefixed "launcher: ").
  Supervisor(event_base* base, std::vector<DaemonSpec> daemons, RestartBackoff::Params backoff,
             std::function<void(const std::string&)> out, Events events = nullptr);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void startAll();
  // Sends SIGTERM to every child, SIGKILL to those still alive after `grace`, then calls `done`.
  // With `termAfter`, SIGTERM waits that long first: after drain() each daemon ends by itself
  // when its own ShutdownWaitLength is over, and one that is writing out its last state (or a
  // sanitizer's report) is not to be cut short by a timer that ran out at the same moment.
  void stopAll(std::chrono::milliseconds grace, std::function<void()> done,
               std::chrono::milliseconds termAfter = std::chrono::milliseconds(0));

  // A stopAll() whose SIGTERM still waits (termAfter) sends it now; otherwise nothing.
  void hurry();

  // Passes a descriptor for the Log file `path` to every running daemon over its "launcher"
  // socket (a SOCK_SEQPACKET socket passed with the others; common/daemon/runtime.h), which then
  // writes there: after logrotate moved the file away, a sandboxed daemon cannot open it again
  // itself. `fd` stays ours.
  void sendLogFile(const std::string& path, int fd);

  // The relay begins to shut down (SIGINT with ShutdownWaitLength): no daemon is restarted from
  // now on, the sockets passed besides the IPC one (the ORPorts) are closed here, and each daemon
  // gets SIGINT (it stops taking connections and circuits and exits after its wait). stopAll()
  // ends what is left.
  void drain();

  // The daemons' log lines for the control port (common/daemon/log.h setControlLogLevel): each
  // goes to `f` ("name: [severity] name: message"), never to `out`. `message` ("control-log
  // notice", "control-log off", ...) is sent to every daemon now and to each one started later.
  void onControlLog(std::function<void(const std::string&)> f) { controlLog_ = std::move(f); }
  void setControlLogLevel(const std::string& message);
  // SIGNAL DEBUG: every running daemon switches its logs to debug until its next SIGHUP
  // (common/daemon/log.h kLogsDebugMessage); a daemon started later logs as its torrc says.
  void switchLogsToDebug();

  // Called (instead of a restart) when a daemon exits with daemon::kExitRefuseToRun.
  void onRefusal(std::function<void(const std::string& daemon)> f) { refusal_ = std::move(f); }

  pid_t pidOf(const std::string& name) const;
  unsigned restartsOf(const std::string& name) const;

 private:
  struct Child;
  static void onSigchld(evutil_socket_t, short, void* self);
  static void onOutput(evutil_socket_t fd, short, void* child);
  static void onRestartTimer(evutil_socket_t, short, void* child);
  static void onStopTimer(evutil_socket_t, short, void* self);
  static void onTermTimer(evutil_socket_t, short, void* self);
  void terminateAll();
  void start(Child& c);
  void reap();
  void finishStopIfDone();
  void note(const std::string& line, bool warning);
  void sendText(Child& c, const std::string& text);
  void relay(Child& c, const std::string& line);

  event_base* base_;
  std::vector<std::unique_ptr<Child>> children_;
  std::function<void(const std::string&)> out_;
  Events events_;
  std::function<void(const std::string&)> refusal_;
  std::function<void(const std::string&)> controlLog_;
  std::string controlLogMessage_;
  event* sigchld_ = nullptr;
  event* stopTimer_ = nullptr;
  event* termTimer_ = nullptr;
  std::chrono::milliseconds killGrace_{0};
  bool stopping_ = false;
  std::function<void()> stopped_;
};

}  // namespace onionsplit::launcher

// launcher/control_server.h: the ControlPort (and ControlSocket) on the launcher's libevent loop,
// speaking control-spec through common/control's pure session. Bound before the launcher gives up
// root, like the MetricsPort; the cookie file (32 random bytes, 0600 or 0640 with
// CookieAuthFileGroupReadable) is written then and handed to User.
//
// What it answers comes from the launcher (configuration, keys' fingerprint, uptime, its own
// process) and from the daemons' counters over proto/control.capnp (launcher/metrics_scrape.h),
// asked once a second while a controller is connected: traffic/read and traffic/written and the BW
// event. What the launcher and the control service each do their own way sits behind
// ControlHooks: under the launcher SIGNAL RELOAD/HUP and SHUTDOWN/HALT take its SIGHUP, SIGINT
// and SIGTERM paths.
//
// GETINFO orconn-status, desc/id/* and desc/name/* are answered from channeld (Control.channels
// and Control.descriptor, launcher/control_ipc.h), asked when such a GETINFO comes: that
// connection's commands wait for the answer (bounded in time), the others go on.
//
// Hostile controllers: at most kMaxConnections at once (more are closed at accept), a line may
// take 16 KiB (common/control/protocol.h), and a controller that lets kMaxPendingOutput bytes of
// replies and events pile up unread, on top of the largest one it was sent since it last read all
// (ns/all and NEWCONSENSUS are as large as the consensus), is disconnected.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <kj/async.h>

#include "common/config/config.h"
#include "common/config/torrc.h"
#include "common/control/auth.h"
#include "common/control/events.h"
#include "common/control/protocol.h"
#include "common/ipc/event_loop.h"

struct evconnlistener;
struct bufferevent;

namespace onionsplit::launcher {

struct DaemonMetrics;

// What differs between the launcher and `onionsplit control` (launcher/control_service.h), the
// process that serves the ControlPort under systemd where no launcher runs: everything else
// (the protocol, the connections, traffic, standing and BW from the daemons' counters) is shared.
struct ControlHooks {
  std::function<const config::Config&()> config;  // the configuration in force
  std::string configFile;                         // the operator's torrc (-f)
  // The checked entries in force (GETCONF, config-text, CONF_CHANGED): the launcher's snapshot
  // for its daemons, or the torrc as the control service last read it.
  std::function<std::vector<config::TorrcEntry>()> entries;
  // The relay's fingerprint (40 upper-case hex), nullopt while unknown: the launcher reads its
  // keys, the control service asks channeld (Control.identity).
  std::function<std::optional<std::string>()> fingerprint;
  // channeld's cached consensus (a public document), nullopt when it cannot be read here.
  std::function<std::optional<std::string>()> consensus;
  uint64_t startedAtMs = 0;
  // SIGNAL, as control::Backend::signal: "" done, a reply line when refused here, nullopt for a
  // signal this relay does not act on. The launcher's: launcherSignal below.
  std::function<std::optional<std::string>(const std::string&)> signal;
  // TAKEOWNERSHIP: "" when the owning controller's close can stop the relay (then `ownerGone`
  // does it), else the reply line that refuses it.
  std::string takeOwnership;
  std::function<void()> ownerGone;
  // SETCONF/RESETCONF: these entries (the ones in force with the controller's changes) checked and
  // put in force as a reload does. "" when they are, else the reply line ("513 ...").
  std::function<std::string(const std::vector<config::TorrcEntry>&)> setConf;
  // The lowest log severity a controller wants changed: "control-log debug" ... "control-log
  // off", for the daemons (launcher/supervisor.h setControlLogLevel). May be unset.
  std::function<void(const std::string&)> controlLogLevel;
  // What the controllers' log events call this process ("launcher: ..." lines).
  std::string logName = "launcher";
  // The daemons whose counters are read (launcher/daemons.h: each circuitd shard; their counters
  // add up).
  std::vector<std::string> daemons;
};

// The launcher's SIGNAL: RELOAD/HUP, SHUTDOWN/INT, HALT/TERM, DUMP/USR1 and DEBUG/USR2 raise
// SIGHUP, SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 in the launcher itself, so they take the
// operator's signals' paths (HEARTBEAT, which has no signal, is the launcher's hook).
std::optional<std::string> launcherSignal(const std::string& name);

// A torrc-syntax file's entries (the launcher's snapshot), none if it cannot be read.
std::vector<config::TorrcEntry> entriesOfFile(const std::string& path);
// A file's text, nullopt if it cannot be read or is over `cap` bytes.
std::optional<std::string> readSmallFile(const std::string& path, size_t cap);

class ControlServer {
 public:
  // Binds every ControlPort and ControlSocket of `cfg` and writes the cookie file (handed to
  // `user` when running as root). nullptr with `error` set if any cannot be had.
  // With __OwningControllerFD, that inherited socket is taken too (served from serve() on, as an
  // authenticated connection that owns the relay); it must be a socket.
  static std::unique_ptr<ControlServer> listen(ipc::EventLoop& loop, const config::Config& cfg,
                                               std::string& error);
  // The same on listening sockets made elsewhere (systemd's, passed in), taken over (closed with
  // the server); `names` as listeners() shows them. The cookie file is written as listen() does.
  static std::unique_ptr<ControlServer> adopt(ipc::EventLoop& loop, const config::Config& cfg,
                                              const std::vector<int>& fds,
                                              const std::vector<std::string>& names,
                                              std::string& error);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void serve(ControlHooks hooks);

  // A log line for the controllers that asked for its severity (DEBUG ... ERR): queued (at most
  // kMaxQueuedLogLines, newer ones dropped) and sent from the loop, never from inside the caller.
  // The launcher's own lines reach it through a log sink added by serve(); main passes the daemons'
  // relayed lines.
  void logLine(control::LogLine line);
  // A reload or SETCONF put `entries` in force: CONF_CHANGED lists the options that changed.
  void configApplied(const std::vector<config::TorrcEntry>& entries);
  std::vector<std::string> listeners() const { return names_; }  // "127.0.0.1:9051", "unix:..."

  static constexpr size_t kMaxConnections = 16;
  static constexpr size_t kMaxPendingOutput = 1 << 20;
  // Past this many bytes of unread output a controller misses log events (it is not dropped for
  // them; a reply or another event still disconnects it at kMaxPendingOutput).
  static constexpr size_t kMaxPendingForLogs = 256 << 10;
  static constexpr size_t kMaxQueuedLogLines = 1024;

  struct Conn;
  struct Impl;

 private:
  explicit ControlServer(ipc::EventLoop& loop);
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self);
  static void onTick(evutil_socket_t, short, void* self);
  static void onLogLines(evutil_socket_t, short, void* self);
  static void onRead(bufferevent* bev, void* conn);
  // Runs the connection's commands until its input is used up, it closes, or a GETINFO waits for
  // channeld's answer (then askRelayView resumes it).
  void process(Conn* c);
  // False: stop reading this connection. `answered`: channeld's answer is in (Impl::view).
  bool runCommand(Conn* c, const control::Command& cmd, bool answered = false);
  void askRelayView();
  static void onViewReady(evutil_socket_t, short, void* self);
  void onRelayView();
  void send(Conn* c, const std::string& bytes);
  bool overCap(Conn* c) const;
  void consensusCounter(uint64_t accepted);  // NEWCONSENSUS and STATUS_GENERAL
  static void onWrite(bufferevent* bev, void* conn);
  static void onEvent(bufferevent* bev, short what, void* conn);
  // `droppable`: skipped for a controller past kMaxPendingForLogs instead of disconnecting it.
  void emit(const std::string& event, const std::string& line, bool droppable = false);
  bool anyoneWants(const std::string& event) const;
  void updateLogLevel();  // tells the daemons when the lowest severity wanted changed
  bool bindAll(const config::Config& cfg, std::string& error);
  bool serveFd(int fd, const std::string& name);
  bool takeOwnerFd(int fd, std::string& error);
  Conn* addConnection(int fd);  // nullptr (fd closed) when it cannot be served
  bool setUpAuth(const config::Config& cfg, std::string& error);
  void drop(Conn* c);
  void refreshTraffic();
  void standingFrom(const DaemonMetrics& channeld);

  std::unique_ptr<Impl> impl_;
  ipc::EventLoop& loop_;
  std::vector<evconnlistener*> listeners_;
  std::vector<std::string> names_;
  int ownerFd_ = -1;  // __OwningControllerFD until serve() takes it
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  event* tick_ = nullptr;
  event* logFlush_ = nullptr;
  event* viewReady_ = nullptr;
  std::vector<control::LogLine> logQueue_;
  std::vector<config::TorrcEntry> inForce_;  // for CONF_CHANGED
  std::string logLevelMessage_ = "control-log off";
  kj::Promise<void> scrape_ = nullptr;     // the traffic counters being asked for
  kj::Promise<void> viewAsked_ = nullptr;  // channeld's channels and descriptor being asked for
};

}  // namespace onionsplit::launcher

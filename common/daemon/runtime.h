// common/daemon/runtime.h: what every daemon's main() shares, in STYLE.md's start-up order:
// parse the config, take the listening socket (systemd, the launcher, or our own), build the loop
// and the control interface, then run until SIGTERM/SIGINT, telling systemd when ready.
//
// A daemon runs under systemd or the launcher (both pass its listening socket by socket activation:
// the fd named after the daemon, LISTEN_FDNAMES), or alone (it creates IPCDirectory/<name>.sock
// itself).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/version.h"
#include "common/config/config.h"
#include "common/daemon/config_file.h"
#include "common/ipc/control.h"
#include "common/ipc/event_loop.h"

namespace onionsplit::daemon {

inline constexpr const char* kVersion = kOnionsplitVersion;
// A daemon's exit status when it must not run at all (the consensus requires a protocol it lacks,
// as C tor exits then): the launcher stops the relay instead of restarting it, and the systemd
// units do not restart it (RestartPreventExitStatus). EX_CONFIG of sysexits.h.
inline constexpr int kExitRefuseToRun = 78;

// The process's open file limit (RLIMIT_NOFILE, the soft one): the most sockets the daemon can
// hold, which C tor's tor_relay_load_socket_total reports without a label. 0 if unknown.
uint64_t openFileLimit();

class Runtime {
 public:
  // Parses `-f FILE` and `--version`, loads the config and sets up logging. On failure (or after
  // --version) returns nullptr with `exitCode` set.
  static std::unique_ptr<Runtime> start(int argc, char** argv, const char* name, int& exitCode);

  const config::Config& config() const { return config_; }
  const std::string& name() const { return name_; }
  // circuitd's shard (`--shard K`, NumCPUs), 0 for the other daemons.
  unsigned shard() const { return shard_; }
  ipc::EventLoop& loop() { return loop_; }
  ipc::ControlInfo& control() { return control_; }

  // IPCDirectory/<daemon>.sock
  std::string socketPath(std::string_view daemon) const;
  // This daemon's listening IPC socket: from systemd, the launcher, or created. -1 on failure
  // (logged).
  int takeListenFd();

  // Enters the daemon's sandbox (common/sandbox, unless `Sandbox 0`) and checks it, marks start-up
  // finished, notifies systemd, and runs the loop until SIGTERM or SIGINT. Everything the daemon
  // opens for good must be open by now; no thread may be running.
  int run();
  // SIGHUP (C tor's "reload"; the launcher sends it after rotating keys and after it checked a
  // changed torrc): the config file is read again and replaces config() unless it is unreadable,
  // invalid or changes an option that cannot change while running (config/reload.h), which is
  // logged and leaves config() as it was. Then `f` runs with the configuration that was in force
  // before, so the daemon can apply what changed (and reload its keys). Set before run().
  using Reload = std::function<void(const config::Config& previous)>;
  void onReload(Reload f) { reload_ = std::move(f); }
  // SIGINT, as C tor's relay takes it: `f` runs (the daemon stops taking new connections and
  // circuits), and the loop stops ShutdownWaitLength later; a second SIGINT, or a wait of 0, stops
  // it at once (SIGTERM always does). Set before run().
  void onShutdownBegin(std::function<void()> f) { shutdownBegin_ = std::move(f); }
  // The reload itself (also for tests): re-reads the file named by -f.
  void reload();
  // False when this daemon's sandbox cannot let it read the config file again (no Landlock; it
  // leaves root without file access; the file sits beside the keys): a reload then changes
  // nothing here (the launcher restarts streamd when its exit policy changed).
  bool canReread() const { return canReread_; }

 private:
  Runtime(std::string name, std::string configPath, config::Config cfg);
  bool enterSandbox();
  static void onInterrupt(evutil_socket_t, short, void* self);
  static void onShutdownTimer(evutil_socket_t, short, void* self);
  static void onLauncherMessage(evutil_socket_t fd, short, void* self);

  std::string name_;
  unsigned shard_ = 0;
  std::string configPath_;
  config::Config config_;
  ipc::EventLoop loop_;
  ipc::ControlInfo control_;
  Reload reload_;
  std::function<void()> shutdownBegin_;
  event* shutdownTimer_ = nullptr;  // set while ShutdownWaitLength runs
  // The launcher's channel (a socket passed as "launcher"): new Log file descriptors after a
  // SIGHUP (see launcher/supervisor.h). -1 under systemd or alone.
  int launcherFd_ = -1;
  event* launcherEvent_ = nullptr;
  bool canReread_ = true;
};

}  // namespace onionsplit::daemon

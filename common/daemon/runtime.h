// common/daemon/runtime.h: what every daemon's main() shares, in STYLE.md's start-up order:
// parse the config, take the listening socket (systemd, the launcher, or our own), build the loop
// and the control interface, then run until SIGTERM/SIGINT, telling systemd when ready.
//
// A daemon runs under the launcher (which passes its listening socket as ONIONSPLIT_LISTEN_FDS
// "name=fd"), under systemd (socket activation; the fd named after the daemon), or alone (it
// creates IPCDirectory/<name>.sock itself).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/version.h"
#include "common/config/config.h"
#include "common/daemon/config_file.h"
#include "common/ipc/control.h"
#include "common/ipc/event_loop.h"

namespace onionsplit::daemon {

inline constexpr const char* kVersion = kOnionsplitVersion;

class Runtime {
 public:
  // Parses `-f FILE` and `--version`, loads the config and sets up logging. On failure (or after
  // --version) returns nullptr with `exitCode` set.
  static std::unique_ptr<Runtime> start(int argc, char** argv, const char* name, int& exitCode);

  const config::Config& config() const { return config_; }
  const std::string& name() const { return name_; }
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
  // Runs `f` on SIGHUP (C tor's "reload"): the launcher sends it after rotating keys. Set before
  // run().
  void onReload(std::function<void()> f) { reload_ = std::move(f); }

 private:
  Runtime(std::string name, config::Config cfg);
  bool enterSandbox();

  std::string name_;
  config::Config config_;
  ipc::EventLoop loop_;
  ipc::ControlInfo control_;
  std::function<void()> reload_;
};

}  // namespace onionsplit::daemon

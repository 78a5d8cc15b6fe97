// launcher/control_service.h: `onionsplit control -f FILE`, the ControlPort without the launcher.
//
// Where it sits: under systemd each daemon is its own unit and the launcher does not run, so
// nothing would serve ControlPort or ControlSocket. This mode supervises nothing and holds no key:
// it takes the listening sockets systemd passes in (onionsplit-control.socket,
// FileDescriptorName=control) or binds the torrc's ControlPort and ControlSocket itself, writes
// the cookie (CookieAuthentication, CookieAuthFile, CookieAuthFileGroupReadable), and serves
// control-spec with the launcher's code (launcher/control_server.h). What it shows comes from the
// daemons over their Unix sockets in IPCDirectory (proto/control.capnp): counters (traffic, BW,
// the relay's standing), the fingerprint (channeld's Control.identity), new daemon instances (a
// restart: a NOTICE log event naming the daemon; a daemon that stops answering: a WARN).
//
// What it does for the relay, and what it cannot (docs/OPERATING.md, "Control port"):
//   SIGNAL RELOAD/HUP   reads the torrc again (when its sandbox may: Landlock, the torrc away from
//                       the keys) and asks every daemon to reload (Control.reload), as
//                       `systemctl reload` would; a daemon that did not take it is logged.
//   SIGNAL HEARTBEAT    logs the heartbeat line (uptime, restarts seen).
//   SHUTDOWN/HALT, DUMP, DEBUG, TAKEOWNERSHIP, SETCONF/RESETCONF: a 551 that says why and what
//                       to do instead (systemctl, the torrc): a keyless sandboxed process cannot
//                       stop units, nor change the daemons' logging or their configuration.
//   Log events: its own lines only (the daemons log to the journal, not to it).
//   GETINFO ns/*, address (without Address), status/version/*: as before a consensus arrives
//                       (it cannot read DataDirectory).
//
// Start-up order (STYLE.md): config (by main), the listening sockets and the cookie, the loop,
// then the sandbox (the "control" policy: Unix sockets only, no file but the torrc's directory),
// READY=1, the loop.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/config/torrc.h"

namespace onionsplit::launcher {

// Runs until SIGTERM or SIGINT; the process's exit status (1: no ControlPort or ControlSocket, a
// socket or the cookie that cannot be had, the sandbox refused).
int runControlService(const std::string& configPath, const config::Config& cfg,
                      std::vector<config::TorrcEntry> entries);

}  // namespace onionsplit::launcher

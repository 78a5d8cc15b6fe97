// launcher/dirport_service.h: `onionsplit dirport -f FILE`, the DirPort without the launcher.
//
// Where it sits: under systemd each daemon is its own unit and the launcher does not run, so
// nothing would serve the DirPort (the exit notice of DirPortFrontPage). This mode supervises
// nothing and talks to no daemon: it takes the listening sockets systemd passes in
// (onionsplit-dirport.socket, FileDescriptorName=dirport) or binds the DirPort lines itself when
// run by hand, reads the page, and answers as the launcher does (launcher/dirport_server.h).
// SIGHUP reads the page again (from the same path: the torrc is not read again).
//
// Start-up order (STYLE.md): config (by main), the listening sockets, the page, the loop, then the
// sandbox ("dirport": no network of its own, no file but the page's directory, read-only),
// READY=1, the loop.
#pragma once

#include "common/config/config.h"

namespace onionsplit::launcher {

// Runs until SIGTERM or SIGINT; the process's exit status (1: no DirPort, a bad passed socket, a
// port that cannot be had, the sandbox refused).
int runDirPortService(const config::Config& cfg);

}  // namespace onionsplit::launcher

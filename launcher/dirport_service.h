// launcher/dirport_service.h: `onionsplit dirport -f FILE`, the DirPort without the launcher.
//
// Where it sits: the DirPort is the one Internet-facing listener outside channeld and streamd, so
// its requests are parsed in a process of its own, keyless and sandboxed: the launcher starts it
// as a supervised child on the DirPort sockets it bound before leaving root (launcher/main.cc,
// dirPortSpec), and under systemd onionsplit-dirport.service runs it on onionsplit-dirport.socket
// (FileDescriptorName=dirport). It supervises nothing and talks to no daemon: it takes the
// listening sockets passed as "dirport" or binds the DirPort lines itself when run by hand, reads
// the page, and answers as C tor's DirPort (launcher/dirport_server.h). SIGHUP (the launcher's
// reload, or systemctl reload) reads the page again, from the same path: the torrc is not read
// again, so a new DirPortFrontPage path applies when the process starts again.
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

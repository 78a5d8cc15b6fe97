// launcher/metrics_service.h: `onionsplit metrics -f FILE`, the MetricsPort without the launcher.
//
// Where it sits: under systemd each daemon is its own unit and the launcher does not run, so
// nothing would serve MetricsPort. This mode supervises nothing: it reads MetricsPort and
// MetricsPortPolicy from the torrc, takes the listening socket systemd passes in
// (onionsplit-metrics.socket, FileDescriptorName=metrics) or binds MetricsPort itself when run by
// hand, and answers each GET /metrics as the launcher does (launcher/metrics_scrape.h,
// launcher/metrics_format.h): every daemon asked afresh over its Unix socket in IPCDirectory, a
// daemon that does not answer reported down. Restarts are the new daemon instances it sees
// (launcher/metrics_restarts.h), at every scrape and every kPollSeconds in between.
//
// Start-up order (STYLE.md): config (by main), the listening socket, the loop, then the sandbox
// (the sandbox policy of a process that only talks over Unix sockets it connects to and accepts on
// a socket it already has), READY=1, the loop.
#pragma once

#include "common/config/config.h"
#include "launcher/metrics_policy.h"

namespace onionsplit::launcher {

// How often the service asks the daemons who they are between scrapes, so that a restart between
// two scrapes is seen (several within one period still count once).
inline constexpr int kPollSeconds = 5;

// Runs until SIGTERM or SIGINT; the process's exit status (1: no MetricsPort, a bad passed socket,
// the sandbox refused).
int runMetricsService(const config::Config& cfg, MetricsPolicy policy);

}  // namespace onionsplit::launcher

// launcher/metrics_scrape.h: one scrape of the MetricsPort: a fresh counters and version query to
// every daemon's Control interface (proto/control.capnp) over its socket in IPCDirectory, all at
// once and asynchronously on the launcher's loop, bounded in time.
//
// Where it sits: launcher/metrics_server.h starts one per GET /metrics and formats the result
// with launcher/metrics_format.h. Nothing here blocks the launcher: supervision and signals go on
// while a daemon is slow to answer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <kj/async.h>
#include <kj/vector.h>

#include "common/ipc/event_loop.h"
#include "launcher/metrics_format.h"

namespace onionsplit::launcher {

// A non-blocking connection to a daemon's Unix socket (IPCDirectory/<name>.sock), -1 if refused.
int connectDaemon(const std::string& path);

// At most this many counters are kept from one daemon's answer.
inline constexpr size_t kMaxCountersPerDaemon = 1024;

// Asks each of `daemons` (launcher/daemons.h: every circuitd shard on its own) over
// IPCDirectory/<name>.sock. Resolves after every daemon answered, or after `timeout` with what had
// arrived: a daemon that could not be reached or did not answer both queries in time has `up`
// false and no counters.
// `restarts` is left 0 (the supervisor knows it, not the daemons). Dropping the promise closes
// the connections. `loop` must outlive the promise.
kj::Promise<std::vector<DaemonMetrics>> scrapeDaemons(ipc::EventLoop& loop,
                                                      const std::string& ipcDirectory,
                                                      const std::vector<std::string>& daemons,
                                                      std::chrono::milliseconds timeout);

// Each daemon's restarts, asked once its answer (or its silence) is in: the launcher's supervisor
// count, or under systemd the metrics service's RestartCounter fed with the answer itself.
using RestartsOf = std::function<uint64_t(const DaemonMetrics&)>;

// One MetricsPort page: scrapeDaemons, each daemon's restarts from `restartsOf`, and `facts` with
// nowMs set to the time of the answers.
kj::Promise<std::string> scrapePage(ipc::EventLoop& loop, const std::string& ipcDirectory,
                                    const std::vector<std::string>& daemons,
                                    std::chrono::milliseconds timeout, RestartsOf restartsOf,
                                    LauncherFacts facts);

}  // namespace onionsplit::launcher

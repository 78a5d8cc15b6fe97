// confluxd/net/oom_handler.h: confluxd's OOM handler (common/daemon/reactor_oom.h). Every set's
// reorder queue (its ConfluxController's) and its two message queues are charged to the Reactor's
// MemCounter (reactor.h) against confluxd's share of MaxMemInQueues; over it, Reactor::handleOom
// tears down the sets with the largest reorder queues (common/flowctl/oom_choice.h), their legs
// closed with RESOURCELIMIT, until confluxd holds at most 90% of its budget. The bytes freed are
// counted for the MetricsPort (tor_relay_load_oom_bytes_total{subsys="cell"}).
#pragma once

#include "common/daemon/reactor_oom.h"
#include "confluxd/net/reactor.h"

namespace onionsplit::confluxd {

class OomHandler : public daemon::ReactorOom<Reactor> {
 public:
  OomHandler(event_base* base, Reactor& reactor)
      : ReactorOom(base, reactor, "confluxd",
                   "conflux sets with the largest reorder queues (legs closed with RESOURCELIMIT)",
                   [&reactor] { return reactor.counters().oomSetsClosed; }) {}
};

}  // namespace onionsplit::confluxd

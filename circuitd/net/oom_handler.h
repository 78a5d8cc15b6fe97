// circuitd/net/oom_handler.h: circuitd's OOM handler (common/daemon/reactor_oom.h). Every
// circuit's cell queues are charged to the Reactor's MemCounter (reactor.h) against circuitd's
// share of MaxMemInQueues; over it, Reactor::handleOom closes the circuits whose oldest queued cell
// is oldest (common/flowctl/oom_choice.h), with DESTROY RESOURCELIMIT, until circuitd holds at most
// 90% of its budget. The bytes freed are counted for the MetricsPort
// (tor_relay_load_oom_bytes_total{subsys="cell"}).
#pragma once

#include "circuitd/net/reactor.h"
#include "common/daemon/reactor_oom.h"

namespace onionsplit::circuitd {

class OomHandler : public daemon::ReactorOom<Reactor> {
 public:
  OomHandler(event_base* base, Reactor& reactor)
      : ReactorOom(base, reactor, "circuitd",
                   "circuits with the oldest queued cells (DESTROY RESOURCELIMIT)",
                   [&reactor] { return reactor.counters().oomCircuitsClosed; }) {}
};

}  // namespace onionsplit::circuitd

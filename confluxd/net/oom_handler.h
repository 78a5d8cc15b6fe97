// confluxd/net/oom_handler.h: confluxd's OOM handler. Every set's reorder queue (its
// ConfluxController's) and its two message queues are charged to the Reactor's MemCounter
// (reactor.h) against confluxd's share of MaxMemInQueues (common/flowctl/mem_budget.h). An event
// that leaves confluxd over the budget only schedules this handler; it runs from the event loop,
// outside every enqueue and IPC callback, and has the Reactor tear down the sets with the largest
// reorder queues, their legs closed with RESOURCELIMIT, until confluxd holds at most 90% of its
// budget (Reactor::handleOom). The bytes freed are counted for the MetricsPort
// (tor_relay_load_oom_bytes_total{subsys="cell"}).
#pragma once

#include <event2/event.h>

#include "common/daemon/log.h"

namespace onionsplit::confluxd {

class Reactor;

class OomHandler {
 public:
  // Becomes the reactor's over-budget callback (and stops being it when destroyed).
  OomHandler(event_base* base, Reactor& reactor);
  ~OomHandler();
  OomHandler(const OomHandler&) = delete;
  OomHandler& operator=(const OomHandler&) = delete;

  // Runs the handler at the next turn of the loop (once, however often it is asked).
  void schedule();

 private:
  static void onEvent(evutil_socket_t, short, void* arg);
  void run();

  Reactor& reactor_;
  event* ev_ = nullptr;
  daemon::RateLimiter logLimit_{5, std::chrono::minutes(1)};  // a client can make it run often
};

}  // namespace onionsplit::confluxd

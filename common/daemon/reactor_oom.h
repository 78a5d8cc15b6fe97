// common/daemon/reactor_oom.h: the OOM handler shell of a daemon whose queues are charged to its
// reactor's MemCounter (circuitd's and confluxd's Reactor) against its share of MaxMemInQueues
// (common/flowctl/mem_budget.h). Going over the budget only schedules it (the reactor's
// over-budget callback); it runs from the event loop, outside every enqueue and IPC callback (C tor
// moved its reclamation out of the cell-queue code in 0.4.9.12 for the same reason), and calls the
// reactor's handleOom(), which closes what its pure choice names until the daemon holds at most 90%
// of its budget. What was freed is logged (rate-limited: a client can make it run often).
//
// R provides setOverBudget(std::function<void()>), memory() (a flowctl::MemCounter) and
// handleOom() (bytes freed); `closed` reads the reactor's count of objects it closed for memory.
#pragma once

#include <event2/event.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "common/daemon/log.h"

namespace onionsplit::daemon {

template <class R>
class ReactorOom {
 public:
  // `what` names what is closed, for the log line ("circuits with the oldest queued cells
  // (DESTROY RESOURCELIMIT)"). Becomes the reactor's over-budget callback until destroyed.
  ReactorOom(event_base* base, R& reactor, std::string daemon, std::string what,
             std::function<uint64_t()> closed)
      : reactor_(reactor),
        daemon_(std::move(daemon)),
        what_(std::move(what)),
        closed_(std::move(closed)) {
    ev_ = event_new(base, -1, 0, &ReactorOom::onEvent, this);
    reactor_.setOverBudget([this] { schedule(); });
  }
  ~ReactorOom() {
    reactor_.setOverBudget(nullptr);
    if (ev_) event_free(ev_);
  }
  ReactorOom(const ReactorOom&) = delete;
  ReactorOom& operator=(const ReactorOom&) = delete;

  // Runs the handler at the next turn of the loop (once, however often it is asked).
  void schedule() {
    if (ev_ && !event_pending(ev_, EV_TIMEOUT, nullptr)) event_active(ev_, EV_TIMEOUT, 1);
  }

 private:
  static void onEvent(evutil_socket_t, short, void* arg) { static_cast<ReactorOom*>(arg)->run(); }

  void run() {
    const auto& mem = reactor_.memory();
    uint64_t before = mem.bytes(), closedBefore = closed_();
    uint64_t freed = reactor_.handleOom();
    if (freed == 0) return;
    uint64_t suppressed = 0;
    if (logLimit_.allow("oom", RateLimiter::Clock::now(), suppressed))
      spdlog::warn(
          "{}: over its memory budget ({} bytes queued, budget {}): closed {} {}, freeing {} bytes "
          "(MaxMemInQueues){}",
          daemon_, before, mem.budget(), closed_() - closedBefore, what_, freed,
          suppressed ? " (" + std::to_string(suppressed) + " more runs not logged)"
                     : std::string());
  }

  R& reactor_;
  std::string daemon_, what_;
  std::function<uint64_t()> closed_;
  event* ev_ = nullptr;
  RateLimiter logLimit_{5, std::chrono::minutes(1)};
};

}  // namespace onionsplit::daemon

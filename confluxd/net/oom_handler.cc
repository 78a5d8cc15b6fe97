// confluxd/net/oom_handler.cc: see oom_handler.h.
#include "confluxd/net/oom_handler.h"

#include <spdlog/spdlog.h>

#include <string>

#include "confluxd/net/reactor.h"

namespace onionsplit::confluxd {

OomHandler::OomHandler(event_base* base, Reactor& reactor) : reactor_(reactor) {
  ev_ = event_new(base, -1, 0, &OomHandler::onEvent, this);
  reactor_.setOverBudget([this] { schedule(); });
}

OomHandler::~OomHandler() {
  reactor_.setOverBudget(nullptr);
  if (ev_) event_free(ev_);
}

void OomHandler::schedule() {
  if (ev_ && !event_pending(ev_, EV_TIMEOUT, nullptr)) event_active(ev_, EV_TIMEOUT, 1);
}

void OomHandler::onEvent(evutil_socket_t, short, void* arg) {
  static_cast<OomHandler*>(arg)->run();
}

void OomHandler::run() {
  const flowctl::MemCounter& mem = reactor_.memory();
  uint64_t before = mem.bytes(), closed = reactor_.counters().oomSetsClosed;
  uint64_t freed = reactor_.handleOom();
  if (freed == 0) return;
  uint64_t suppressed = 0;
  if (logLimit_.allow("oom", daemon::RateLimiter::Clock::now(), suppressed))
    spdlog::warn(
        "confluxd: over its memory budget ({} bytes queued, budget {}): closed {} conflux sets "
        "with the largest reorder queues (legs closed with RESOURCELIMIT), freeing {} bytes "
        "(MaxMemInQueues){}",
        before, mem.budget(), reactor_.counters().oomSetsClosed - closed, freed,
        suppressed ? " (" + std::to_string(suppressed) + " more runs not logged)" : std::string());
}

}  // namespace onionsplit::confluxd

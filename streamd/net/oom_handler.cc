// streamd/net/oom_handler.cc: see oom_handler.h.
#include "streamd/net/oom_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "streamd/net/stream_session.h"

namespace onionsplit::streamd {

OomHandler::OomHandler(StreamdContext& ctx) : ctx_(ctx) {
  ev_ = event_new(ctx_.base, -1, 0, &OomHandler::onEvent, this);
  ctx_.oom = this;
}

OomHandler::~OomHandler() {
  if (ctx_.oom == this) ctx_.oom = nullptr;
  if (ev_) event_free(ev_);
}

void OomHandler::schedule() {
  if (ev_ && !event_pending(ev_, EV_TIMEOUT, nullptr)) event_active(ev_, EV_TIMEOUT, 1);
}

void OomHandler::onEvent(evutil_socket_t, short, void* arg) {
  static_cast<OomHandler*>(arg)->run();
}

void OomHandler::run() {
  flowctl::MemCounter& mem = ctx_.memory;
  if (!mem.over()) return;  // drained since it was scheduled
  ++runs_;
  uint64_t before = mem.bytes();
  candidates_.clear();
  targets_.clear();
  for (StreamSession* s : ctx_.sessions)
    s->collectOom(candidates_, targets_);
  if (ctx_.linger) ctx_.linger->collectOom(candidates_, targets_);
  size_t n = flowctl::chooseOomVictims(candidates_, mem.bytes(), mem.lowWater());
  uint64_t freed = 0;
  size_t closed = 0;
  for (size_t i = 0; i < n; ++i) {
    const OomTarget& t = targets_[candidates_[i].ref];
    // A session dropped meanwhile (its peer's connection ended) took its streams with it.
    if (t.session &&
        std::find(ctx_.sessions.begin(), ctx_.sessions.end(), t.session) == ctx_.sessions.end())
      continue;
    uint64_t b = t.session ? t.session->endForMemory(t) : ctx_.linger->close(t.lingering);
    freed += b;
    closed += b != 0;
  }
  bytesFreed_ += freed;
  streamsClosed_ += closed;
  uint64_t suppressed = 0;
  if (logLimit_.allow("oom", daemon::RateLimiter::Clock::now(), suppressed))
    spdlog::warn(
        "streamd: over its memory budget ({} bytes held, budget {}): closed {} streams or "
        "lingering sockets holding the most, freeing {} bytes (MaxMemInQueues){}",
        before, mem.budget(), closed, freed,
        suppressed ? " (" + std::to_string(suppressed) + " more runs not logged)" : std::string());
}

}  // namespace onionsplit::streamd

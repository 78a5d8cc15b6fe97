// streamd/net/linger.cc: see linger.h.
#include "streamd/net/linger.h"

#include <event2/buffer.h>

namespace onionsplit::streamd {

SocketLinger::~SocketLinger() {
  for (Entry& e : socks_) {
    event_free(e.timer);
    bufferevent_free(e.bev);
  }
}

void SocketLinger::closeAfterFlush(bufferevent* bev, uint64_t age) {
  if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
    bufferevent_free(bev);
    return;
  }
  if (socks_.size() >= max_) {
    ++counters_.refused;
    bufferevent_free(bev);
    return;
  }
  Entry& e = socks_.emplace_back();
  e.owner = this;
  e.bev = bev;
  e.self = std::prev(socks_.end());
  e.timer = evtimer_new(base_, &SocketLinger::onTimeout, &e);
  if (!e.timer) {
    ++counters_.refused;
    bufferevent_free(bev);
    socks_.erase(e.self);
    return;
  }
  ++counters_.adopted;
  e.age = age;
  if (memory_) {  // what it holds now; it only shrinks until it closes
    e.charge = flowctl::MemCharge(*memory_);
    e.charge.set(evbuffer_get_length(bufferevent_get_output(bev)));
  }
  // Nothing more is read; the write callback fires once the output is empty (low watermark 0).
  bufferevent_disable(bev, EV_READ);
  bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
  bufferevent_setcb(bev, nullptr, &SocketLinger::onWrite, &SocketLinger::onEvent, &e);
  bufferevent_enable(bev, EV_WRITE);
  timeval tv{static_cast<time_t>(timeoutMs_ / 1000),
             static_cast<suseconds_t>((timeoutMs_ % 1000) * 1000)};
  evtimer_add(e.timer, &tv);
}

void SocketLinger::onWrite(bufferevent* bev, void* arg) {
  if (evbuffer_get_length(bufferevent_get_output(bev)) != 0) return;
  auto* e = static_cast<Entry*>(arg);
  e->owner->finish(*e, true);
}

void SocketLinger::onEvent(bufferevent*, short what, void* arg) {
  if (!(what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) return;
  auto* e = static_cast<Entry*>(arg);
  e->owner->finish(*e, false);
}

void SocketLinger::onTimeout(evutil_socket_t, short, void* arg) {
  auto* e = static_cast<Entry*>(arg);
  e->owner->finish(*e, false);
}

void SocketLinger::collectOom(std::vector<flowctl::OomCandidate>& out,
                              std::vector<OomTarget>& targets) const {
  for (const Entry& e : socks_) {
    out.push_back(flowctl::OomCandidate{e.charge.held(), e.charge.held(), targets.size(), e.age});
    targets.push_back(OomTarget{nullptr, 0, 0, 0, &e});
  }
}

uint64_t SocketLinger::close(const void* lingering) {
  for (Entry& e : socks_) {
    if (&e != lingering) continue;
    uint64_t bytes = e.charge.held();
    finish(e, false);
    return bytes;
  }
  return 0;
}

void SocketLinger::finish(Entry& e, bool flushed) {
  ++(flushed ? counters_.flushed : counters_.failed);
  event_free(e.timer);
  bufferevent_free(e.bev);
  socks_.erase(e.self);
}

}  // namespace onionsplit::streamd

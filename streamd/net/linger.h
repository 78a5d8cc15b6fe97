// streamd/net/linger.h: sockets whose stream has ended but whose output still holds the client's
// data. C tor marks an exit connection "for close after flush" when the client sends END or the
// circuit is destroyed (connection_mark_and_flush): what the client sent before the END still
// reaches the server. SocketLinger keeps such a socket, reading nothing, until its output has
// drained, the server fails, or a deadline passes; then closes it.
//
// Bounded: at most `maxSockets` linger at once (beyond that a socket is closed at once, its unsent
// output lost, and counted), and each holds at most what its stream's window let the client send.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <list>

namespace onionsplit::streamd {

struct LingerCounters {
  uint64_t adopted = 0;  // sockets that lingered to flush
  uint64_t flushed = 0;  // ... and wrote everything
  uint64_t failed = 0;   // ... and failed or timed out first
  uint64_t refused = 0;  // closed at once with output left: too many lingering
};

class SocketLinger {
 public:
  SocketLinger(event_base* base, size_t maxSockets, uint32_t timeoutMs)
      : base_(base), max_(maxSockets), timeoutMs_(timeoutMs) {}
  ~SocketLinger();
  SocketLinger(const SocketLinger&) = delete;
  SocketLinger& operator=(const SocketLinger&) = delete;

  // Takes `bev` (a connected socket whose stream is gone) and closes it once its output is
  // written. Frees it at once if its output is empty or too many linger already.
  void closeAfterFlush(bufferevent* bev);

  size_t lingering() const { return socks_.size(); }
  const LingerCounters& counters() const { return counters_; }

 private:
  struct Entry {
    SocketLinger* owner = nullptr;
    bufferevent* bev = nullptr;
    event* timer = nullptr;
    std::list<Entry>::iterator self;
  };
  static void onWrite(bufferevent* bev, void* arg);
  static void onEvent(bufferevent* bev, short what, void* arg);
  static void onTimeout(evutil_socket_t, short, void* arg);
  void finish(Entry& e, bool flushed);

  event_base* base_;
  size_t max_;
  uint32_t timeoutMs_;
  std::list<Entry> socks_;  // stable addresses: libevent holds pointers to entries
  LingerCounters counters_;
};

}  // namespace onionsplit::streamd

// streamd/net/linger.h: sockets whose stream has ended but whose output still holds the client's
// data. C tor marks an exit connection "for close after flush" when the client sends END or the
// circuit is destroyed (connection_mark_and_flush): what the client sent before the END still
// reaches the server. SocketLinger keeps such a socket, reading nothing, until its output has
// drained, the server fails, or a deadline passes; then closes it.
//
// Bounded: at most `maxSockets` linger at once (beyond that a socket is closed at once, its unsent
// output lost, and counted), and each holds at most what its stream's window let the client send.
// With account(), each socket's output at adoption is charged to streamd's memory count until it
// closes, and the OOM handler may close it (the largest first, as streams).
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <vector>

#include "common/flowctl/mem_budget.h"
#include "common/flowctl/oom_choice.h"
#include "streamd/net/oom_target.h"

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
  // `age`: the stream's creation order, for the OOM handler's ties.
  void closeAfterFlush(bufferevent* bev, uint64_t age = 0);

  // Charges lingering sockets to `memory` (which must outlive this).
  void account(flowctl::MemCounter& memory) { memory_ = &memory; }
  // For the OOM handler: each lingering socket's bytes, its target appended to `targets` and its
  // index there as the candidate's ref. Then close() frees one (counted as failed); the bytes.
  void collectOom(std::vector<flowctl::OomCandidate>& out, std::vector<OomTarget>& targets) const;
  uint64_t close(const void* lingering);

  size_t lingering() const { return socks_.size(); }
  const LingerCounters& counters() const { return counters_; }

 private:
  struct Entry {
    SocketLinger* owner = nullptr;
    bufferevent* bev = nullptr;
    event* timer = nullptr;
    std::list<Entry>::iterator self;
    uint64_t age = 0;
    flowctl::MemCharge charge;
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
  flowctl::MemCounter* memory_ = nullptr;
};

}  // namespace onionsplit::streamd

// streamd/net/oom_handler.h: streamd's OOM handler. Every socket buffer streamd holds for its
// peers is charged to StreamdContext::memory (stream_session.h, linger.h), against streamd's share
// of MaxMemInQueues (common/flowctl/mem_budget.h). A buffer that grows past the budget only
// schedules this handler (StreamdContext::noteGrowth); it runs from the event loop, outside every
// enqueue and socket callback (C tor moved its reclamation out of the cell-queue code in 0.4.9.12
// for the same reason), and closes the streams that hold the most, the oldest first among equals
// (common/flowctl/oom_choice.h), each with END RESOURCELIMIT and its buffers dropped, until streamd
// holds at most the low-water mark, 90% of its budget. Lingering sockets (linger.h) are closed by
// the same rule. The bytes freed are counted for the MetricsPort (tor_relay_load_oom_bytes_total).
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <vector>

#include "common/daemon/log.h"
#include "common/flowctl/oom_choice.h"
#include "streamd/net/oom_target.h"

namespace onionsplit::streamd {

struct StreamdContext;

class OomHandler {
 public:
  // Sets ctx.oom to itself (and back to null when destroyed).
  explicit OomHandler(StreamdContext& ctx);
  ~OomHandler();
  OomHandler(const OomHandler&) = delete;
  OomHandler& operator=(const OomHandler&) = delete;

  // Runs the handler at the next turn of the loop (once, however often it is asked).
  void schedule();

  uint64_t bytesFreed() const { return bytesFreed_; }
  uint64_t streamsClosed() const { return streamsClosed_; }
  uint64_t runs() const { return runs_; }

 private:
  static void onEvent(evutil_socket_t, short, void* arg);
  void run();

  StreamdContext& ctx_;
  event* ev_ = nullptr;
  std::vector<flowctl::OomCandidate> candidates_;  // kept between runs: their room is reused
  std::vector<OomTarget> targets_;
  uint64_t bytesFreed_ = 0;
  uint64_t streamsClosed_ = 0;
  uint64_t runs_ = 0;
  daemon::RateLimiter logLimit_{5, std::chrono::minutes(1)};  // a client can make it run often
};

}  // namespace onionsplit::streamd

// common/flowctl/msg_queue.h: a bounded FIFO of relay messages, for the places where messages wait
// for a window or a boundary's credit (circuitd's circuit queues, confluxd's set queues).
//
// It grows by doubling, up to its bound, only while something is stalled, and keeps its slots
// afterwards, so a steady flow does not allocate. Its bound is the window that feeds it: a full
// queue means the producer broke its window, which the owner treats as a violation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/base/bytes.h"
#include "common/cell/constants.h"

namespace onionsplit::flowctl {

// One relay message waiting in a queue.
struct QueuedMsg {
  uint16_t streamId = 0;
  uint8_t command = 0;
  // The message came from a boundary whose credit goes back when it leaves (not one the owner
  // made itself, such as a TRUNCATED answer).
  bool owed = true;
  uint16_t length = 0;
  // For the owner: e.g. the leg a message arrived on.
  uint64_t tag = 0;
  std::array<uint8_t, cell::kRelayBodyMax> body{};

  Bytes bytes() const { return Bytes(body.data(), length); }
};

class MsgQueue {
 public:
  explicit MsgQueue(size_t max) : max_(max) {}
  bool full() const { return count_ == max_; }
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // False if full or the body is longer than a relay message.
  bool push(uint16_t streamId, uint8_t command, Bytes body, bool owed = true, uint64_t tag = 0);
  const QueuedMsg& front() const { return ring_[head_]; }
  void pop();
  void clear() {
    head_ = 0;
    count_ = 0;
  }

 private:
  size_t max_;
  std::vector<QueuedMsg> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace onionsplit::flowctl

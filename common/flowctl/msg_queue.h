// common/flowctl/msg_queue.h: a bounded FIFO of relay messages, for the places where messages wait
// for a window or a boundary's credit (circuitd's circuit queues, confluxd's set queues, streamd's
// control messages waiting for circuitd's or confluxd's credit, which are all local).
//
// Two kinds of message share one order but not one bound. A message from a peer daemon carries that
// peer's credit (a CreditToken) and counts against `peerMax`, the window that feeds the queue: a
// peer that keeps to its credit can never fill it (its credit check stops it first). A message the
// owner made itself (a TRUNCATED answer, an END refusing a stream) carries no credit and counts
// against `localMax`, a small bound of its own: when that is full, the flow that caused the answers
// is the one to close (RESOURCELIMIT), and the peer's window is never spent on them (DESIGN.md
// section 3).
//
// A message's token goes back when it leaves (pop), or when the queue is cleared or destroyed.
// The queue grows by doubling, up to its bound, only while something is stalled, and keeps its
// slots afterwards, so a steady flow does not allocate.
//
// Memory budget (mem_budget.h): a queue given its daemon's MemCounter (account) charges it
// kMsgBytes per message it holds, given back as messages leave or the queue is cleared, moved or
// destroyed; each message then carries the counter's enqueue stamp, so an OOM handler can tell
// which queue holds the oldest message (oldestStamp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/base/bytes.h"
#include "common/cell/constants.h"
#include "common/flowctl/credit_token.h"
#include "common/flowctl/mem_budget.h"

namespace onionsplit::flowctl {

// One relay message waiting in a queue.
struct QueuedMsg {
  uint16_t streamId = 0;
  uint8_t command = 0;
  uint16_t length = 0;
  // The peer's credit for it (empty for a message the owner made itself).
  CreditToken credit;
  std::array<uint8_t, cell::kRelayBodyMax> body{};

  Bytes bytes() const { return Bytes(body.data(), length); }
  bool isLocal = false;  // made by the queue's owner: set by push, whatever happens to `credit`
  bool early = false;    // came as RELAY_EARLY (circuitd's FWD sets it after push)
  uint64_t stamp = 0;    // its enqueue stamp (MemCounter::stamp) in an accounted queue, else 0
};

class MsgQueue {
 public:
  enum class Push : uint8_t {
    kOk,
    kPeerFull,   // more peer messages than the window: the peer broke its credit, or our bug
    kLocalFull,  // the owner's own answers reached their bound: close the flow that caused them
    kTooLong,    // a body longer than a relay message
  };

  // What one queued message costs against the memory budget: its slot.
  static constexpr uint64_t kMsgBytes = sizeof(QueuedMsg);

  explicit MsgQueue(size_t peerMax, size_t localMax = 0) : peerMax_(peerMax), localMax_(localMax) {}
  // Charges what the queue holds to `memory` from now on (mem_budget.h).
  void account(MemCounter& memory) {
    charge_ = MemCharge(memory);
    charge_.set(count_ * kMsgBytes);
  }
  uint64_t memHeld() const { return charge_.held(); }
  // The front message's enqueue stamp (the oldest held); 0 if empty or not accounted.
  uint64_t oldestStamp() const { return count_ ? ring_[head_].stamp : 0; }
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  size_t localCount() const { return local_; }
  bool localFull() const { return local_ == localMax_; }
  // Queues a message; a token that holds credit makes it a peer message, an empty one local.
  Push push(uint16_t streamId, uint8_t command, Bytes body, CreditToken credit);
  Push pushLocal(uint16_t streamId, uint8_t command, Bytes body) {
    return push(streamId, command, body, CreditToken{});
  }
  QueuedMsg& front() { return ring_[head_]; }
  const QueuedMsg& front() const { return ring_[head_]; }
  QueuedMsg& back() { return ring_[(head_ + count_ - 1) % ring_.size()]; }
  // Removes the front message; its credit goes back (it left the edge).
  void pop();
  // Drops everything; every credit goes back.
  void clear();

 private:
  size_t peerMax_;
  size_t localMax_;
  std::vector<QueuedMsg> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  size_t local_ = 0;
  MemCharge charge_;
};

}  // namespace onionsplit::flowctl

// channeld/link/output_scheduler.h: a channel's output queue (pure): circuitd's cells wait here,
// one FIFO per circuit, and leave for TLS round robin, one cell per circuit per turn, so a busy
// circuit cannot starve the others on its channel (tor-spec leaves the policy to the relay; C tor
// uses EWMA over circuits, which round robin matches for circuits that all have cells waiting).
//
// Where it sits: channeld's ChannelServer keeps one per open channel. It pushes every cell
// circuitd sends and pops while the channel's TLS output is below its fill mark. Each cell holds
// its IPC credit (a CreditToken, common/flowctl/credit_token.h) while it waits: popping, dropping
// or clearing it lets the token go, and the credit goes back to circuitd. Memory is bounded by the
// credit: a circuit never has more than one credit window (64 cells) here, and push() refuses
// beyond `maxPerCircuit`.
//
// Storage is one slab of cell slots with a free list and per-circuit linked FIFOs, so steady state
// allocates nothing per cell.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "common/base/bytes.h"
#include "common/cell/constants.h"
#include "common/flowctl/credit_token.h"

namespace onionsplit::channeld {

class OutputScheduler {
 public:
  struct Cell {
    uint32_t circId = 0;
    uint8_t command = 0;
    std::array<uint8_t, cell::kCellPayloadLen> payload{};
    flowctl::CreditToken credit;  // released when the cell leaves the queue, however it leaves
  };

  explicit OutputScheduler(size_t maxPerCircuit = 72) : maxPerCircuit_(maxPerCircuit) {}

  // Queues a cell (payload at most 509 bytes, zero-padded) with its credit; false if the circuit's
  // queue is full (the credit goes back at once).
  bool push(uint32_t circId, uint8_t command, Bytes payload, flowctl::CreditToken credit = {});
  // The next cell in round-robin order, or nullptr. Valid until the next call.
  const Cell* peek();
  // Removes the cell peek() returned (its credit goes back) and moves its circuit to the back of
  // the round.
  void pop();
  // Drops a circuit's queued cells (it was destroyed); returns how many.
  size_t drop(uint32_t circId);
  void clear();

  size_t size() const { return queued_; }
  bool empty() const { return queued_ == 0; }
  size_t circuits() const { return queues_.size(); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Slot {
    Cell cell;
    uint32_t next = kNone;
  };
  struct Queue {
    uint32_t head = kNone, tail = kNone;
    size_t count = 0;
  };
  uint32_t allocSlot();

  size_t maxPerCircuit_;
  std::vector<Slot> slots_;
  uint32_t free_ = kNone;
  std::unordered_map<uint32_t, Queue> queues_;  // only circuits with cells waiting
  std::deque<uint32_t> round_;                  // circuits with cells, in turn order
  size_t queued_ = 0;
};

}  // namespace onionsplit::channeld

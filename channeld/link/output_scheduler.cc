// channeld/link/output_scheduler.cc: see output_scheduler.h.
#include "channeld/link/output_scheduler.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace onionsplit::channeld {

uint32_t OutputScheduler::allocSlot() {
  if (free_ != kNone) {
    uint32_t i = free_;
    free_ = slots_[i].next;
    return i;
  }
  slots_.emplace_back();
  return static_cast<uint32_t>(slots_.size() - 1);
}

bool OutputScheduler::push(uint32_t circId, uint8_t command, Bytes payload,
                           flowctl::CreditToken credit) {
  if (payload.size() > cell::kCellPayloadLen) return false;
  auto [it, fresh] = queues_.try_emplace(circId);
  Queue& q = it->second;
  if (q.count >= maxPerCircuit_) return false;
  uint32_t i = allocSlot();
  Slot& s = slots_[i];
  s.next = kNone;
  s.cell.circId = circId;
  s.cell.command = command;
  s.cell.credit = std::move(credit);
  if (!payload.empty()) std::memcpy(s.cell.payload.data(), payload.data(), payload.size());
  std::fill(s.cell.payload.begin() + static_cast<long>(payload.size()), s.cell.payload.end(), 0);
  if (q.tail == kNone) {
    q.head = i;
  } else {
    slots_[q.tail].next = i;
  }
  q.tail = i;
  ++q.count;
  ++queued_;
  if (fresh) round_.push_back(circId);
  return true;
}

const OutputScheduler::Cell* OutputScheduler::peek() {
  if (round_.empty()) return nullptr;
  return &slots_[queues_[round_.front()].head].cell;
}

void OutputScheduler::pop() {
  if (round_.empty()) return;
  uint32_t circId = round_.front();
  round_.pop_front();
  auto it = queues_.find(circId);
  Queue& q = it->second;
  uint32_t i = q.head;
  q.head = slots_[i].next;
  slots_[i].cell.credit.release();
  slots_[i].next = free_;
  free_ = i;
  --q.count;
  --queued_;
  if (q.count == 0) {
    queues_.erase(it);
  } else {
    round_.push_back(circId);
  }
}

size_t OutputScheduler::drop(uint32_t circId) {
  auto it = queues_.find(circId);
  if (it == queues_.end()) return 0;
  size_t n = it->second.count;
  for (uint32_t i = it->second.head; i != kNone;) {
    uint32_t next = slots_[i].next;
    slots_[i].cell.credit.release();
    slots_[i].next = free_;
    free_ = i;
    i = next;
  }
  queued_ -= n;
  queues_.erase(it);
  round_.erase(std::remove(round_.begin(), round_.end(), circId), round_.end());
  return n;
}

void OutputScheduler::clear() {
  queues_.clear();
  round_.clear();
  slots_.clear();  // every waiting cell's credit goes back
  free_ = kNone;
  queued_ = 0;
}

}  // namespace onionsplit::channeld

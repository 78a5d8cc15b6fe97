// common/flowctl/msg_queue.cc: see msg_queue.h.
#include "common/flowctl/msg_queue.h"

#include <algorithm>
#include <cstring>

namespace onionsplit::flowctl {

bool MsgQueue::push(uint16_t streamId, uint8_t command, Bytes body, bool owed, uint64_t tag) {
  if (count_ == max_ || body.size() > cell::kRelayBodyMax) return false;
  if (count_ == ring_.size()) {  // grow, keeping the order
    std::vector<QueuedMsg> bigger(std::min(max_, std::max<size_t>(4, ring_.size() * 2)));
    for (size_t i = 0; i < count_; ++i)
      bigger[i] = ring_[(head_ + i) % ring_.size()];
    ring_ = std::move(bigger);
    head_ = 0;
  }
  QueuedMsg& m = ring_[(head_ + count_) % ring_.size()];
  m.streamId = streamId;
  m.command = command;
  m.owed = owed;
  m.tag = tag;
  m.length = static_cast<uint16_t>(body.size());
  if (!body.empty()) std::memcpy(m.body.data(), body.data(), body.size());
  ++count_;
  return true;
}

void MsgQueue::pop() {
  if (count_ == 0) return;
  head_ = (head_ + 1) % ring_.size();
  --count_;
}

}  // namespace onionsplit::flowctl

// common/flowctl/msg_queue.cc: see msg_queue.h.
#include "common/flowctl/msg_queue.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace onionsplit::flowctl {

MsgQueue::Push MsgQueue::push(uint16_t streamId, uint8_t command, Bytes body, CreditToken credit) {
  bool local = !credit.holds();
  if (body.size() > cell::kRelayBodyMax) return Push::kTooLong;
  if (local && local_ == localMax_) return Push::kLocalFull;
  if (!local && count_ - local_ == peerMax_) return Push::kPeerFull;
  if (count_ == ring_.size()) {  // grow, keeping the order
    size_t max = peerMax_ + localMax_;
    std::vector<QueuedMsg> bigger(std::min(max, std::max<size_t>(4, ring_.size() * 2)));
    for (size_t i = 0; i < count_; ++i)
      bigger[i] = std::move(ring_[(head_ + i) % ring_.size()]);  // rare: only while stalled
    ring_ = std::move(bigger);
    head_ = 0;
  }
  QueuedMsg& m = ring_[(head_ + count_) % ring_.size()];
  m.streamId = streamId;
  m.command = command;
  m.credit = std::move(credit);
  m.isLocal = local;
  m.early = false;
  m.length = static_cast<uint16_t>(body.size());
  if (!body.empty()) std::memcpy(m.body.data(), body.data(), body.size());
  m.stamp = charge_.stamp();
  charge_.add(kMsgBytes);
  ++count_;
  if (local) ++local_;
  return Push::kOk;
}

void MsgQueue::pop() {
  if (count_ == 0) return;
  QueuedMsg& m = ring_[head_];
  if (m.isLocal) --local_;
  m.credit.release();
  charge_.sub(kMsgBytes);
  head_ = (head_ + 1) % ring_.size();
  --count_;
}

void MsgQueue::clear() {
  while (count_ > 0)
    pop();
  head_ = 0;
}

}  // namespace onionsplit::flowctl

// common/flowctl/sendme.cc: see sendme.h.
#include "common/flowctl/sendme.h"

namespace onionsplit::flowctl {

void SendmeTagQueue::push(const SendmeTag& tag) {
  if (count_ == ring_.size()) {
    std::vector<SendmeTag> bigger(ring_.size() * 2);
    for (size_t i = 0; i < count_; ++i)
      bigger[i] = ring_[(head_ + i) % ring_.size()];
    ring_.swap(bigger);
    head_ = 0;
  }
  ring_[(head_ + count_) % ring_.size()] = tag;
  ++count_;
}

std::optional<SendmeTag> SendmeTagQueue::pop() {
  if (count_ == 0) return std::nullopt;
  SendmeTag t = ring_[head_];
  head_ = (head_ + 1) % ring_.size();
  --count_;
  return t;
}

SendmeCheck checkCircuitSendme(SendmeTagQueue& q, std::optional<Bytes> v1Tag, bool acceptV0,
                               size_t tagLen) {
  auto expected = q.pop();
  if (!expected) return SendmeCheck::kUnexpected;
  if (!v1Tag) return acceptV0 ? SendmeCheck::kOk : SendmeCheck::kV0Refused;
  if (tagLen > expected->size() || !constantTimeEqual(*v1Tag, Bytes(expected->data(), tagLen)))
    return SendmeCheck::kBadTag;
  return SendmeCheck::kOk;
}

bool ClassicSendWindow::onDataSent() {
  // SENDMEs add whole increments, so "cells sent since the start" is a multiple of the increment
  // exactly when window - 1 and the start agree modulo it.
  bool acked = window_ > 0 && (window_ - 1) % kCircWindowIncrement == start_ % kCircWindowIncrement;
  if (window_ > 0) --window_;
  return acked;
}

bool ClassicSendWindow::onSendme() {
  if (window_ + kCircWindowIncrement > kCircWindowStart) return false;
  window_ += kCircWindowIncrement;
  return true;
}

bool DeliverWindow::onDataReceived() {
  --window_;
  if (window_ <= kCircWindowStart - inc_) {
    window_ += inc_;
    return true;
  }
  return false;
}

}  // namespace onionsplit::flowctl

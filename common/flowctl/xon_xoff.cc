// common/flowctl/xon_xoff.cc: see xon_xoff.h.
#include "common/flowctl/xon_xoff.h"

#include <algorithm>

namespace onionsplit::flowctl {

FlowDecision StreamFlowWriter::onBuffer(size_t buffered, size_t drained, uint64_t now) {
  FlowDecision d;
  size_t limit = size_t{p_.xoffExitCells} * p_.cellPayloadBytes;

  // Drain-rate sampling: every xon_rate cells written to the socket, fold the rate into an EWMA.
  if (sampleStart_ == 0) sampleStart_ = now;
  sampleBytes_ += drained;
  bool sampled = false;
  if (sampleBytes_ >= size_t{p_.xonRateCells} * p_.cellPayloadBytes && now > sampleStart_) {
    uint64_t rate = sampleBytes_ * 1'000'000 / (now - sampleStart_);
    uint64_t n = std::max<uint32_t>(p_.xonEwmaCnt, 1);
    ewmaBytesPerSec_ =
        ewmaBytesPerSec_ == 0 ? rate : (rate * 2 + ewmaBytesPerSec_ * (n - 1)) / (n + 1);
    sampleStart_ = now;
    sampleBytes_ = 0;
    sampled = true;
  }

  if (buffered > limit) {
    if (!over_) {
      over_ = true;
      overSince_ = now;
    }
    if (!xoffSent_ && now - overSince_ >= p_.xoffGraceUsec) {
      xoffSent_ = true;
      d.emit = FlowEmit::kXoff;
    }
    return d;
  }
  over_ = false;

  if (xoffSent_ && buffered == 0) {
    // Drained after an XOFF: resume the client at the rate the socket takes data.
    xoffSent_ = false;
    sentAnyXon_ = true;
    lastKbps_ = static_cast<uint32_t>(std::min<uint64_t>(ewmaBytesPerSec_ / 1000, UINT32_MAX));
    d.emit = FlowEmit::kXon;
    d.kbpsEwma = lastKbps_;
    return d;
  }
  if (!xoffSent_ && sampled && sentAnyXon_) {
    // Advisory XON when the drain rate moved by more than xon_change_pct since the last one.
    uint32_t kbps = static_cast<uint32_t>(std::min<uint64_t>(ewmaBytesPerSec_ / 1000, UINT32_MAX));
    uint64_t diff = kbps > lastKbps_ ? kbps - lastKbps_ : lastKbps_ - kbps;
    if (diff * 100 > uint64_t{lastKbps_} * p_.xonChangePct) {
      lastKbps_ = kbps;
      d.emit = FlowEmit::kXon;
      d.kbpsEwma = kbps;
    }
  }
  return d;
}

FlowInput StreamFlowReader::onXoff() {
  if (paused_) return FlowInput::kIgnoredDuplicate;
  // The client cannot have filled its buffer before we sent it at least its XOFF limit.
  if (sentSinceXoff_ < size_t{p_.xoffClientCells} * p_.cellPayloadBytes)
    return FlowInput::kIgnoredEarly;
  paused_ = true;
  sentSinceXoff_ = 0;
  return FlowInput::kApplied;
}

FlowInput StreamFlowReader::onXon(uint32_t kbpsEwma) {
  paused_ = false;
  rateKbps_ = kbpsEwma;
  return FlowInput::kApplied;
}

}  // namespace onionsplit::flowctl

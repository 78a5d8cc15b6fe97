// common/dos/stream_dos.cc: per-circuit stream creation bucket (see stream_dos.h).
#include "common/dos/stream_dos.h"

namespace onionsplit::dos {

void StreamDos::refill(uint64_t nowSec) {
  const uint32_t now32 = static_cast<uint32_t>(nowSec);
  const uint32_t elapsed = now32 - lastRefillSec_;
  // A jump of more than a quarter of the 32-bit range is a clock oddity: ignore it, as C tor's
  // token_bucket_ctr_refill does, but still move the reference point.
  if (elapsed <= UINT32_MAX / 4) {
    const uint64_t added = static_cast<uint64_t>(elapsed) * rate_;
    const uint64_t sum = tokens_ + added;
    tokens_ = sum >= burst_ ? burst_ : static_cast<uint32_t>(sum);
  }
  lastRefillSec_ = now32;
}

StreamAction StreamDos::onRequest(StreamRequest kind, const DosParams& p, uint64_t nowSec,
                                  DosCounters& counters) {
  if (!p.streamEnabled || kind == StreamRequest::kBeginDir) return StreamAction::kAllow;
  refill(nowSec);
  if (tokens_ > 0) {
    --tokens_;
    return StreamAction::kAllow;
  }
  ++counters.streamRejected;
  switch (p.streamDefense) {
    case StreamDefense::kNone:
      return StreamAction::kAllow;
    case StreamDefense::kRefuseStream:
      return kind == StreamRequest::kResolve ? StreamAction::kResolvedErrorTransient
                                             : StreamAction::kEndStreamMisc;
    case StreamDefense::kCloseCircuit:
      return StreamAction::kCloseCircuitResourceLimit;
  }
  return StreamAction::kAllow;
}

}  // namespace onionsplit::dos

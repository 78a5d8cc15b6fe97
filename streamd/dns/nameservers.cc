// streamd/dns/nameservers.cc: see nameservers.h.
#include "streamd/dns/nameservers.h"

namespace onionsplit::streamd {

size_t NameserverRotation::first(uint64_t nowMs) {
  size_t n = servers_.size();
  size_t pick = next_ % n;  // all down: in turn among all
  for (size_t k = 0; k < n; ++k) {
    size_t i = (next_ + k) % n;
    Server& s = servers_[i];
    if (!down(i)) {
      pick = i;
      break;
    }
    if (nowMs >= s.retryAtMs) {  // its one query of this interval
      s.retryAtMs = nowMs + kNameserverRetryMs;
      pick = i;
      break;
    }
  }
  next_ = (pick + 1) % n;
  return pick;
}

void NameserverRotation::answered(size_t i) {
  servers_[i].timeoutsInARow = 0;
}

void NameserverRotation::timedOut(size_t i, uint64_t nowMs) {
  Server& s = servers_[i];
  ++s.counts.timeouts;
  if (s.timeoutsInARow < kNameserverDownAfter) ++s.timeoutsInARow;
  if (down(i)) s.retryAtMs = nowMs + kNameserverRetryMs;
}

void LatencyHistogram::observe(uint64_t micros) {
  for (size_t i = 0; i < kBoundsUs.size(); ++i)
    if (micros <= kBoundsUs[i]) {
      ++buckets_[i];
      break;
    }
  ++count_;
  sumUs_ += micros;
}

uint64_t LatencyHistogram::atMost(size_t i) const {
  uint64_t n = 0;
  for (size_t k = 0; k <= i && k < buckets_.size(); ++k)
    n += buckets_[k];
  return n;
}

}  // namespace onionsplit::streamd

// circuitd/core/oom_choice.cc: see oom_choice.h.
#include "circuitd/core/oom_choice.h"

#include <algorithm>

namespace onionsplit::circuitd {

size_t chooseOomVictims(std::vector<OomCandidate>& c, uint64_t held, uint64_t target) {
  if (held <= target) return 0;
  // Those holding nothing go last, whatever their stamp.
  std::sort(c.begin(), c.end(), [](const OomCandidate& a, const OomCandidate& b) {
    if ((a.bytes == 0) != (b.bytes == 0)) return a.bytes != 0;
    return a.oldest != b.oldest ? a.oldest < b.oldest : a.bytes > b.bytes;
  });
  size_t n = 0;
  while (n < c.size() && held > target && c[n].bytes > 0) {
    held -= std::min(held, c[n].bytes);
    ++n;
  }
  return n;
}

}  // namespace onionsplit::circuitd

// common/conflux/oom_choice.cc: see oom_choice.h.
#include "common/conflux/oom_choice.h"

#include <algorithm>

namespace onionsplit::conflux {

size_t chooseSetOomVictims(std::vector<SetOomCandidate>& c, uint64_t held, uint64_t target) {
  if (held <= target) return 0;
  std::sort(c.begin(), c.end(), [](const SetOomCandidate& a, const SetOomCandidate& b) {
    return a.oooBytes != b.oooBytes ? a.oooBytes > b.oooBytes : a.bytes > b.bytes;
  });
  size_t n = 0;
  for (size_t i = 0; i < c.size() && held > target; ++i) {
    if (c[i].bytes == 0) continue;
    std::swap(c[n], c[i]);  // the chosen ones stay in front, in order
    held -= std::min(held, c[n].bytes);
    ++n;
  }
  return n;
}

}  // namespace onionsplit::conflux

// common/flowctl/oom_choice.cc: see oom_choice.h.
#include "common/flowctl/oom_choice.h"

#include <algorithm>

namespace onionsplit::flowctl {

size_t chooseOomVictims(std::vector<OomCandidate>& c, uint64_t held, uint64_t target) {
  if (held <= target) return 0;
  std::sort(c.begin(), c.end(), [](const OomCandidate& a, const OomCandidate& b) {
    if (a.rank != b.rank) return a.rank > b.rank;
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.age != b.age ? a.age < b.age : a.ref < b.ref;
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

}  // namespace onionsplit::flowctl

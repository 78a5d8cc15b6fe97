// streamd/core/oom_choice.cc: see oom_choice.h.
#include "streamd/core/oom_choice.h"

#include <algorithm>

namespace onionsplit::streamd {

size_t chooseOomVictims(std::vector<OomCandidate>& c, uint64_t held, uint64_t target) {
  if (held <= target) return 0;
  std::sort(c.begin(), c.end(), [](const OomCandidate& a, const OomCandidate& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.age < b.age;
  });
  size_t n = 0;
  while (n < c.size() && held > target && c[n].bytes > 0) {
    held -= std::min(held, c[n].bytes);
    ++n;
  }
  return n;
}

}  // namespace onionsplit::streamd

// streamd/core/oom_choice.h: which streams the OOM handler closes (pure). Over its memory budget
// (common/flowctl/mem_budget.h) streamd closes the streams that hold the most buffered bytes
// first, the oldest first among equals, until what it holds is at most the low-water mark; as C
// tor's circuits_handle_oom, which frees the biggest holders until under 90% of MaxMemInQueues.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace onionsplit::streamd {

struct OomCandidate {
  uint64_t bytes = 0;  // what closing it frees
  uint64_t age = 0;    // creation order: smaller is older
  size_t ref = 0;      // the caller's handle, carried along
};

// Orders `c` largest first (ties: oldest first) and returns how many of its first entries to close
// so that `held` less what they free is at most `target`: all that free anything if that is not
// enough, none if `held` is already at most `target`. Allocation-free.
size_t chooseOomVictims(std::vector<OomCandidate>& c, uint64_t held, uint64_t target);

}  // namespace onionsplit::streamd

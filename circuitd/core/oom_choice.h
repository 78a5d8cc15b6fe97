// circuitd/core/oom_choice.h: which circuits circuitd's OOM handler closes (pure). Over its memory
// budget (common/flowctl/mem_budget.h) circuitd closes the circuits whose oldest queued cell is
// oldest first, as C tor's circuits_handle_oom orders circuits by the age of their oldest queued
// cell, until what it holds is at most the low-water mark (90% of the budget). A cell that waits
// longest is the surest sign of a reader that does not read; the biggest queue is not (every
// circuit's queues are bounded by its windows, so a slow honest circuit may hold as much).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace onionsplit::circuitd {

struct OomCandidate {
  uint64_t bytes = 0;   // what closing it frees
  uint64_t oldest = 0;  // enqueue stamp of its oldest queued cell: smaller is older
  size_t ref = 0;       // the caller's handle, carried along
};

// Orders `c` oldest cell first (ties: more bytes first) and returns how many of its first entries
// to close so that `held` less what they free is at most `target`: all that hold anything if that
// is not enough, none if `held` is already at most `target`. Candidates holding nothing are never
// chosen (closing them frees nothing). Allocation-free.
size_t chooseOomVictims(std::vector<OomCandidate>& c, uint64_t held, uint64_t target);

}  // namespace onionsplit::circuitd

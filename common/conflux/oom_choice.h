// common/conflux/oom_choice.h: which sets confluxd's OOM handler closes (pure). Over its memory
// budget (common/flowctl/mem_budget.h) confluxd closes the sets with the largest reorder queue
// first (a client that withholds one sequence number grows it; honest sets drain theirs), the one
// holding more in all first among equals, until what it holds is at most the low-water mark (90%
// of the budget). C tor (0.4.8) counts a circuit's reorder queue with the circuit in its cell OOM
// handler; confluxd holds no cells of circuits, so it closes the set itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace onionsplit::conflux {

struct SetOomCandidate {
  uint64_t oooBytes = 0;  // its reorder queue
  uint64_t bytes = 0;     // all it holds (reorder queue and message queues): what closing frees
  size_t ref = 0;         // the caller's handle, carried along
};

// Orders `c` largest reorder queue first (ties: more in all first) and returns how many of its
// first entries to close so that `held` less what they free is at most `target`: all that hold
// anything if that is not enough, none if `held` is already at most `target`. Allocation-free.
size_t chooseSetOomVictims(std::vector<SetOomCandidate>& c, uint64_t held, uint64_t target);

}  // namespace onionsplit::conflux

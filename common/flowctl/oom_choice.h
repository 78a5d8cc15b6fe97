// common/flowctl/oom_choice.h: what an OOM handler closes (pure). Over its memory budget
// (common/flowctl/mem_budget.h) a daemon closes its biggest holders first until what it holds is
// at most the low-water mark (90% of the budget). Each daemon ranks its own objects:
//   confluxd  sets by their reorder queue (a client that withholds one sequence number grows it;
//             honest sets drain theirs). C tor 0.4.8 counts a circuit's reorder queue with the
//             circuit in its cell OOM handler; confluxd holds no cells of circuits, so it closes
//             the set itself.
//   channeld  channels by the bytes they hold (input not yet taken by circuitd, output not yet
//             taken by TLS), the oldest channel first among equals.
//   circuitd  circuits by the age of their oldest queued cell (rank: its stamp inverted), as C
//             tor's circuits_handle_oom orders them: a cell that waits longest is the surest sign
//             of a reader that does not read; every circuit's queues are bounded by its windows,
//             so a slow honest circuit may hold as much as an abuser.
//   streamd   streams (and lingering sockets) by their buffered bytes, the oldest first among
//             equals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace onionsplit::flowctl {

struct OomCandidate {
  uint64_t rank = 0;   // who goes first: the highest
  uint64_t bytes = 0;  // all it holds: what closing it frees
  size_t ref = 0;      // the caller's handle, carried along
  uint64_t age = 0;    // creation order, smaller is older: the older first among equals
};

// Orders `c` highest rank first (ties: more bytes first, then the older, then the smaller ref) and
// returns how many of its first entries to close so that `held` less what they free is at most
// `target`: all that hold anything if that is not enough, none if `held` is already at most
// `target`. Allocation-free.
size_t chooseOomVictims(std::vector<OomCandidate>& c, uint64_t held, uint64_t target);

}  // namespace onionsplit::flowctl

// common/conflux/initiator.h: the client (initiator) side of the conflux handshake (pure), for
// the project's test client: LINK for each new leg, checks on the exit's LINKED, LINKED_ACK
// (proposal 329 §2.2, §2.4.2, §4.2.1; C tor 0.4.9 conflux_pool.c:conflux_process_linked).
//
// Where it sits: a test client that builds two circuits to our exit owns one per set. The nonce
// comes from the caller's RNG and the time from its clock. Linked legs join controller(), which
// then sequences the exit's multiplexed cells and schedules the client's, as at the exit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/base/bytes.h"
#include "common/cell/relay.h"
#include "common/conflux/controller.h"
#include "common/conflux/types.h"

namespace onionsplit::conflux {

struct LinkedResult {
  Verdict verdict;       // kOk: send an (empty) CONFLUX_LINKED_ACK on the leg
  uint64_t rttUsec = 0;  // LINK sent → LINKED received
};

class ConfluxInitiator {
 public:
  ConfluxInitiator(const Nonce& nonce, uint8_t desiredUx, const ConfluxParams& p = ConfluxParams{})
      : nonce_(nonce), desiredUx_(desiredUx), p_(p), ctl_(p) {}

  // The LINK to send on a new leg at `nowUsec`: our nonce and UX, and the set's counters (zero for
  // a fresh set; C tor sends max(last_seq_sent) and last_seq_delivered for a leg added later).
  cell::ConfluxLinkMsg linkFor(LegId leg, uint64_t nowUsec);
  // The exit's LINKED arrived on `leg` (§4.2.1 "RELAY_CONFLUX_LINKED" checks, C tor's order):
  // the leg sent a LINK and is not linked yet, the nonce matches, the leg cap holds, and the exit
  // does not claim more than we delivered (data loss closes the set). On success the leg joins
  // controller() with the exit's counters crosswise and the scheduler the exit asked for.
  LinkedResult onLinked(LegId leg, const cell::ConfluxLinkMsg& linked, uint64_t nowUsec);
  LinkedResult onLinkedBody(LegId leg, Bytes body, uint64_t nowUsec);
  // A leg's circuit closed: forgets a pending leg; for a linked leg returns rule 7's verdict.
  bool onLegClosed(LegId leg);

  // All legs that were sent a LINK have linked (C tor finalizes a set only then, §2.4.2).
  bool ready() const { return pending_.empty() && ctl_.legCount() > 0; }
  size_t pendingLegs() const { return pending_.size(); }
  ConfluxController& controller() { return ctl_; }
  const Nonce& nonce() const { return nonce_; }

 private:
  struct Pending {
    LegId leg = 0;
    uint64_t sentUsec = 0;
  };

  Nonce nonce_;
  uint8_t desiredUx_;
  ConfluxParams p_;
  ConfluxController ctl_;
  std::vector<Pending> pending_;
};

}  // namespace onionsplit::conflux

// common/conflux/mgr.h: the exit's (responder's) conflux set manager (pure): matches LINKs by
// nonce, enforces C tor 0.4.9's acceptance rules, answers with the LINKED to send, and owns one
// ConfluxController per set (proposal 329 §2.2, §2.4, §4.2.1; specs/README.md §6 rules 1-3, 7).
//
// Where it sits: confluxd holds one per relay (the design doc's ConfluxMgr). circuitd reports a
// LINK with facts about its circuit (LegFacts); a leg is linked at once, before the LINKED leaves
// (rule 2: a BEGIN can overtake the LINKED_ACK), after which the leg's multiplexed cells, SWITCH,
// LINKED_ACK and CC state go to controllerFor(leg). Legs are named by the caller's LegId; nothing
// here points back at a circuit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/base/bytes.h"
#include "common/cell/relay.h"
#include "common/conflux/controller.h"
#include "common/conflux/types.h"

namespace onionsplit::conflux {

// What circuitd knows about the circuit a LINK arrived on.
struct LegFacts {
  bool isLastHop = true;        // we are the circuit's last hop (no next channel)
  bool carriesStreams = false;  // the circuit has (or had) streams
  bool ccNegotiated = true;     // congestion control was negotiated in the circuit's handshake
  CcFacts cc;
};

struct LinkResult {
  enum Kind : uint8_t {
    kLinked,    // the leg is in `set`; send `linked` on it as CONFLUX_LINKED
    kCloseLeg,  // close this circuit with `reason`; nothing was recorded
    kCloseSet,  // close this circuit and every leg of `set` (dropSet) with `reason`
  };
  Kind kind = kCloseLeg;
  CloseReason reason = CloseReason::kNone;
  SetId set = 0;
  cell::ConfluxLinkMsg linked;
  bool recvAhead = false;  // refused by bug 41328's rule (confluxd counts these)
};

struct LegClosed {
  bool wasLinked = false;  // the leg belonged to a set
  SetId set = 0;
  bool setTornDown = false;   // rule 7 said so: `closeOthers` lists the legs to close (FINISHED)
  bool setForgotten = false;  // the set has no legs left (or was torn down) and is gone
};

class ConfluxMgr {
 public:
  explicit ConfluxMgr(const ConfluxParams& p = ConfluxParams{}) : p_(p) {}
  // New consensus parameters (common/conflux/params.h): every LINK from now on checks them and
  // sets made from now on take them; sets already linked keep their controller's.
  void setParams(const ConfluxParams& p) { p_ = p; }
  const ConfluxParams& params() const { return p_; }

  // A CONFLUX_LINK body arrived on `leg`. Decodes it (a version other than 1 or a malformed body
  // closes the leg, TORPROTOCOL) and continues as onLink.
  LinkResult onLinkBody(LegId leg, Bytes body, const LegFacts& facts, uint64_t nowUsec);
  // Rules 1-3, in C tor 0.4.9 conflux_pool.c:conflux_process_link's order: CC negotiated
  // (conflux_is_enabled), last hop, not already linked, then (ours) no streams, a known
  // DESIRED_UX (C tor's trunnel parse), set cap (ours), leg cap
  // (try_finalize_set), data-loss check (validate_unlinked_legs). `nowUsec` stamps the LINKED for
  // the LINKED_ACK RTT.
  LinkResult onLink(LegId leg, const cell::ConfluxLinkMsg& link, const LegFacts& facts,
                    uint64_t nowUsec);
  // A LINKED_ACK on `leg` (rule 4). Closes the leg (TORPROTOCOL) if it is not linked.
  Verdict onLinkedAck(LegId leg, uint64_t nowUsec);
  // The leg's circuit is gone. Applies rule 7; when the set must be torn down, appends every other
  // leg to `closeOthers` and forgets the set (C tor closes them with FINISHED).
  LegClosed onLegClosed(LegId leg, std::vector<LegId>& closeOthers);
  // Forgets a set after a kCloseSet verdict, appending its legs to `legsOut`.
  void dropSet(SetId set, std::vector<LegId>& legsOut);

  // The controller of the set `leg` belongs to, or null.
  ConfluxController* controllerFor(LegId leg);
  ConfluxController* controller(SetId set);
  // Appends every linked leg whose LINKED_ACK is overdue at `nowUsec` (the design document's
  // deadline, ConfluxParams::linkedAckTimeoutUsec); the caller closes each (onLegClosed, TIMEOUT).
  void overdueLinkedAcks(uint64_t nowUsec, std::vector<LegId>& out) const;
  bool isLinked(LegId leg) const { return legToSet_.count(leg) != 0; }
  size_t setCount() const { return sets_.size(); }
  size_t legCount() const { return legToSet_.size(); }

 private:
  struct Set {
    Nonce nonce{};
    ConfluxController ctl;
  };

  ConfluxParams p_;
  SetId nextSet_ = 1;
  std::unordered_map<SetId, std::unique_ptr<Set>> sets_;
  std::map<Nonce, SetId> byNonce_;
  std::unordered_map<LegId, SetId> legToSet_;
};

}  // namespace onionsplit::conflux

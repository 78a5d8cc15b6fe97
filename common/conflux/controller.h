// common/conflux/controller.h: one conflux set's sequencing, reorder queue and leg choice (pure):
// proposal 329 §2.4.3, §2.5, §2.6, §3, §4.1, with C tor 0.4.9's behaviour (specs/README.md §6
// rules 4-7; conflux.c, conflux_pool.c). Role-agnostic: the exit's ConfluxMgr and a test client's
// ConfluxInitiator both add legs to one.
//
// Where it sits: confluxd, between the legs' inbound/outbound reactors in circuitd and streamd.
// Multiplexed cells (cell::isConfluxMultiplexed) from every leg come here after the leg's own
// SENDME accounting (§2.5) and leave in order toward streamd; client-bound multiplexed cells ask
// send() which leg to use. Events in, verdicts and deliveries out; time is passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/base/bytes.h"
#include "common/conflux/types.h"
#include "common/flowctl/mem_budget.h"

namespace onionsplit::conflux {

// A multiplexed message released in sequence order. `body` views either the caller's buffer (the
// message that was next) or the controller's copy (a message that waited in the queue); the
// latter stays valid until the next onMultiplexed() call or the controller's destruction.
struct Delivery {
  uint64_t seq = 0;
  uint8_t cmd = 0;
  uint16_t streamId = 0;
  Bytes body;
};

// What the caller must do after an event.
struct Verdict {
  enum Kind : uint8_t {
    kOk,
    kCloseLeg,  // close this leg's circuit with `reason`; then report onLegClosed (rule 7)
    kCloseSet,  // close every leg of the set with `reason`
  };
  Kind kind = kOk;
  CloseReason reason = CloseReason::kNone;
  static Verdict ok() { return {}; }
  static Verdict closeLeg(CloseReason r) { return {kCloseLeg, r}; }
  static Verdict closeSet(CloseReason r) { return {kCloseSet, r}; }
};

// Where to send a client-bound multiplexed message (send()).
struct SendPlan {
  enum Kind : uint8_t {
    kSend,            // send on `leg`; first a SWITCH with `switchSeq` if it is set
    kBlocked,         // a DATA cell with no leg able to send: stop reading streams (§2.5, §3)
    kNotMultiplexed,  // not the controller's business: send on the leg the message belongs to
    kCloseSet,        // sequence numbers cannot be expressed (rule 6): close every leg
  };
  Kind kind = kBlocked;
  LegId leg = 0;
  std::optional<uint32_t> switchSeq;
  CloseReason reason = CloseReason::kNone;
};

// Counters and facts for a leg joining the set.
struct LegInit {
  uint64_t lastSeqSent = 0;
  uint64_t lastSeqRecv = 0;
  uint64_t rttUsec = 0;          // 0 = not measured yet (treated as unusable, §2.4.2)
  uint64_t linkedSentUsec = 0;   // exit: when our LINKED left, for the LINKED_ACK RTT (rule 4)
  bool awaitsLinkedAck = false;  // exit: the leg's LINKED_ACK is still to come (the deadline)
  CcFacts cc;
};

// Per-queued-message bookkeeping added to the body length when charging the queue
// (C tor charges length + sizeof its two message structs; ours: one map node + the struct).
inline constexpr size_t kQueuedOverheadBytes = 96;

class ConfluxController {
 public:
  explicit ConfluxController(const ConfluxParams& p = ConfluxParams{},
                             Scheduler s = Scheduler::kLowRtt)
      : p_(p), scheduler_(s) {}

  // ---- legs ----
  void addLeg(LegId leg, const LegInit& init);
  bool hasLeg(LegId leg) const { return find(leg) != nullptr; }
  size_t legCount() const { return legs_.size(); }
  // Appends the set's legs, in the order they joined.
  void appendLegIds(std::vector<LegId>& out) const {
    for (const auto& l : legs_)
      out.push_back(l.id);
  }
  // Removes a closed leg. True if the whole set must now be torn down (rule 7; proposal 329
  // §2.4.3; C tor conflux_pool.c:cfx_del_leg): the leg had inflight >= sendme_inc, or it held a
  // sequence number (sent or received) above every remaining leg's, or it was the current sending
  // leg. False for an unknown leg.
  bool removeLeg(LegId leg);
  void setScheduler(Scheduler s) { scheduler_ = s; }
  Scheduler scheduler() const { return scheduler_; }

  // ---- events from the legs ----
  // A multiplexed cell arrived on `leg` (rule 5). Appends to `out` the messages that are now in
  // order (this one and any it unblocked), or queues it. `out` is not cleared: callers reuse it.
  Verdict onMultiplexed(LegId leg, uint8_t cmd, uint16_t streamId, Bytes body,
                        std::vector<Delivery>& out);
  // A SWITCH arrived on `leg`: the leg's receive counter jumps by `relativeSeq` (rule 5; the
  // SWITCH itself is not counted). Zero is accepted: C tor 0.4.9 conflux.c leaves its
  // CONFLUX_MIN_LINK_INCREMENT check commented out ("This can happen").
  Verdict onSwitch(LegId leg, uint32_t relativeSeq);
  // A LINKED_ACK arrived on `leg` at `nowUsec`: the leg's RTT is now - linkedSentUsec (rule 4).
  // A zero RTT (stalled clock) makes the leg unusable (RTT = max), as C tor record_rtt_exit does.
  // A repeated LINKED_ACK re-measures, as in C tor (proposal 329 §4.2.1 would close; C tor does
  // not track it). Closes the leg (TORPROTOCOL) if it is not a leg of this set.
  Verdict onLinkedAck(LegId leg, uint64_t nowUsec);
  // The leg's congestion control changed (after a SENDME, a DATA sent, a channel block/unblock).
  void onLegState(LegId leg, const CcFacts& cc);
  // Appends the legs whose LINKED_ACK is overdue at `nowUsec` (params().linkedAckTimeoutUsec
  // after their LINKED). The caller closes each as any closed leg (TIMEOUT).
  void overdueLinkedAcks(uint64_t nowUsec, std::vector<LegId>& out) const;

  // ---- sending ----
  // Picks the leg for a client-bound message with relay command `cmd` and counts it as sent
  // (rule 6; C tor conflux.c:conflux_decide_circ_for_send + conflux_note_cell_sent). The caller
  // sends the SWITCH (if any) and then the message on plan.leg.
  SendPlan send(uint8_t cmd);
  // The leg the next DATA cell would use, without side effects (for package-window sizing).
  std::optional<LegId> peekDataLeg() const;
  // The leg send(cmd) would choose now, without side effects (none: send() would block or the
  // command is not multiplexed), so a caller can first check that leg's own capacity.
  std::optional<LegId> peekLeg(uint8_t cmd) const;

  // ---- state ----
  uint64_t lastSeqDelivered() const { return lastSeqDelivered_; }
  uint64_t maxSeqSent() const;
  uint64_t maxSeqRecv() const;
  size_t oooQueueBytes() const { return oooBytes_; }
  // Charges the reorder queue's bytes (oooQueueBytes) to `memory` from now on, given back as
  // messages leave it and when the controller is destroyed (flowctl/mem_budget.h).
  void account(flowctl::MemCounter& memory) {
    oooCharge_ = flowctl::MemCharge(memory);
    oooCharge_.set(oooBytes_);
  }
  size_t oooQueueLength() const { return ooo_.size(); }
  std::optional<LegId> currentLeg() const;
  const ConfluxParams& params() const { return p_; }

  struct Leg {
    LegId id = 0;
    uint64_t lastSeqSent = 0;
    uint64_t lastSeqRecv = 0;
    uint64_t rttUsec = 0;
    uint64_t linkedSentUsec = 0;
    bool awaitsLinkedAck = false;
    CcFacts cc;
  };
  const Leg* leg(LegId id) const { return find(id); }

 private:
  struct Queued {
    uint8_t cmd = 0;
    uint16_t streamId = 0;
    std::vector<uint8_t> body;
  };

  Leg* find(LegId id);
  const Leg* find(LegId id) const;
  int pickIndex() const;      // the scheduler's choice, or -1
  int firstLegIndex() const;  // the leg to start on when there is no current leg
  int currentIndex() const;

  ConfluxParams p_;
  Scheduler scheduler_;
  // A handful of legs (<= maxLegsPerSet): a vector scanned linearly beats any map.
  std::vector<Leg> legs_;
  bool haveCurrent_ = false;
  LegId current_ = 0;
  uint64_t lastSeqDelivered_ = 0;
  // Out-of-order queue keyed by absolute sequence number (§2.6, §4.1).
  std::map<uint64_t, Queued> ooo_;
  size_t oooBytes_ = 0;
  flowctl::MemCharge oooCharge_;  // holds oooBytes_ once accounted
  // Messages released from the queue by the last onMultiplexed(); their bodies back Deliveries.
  std::vector<Queued> released_;
};

}  // namespace onionsplit::conflux

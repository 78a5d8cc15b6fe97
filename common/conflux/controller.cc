// common/conflux/controller.cc: see controller.h. Rule numbers are specs/README.md §6.
#include "common/conflux/controller.h"

#include <algorithm>
#include <limits>

#include "common/cell/relay.h"

namespace onionsplit::conflux {

namespace {
constexpr uint64_t kUnusableRtt = std::numeric_limits<uint64_t>::max();
}  // namespace

ConfluxController::Leg* ConfluxController::find(LegId id) {
  for (auto& l : legs_) {
    if (l.id == id) return &l;
  }
  return nullptr;
}

const ConfluxController::Leg* ConfluxController::find(LegId id) const {
  for (const auto& l : legs_) {
    if (l.id == id) return &l;
  }
  return nullptr;
}

void ConfluxController::addLeg(LegId leg, const LegInit& init) {
  if (Leg* l = find(leg)) {  // caller's bug; keep one entry per leg
    *l = Leg{leg,          init.lastSeqSent,    init.lastSeqRecv,
             init.rttUsec, init.linkedSentUsec, init.awaitsLinkedAck,
             init.cc};
    return;
  }
  legs_.push_back(Leg{leg, init.lastSeqSent, init.lastSeqRecv, init.rttUsec, init.linkedSentUsec,
                      init.awaitsLinkedAck, init.cc});
}

uint64_t ConfluxController::maxSeqSent() const {
  uint64_t m = 0;
  for (const auto& l : legs_)
    m = std::max(m, l.lastSeqSent);
  return m;
}

uint64_t ConfluxController::maxSeqRecv() const {
  uint64_t m = 0;
  for (const auto& l : legs_)
    m = std::max(m, l.lastSeqRecv);
  return m;
}

std::optional<LegId> ConfluxController::currentLeg() const {
  if (!haveCurrent_) return std::nullopt;
  return current_;
}

bool ConfluxController::removeLeg(LegId leg) {
  auto it = std::find_if(legs_.begin(), legs_.end(), [&](const Leg& l) { return l.id == leg; });
  if (it == legs_.end()) return false;
  const Leg gone = *it;
  legs_.erase(it);
  // Rule 7, each condition as C tor conflux_pool.c:cfx_del_leg checks it.
  bool tearDown = gone.cc.inflight >= gone.cc.sendmeInc;  // data in flight on the closed leg
  if (!legs_.empty() && (maxSeqSent() < gone.lastSeqSent || maxSeqRecv() < gone.lastSeqRecv)) {
    tearDown = true;  // the leg held the newest data in one direction: it would be lost
  }
  if (haveCurrent_ && current_ == leg) {
    haveCurrent_ = false;
    tearDown = true;  // no resumption (§2.7 is not implemented by C tor either)
  }
  return tearDown;
}

Verdict ConfluxController::onMultiplexed(LegId legId, uint8_t cmd, uint16_t streamId, Bytes body,
                                         std::vector<Delivery>& out) {
  released_.clear();  // the previous call's queued bodies are no longer referenced
  if (!cell::isConfluxMultiplexed(cmd)) return Verdict::closeLeg(CloseReason::kInternal);
  Leg* l = find(legId);
  // C tor conflux.c: a cell on a circuit without a leg closes it with INTERNAL.
  if (l == nullptr) return Verdict::closeLeg(CloseReason::kInternal);

  const uint64_t seq = ++l->lastSeqRecv;
  // Two messages with one sequence number: C tor queues both and then stalls forever on the
  // second (its head stays <= delivered). We close instead: it is a peer's protocol violation.
  if (ooo_.count(seq) != 0) return Verdict::closeLeg(CloseReason::kProtocol);
  if (seq == lastSeqDelivered_ + 1) {
    lastSeqDelivered_ = seq;
    out.push_back(Delivery{seq, cmd, streamId, body});
    // Drain what became in order (C tor conflux_dequeue_relay_msg, called until empty).
    while (!ooo_.empty() && ooo_.begin()->first == lastSeqDelivered_ + 1) {
      auto node = ooo_.extract(ooo_.begin());
      oooBytes_ -= node.mapped().body.size() + kQueuedOverheadBytes;
      oooCharge_.set(oooBytes_);
      lastSeqDelivered_ = node.key();
      released_.push_back(std::move(node.mapped()));
      const Queued& q = released_.back();
      // The body's buffer moved with its vector; the view stays valid until the next call.
      out.push_back(Delivery{node.key(), q.cmd, q.streamId, Bytes(q.body)});
    }
    return Verdict::ok();
  }
  // Rule 5 / C tor 0.4.9 conflux.c:conflux_process_relay_msg closes the circuit with INTERNAL
  // (a protocol-warn, no longer a BUG); whether the set follows is rule 7's decision.
  if (seq <= lastSeqDelivered_) return Verdict::closeLeg(CloseReason::kInternal);

  const size_t cost = body.size() + kQueuedOverheadBytes;
  if (oooBytes_ + cost > p_.maxOooqBytes) return Verdict::closeLeg(CloseReason::kResourceLimit);
  Queued q;
  q.cmd = cmd;
  q.streamId = streamId;
  q.body.assign(body.begin(), body.end());
  ooo_.emplace(seq, std::move(q));
  oooBytes_ += cost;
  oooCharge_.set(oooBytes_);
  return Verdict::ok();
}

Verdict ConfluxController::onSwitch(LegId legId, uint32_t relativeSeq) {
  Leg* l = find(legId);
  if (l == nullptr) return Verdict::closeLeg(CloseReason::kInternal);
  l->lastSeqRecv += relativeSeq;
  return Verdict::ok();
}

Verdict ConfluxController::onLinkedAck(LegId legId, uint64_t nowUsec) {
  Leg* l = find(legId);
  if (l == nullptr) return Verdict::closeLeg(CloseReason::kProtocol);
  const uint64_t rtt = nowUsec > l->linkedSentUsec ? nowUsec - l->linkedSentUsec : 0;
  l->rttUsec = rtt == 0 ? kUnusableRtt : rtt;
  l->awaitsLinkedAck = false;
  return Verdict::ok();
}

void ConfluxController::overdueLinkedAcks(uint64_t nowUsec, std::vector<LegId>& out) const {
  for (const Leg& l : legs_)
    if (l.awaitsLinkedAck && nowUsec >= l.linkedSentUsec &&
        nowUsec - l.linkedSentUsec >= p_.linkedAckTimeoutUsec)
      out.push_back(l.id);
}

void ConfluxController::onLegState(LegId legId, const CcFacts& cc) {
  Leg* l = find(legId);
  if (l == nullptr) return;
  l->cc = cc;
  if (cc.ewmaRttUsec != 0) l->rttUsec = cc.ewmaRttUsec;
}

int ConfluxController::currentIndex() const {
  for (size_t i = 0; i < legs_.size(); ++i) {
    if (haveCurrent_ && legs_[i].id == current_) return static_cast<int>(i);
  }
  return -1;
}

// C tor conflux.c:conflux_pick_first_leg: the lowest measured RTT; legs without an RTT are skipped
// (at the exit a BEGIN can beat the slower leg's LINKED_ACK, rule 4); none measured: the first leg.
int ConfluxController::firstLegIndex() const {
  int best = -1;
  for (size_t i = 0; i < legs_.size(); ++i) {
    const uint64_t rtt = legs_[i].rttUsec;
    if (rtt > 0 && (best < 0 || rtt < legs_[static_cast<size_t>(best)].rttUsec)) {
      best = static_cast<int>(i);
    }
  }
  return best < 0 ? 0 : best;
}

// C tor conflux.c:conflux_decide_circ_minrtt / _lowrtt. Unmeasured legs (RTT 0) and legs whose
// measurement failed (RTT max) are never chosen: "treat unmeasured legs as having infinite RTT"
// (proposal 329 §2.4.2). Ties go to the earlier leg.
int ConfluxController::pickIndex() const {
  int best = -1;
  uint64_t bestRtt = kUnusableRtt;
  for (size_t i = 0; i < legs_.size(); ++i) {
    const Leg& l = legs_[i];
    if (scheduler_ == Scheduler::kLowRtt && !l.cc.canSend()) continue;
    if (l.rttUsec != 0 && l.rttUsec < bestRtt) {
      bestRtt = l.rttUsec;
      best = static_cast<int>(i);
    }
  }
  if (best >= 0 && scheduler_ == Scheduler::kMinRtt &&
      !legs_[static_cast<size_t>(best)].cc.canSend()) {
    return -1;  // MinRTT stops rather than switch (§3.1)
  }
  return best;
}

SendPlan ConfluxController::send(uint8_t cmd) {
  SendPlan plan;
  if (!cell::isConfluxMultiplexed(cmd)) {
    plan.kind = SendPlan::kNotMultiplexed;
    return plan;
  }
  if (legs_.empty()) return plan;  // kBlocked
  int pick = pickIndex();
  if (!haveCurrent_) {
    // The first multiplexed cell: start where the scheduler points, without a SWITCH (rule 6).
    // C tor conflux_pick_first_leg first makes the lowest-RTT leg current and may then switch
    // away from it at once (a SWITCH before any cell) when LowRTT finds that leg blocked.
    current_ = legs_[static_cast<size_t>(pick >= 0 ? pick : firstLegIndex())].id;
    haveCurrent_ = true;
  }
  const int cur = currentIndex();
  if (pick < 0) {
    // CC windows cover DATA only: anything else goes on the current leg so it stays in order
    // (proposal 329 §2.5; rule 6).
    if (cmd == static_cast<uint8_t>(cell::RelayCmd::kData)) return plan;  // kBlocked
    pick = cur;
  }
  Leg& next = legs_[static_cast<size_t>(pick)];
  if (pick != cur) {
    const Leg& prev = legs_[static_cast<size_t>(cur)];
    // C tor conflux.c closes the set when the new leg is ahead of the old one (incoherent), and
    // conflux_cell.c refuses a relative seq >= UINT32_MAX (so 0xffffffff is refused too).
    if (next.lastSeqSent > prev.lastSeqSent ||
        prev.lastSeqSent - next.lastSeqSent >= std::numeric_limits<uint32_t>::max()) {
      plan.kind = SendPlan::kCloseSet;
      plan.reason = CloseReason::kProtocol;
      return plan;
    }
    plan.switchSeq = static_cast<uint32_t>(prev.lastSeqSent - next.lastSeqSent);
    next.lastSeqSent = prev.lastSeqSent;
    current_ = next.id;
  }
  ++next.lastSeqSent;
  plan.kind = SendPlan::kSend;
  plan.leg = next.id;
  return plan;
}

std::optional<LegId> ConfluxController::peekDataLeg() const {
  if (legs_.empty()) return std::nullopt;
  const int pick = pickIndex();
  if (pick < 0) return std::nullopt;
  return legs_[static_cast<size_t>(pick)].id;
}

std::optional<LegId> ConfluxController::peekLeg(uint8_t cmd) const {
  if (!cell::isConfluxMultiplexed(cmd) || legs_.empty()) return std::nullopt;
  int pick = pickIndex();
  // As send(): without a current leg the first cell starts where the scheduler points.
  const int cur = haveCurrent_ ? currentIndex() : (pick >= 0 ? pick : firstLegIndex());
  if (pick < 0) {
    if (cmd == static_cast<uint8_t>(cell::RelayCmd::kData)) return std::nullopt;
    pick = cur;
  }
  if (pick < 0) return std::nullopt;
  return legs_[static_cast<size_t>(pick)].id;
}

}  // namespace onionsplit::conflux

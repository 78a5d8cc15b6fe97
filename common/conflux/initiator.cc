// common/conflux/initiator.cc: see initiator.h.
#include "common/conflux/initiator.h"

#include <algorithm>

namespace onionsplit::conflux {

cell::ConfluxLinkMsg ConfluxInitiator::linkFor(LegId leg, uint64_t nowUsec) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.leg == leg; });
  if (it == pending_.end()) {
    pending_.push_back(Pending{leg, nowUsec});
  } else {
    it->sentUsec = nowUsec;
  }
  cell::ConfluxLinkMsg m;
  m.nonce = nonce_;
  m.lastSeqnoSent = ctl_.maxSeqSent();
  m.lastSeqnoRecv = ctl_.lastSeqDelivered();
  m.desiredUx = desiredUx_;
  return m;
}

LinkedResult ConfluxInitiator::onLinkedBody(LegId leg, Bytes body, uint64_t nowUsec) {
  auto linked = cell::decodeConfluxLink(body);
  if (!linked) return LinkedResult{Verdict::closeLeg(CloseReason::kProtocol), 0};
  return onLinked(leg, *linked, nowUsec);
}

LinkedResult ConfluxInitiator::onLinked(LegId leg, const cell::ConfluxLinkMsg& linked,
                                        uint64_t nowUsec) {
  LinkedResult r;
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.leg == leg; });
  // No LINK sent on this leg, or it is already linked (then it is no longer pending).
  if (it == pending_.end() || linked.nonce != nonce_ || !isKnownUx(linked.desiredUx)) {
    r.verdict = Verdict::closeLeg(CloseReason::kProtocol);
    return r;
  }
  // C tor record_rtt_client accepts a zero RTT (stalled clock) with a warning; the scheduler then
  // treats the leg as unmeasured.
  r.rttUsec = nowUsec > it->sentUsec ? nowUsec - it->sentUsec : 0;
  pending_.erase(it);
  if (ctl_.legCount() + 1 > p_.maxLegsPerSet) {
    r.verdict = Verdict::closeLeg(CloseReason::kProtocol);
    return r;
  }
  if (linked.lastSeqnoSent > ctl_.lastSeqDelivered()) {
    r.verdict = Verdict::closeSet(CloseReason::kProtocol);
    return r;
  }
  // C tor 0.4.9.14 (bug 41328): the exit claims to have received more than we ever sent.
  if (linked.lastSeqnoRecv > ctl_.maxSeqSent()) {
    r.verdict = Verdict::closeSet(CloseReason::kProtocol);
    return r;
  }
  LegInit init;
  init.lastSeqRecv = linked.lastSeqnoSent;
  init.lastSeqSent = linked.lastSeqnoRecv;
  init.rttUsec = r.rttUsec;
  ctl_.addLeg(leg, init);
  ctl_.setScheduler(schedulerFor(linked.desiredUx));
  r.verdict = Verdict::ok();
  return r;
}

bool ConfluxInitiator::onLegClosed(LegId leg) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.leg == leg; });
  if (it != pending_.end()) {
    pending_.erase(it);
    return false;
  }
  return ctl_.removeLeg(leg);
}

}  // namespace onionsplit::conflux

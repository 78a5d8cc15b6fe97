// common/conflux/mgr.cc: see mgr.h. Rule numbers are specs/README.md §6.
#include "common/conflux/mgr.h"

namespace onionsplit::conflux {

namespace {
LinkResult closeLeg(CloseReason r) {
  return LinkResult{LinkResult::kCloseLeg, r, 0, {}};
}
}  // namespace

LinkResult ConfluxMgr::onLinkBody(LegId leg, Bytes body, const LegFacts& facts, uint64_t nowUsec) {
  // C tor checks enabled/last hop/already linked before parsing; keep that order so the reason
  // does not depend on the body.
  if (!p_.enabled || !facts.ccNegotiated || !facts.isLastHop || isLinked(leg)) {
    return closeLeg(CloseReason::kProtocol);
  }
  auto link = cell::decodeConfluxLink(body);
  if (!link) return closeLeg(CloseReason::kProtocol);  // includes VERSION != 1
  return onLink(leg, *link, facts, nowUsec);
}

LinkResult ConfluxMgr::onLink(LegId leg, const cell::ConfluxLinkMsg& link, const LegFacts& facts,
                              uint64_t nowUsec) {
  // Rule 1 (C tor conflux_is_enabled: conflux needs CC negotiated on this circuit; source hop;
  // pending nonce / already linked; cfx_enabled). All close the circuit with TORPROTOCOL.
  if (!p_.enabled || !facts.ccNegotiated || !facts.isLastHop || isLinked(leg)) {
    return closeLeg(CloseReason::kProtocol);
  }
  // A LINK on a circuit that has carried streams. C tor only logs a BUG and detaches the streams
  // (conflux_pool.c:validate_circ_has_no_streams); the design doc calls a dirty circuit a protocol
  // violation, so we refuse it before it can join a set.
  if (facts.carriesStreams) return closeLeg(CloseReason::kProtocol);
  if (!isKnownUx(link.desiredUx)) return closeLeg(CloseReason::kProtocol);

  auto found = byNonce_.find(link.nonce);
  Set* set = nullptr;
  SetId id = 0;
  if (found != byNonce_.end()) {
    id = found->second;
    set = sets_.at(id).get();
    // C tor try_finalize_set: more than cfx_max_legs_set legs → the new circuit closes
    // (link_circuit fails, TORPROTOCOL); the set is untouched.
    if (set->ctl.legCount() + 1 > p_.maxLegsPerSet) return closeLeg(CloseReason::kProtocol);
    // C tor validate_unlinked_legs: the peer claims to have sent more than we delivered → data
    // loss, and C tor marks every leg of the set for close (TORPROTOCOL).
    if (link.lastSeqnoSent > set->ctl.lastSeqDelivered()) {
      return LinkResult{LinkResult::kCloseSet, CloseReason::kProtocol, id, {}};
    }
    // C tor 0.4.9.14 (bug 41328): the peer claims to have received more than the set ever sent.
    // The set's sequence can no longer be trusted: every leg closes (TORPROTOCOL).
    if (link.lastSeqnoRecv > set->ctl.maxSeqSent()) {
      return LinkResult{LinkResult::kCloseSet, CloseReason::kProtocol, id, {}, true};
    }
  } else {
    if (sets_.size() >= p_.maxSets) return closeLeg(CloseReason::kResourceLimit);
    if (p_.maxLegsPerSet == 0) return closeLeg(CloseReason::kProtocol);
    // A fresh set has delivered nothing: any LINK claiming sent data is the same data loss.
    if (link.lastSeqnoSent > 0) return closeLeg(CloseReason::kProtocol);
    // ... and sent nothing: any LINK claiming received data is bug 41328's.
    if (link.lastSeqnoRecv > 0) {
      LinkResult r = closeLeg(CloseReason::kProtocol);
      r.recvAhead = true;
      return r;
    }
    id = nextSet_++;
    auto fresh = std::make_unique<Set>(Set{link.nonce, ConfluxController(p_)});
    set = fresh.get();
    sets_.emplace(id, std::move(fresh));
    byNonce_.emplace(link.nonce, id);
  }

  // Rule 3: the LINKED carries the set's state before this leg joins.
  LinkResult r;
  r.kind = LinkResult::kLinked;
  r.set = id;
  r.linked.nonce = link.nonce;
  r.linked.lastSeqnoSent = set->ctl.maxSeqSent();
  r.linked.lastSeqnoRecv = set->ctl.lastSeqDelivered();
  r.linked.desiredUx = kExitDesiredUx;

  // Rule 2/3: linked now, with the counters the LINK gives (C tor cfx_add_leg copies them
  // crosswise). Each LINK's DESIRED_UX picks the scheduler, the latest one winning (cfx_add_leg).
  LegInit init;
  init.lastSeqRecv = link.lastSeqnoSent;
  init.lastSeqSent = link.lastSeqnoRecv;
  init.linkedSentUsec = nowUsec;
  init.awaitsLinkedAck = true;
  init.cc = facts.cc;
  set->ctl.addLeg(leg, init);
  set->ctl.setScheduler(schedulerFor(link.desiredUx));
  legToSet_.emplace(leg, id);
  return r;
}

void ConfluxMgr::overdueLinkedAcks(uint64_t nowUsec, std::vector<LegId>& out) const {
  for (const auto& [id, set] : sets_)
    set->ctl.overdueLinkedAcks(nowUsec, out);
}

Verdict ConfluxMgr::onLinkedAck(LegId leg, uint64_t nowUsec) {
  ConfluxController* ctl = controllerFor(leg);
  if (ctl == nullptr) return Verdict::closeLeg(CloseReason::kProtocol);
  return ctl->onLinkedAck(leg, nowUsec);
}

LegClosed ConfluxMgr::onLegClosed(LegId leg, std::vector<LegId>& closeOthers) {
  LegClosed r;
  auto it = legToSet_.find(leg);
  if (it == legToSet_.end()) return r;
  r.wasLinked = true;
  r.set = it->second;
  legToSet_.erase(it);
  auto s = sets_.find(r.set);
  if (s == sets_.end()) return r;  // our bug: a leg without its set
  r.setTornDown = s->second->ctl.removeLeg(leg);
  if (r.setTornDown || s->second->ctl.legCount() == 0) {
    dropSet(r.set, closeOthers);
    r.setForgotten = true;
  }
  return r;
}

void ConfluxMgr::dropSet(SetId set, std::vector<LegId>& legsOut) {
  auto s = sets_.find(set);
  if (s == sets_.end()) return;
  const size_t first = legsOut.size();
  s->second->ctl.appendLegIds(legsOut);
  for (size_t i = first; i < legsOut.size(); ++i)
    legToSet_.erase(legsOut[i]);
  byNonce_.erase(s->second->nonce);
  sets_.erase(s);
}

ConfluxController* ConfluxMgr::controllerFor(LegId leg) {
  auto it = legToSet_.find(leg);
  if (it == legToSet_.end()) return nullptr;
  return controller(it->second);
}

ConfluxController* ConfluxMgr::controller(SetId set) {
  auto s = sets_.find(set);
  return s == sets_.end() ? nullptr : &s->second->ctl;
}

}  // namespace onionsplit::conflux

// fuzz/fuzz_conflux_controller.cc: the exit's conflux core (common/conflux) driven by arbitrary
// event sequences: LINKs with any nonce, counters, UX and circuit facts on a handful of legs,
// multiplexed cells, SWITCHes of any size, LINKED_ACKs, congestion-control changes, sends and
// leg closes. Nothing may crash; every delivery is the next sequence number and its body is
// readable; the out-of-order queue never exceeds its byte cap; closes are carried out as the
// verdicts say (rule 7's teardown included).
#include <cstdint>
#include <optional>
#include <vector>

#include "common/cell/constants.h"
#include "common/cell/relay.h"
#include "common/conflux/mgr.h"

using namespace onionsplit;
using namespace onionsplit::conflux;

namespace {

struct In {
  const uint8_t* p;
  size_t n;
  bool empty() const { return n == 0; }
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v = (v << 8) | u8();
    return v;
  }
};

constexpr uint8_t kMuxCmds[] = {1, 2, 3, 4, 11, 12, 43, 44};

[[noreturn]] void fail() {
  __builtin_trap();
}

void checkCap(ConfluxMgr& m, LegId leg) {
  if (ConfluxController* c = m.controllerFor(leg)) {
    if (c->oooQueueBytes() > c->params().maxOooqBytes) fail();
  }
}

void closeLeg(ConfluxMgr& m, LegId leg) {
  std::vector<LegId> others;
  LegClosed r = m.onLegClosed(leg, others);
  if (m.isLinked(leg)) fail();
  for (LegId o : others) {
    if (o == leg || m.isLinked(o)) fail();
  }
  if (r.setTornDown && !r.setForgotten) fail();
}

void apply(ConfluxMgr& m, LegId leg, const Verdict& v) {
  if (v.kind == Verdict::kCloseLeg) {
    closeLeg(m, leg);
  } else if (v.kind == Verdict::kCloseSet) {
    std::vector<LegId> legs;
    if (ConfluxController* c = m.controllerFor(leg)) {
      (void)c;
      auto set = m.onLegClosed(leg, legs).set;
      m.dropSet(set, legs);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  In in{data, size};
  ConfluxParams p;
  p.maxOooqBytes = (uint64_t{in.u8()} << 4) + kQueuedOverheadBytes;
  p.maxLegsPerSet = 3 + in.u8() % 4;
  p.maxSets = 1 + in.u8() % 4;
  ConfluxMgr m(p);
  uint64_t now = 1;
  std::vector<Delivery> out;
  uint8_t body[510] = {};  // up to 2 * 255 bytes per message
  for (size_t i = 0; i < sizeof(body); ++i)
    body[i] = static_cast<uint8_t>(i);

  while (!in.empty()) {
    const uint8_t op = in.u8();
    const LegId leg = in.u8() % 8;
    switch (op % 8) {
      case 0: {  // LINK
        cell::ConfluxLinkMsg l;
        l.nonce.fill(static_cast<uint8_t>(in.u8() % 3));
        l.lastSeqnoSent = in.u8() % 4;
        l.lastSeqnoRecv = in.u8();
        l.desiredUx = in.u8() % 7;
        const uint8_t f = in.u8();
        LegFacts facts;
        facts.isLastHop = (f & 1) == 0;
        facts.carriesStreams = (f & 2) != 0;
        facts.ccNegotiated = (f & 4) == 0;
        facts.cc.inflight = f >> 4;
        const bool wasLinked = m.isLinked(leg);
        LinkResult r = m.onLink(leg, l, facts, now);
        if (r.kind == LinkResult::kLinked) {
          if (wasLinked || !m.isLinked(leg) || r.linked.nonce != l.nonce) fail();
          if (m.controllerFor(leg)->legCount() > p.maxLegsPerSet) fail();
        } else if (r.kind == LinkResult::kCloseSet) {
          std::vector<LegId> legs;
          m.dropSet(r.set, legs);
          closeLeg(m, leg);
        } else if (!wasLinked && m.isLinked(leg)) {
          fail();
        } else {
          closeLeg(m, leg);
        }
        if (m.setCount() > p.maxSets) fail();
        break;
      }
      case 1: {  // a multiplexed cell
        ConfluxController* c = m.controllerFor(leg);
        if (c == nullptr) break;
        const uint8_t cmd = kMuxCmds[in.u8() % sizeof(kMuxCmds)];
        const size_t len = in.u8() * 2u;
        out.clear();
        const uint64_t before = c->lastSeqDelivered();
        Verdict v = c->onMultiplexed(leg, cmd, 1, Bytes(body, len), out);
        uint64_t expect = before;
        unsigned sum = 0;
        for (const Delivery& d : out) {
          if (d.seq != ++expect) fail();
          for (uint8_t b : d.body)
            sum += b;  // the view must be readable (ASan)
        }
        if (expect != c->lastSeqDelivered()) fail();
        if (sum == 0xffffffffu) fail();
        checkCap(m, leg);
        apply(m, leg, v);
        break;
      }
      case 2: {  // SWITCH
        ConfluxController* c = m.controllerFor(leg);
        if (c == nullptr) break;
        const uint8_t kind = in.u8();
        const uint32_t rel = kind & 1 ? in.u32() : kind >> 1;
        apply(m, leg, c->onSwitch(leg, rel));
        break;
      }
      case 3:  // LINKED_ACK
        apply(m, leg, m.onLinkedAck(leg, now));
        break;
      case 4: {  // CC state
        ConfluxController* c = m.controllerFor(leg);
        if (c == nullptr) break;
        CcFacts cc;
        cc.cwnd = in.u8();
        cc.inflight = in.u8();
        const uint8_t f = in.u8();
        cc.channelBlocked = (f & 1) != 0;
        cc.ewmaRttUsec = f >> 1;
        c->onLegState(leg, cc);
        break;
      }
      case 5: {  // a client-bound message
        ConfluxController* c = m.controllerFor(leg);
        if (c == nullptr) break;
        const uint8_t cmd = in.u8() % 46;
        const std::optional<LegId> cur = c->currentLeg();
        const uint64_t curSent = cur ? c->leg(*cur)->lastSeqSent : 0;
        std::vector<uint64_t> sentBefore;
        for (LegId l = 0; l < 8; ++l)
          sentBefore.push_back(c->leg(l) ? c->leg(l)->lastSeqSent : 0);
        SendPlan plan = c->send(cmd);
        if (plan.kind == SendPlan::kSend) {
          const ConfluxController::Leg* l = c->leg(plan.leg);
          if (l == nullptr || c->currentLeg() != plan.leg) fail();
          if (plan.switchSeq) {
            // Rule 6: rel = prev.last_seq_sent - new.last_seq_sent, then new = prev + this cell.
            if (!cur || *cur == plan.leg) fail();
            if (*plan.switchSeq != curSent - sentBefore[plan.leg]) fail();
            if (l->lastSeqSent != curSent + 1) fail();
          } else if (l->lastSeqSent != sentBefore[plan.leg] + 1) {
            fail();
          }
        } else if (plan.kind == SendPlan::kCloseSet) {
          std::vector<LegId> legs;
          auto set = m.onLegClosed(leg, legs).set;
          m.dropSet(set, legs);
        } else if (plan.kind == SendPlan::kNotMultiplexed && cell::isConfluxMultiplexed(cmd)) {
          fail();
        }
        break;
      }
      case 6:  // the leg's circuit closed
        closeLeg(m, leg);
        break;
      case 7:
        now += in.u8();
        break;
    }
  }
  return 0;
}

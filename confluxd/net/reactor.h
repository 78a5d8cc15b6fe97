// confluxd/net/reactor.h: confluxd's shell around common/conflux: the ConfluxMgr of the relay and,
// through it, one ConfluxController per linked set, bound to the boundaries a set uses
// (circuit_conflux.capnp toward circuitd's legs, conflux_stream.capnp toward streamd).
//
// Where it sits: confluxd/main.cc makes one Reactor; circuitd's connection gets a CircuitdSession
// (confluxd serves it), the streamd link a StreamdSession (confluxd calls streamd). A leg is a flow
// on circuitd's boundary (circuitd's leg id); a set's stream side is a flow on streamd's boundary
// whose id is the set id, opened by the set's first BEGIN or RESOLVE.
//
// The design document's rerouting, as messages flow:
//   client -> exit: a leg's FWD (circuitd) sends its multiplexed messages here (`relay`); the
//     set's controller numbers them, reorders across legs, and what is in order goes to streamd.
//   exit -> client: streamd's messages for the set come here; the controller picks the leg (its
//     scheduler reads the legs' congestion state circuitd reports as `state`), a SWITCH goes first
//     when the leg changes, and the leg's BWD (circuitd) encrypts and sends.
//
// Verdicts (issue 15): what circuitd or streamd sends for a leg or a set is at most that leg's or
// set's close (FlowVerdict); only the boundaries' static rules (boundaries.h, checked in admit())
// and flow-less events can end a connection. A client's input therefore costs at most its own set.
//
// Credit (DESIGN.md section 3): each message of a peer comes with a CreditToken that travels with
// it. A leg's message's token goes when the controller took it: at once when it waits in the
// reorder queue (bounded by its byte cap), else when streamd took it. A streamd message's token
// goes when its leg's flow had room for it (and its SWITCH). What waits meanwhile waits in the
// set's two bounded queues (flowctl::MsgQueue). Messages confluxd makes itself (END refusing a
// stream past the set's cap or without a stream side, the ENDs for the streams of a stream side
// streamd dropped) use the queue's local slots, never a peer's window: when they are full, the set
// closes (RESOURCELIMIT), and streamd's messages, which always fit its window, are never refused.
//
// Identity (issue 15 item 4): legs and sets are kept in tables keyed by ids (LegId, SetId); a leg
// names its circuitd session by id and flow, a set its streamd session by id; sessions are found by
// id at use (they register in the reactor while they live). Nothing holds a pointer another path
// frees.
//
// Restart (proto/circuit_conflux.capnp, conflux_stream.capnp): a circuitd connection (one per
// shard, NumCPUs) that ends loses its legs as if each had closed (circuitd destroys them): a set
// whose legs were all there is forgotten, a set with legs on other shards goes on over them unless
// a lost leg held unsent data; without streamd's, every set that has a stream side is torn down
// (its legs get `closed`).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/conflux/mgr.h"
#include "common/flowctl/mem_budget.h"
#include "common/flowctl/msg_queue.h"
#include "common/flowctl/oom_choice.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/session.h"

namespace onionsplit::confluxd {

class Reactor;
using ipc::FlowId;
// A session's id: never reused while the reactor lives (sessions compare by id, not address).
using SessionId = uint64_t;

struct ConfluxCounters {
  uint64_t linksReceived = 0, legsLinked = 0, legsRefused = 0, setsLinked = 0, setsTornDown = 0;
  uint64_t setsAcrossShards = 0;  // sets a leg joined from another circuitd shard than the first
  uint64_t legsClosedByCircuitd = 0, switchesSent = 0, switchesReceived = 0, linkedAcks = 0;
  uint64_t messagesToStreamd = 0, messagesToClient = 0, reorderedMessages = 0;
  uint64_t reorderBytesMax = 0;
  uint64_t streamsRefused = 0;      // END RESOURCELIMIT (or no stream side) for a BEGIN/RESOLVE
  uint64_t setsOverLocalSlots = 0;  // sets closed because confluxd's own answers filled their slots
  uint64_t linksSeqnoRecvAhead = 0;  // LINKs refused: last_seqno_recv above what the set sent
  uint64_t linkedAckTimeouts = 0;    // linked legs closed: no LINKED_ACK before the deadline
  // The OOM handler (oom_handler.h): its runs, the sets it closed, the bytes they held.
  uint64_t oomRuns = 0, oomSetsClosed = 0, oomBytesFreed = 0;
};

// What confluxd keeps per open leg flow: the leg's key in the reactor's table.
struct LegFlow {
  conflux::LegId leg = 0;
};

// circuitd's connection: its legs.
class CircuitdSession final : public ipc::PeerSession<ipc::LegTraits, LegFlow> {
 public:
  CircuitdSession(Reactor& r, std::function<void()> drop);
  ~CircuitdSession() noexcept(false) override;
  SessionId id() const { return id_; }

  ipc::Verdict admit(proto::LegEvent::Reader e) override {
    return ipc::LegTraits::admitFromCircuitd(e);
  }
  // `state` reports (the only flow-less leg events).
  ipc::Verdict onControl(proto::LegEvent::Reader e) override;
  ipc::FlowVerdict onFlowEvent(FlowId f, LegFlow& s, proto::LegEvent::Reader e,
                               ipc::CreditToken credit) override;
  void onPeerClose(FlowId f, LegFlow& s, proto::LegEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
  SessionId id_;
};

// The link to streamd: the stream sides of the sets (flow id = set id).
class StreamdSession final : public ipc::PeerSession<ipc::StreamTraits> {
 public:
  StreamdSession(Reactor& r, std::function<void()> drop);
  ~StreamdSession() noexcept(false) override;
  SessionId id() const { return id_; }

  ipc::Verdict admit(proto::StreamEvent::Reader e) override {
    return ipc::StreamTraits::admit(ipc::Side::kStreamd, ipc::Side::kConfluxd, e);
  }
  ipc::Verdict onControl(proto::StreamEvent::Reader) override {
    return ipc::Verdict::breach("a stream event without a flow");
  }
  ipc::FlowVerdict onFlowEvent(FlowId f, ipc::NoState&, proto::StreamEvent::Reader e,
                               ipc::CreditToken credit) override;
  void onPeerClose(FlowId f, ipc::NoState&, proto::StreamEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
  SessionId id_;
};

class Reactor {
 public:
  // `params.maxOooqBytes` bounds each set's reorder queue; C tor's default (no practical bound)
  // must not be passed here.
  Reactor(const conflux::ConfluxParams& params, std::function<uint64_t()> nowUsec);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // The streamd session to use now (nullptr while streamd is not attached).
  void setStreamdLookup(std::function<StreamdSession*()> f) { streamd_ = std::move(f); }

  // The consensus' cfx_* values changed (common/conflux/params.h): every LINK from now on checks
  // them, sets linked from now on take them; linked sets keep theirs, as their queues were sized.
  void setParams(const conflux::ConfluxParams& params) {
    params_ = params;
    mgr_.setParams(params);
  }
  const conflux::ConfluxParams& params() const { return params_; }

  // Closes every linked leg whose LINKED_ACK is overdue at `nowUsec` (ConfluxMgr's deadline,
  // ConfluxParams::linkedAckTimeoutUsec; the shell calls it from a timer, about once a second);
  // returns how many.
  size_t expireLinkedAcks(uint64_t nowUsec);

  size_t sets() const { return mgr_.setCount(); }
  size_t legs() const { return mgr_.legCount(); }
  const ConfluxCounters& counters() const { return counters_; }

  // The memory budget: every set's reorder queue and message queues are charged to `memory()`
  // (confluxd's share of MaxMemInQueues; budget 0: none). After an event leaves confluxd over it,
  // `setOverBudget`'s callback (the OOM handler's schedule, oom_handler.h) is called; nothing is
  // closed there.
  flowctl::MemCounter& memory() { return memory_; }
  void setOverBudget(std::function<void()> f) { overBudget_ = std::move(f); }
  // The OOM handler's work, from the top of the loop: while over the budget, tears down the sets
  // with the largest reorder queue (common/flowctl/oom_choice.h), their legs closed with
  // RESOURCELIMIT, until at most the low-water mark is held. Returns the bytes freed.
  uint64_t handleOom();

  // At most this many open streams per set (as circuitd's per circuit); beyond, END RESOURCELIMIT.
  static constexpr size_t kMaxStreamsPerSet = 512;
  // Local slots of a set's queue toward the client, for the ENDs confluxd makes itself: one per
  // stream (the ENDs when streamd drops the stream side) plus this many refusals. Full: the set
  // closes with RESOURCELIMIT.
  static constexpr size_t kRefusalSlotsPerSet = 64;

 private:
  friend class CircuitdSession;
  friend class StreamdSession;
  struct Leg;
  struct Set;

  // Sessions register while they live; found by id at use.
  SessionId addSession() { return nextSession_++; }
  // After every event from a peer: over the budget, the OOM handler is scheduled.
  void noteMemory() {
    if (memory_.over() && overBudget_) overBudget_();
  }
  CircuitdSession* circuitd(SessionId id);

  // From circuitd.
  void onLegState(conflux::LegId id, proto::LegState::Reader st);
  ipc::FlowVerdict onLink(CircuitdSession& s, FlowId flow, LegFlow& lf, proto::Link::Reader l);
  // A leg the manager linked is refused after all (bug 41328, or no LINKED could be sent).
  ipc::FlowVerdict unlink(conflux::LegId id, uint8_t reason);
  ipc::FlowVerdict onLegRelay(conflux::LegId id, proto::RelayMsg::Reader m,
                              ipc::CreditToken credit);
  void onLegClosedByCircuitd(conflux::LegId id);
  void onLegCredit(CircuitdSession& s);
  void circuitdGone(CircuitdSession& s);
  // From streamd.
  ipc::FlowVerdict onStreamdRelay(StreamdSession& sd, FlowId flow, proto::RelayMsg::Reader m,
                                  ipc::CreditToken credit);
  void onStreamdClosed(StreamdSession& sd, FlowId flow, uint8_t reason);
  void onStreamdCredit(StreamdSession& sd);
  void streamdGone(StreamdSession& sd);

  // Messages the controller released in order go to the set's stream side; the one of sequence
  // `owedSeq` carries `owed` (the leg's credit for it). Returns false if the set is gone.
  bool toStreams(conflux::SetId set, uint64_t owedSeq, ipc::CreditToken owed);
  // An END confluxd makes itself, toward the client on `set`'s legs (local slots). False: the
  // slots were full and the set was closed.
  bool refuse(Set& set, uint16_t streamId, uint8_t endReason);
  void flushToStreamd(Set& set);
  void sendToStreamd(Set& set, StreamdSession& sd, uint16_t streamId, uint8_t command, Bytes body);
  // streamd's messages for the client go out on the legs the controller picks, while they can.
  // Returns false if the set is gone.
  bool flushToClient(conflux::SetId set);
  // One message toward the client on the leg the controller picks (a SWITCH first if it moves).
  enum class ToClient : uint8_t { kSent, kWait, kSetGone };
  ToClient sendToClient(Set& set, conflux::ConfluxController& ctl, uint16_t streamId,
                        uint8_t command, Bytes body);
  // A message on one leg outside the sequence (an END refusing a BEGIN_DIR).
  bool sendOnLeg(const Leg& leg, uint16_t streamId, uint8_t command, Bytes body);
  // Applies a verdict about `leg`; returns false if the leg's set is gone.
  bool apply(conflux::LegId leg, const conflux::Verdict& v);
  void closeLeg(conflux::LegId leg, uint8_t reason);
  void legGone(conflux::LegId leg);
  void tearDown(conflux::SetId set, uint8_t reason);
  void forgetSet(conflux::SetId set);
  Set* findSet(conflux::SetId id);
  Set* setOf(conflux::LegId leg);
  StreamdSession* streamd() { return streamd_ ? streamd_() : nullptr; }
  // The stream side of `set` is open on streamd's current session.
  bool streamSideOn(const Set& set, const StreamdSession* sd) const;

  // First: the charges of the controllers (mgr_) and of the sets' queues (sets_) refer to it.
  flowctl::MemCounter memory_;
  std::function<void()> overBudget_;
  std::vector<flowctl::OomCandidate> oomCandidates_;  // kept between runs
  std::vector<conflux::SetId> oomSets_;
  conflux::ConfluxParams params_;
  std::function<uint64_t()> now_;
  std::function<StreamdSession*()> streamd_;
  conflux::ConfluxMgr mgr_;
  std::unordered_map<conflux::LegId, Leg> legs_;
  std::unordered_map<conflux::SetId, std::unique_ptr<Set>> sets_;
  // Sets with messages waiting for a leg (circuitd's credit or a leg able to send) or for streamd.
  std::unordered_set<conflux::SetId> waitLegs_, waitStreamd_;
  std::unordered_map<SessionId, CircuitdSession*> circuitdSessions_;  // registered while alive
  SessionId nextSession_ = 1;
  conflux::LegId nextLeg_ = 1;
  std::vector<conflux::Delivery> deliveries_;
  std::vector<conflux::LegId> legScratch_;
  std::vector<conflux::SetId> setScratch_;
  ConfluxCounters counters_;
};

}  // namespace onionsplit::confluxd

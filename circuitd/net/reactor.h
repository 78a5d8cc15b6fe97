// circuitd/net/reactor.h: circuitd's shell around circuitd/core: a table of circuits
// (circuit_table.h) and one adapter per boundary it serves or calls: channeld
// (channel_circuit.capnp, channeld_adapter.h), streamd (circuit_stream.capnp, streamd_adapter.h)
// and confluxd (circuit_conflux.capnp, confluxd_adapter.h), plus the middle role's side of channeld
// (middle_role.cc: extends, next hops).
//
// Where it sits: circuitd/main.cc makes one Reactor; channeld's connections get a ChanneldSession
// each (circuitd serves them), the streamd link a StreamdSession, the confluxd link a
// ConfluxdSession (circuitd calls them). A circuit is keyed by (channeld connection, flow); its
// stream side, made at its first BEGIN, RESOLVE or BEGIN_DIR, is a flow on the streamd connection
// with an id of circuitd's that is never reused; a conflux leg's flow on confluxd likewise.
//
// Containment (DESIGN.md section 3, issue 15): every handler's verdict is typed. What a client or a
// relay sends costs at most its own circuit (FlowVerdict: DESTROY, END); only a breach of a .capnp
// (the pipe's stages, admit(), a control event that names what was never announced) costs a peer
// daemon's connection. Events that cross a close are dropped by the pipes themselves.
//
// Credit (DESIGN.md section 3): every received message's credit is a token that travels with it
// (core/circuit.h keeps them in its queues) and goes back when the message leaves; the table keeps
// lists of the circuits that wait for each boundary, so credit coming back visits only them.
//
// Conflux: a circuit whose client sends CONFLUX_LINK becomes a leg: a flow on the confluxd
// boundary (`link`), after which its multiplexed messages go to confluxd (the set's
// ConfluxController) instead of streamd, and what confluxd sends for the leg (`linked`, `relay`)
// goes through the leg's BWD like a stream message. The leg's congestion state goes to confluxd as
// `state` when it changes.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "circuitd/core/circuit.h"
#include "circuitd/core/known_relays.h"
#include "circuitd/net/circuit_table.h"
#include "common/flowctl/mem_budget.h"
#include "common/flowctl/oom_choice.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/session.h"

namespace onionsplit::circuitd {

class Reactor;

struct CircuitCounters {
  uint64_t createdFast = 0, createdNtor = 0, createdNtor3 = 0, createdCc = 0, createdCgo = 0;
  uint64_t refusedCreates = 0, destroyedByUs = 0, destroyedByClient = 0;
  uint64_t cellsFromClient = 0, cellsToClient = 0, streamMessagesIn = 0, streamMessagesOut = 0;
  uint64_t cgoCellsFromClient = 0, cgoCellsToClient = 0;  // of those, on CGO circuits
  uint64_t singleHopRefused = 0;
  uint64_t unknownRelayRefused = 0;  // BEGINs from a relay the consensus does not list
  uint64_t dropCells = 0;            // DROP messages from clients
  // Dropped onion-service messages: ESTABLISH_INTRO, ESTABLISH_RENDEZVOUS, INTRODUCE1, RENDEZVOUS1.
  std::array<uint64_t, 4> onionServiceCells{};
  uint64_t protocolViolations = 0;  // circuits we destroyed with reason PROTOCOL (C tor's meaning)
  uint64_t extendsRequested = 0, extendsFailed = 0, extended = 0, cellsForwarded = 0,
           cellsRelayedBack = 0, truncates = 0, destroyedByNextHop = 0;
  uint64_t legsLinking = 0, legsRefused = 0, legsClosedByConfluxd = 0, legMessagesOut = 0,
           legMessagesIn = 0, legStateReports = 0;
  uint64_t circuitCapRefused = 0;
  // The OOM handler (oom_handler.h): its runs, the circuits it closed, the bytes they held.
  uint64_t oomRuns = 0, oomCircuitsClosed = 0, oomBytesFreed = 0;
};

// A flow on a channeld connection: a circuit of a client (its key is the flow itself), or the next
// hop of a circuit on the same connection (its origin's flow).
struct ChanFlow {
  FlowId origin = 0;  // 0: this flow is a circuit; else the circuit whose next hop it is
};

// channeld's connection (circuitd serves it): the circuits of its channels.
class ChanneldSession final : public ipc::PeerSession<ipc::ChannelCircuitTraits, ChanFlow> {
 public:
  ChanneldSession(Reactor& r, std::function<void()> drop);
  ~ChanneldSession() noexcept(false) override;
  ConnId id() const { return id_; }

  ipc::Verdict admit(proto::ChannelEvent::Reader e) override;
  ipc::Verdict onControl(proto::ChannelEvent::Reader e) override;
  ipc::FlowVerdict onFlowEvent(FlowId f, ChanFlow& s, proto::ChannelEvent::Reader e,
                               ipc::CreditToken credit) override;
  void onPeerClose(FlowId f, ChanFlow& s, proto::ChannelEvent::Reader e) override;
  void onClosed(FlowId f) override;
  void onCredit() override;

  // What channeld told us of a channel (`opened`).
  struct Channel {
    bool relay = false;  // the peer authenticated as a relay
    std::optional<std::array<uint8_t, 20>> rsa;
    std::optional<std::array<uint8_t, 32>> ed;
  };
  Channel* channel(uint32_t id) {
    auto it = channels_.find(id);
    return it == channels_.end() ? nullptr : &it->second;
  }

 private:
  friend class Reactor;
  Reactor& reactor_;
  ConnId id_;
  std::unordered_map<uint32_t, Channel> channels_;
  // Origin circuits (flows) with an `extend` channeld has not answered. An entry stays until the
  // answer, or until the origin's flow is closed on both sides (nothing of it can cross then).
  std::unordered_set<FlowId> pendingExtends_;
};

// A message of streamd or confluxd for `c` must fit one cell of c's format (circuit_stream.capnp,
// circuit_conflux.capnp): a breach otherwise.
ipc::Verdict fitsOneCell(const Circuit& c, uint8_t command, size_t length);

// The streamd link (circuitd calls streamd): the stream sides of circuits.
class StreamdSession final : public ipc::PeerSession<ipc::StreamTraits, CircKey> {
 public:
  StreamdSession(Reactor& r, std::function<void()> drop);
  ~StreamdSession() noexcept(false) override;
  ConnId id() const { return id_; }

  ipc::Verdict admit(proto::StreamEvent::Reader e) override;
  ipc::Verdict onControl(proto::StreamEvent::Reader) override {
    return ipc::Verdict::breach("a stream event without a flow");
  }
  // A message longer than one cell of its circuit's format holds (a CGO circuit's v1 cell) is a
  // breach: the flow's opener said which format it is.
  ipc::Verdict admitOnFlow(FlowId f, CircKey& k, proto::StreamEvent::Reader e) override;
  ipc::FlowVerdict onFlowEvent(FlowId f, CircKey& k, proto::StreamEvent::Reader e,
                               ipc::CreditToken credit) override;
  void onPeerClose(FlowId f, CircKey& k, proto::StreamEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
  ConnId id_;
};

// The confluxd link (circuitd calls confluxd): conflux legs.
class ConfluxdSession final : public ipc::PeerSession<ipc::LegTraits, CircKey> {
 public:
  ConfluxdSession(Reactor& r, std::function<void()> drop);
  ~ConfluxdSession() noexcept(false) override;
  ConnId id() const { return id_; }

  ipc::Verdict admit(proto::LegEvent::Reader e) override;
  ipc::Verdict onControl(proto::LegEvent::Reader) override {
    return ipc::Verdict::breach("a leg event without a leg");
  }
  // A message longer than one cell of its circuit's format holds (a CGO circuit's v1 cell) is a
  // breach: the flow's opener said which format it is.
  ipc::Verdict admitOnFlow(FlowId f, CircKey& k, proto::LegEvent::Reader e) override;
  ipc::FlowVerdict onFlowEvent(FlowId f, CircKey& k, proto::LegEvent::Reader e,
                               ipc::CreditToken credit) override;
  void onPeerClose(FlowId f, CircKey& k, proto::LegEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
  ConnId id_;
};

class Reactor {
 public:
  Reactor(OnionIdentity id, CircuitParams params, std::function<void(MutBytes)> random,
          std::function<uint64_t()> nowUsec);
  // Consensus parameters changed (net_params.h): circuits created from now on use `params`.
  void setParams(const CircuitParams& params) { params_ = params; }
  const CircuitParams& params() const { return params_; }
  // The consensus' relays (known_relays.h), for BEGINs from relay-authenticated previous hops.
  void setKnownRelays(KnownRelays relays) { knownRelays_ = std::move(relays); }
  const std::optional<KnownRelays>& knownRelays() const { return knownRelays_; }
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // New onion keys (the launcher rotated them): new CREATEs use them; open circuits keep theirs.
  void setIdentity(OnionIdentity id) { id_ = std::move(id); }
  // The streamd session to use now (nullptr while streamd is not attached).
  void setStreamdLookup(std::function<StreamdSession*()> f) { streamd_ = std::move(f); }
  // The confluxd session to use now (nullptr while confluxd is not attached).
  void setConfluxdLookup(std::function<ConfluxdSession*()> f) { confluxd_ = std::move(f); }

  size_t circuits() const { return table_.size(); }
  // At most this many circuits in all; a CREATE beyond gets DESTROY RESOURCELIMIT.
  void setMaxCircuits(size_t n) { maxCircuits_ = n; }
  // Congestion control of the open circuits: the largest cwnd (cells), and that circuit's minimum
  // and smoothed RTT (microseconds).
  struct CcSnapshot {
    uint64_t cwndMax = 0, minRttUsec = 0, ewmaRttUsec = 0, inSlowStart = 0;
  };
  CcSnapshot ccSnapshot() const;
  const CircuitCounters& counters() const { return counters_; }
  // C tor's tor_relay_congestion_control gauges over this circuitd's circuits.
  const flowctl::CcGauges& ccGauges() const { return ccGauges_; }

  // streamd keeps at most this many streams per circuit too; beyond, the opener gets END here.
  static constexpr size_t kMaxStreamsPerCircuit = 512;

  // The memory budget: every circuit's cell queues are charged to `memory()` (circuitd's share of
  // MaxMemInQueues; budget 0: none). When a circuit leaves a call over it, `onOverBudget` (the OOM
  // handler's schedule, oom_handler.h) is called; never anything that closes circuits there.
  flowctl::MemCounter& memory() { return memory_; }
  void setOverBudget(std::function<void()> f) { overBudget_ = std::move(f); }
  // The OOM handler's work, from the top of the loop: while over the budget, closes the circuits
  // whose oldest queued cell is oldest (common/flowctl/oom_choice.h) with DESTROY RESOURCELIMIT
  // toward the client, the next hop, streamd and confluxd, until at most the low-water mark is
  // held. Returns the bytes freed (0 if under the budget by now).
  uint64_t handleOom();

 private:
  friend class ChanneldSession;
  friend class StreamdSession;
  friend class ConfluxdSession;
  class Io;

  ConnId newConnection() { return nextConn_++; }
  ChanneldSession* channeld(ConnId c) {
    auto it = channelds_.find(c);
    return it == channelds_.end() ? nullptr : it->second;
  }
  StreamdSession* streamd() { return streamd_ ? streamd_() : nullptr; }
  ConfluxdSession* confluxd() { return confluxd_ ? confluxd_() : nullptr; }

  // ---- channeld (channeld_adapter.cc) ----
  ipc::FlowVerdict create(ChanneldSession& s, FlowId flow, uint8_t command, Bytes payload);
  ipc::FlowVerdict relayCell(Entry& e, bool early, Bytes payload, ipc::CreditToken credit);
  void channelClosed(ChanneldSession& s, uint32_t channel);
  void channeldGone(ConnId conn);
  void onChanneldCredit(ConnId conn);
  // ---- the middle role (middle_role.cc) ----
  void requestExtend(Entry& e, const ExtendTarget& t);
  ipc::Verdict onExtended(ChanneldSession& s, uint32_t channel, proto::ExtendResult::Reader r);
  ipc::FlowVerdict fromNextHop(ChanneldSession& s, FlowId next, FlowId origin, uint8_t command,
                               Bytes payload, ipc::CreditToken credit);
  void nextHopClosed(ChanneldSession& s, FlowId origin);
  void destroyNextHop(Entry& e, uint8_t reason);
  // ---- streamd (streamd_adapter.cc) ----
  ipc::FlowVerdict fromStreamd(Entry& e, proto::RelayMsg::Reader m, ipc::CreditToken credit);
  void streamSideClosed(Entry& e, uint8_t reason);
  // The stream side's connection is gone: END (MISC) for its streams; false if the circuit must
  // close (its ENDs overflowed).
  [[nodiscard]] bool detachStreams(Entry& e);
  void streamdGone(ConnId conn);
  // ---- confluxd (confluxd_adapter.cc) ----
  ipc::FlowVerdict fromConfluxd(Entry& e, proto::LegEvent::Reader ev, ipc::CreditToken credit);
  void legClosed(Entry& e, uint8_t reason);
  void confluxdGone(ConnId conn);
  // Sends the leg's congestion state to confluxd if it changed since the last report.
  void reportLeg(Entry& e);
  // ---- the table (reactor.cc) ----
  // Ends a circuit: its next hop, stream side and leg are closed, then its own flow (DESTROY
  // `reason`) unless `toChanneld` is false (channeld closed it first, or the channel is gone).
  void kill(CircKey k, cell::DestroyReason reason, bool toChanneld);  // k: a copy (see erase)
  // A core call's result: the circuit lives (pump and track it) or it is killed.
  void settle(Entry& e, bool alive);
  void pump(Entry& e);
  void track(Entry& e);
  void onSideCredit(bool legs);

  // First: the charges of the circuits in table_ refer to it.
  flowctl::MemCounter memory_;
  std::function<void()> overBudget_;
  std::vector<flowctl::OomCandidate> oomCandidates_;  // kept between runs: their room is reused
  std::vector<CircKey> oomKeys_;
  OnionIdentity id_;
  CircuitParams params_;
  std::optional<KnownRelays> knownRelays_;
  std::function<void(MutBytes)> random_;
  std::function<uint64_t()> now_;
  std::function<StreamdSession*()> streamd_;
  std::function<ConfluxdSession*()> confluxd_;
  CircuitTable table_;
  // channeld's connections by id (each session registers itself while it lives).
  std::unordered_map<ConnId, ChanneldSession*> channelds_;
  ConnId nextConn_ = 1;
  uint64_t nextStreamFlow_ = 1;
  uint64_t nextLegFlow_ = 1;
  size_t maxCircuits_ = 65536;
  CircuitCounters counters_;
  flowctl::CcGauges ccGauges_;
};

}  // namespace onionsplit::circuitd

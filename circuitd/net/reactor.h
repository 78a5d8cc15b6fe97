// circuitd/net/reactor.h: circuitd's shell around circuitd/core: the circuits of every channel
// channeld announces, bound to the boundaries they use (channel_circuit.capnp toward channeld,
// circuit_stream.capnp toward streamd, circuit_conflux.capnp toward confluxd).
//
// Where it sits: circuitd/main.cc makes one Reactor; channeld's connections get a ChanneldSession
// each (circuitd serves them), the streamd link a StreamdSession (circuitd calls streamd). A
// circuit is keyed by its channeld flow, (channel << 32) | circId; its stream side, made at its
// first BEGIN, RESOLVE or BEGIN_DIR, is a flow on the streamd boundary with an id of circuitd's
// that is never reused.
//
// Credit (DESIGN.md §3): a client cell's channeld credit goes back when FWD consumed it (its
// message went to streamd, or needed nobody); a streamd message's credit goes back when BWD sent
// its cell to channeld. What waits meanwhile waits in the circuit's bounded queues
// (circuitd/core/circuit.h), and the reactor keeps lists of the circuits that wait for each
// boundary, so credit coming back visits only them.
//
// Conflux: a circuit whose client sends CONFLUX_LINK becomes a leg: a flow on the confluxd boundary
// (`link`), after which its multiplexed messages go to confluxd (the set's ConfluxController)
// instead of streamd, and what confluxd sends for the leg (`linked`, `relay`) goes through the
// leg's BWD like a stream message. The leg's congestion state goes to confluxd as `state` when it
// changes.
//
// Closing: every circuit flow closes twice (batch_pipe.h): circuitd sends DESTROY to channeld
// exactly once per circuit (channeld does not pass it on when the client destroyed the circuit
// itself), and `closed` to streamd once per stream side. Both may have to wait for credit; a
// dying circuit stays in its table until they are sent.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "circuitd/core/circuit.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/session.h"

namespace onionsplit::circuitd {

class Reactor;

struct CircuitCounters {
  uint64_t createdFast = 0, createdNtor = 0, createdNtor3 = 0, createdCc = 0;
  uint64_t refusedCreates = 0, rateLimitedCreates = 0, destroyedByUs = 0, destroyedByClient = 0;
  uint64_t cellsFromClient = 0, cellsToClient = 0, streamMessagesIn = 0, streamMessagesOut = 0;
  uint64_t singleHopRefused = 0;
  uint64_t extendsRequested = 0, extendsFailed = 0, extended = 0, cellsForwarded = 0,
           cellsRelayedBack = 0, truncates = 0, destroyedByNextHop = 0;
  uint64_t legsLinking = 0, legsRefused = 0, legsClosedByConfluxd = 0, legMessagesOut = 0,
           legMessagesIn = 0, legStateReports = 0;
};

class ChanneldSession final : public ipc::PeerSession<ipc::ChannelCircuitTraits> {
 public:
  ChanneldSession(Reactor& r, std::function<void()> drop);
  ~ChanneldSession() noexcept(false) override;
  ipc::UnknownFlow onUnknownFlow(proto::ChannelEvent::Reader e) override;
  bool onEvent(proto::ChannelEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
};

class StreamdSession final : public ipc::PeerSession<ipc::StreamTraits> {
 public:
  StreamdSession(Reactor& r, std::function<void()> drop);
  ~StreamdSession() noexcept(false) override;
  ipc::UnknownFlow onUnknownFlow(proto::StreamEvent::Reader) override {
    return ipc::UnknownFlow::kDrop;  // a stream side we closed: its messages crossed the close
  }
  bool onEvent(proto::StreamEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
};

class ConfluxdSession final : public ipc::PeerSession<ipc::LegTraits> {
 public:
  ConfluxdSession(Reactor& r, std::function<void()> drop);
  ~ConfluxdSession() noexcept(false) override;
  ipc::UnknownFlow onUnknownFlow(proto::LegEvent::Reader) override {
    return ipc::UnknownFlow::kDrop;  // a leg we closed: its messages crossed the close
  }
  bool onEvent(proto::LegEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
};

class Reactor {
 public:
  Reactor(OnionIdentity id, CircuitParams params, std::function<void(MutBytes)> random,
          std::function<uint64_t()> nowUsec);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // New onion keys (the launcher rotated them): new CREATEs use them; open circuits keep theirs.
  void setIdentity(OnionIdentity id) { id_ = std::move(id); }
  // The streamd session to use now (nullptr while streamd is not attached).
  void setStreamdLookup(std::function<StreamdSession*()> f) { streamd_ = std::move(f); }
  // The confluxd session to use now (nullptr while confluxd is not attached).
  void setConfluxdLookup(std::function<ConfluxdSession*()> f) { confluxd_ = std::move(f); }

  size_t circuits() const { return entries_.size(); }
  // Congestion control of the open circuits: the largest cwnd (cells), and that circuit's minimum
  // and smoothed RTT (microseconds).
  struct CcSnapshot {
    uint64_t cwndMax = 0, minRttUsec = 0, ewmaRttUsec = 0, inSlowStart = 0;
  };
  CcSnapshot ccSnapshot() const;
  const CircuitCounters& counters() const { return counters_; }

 private:
  friend class ChanneldSession;
  friend class StreamdSession;
  friend class ConfluxdSession;
  struct Entry;
  class Io;
  using Key = std::pair<ChanneldSession*, ipc::FlowId>;
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.first) ^
             std::hash<uint64_t>()(k.second * 0x9e3779b97f4a7c15ULL);
    }
  };

  // From channeld.
  bool onChanneldEvent(ChanneldSession& s, proto::ChannelEvent::Reader e);
  void onChanneldCredit(ChanneldSession& s);
  void channeldGone(ChanneldSession& s);
  // From streamd.
  bool onStreamdEvent(StreamdSession& s, proto::StreamEvent::Reader e);
  void onStreamdCredit(StreamdSession& s);
  void streamdGone(StreamdSession& s);
  // From confluxd.
  bool onConfluxdEvent(ConfluxdSession& s, proto::LegEvent::Reader e);
  void onConfluxdCredit(ConfluxdSession& s);
  void confluxdGone(ConfluxdSession& s);
  // Sends the leg's congestion state to confluxd if it changed since the last report.
  void reportLeg(Entry& e);
  // Held messages go on to the stream side (streamd or confluxd) while it takes them.
  void drain(Entry& e);

  void create(ChanneldSession& s, ipc::FlowId flow, uint8_t command, Bytes payload);
  // The middle role: an EXTEND2 that passed the core's checks goes to channeld; its answer opens
  // (or refuses) the next hop's flow; cells of that flow come back to the origin circuit.
  void requestExtend(Entry& e, const ExtendTarget& t);
  // False: channeld named a next-hop flow that is already open or beyond the connection's flows
  // (a contract violation: that circuit could be neither used nor closed).
  bool onExtended(ChanneldSession& s, uint32_t channel, proto::ExtendResult::Reader r);
  void fromNextHop(Entry& e, ipc::FlowId flow, uint8_t command, Bytes payload);
  // Ends the circuit's next hop (DESTROY with `reason` on its flow unless channeld already forgot
  // it); the cells waiting for it are dropped and their client credit goes back.
  void closeNextHop(Entry& e, uint8_t reason);
  void relayCell(Entry& e, bool early, Bytes payload);
  // Starts the end of a circuit: DESTROY to channeld unless `channelGone`, `closed` to streamd if
  // it has a stream side.
  void kill(Entry& e, cell::DestroyReason reason, bool toChanneld);
  // Sends what the entry still owes its boundaries; erases it when nothing is left.
  void settle(Entry& e);
  void pump(Entry& e);
  // Puts the entry on (or takes it off) the lists of circuits waiting for credit.
  void track(Entry& e);
  void refuseStreams(Entry& e);
  // The entry's stream side belonged to a streamd connection that is gone.
  void detachStreams(Entry& e);
  StreamdSession* streamd() { return streamd_ ? streamd_() : nullptr; }
  ConfluxdSession* confluxd() { return confluxd_ ? confluxd_() : nullptr; }

  OnionIdentity id_;
  CircuitParams params_;
  std::function<void(MutBytes)> random_;
  std::function<uint64_t()> now_;
  std::function<StreamdSession*()> streamd_;
  std::function<ConfluxdSession*()> confluxd_;
  std::unordered_map<Key, std::unique_ptr<Entry>, KeyHash> entries_;
  std::unordered_map<uint64_t, Entry*> byStreamFlow_;
  std::unordered_map<uint64_t, Entry*> byLegFlow_;
  // Next hops (the flows channeld opened for our extends), to their origin circuits.
  std::unordered_map<Key, Entry*, KeyHash> byNextHop_;
  // The identities relays proved on their channels (an EXTEND2 back to the previous hop is
  // refused).
  struct PeerIds {
    std::optional<std::array<uint8_t, 20>> rsa;
    std::optional<std::array<uint8_t, 32>> ed;
  };
  std::unordered_map<Key, PeerIds, KeyHash> relayChannels_;
  // Circuits that wait for a boundary's credit (BWD's queue or our SENDMEs for channeld; FWD's held
  // messages for the stream side, streamd or confluxd): credit coming back visits only them.
  std::unordered_set<Key, KeyHash> waitChanneld_, waitSide_;
  std::vector<Key> scratch_;
  // Client channels (the peer did not authenticate), by (session, channel id): their CREATE rate.
  std::unordered_map<Key, CreateLimiter, KeyHash> clientChannels_;
  uint64_t nextStreamFlow_ = 1;
  uint64_t nextLegFlow_ = 1;
  CircuitCounters counters_;
};

}  // namespace onionsplit::circuitd

// streamd/net/stream_session.h: the stream side of the circuits of one peer connection (circuitd's,
// or confluxd's with set ids as flows): sockets, DNS, and the batch pipe toward the peer.
//
// Where it sits: streamd's main.cc binds one StreamSession per attachCircuitd/attachConfluxd. Per
// flow it keeps a CircuitStreams (streamd/core, the pure logic) and does what that asks: evdns
// lookups through the shared Resolver, non-blocking TCP connects with libevent bufferevents,
// writes of client DATA to sockets, and reads of sockets into DATA messages. A circuit's sockets
// are read only while its flow has credit toward the peer and no control message is waiting, and
// its ready streams are served round-robin, one DATA message each. Control messages (CONNECTED,
// END, RESOLVED, SENDME, XON, XOFF) that meet an exhausted credit wait in a bounded per-circuit
// queue and leave, in order, when credit returns (onCredit); a circuit whose queue overflows is
// dropped with `closed` RESOURCELIMIT. `closed` itself needs no credit (batch_pipe.h). That queue
// holds only streamd's own messages, in its own bound (a flowctl::MsgQueue with local slots only,
// the rule circuitd's and confluxd's queues follow): no peer credit ever waits in it.
//
// Verdicts (issue 15): what the peer daemon itself may not send (a command its side may not send
// us, stream id 0, a body over 498 bytes: StreamTraits::admit with the peer's Side) is a contract
// violation and drops the connection. Everything a client can cause (a bad BEGIN, too many
// streams, an unknown stream id, a bad hostname) costs at most an END on that stream, or the flow
// (`closed` with a reason), never the connection. An END never carries reason 0 (bug 41353).
//
// Credit: each of the peer's messages comes with a CreditToken; it is kept until the message is
// in the socket's output buffer (or the stream's optimistic store), then dropped, which returns the
// credit. Circuits are found by flow id (and their lookups by flow id, circuit serial and stream
// id): nothing outside a circuit holds a pointer to it or to its streams.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/daemon/log.h"
#include "common/flowctl/mem_budget.h"
#include "common/flowctl/oom_choice.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/session.h"
#include "streamd/core/circuit_streams.h"
#include "streamd/net/linger.h"
#include "streamd/net/oom_target.h"
#include "streamd/net/resolver.h"

namespace onionsplit::streamd {

using flowctl::FlowId;

class OomHandler;
class StreamSession;

// What every session of the daemon shares.
struct StreamdContext {
  StreamdContext(event_base* b, Resolver& r, StreamShared& s) : base(b), resolver(r), shared(s) {}
  event_base* base;
  Resolver& resolver;
  StreamShared& shared;
  uint32_t connectTimeoutMs = 15000;  // resolve + connect of a BEGIN; then END TIMEOUT
  size_t readAheadBytes = 32 * 498;   // per socket, read before the circuit may send it
  size_t maxQueuedControl = 4096;     // per circuit
  SocketLinger* linger = nullptr;     // ended streams' sockets flush here (none: closed at once)
  // OutboundBindAddressExit (config::exitBindAddress): the local address of exit connections per
  // family, "" for none; never used for loopback destinations, as in C tor.
  std::string bindIpv4;
  std::string bindIpv6;
  // Memory (issue 18): every socket's output and input buffer is charged here, against streamd's
  // share of MaxMemInQueues (budget 0: none). Over it, `oom` (when set) runs at the top of the
  // loop. `sessions` lets it find every stream; `nextAge` orders streams by creation.
  flowctl::MemCounter memory;
  OomHandler* oom = nullptr;
  std::vector<StreamSession*> sessions;
  uint64_t nextAge = 1;
  // AccountingMax: the connection whose setHibernating(true) holds shared.hibernating (channeld's);
  // when it closes, streamd is awake again (proto/control.capnp).
  std::optional<ipc::ConnectionId> hibernatingBy;
  void setHibernating(ipc::ConnectionId by, bool on);
  // SIGINT (ShutdownWaitLength): new streams are refused until the end, whatever accounting says,
  // as C tor's exit refuses them while it waits to exit (its hibernation state "exiting").
  bool shuttingDown = false;
  void beginShutdown();
  void connectionClosed(ipc::ConnectionId id);
  // A buffer grew: schedules the OOM handler if over budget (never runs it here).
  void noteGrowth();
};

// The pipe's state per flow: none (the circuit is kept in the session's table by flow id).
struct StreamFlow {};

class StreamSession final : public ipc::PeerSession<ipc::StreamTraits, StreamFlow> {
 public:
  using Event = ipc::StreamTraits::Event;

  // `peerSide`: who is on the other end (ipc::Side::kCircuitd for circuits, kConfluxd for sets);
  // it decides what the peer may send (relay_commands.h).
  StreamSession(std::string peer, ipc::Side peerSide, StreamdContext& ctx,
                std::function<void()> drop, flowctl::CreditWindows w = ipc::defaultWindows());
  ~StreamSession() noexcept(false) override;

  ipc::Verdict admit(Event::Reader e) override;
  ipc::Verdict onControl(Event::Reader e) override;
  ipc::FlowVerdict onFlowEvent(FlowId f, StreamFlow& s, Event::Reader e,
                               flowctl::CreditToken credit) override;
  void onPeerClose(FlowId f, StreamFlow& s, Event::Reader e) override;
  void onClosed(FlowId f) override;
  // The stream boundary never forgets a flow without both closes: an unknown flow is a breach.
  bool mayBeStale(Event::Reader) override { return false; }
  void onCredit() override;

  size_t circuits() const { return circuits_.size(); }
  size_t sockets() const;

  // For the OOM handler (oom_handler.h): every stream holding buffered bytes, its target appended
  // to `targets` and its index there as the candidate's ref; then endForMemory() closes one with
  // END RESOURCELIMIT and returns the bytes freed (0 if it is gone).
  void collectOom(std::vector<flowctl::OomCandidate>& out, std::vector<OomTarget>& targets);
  uint64_t endForMemory(const OomTarget& t);

 private:
  class Circuit;
  friend class Circuit;

  void pump(Circuit& c);
  bool sendRelay(FlowId flow, StreamId id, uint8_t cmd, const uint8_t* body, size_t len);
  void dropCircuit(FlowId flow, uint8_t reason);
  void logOverflow(FlowId flow);
  // The circuit of `flow` if it is still the one numbered `serial`.
  Circuit* circuitOf(FlowId flow, uint64_t serial);
  void scheduleSweep();
  static void onSweep(evutil_socket_t, short, void* arg);

  StreamdContext& ctx_;
  std::unordered_map<FlowId, std::unique_ptr<Circuit>> circuits_;
  std::unordered_set<FlowId> blocked_;  // waiting for credit
  std::vector<FlowId> scratch_;
  ipc::Side peerSide_;
  uint64_t nextSerial_ = 1;
  event* sweepEv_ = nullptr;
  daemon::RateLimiter logLimit_{10, std::chrono::minutes(1)};  // a client can make many circuits
};

}  // namespace onionsplit::streamd

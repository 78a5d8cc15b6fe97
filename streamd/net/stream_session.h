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
// dropped with `closed` RESOURCELIMIT. `closed` itself needs no credit (batch_pipe.h).
//
// What the peer sends is hostile: a command it may not send, stream id 0, or a body over 498
// bytes is a contract violation (the connection is dropped).
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/daemon/log.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/session.h"
#include "streamd/core/circuit_streams.h"
#include "streamd/net/linger.h"
#include "streamd/net/resolver.h"

namespace onionsplit::streamd {

using flowctl::FlowId;

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
};

class StreamSession final : public ipc::PeerSession<ipc::StreamTraits> {
 public:
  using Event = ipc::StreamTraits::Event;

  StreamSession(std::string peer, StreamdContext& ctx, std::function<void()> drop,
                flowctl::CreditWindows w = ipc::defaultWindows());
  ~StreamSession() noexcept(false) override;

  ipc::UnknownFlow onUnknownFlow(Event::Reader e) override;
  bool onEvent(Event::Reader e) override;
  void onCredit() override;

  size_t circuits() const { return circuits_.size(); }
  size_t sockets() const;

 private:
  class Circuit;
  friend class Circuit;

  void pump(Circuit& c);
  bool sendRelay(FlowId flow, StreamId id, uint8_t cmd, const uint8_t* body, size_t len);
  void sendClosed(FlowId flow, uint8_t reason);
  void dropCircuit(FlowId flow, uint8_t reason);
  void scheduleSweep();
  static void onSweep(evutil_socket_t, short, void* arg);

  StreamdContext& ctx_;
  std::unordered_map<FlowId, std::unique_ptr<Circuit>> circuits_;
  std::unordered_set<FlowId> blocked_;  // waiting for credit
  std::vector<FlowId> scratch_;
  FlowId opening_ = 0;
  bool openingSet_ = false;
  event* sweepEv_ = nullptr;
  daemon::RateLimiter logLimit_{10, std::chrono::minutes(1)};  // a client can make many circuits
};

}  // namespace onionsplit::streamd

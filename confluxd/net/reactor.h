// confluxd/net/reactor.h: confluxd's shell around common/conflux: the ConfluxMgr of the relay and,
// through it, one ConfluxController per linked set, bound to the boundaries a set uses
// (circuit_conflux.capnp toward circuitd's legs, conflux_stream.capnp toward streamd).
//
// Where it sits: confluxd/main.cc makes one Reactor; circuitd's connection gets a CircuitdSession
// (confluxd serves it), the streamd link a StreamdSession (confluxd calls streamd). A leg is a flow
// on circuitd's boundary (circuitd's leg id); a set's stream side is a flow on streamd's boundary
// whose id is the set id, opened by the set's first BEGIN, RESOLVE or BEGIN_DIR.
//
// The design document's rerouting, as messages flow:
//   client -> exit: a leg's FWD (circuitd) sends its multiplexed messages here (`relay`); the
//     set's controller numbers them, reorders across legs, and what is in order goes to streamd.
//   exit -> client: streamd's messages for the set come here; the controller picks the leg (its
//     scheduler reads the legs' congestion state circuitd reports as `state`), a SWITCH goes first
//     when the leg changes, and the leg's BWD (circuitd) encrypts and sends.
//
// Credit (DESIGN.md section 3): a leg's message goes back to circuitd as credit when the controller
// took it: at once when it waits in the reorder queue (bounded by its byte cap), else when streamd
// took it. A streamd message's credit goes back when its leg's flow had room for it (and its
// SWITCH). What waits meanwhile waits in the set's two bounded queues.
//
// Restart (proto/circuit_conflux.capnp, conflux_stream.capnp): without circuitd's connection every
// set is forgotten (circuitd destroys the legs); without streamd's, every set that has a stream
// side is torn down (its legs get `closed`).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/conflux/mgr.h"
#include "common/flowctl/msg_queue.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/session.h"

namespace onionsplit::confluxd {

class Reactor;
using ipc::FlowId;

struct ConfluxCounters {
  uint64_t linksReceived = 0, legsLinked = 0, legsRefused = 0, setsLinked = 0, setsTornDown = 0;
  uint64_t legsClosedByCircuitd = 0, switchesSent = 0, switchesReceived = 0, linkedAcks = 0;
  uint64_t messagesToStreamd = 0, messagesToClient = 0, reorderedMessages = 0;
  uint64_t reorderBytesMax = 0;
};

// circuitd's connection: its legs.
class CircuitdSession final : public ipc::PeerSession<ipc::LegTraits> {
 public:
  CircuitdSession(Reactor& r, std::function<void()> drop);
  ~CircuitdSession() noexcept(false) override;
  ipc::UnknownFlow onUnknownFlow(proto::LegEvent::Reader e) override {
    // A LINK opens a leg; anything else names a leg we closed (it crossed our close).
    return e.isLink() ? ipc::UnknownFlow::kOpen : ipc::UnknownFlow::kDrop;
  }
  bool onEvent(proto::LegEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
};

// The link to streamd: the stream sides of the sets.
class StreamdSession final : public ipc::PeerSession<ipc::StreamTraits> {
 public:
  StreamdSession(Reactor& r, std::function<void()> drop);
  ~StreamdSession() noexcept(false) override;
  ipc::UnknownFlow onUnknownFlow(proto::StreamEvent::Reader) override {
    return ipc::UnknownFlow::kDrop;  // a set we closed: its messages crossed the close
  }
  bool onEvent(proto::StreamEvent::Reader e) override;
  void onCredit() override;

 private:
  Reactor& reactor_;
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

  size_t sets() const { return mgr_.setCount(); }
  size_t legs() const { return mgr_.legCount(); }
  const ConfluxCounters& counters() const { return counters_; }

  // At most this many open streams per set (as circuitd's per circuit); beyond, END RESOURCELIMIT.
  static constexpr size_t kMaxStreamsPerSet = 512;

 private:
  friend class CircuitdSession;
  friend class StreamdSession;
  struct Leg;
  struct Set;

  // From circuitd.
  bool onLegEvent(CircuitdSession& s, proto::LegEvent::Reader e);
  void onLegCredit(CircuitdSession& s);
  void circuitdGone(CircuitdSession& s);
  bool onLink(CircuitdSession& s, FlowId flow, proto::Link::Reader l);
  bool onLegRelay(Leg& leg, proto::RelayMsg::Reader m);
  void onLegClosed(CircuitdSession& s, FlowId flow, uint8_t reason);
  // From streamd.
  bool onStreamdEvent(StreamdSession& s, proto::StreamEvent::Reader e);
  void onStreamdCredit(StreamdSession& s);
  void streamdGone(StreamdSession& s);

  // Messages the controller released in order go to the set's stream side; `owedLeg` is the leg
  // whose credit the first of them holds (0: none).
  void toStreams(Set& set, conflux::LegId owedLeg, uint64_t owedSeq);
  void flushToStreamd(Set& set);
  // One message to streamd (it has credit for the set); returns `owedLeg`'s credit (0: none).
  void sendToStreamd(Set& set, StreamdSession& sd, uint16_t streamId, uint8_t command, Bytes body,
                     conflux::LegId owedLeg);
  // streamd's messages for the client go out on the legs the controller picks, while they can.
  void flushToClient(Set& set);
  // One message toward the client on the leg the controller picks (a SWITCH first if it moves);
  // `owed`: it holds streamd's credit, which goes back once it is sent.
  enum class ToClient : uint8_t { kSent, kWait, kSetGone };
  ToClient sendToClient(Set& set, conflux::ConfluxController& ctl, uint16_t streamId,
                        uint8_t command, Bytes body, bool owed);
  // A message on one leg outside the sequence (an END refusing a BEGIN_DIR).
  bool sendOnLeg(const Leg& leg, uint16_t streamId, uint8_t command, Bytes body);
  // Applies a verdict about `leg` (of `set`); returns false if the set is gone.
  bool apply(conflux::LegId leg, const conflux::Verdict& v);
  void closeLeg(conflux::LegId leg, uint8_t reason);
  void legGone(conflux::LegId leg);
  void tearDown(conflux::SetId set, uint8_t reason);
  void forgetSet(conflux::SetId set);
  Set* setOf(conflux::LegId leg);
  Leg* findLeg(CircuitdSession& s, FlowId flow);
  StreamdSession* streamd() { return streamd_ ? streamd_() : nullptr; }

  conflux::ConfluxParams params_;
  std::function<uint64_t()> now_;
  std::function<StreamdSession*()> streamd_;
  conflux::ConfluxMgr mgr_;
  std::unordered_map<conflux::LegId, std::unique_ptr<Leg>> legs_;
  std::unordered_map<conflux::SetId, std::unique_ptr<Set>> sets_;
  // Sets with messages waiting for a leg (circuitd's credit or a leg able to send) or for streamd.
  std::unordered_set<conflux::SetId> waitLegs_, waitStreamd_;
  std::unordered_map<const CircuitdSession*, uint64_t> sessionGen_;
  uint64_t nextGen_ = 1;
  std::vector<conflux::Delivery> deliveries_;
  std::vector<conflux::LegId> legScratch_;
  std::vector<conflux::SetId> setScratch_;
  ConfluxCounters counters_;
};

}  // namespace onionsplit::confluxd

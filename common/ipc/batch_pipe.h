// common/ipc/batch_pipe.h: one direction-pair of batched, credit-controlled messages over a Cap'n
// Proto connection between two daemons (both ends of one boundary of proto/), and the table of the
// flows they carry.
//
// Where it sits: every boundary (channel_circuit, circuit_stream, circuit_conflux, conflux_stream)
// has the same shape: each side implements a Sink with push(batch), a batch holds a list of events
// and the credit grants for the other direction. BatchPipe is that shape once, parameterised by a
// Traits type that names the schema types and says which events belong to which flow, and by the
// State the owner keeps per open flow (usually the key of the object the flow belongs to).
//
// Sending: the producer asks canSend(flow); if yes it appends an event with add(), fills it, and
// commits it to its flow with commit(). An event's size for the connection window is its payload
// (Traits::payloadBytes) plus a fixed overhead, computed the same way on both sides. Events go out
// in batches: a batch is flushed at the end of the current loop turn, so everything produced in
// one turn shares one frame, or sooner when it fills its event list (sized to recent batches, at
// most maxBatch events; startBatch() says why).
//
// Receiving runs the checks in named stages (STYLE.md): (1) is the batch within bounds, (2) are the
// grants within the windows, (3) may this peer send this event at all (Handler::admit: the
// boundary's direction table and sizes), (4) does the event name a flow the peer may use, does
// credit allow it, and does it keep the terms its flow was opened with (Handler::admitOnFlow: a
// circuit's cell format, say); only then (5) the Handler sees it. The verdicts are typed by who
// can cause them:
//   - a control (flow-less) event gets a Verdict, which may be a contract violation;
//   - an event of a flow gets a FlowVerdict: accept, or close that flow with a reason. It cannot be
//   a
//     violation: what a client or relay made the peer send costs at most its own flow.
// A violation (stages 1-4, or a control event's) ends the connection: Handler::onViolation once.
//
// Flows (the flow table): a flow opens with an opener event (either side: openFlow() for ours) and
// closes in two phases: each side sends one closing event, and the id is forgotten when both have,
// so an id is never reused while messages of its previous life may still be on the wire. close()
// sends ours (it costs no credit: a side can always end a flow); from then on every event of the
// peer for that flow crossed our close and is dropped here, whatever its kind, its credit returned,
// until the peer's own close ends it. When the peer closes first, the Handler hears onPeerClose and
// the pipe answers with our close itself.
//
// Credit: each received event of a flow comes with a CreditToken (common/flowctl/credit_token.h).
// The owner keeps it with the message while the message waits at its edge; when the token goes
// (the message left, was dropped, or its queue went) the credit goes back with the next batch.
// Nobody returns credit by hand. A return beyond what was received is our own bug: it aborts a
// debug build, and is counted (stats().overReturns) and logged in a release build.
//
// Transport: in the daemons a pipe sends and receives its batches as data frames on its
// connection's socket (setPlane(), frame_stream.h): one write per batch, no reply. The same batches
// can also travel as RPC calls to the peer's Sink (setPeer(), makeLocalSink()), which tests and
// fuzzers use to drive a pipe without a socket. Lifetime: a BatchPipe lives exactly as long as its
// connection; tokens and local sinks may outlive it and then do nothing.
#pragma once

#include <capnp/capability.h>
#include <capnp/list.h>
#include <capnp/message.h>
#include <capnp/orphan.h>
#include <capnp/serialize.h>
#include <kj/async.h>
#include <kj/debug.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/flowctl/credit.h"
#include "common/flowctl/credit_token.h"
#include "common/ipc/batch_arena.h"
#include "common/ipc/frame_stream.h"

namespace onionsplit::ipc {

using flowctl::CreditToken;
using flowctl::FlowId;

// The verdict on a control (flow-less) event. Only these, and the pipe's own stages, can end a
// connection, and only for what the boundary's .capnp forbids.
struct [[nodiscard]] Verdict {
  const char* violation = nullptr;  // nullptr: accepted
  static Verdict accept() { return {}; }
  static Verdict breach(const char* why) { return {why}; }
  bool ok() const { return violation == nullptr; }
};

// The verdict on an event of a flow: accept it, or close the flow (the boundary's closing event
// with `reason`: DESTROY's reason, END's reason, a leg's close reason). Never the connection.
struct [[nodiscard]] FlowVerdict {
  bool close = false;
  uint8_t reason = 0;
  static FlowVerdict accept() { return {}; }
  static FlowVerdict closeFlow(uint8_t reason) { return {true, reason}; }
};

// The per-flow state of a pipe whose owner keeps none.
struct NoState {};

struct PipeStats {
  uint64_t batchesSent = 0, eventsSent = 0, batchesReceived = 0, eventsReceived = 0;
  uint64_t frameBytesSent = 0, frameBytesReceived = 0;  // data frames' messages on the wire
  uint64_t crossedClose = 0;  // events dropped because they crossed a close
  uint64_t overReturns = 0;   // credit returned beyond what arrived (our bug)

  // Sums the pipes of several connections (a daemon's counters).
  PipeStats& operator+=(const PipeStats& o) {
    batchesSent += o.batchesSent;
    eventsSent += o.eventsSent;
    batchesReceived += o.batchesReceived;
    eventsReceived += o.eventsReceived;
    frameBytesSent += o.frameBytesSent;
    frameBytesReceived += o.frameBytesReceived;
    crossedClose += o.crossedClose;
    overReturns += o.overReturns;
    return *this;
  }
};

// What an event costs the connection window beyond its payload (its struct and pointers).
inline constexpr uint32_t kEventOverhead = 64;
// Limits on a received data frame's message (as RpcLimits for RPC messages).
inline constexpr uint64_t kTraversalLimitWords = 1u << 17;
inline constexpr int kNestingLimit = 16;

template <class Traits, class State = NoState>
class BatchPipe final : private flowctl::CreditLedger {
 public:
  using Sink = typename Traits::Sink;
  using Event = typename Traits::Event;

  class Handler {
   public:
    // noexcept(false) like KJ's destructors, so handlers may own KJ objects.
    virtual ~Handler() noexcept(false) = default;
    // Stage 3: may the peer send this event at all (the boundary's direction table, sizes, fields
    // the schema requires)? A breach is a violation.
    virtual Verdict admit(typename Event::Reader e) = 0;
    // A control (flow-less) event: a channel announced or gone, an extend, a leg's state report.
    virtual Verdict onControl(typename Event::Reader e) = 0;
    // An event of an open flow; an opener arrives with the flow just opened and a fresh State.
    // Never an event of a flow we are closing. `credit` is the event's flow credit: keep it with
    // the message while it waits at the edge, or let it go.
    virtual FlowVerdict onFlowEvent(FlowId f, State& s, typename Event::Reader e,
                                    CreditToken credit) = 0;
    // Stage 4, per flow: does the event keep the terms its flow's opener set, which an honest peer
    // always knows (the contract says which)? A breach is a violation. Default: no such terms.
    virtual Verdict admitOnFlow(FlowId, State&, typename Event::Reader) {
      return Verdict::accept();
    }
    // The peer closed a flow that was open on our side. When this returns the pipe answers with our
    // close (the same reason) and forgets the flow.
    virtual void onPeerClose(FlowId f, State& s, typename Event::Reader e) = 0;
    // Both closes of a flow have passed (whichever came first): the id is free again, and nothing
    // more of the flow's previous life can arrive.
    virtual void onClosed(FlowId) {}
    // A non-opener for a flow the pipe does not know. True if such a flow can have ended without a
    // close the peer saw (with its channel, say), so the event crossed that end and is dropped;
    // false if the id was never announced: a violation.
    virtual bool mayBeStale(typename Event::Reader) { return false; }
    // Credit came back: producers waiting in canSend() may try again.
    virtual void onCredit() {}
    // The peer broke the contract; drop the connection. Called at most once.
    virtual void onViolation(const std::string& why) = 0;
  };

  using Stats = PipeStats;

  BatchPipe(flowctl::CreditWindows w, Handler& h, uint32_t maxBatch = 256)
      : windows_(w), handler_(h), maxBatch_(maxBatch), tx_(w), rx_(w), tasks_(errors_) {
    errors_.pipe = this;
    arena_.maxWords = uint64_t{maxBatch_} * (Traits::kMaxEventBytes / 8) + 4096;
    capacity_ = std::min(maxBatch_, kMinCapacity);
  }
  ~BatchPipe() {
    *alive_ = nullptr;
    *ledger_ = nullptr;
  }
  BatchPipe(const BatchPipe&) = delete;
  BatchPipe& operator=(const BatchPipe&) = delete;

  // The peer's sink; events are sent there as RPC calls.
  void setPeer(typename Sink::Client peer) { peer_ = kj::mv(peer); }
  // The connection's data plane: batches are sent and received there as frames.
  void setPlane(std::shared_ptr<DataPlane> plane) {
    plane_ = std::move(plane);
    plane_->setHandler([alive = alive_](kj::ArrayPtr<const capnp::word> message) {
      if (*alive) (*alive)->receiveMessage(message);
    });
  }
  // A server object for the peer to push to. It may outlive the pipe (the connection is torn down
  // on a later turn); pushes after that fail as disconnected.
  typename Sink::Client makeLocalSink() { return kj::heap<LocalSink>(alive_); }

  // ---- the flow table ----
  // Opens a flow from our side (we are about to send its opener). False if the id is in use (open
  // or closing) or the table is full.
  bool openFlow(FlowId f, State s = State{}) {
    if (failed_ || flows_.count(f)) return false;
    if (!tx_.openFlow(f)) return false;
    if (!rx_.openFlow(f)) {
      tx_.closeFlow(f);
      return false;
    }
    flows_.emplace(f, Flow{false, std::move(s)});
    return true;
  }
  // The state of an open flow; nullptr if the flow is unknown or closing.
  State* state(FlowId f) {
    auto it = flows_.find(f);
    return it == flows_.end() || it->second.closing ? nullptr : &it->second.state;
  }
  bool isOpen(FlowId f) const {
    auto it = flows_.find(f);
    return it != flows_.end() && !it->second.closing;
  }
  // Open or closing: the id is not free.
  bool inUse(FlowId f) const { return flows_.count(f) != 0; }
  bool canSend(FlowId f) const {
    auto it = flows_.find(f);
    return !failed_ && it != flows_.end() && !it->second.closing &&
           tx_.canSend(f, Traits::kMaxEventBytes);
  }
  // Sends our close of an open flow (no credit needed) and drops its state; what the peer still
  // sends for it is dropped until its own close. False if the flow was not open.
  bool close(FlowId f, uint8_t reason) {
    auto it = flows_.find(f);
    if (failed_ || it == flows_.end() || it->second.closing) return false;
    it->second.closing = true;
    it->second.state = State{};
    Traits::fillClose(add(), f, reason);
    return true;
  }
  // Forgets flows without the two-phase close (both sides agree they are gone, e.g. with a
  // channel).
  template <class Pred>
  void forgetFlows(Pred pred) {
    for (auto it = flows_.begin(); it != flows_.end();) {
      if (pred(it->first)) {
        tx_.closeFlow(it->first);
        rx_.closeFlow(it->first);
        it = flows_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Visits every open (not closing) flow: f(FlowId, State&). The visitor must not open, close or
  // forget flows; collect ids and act after.
  template <class F>
  void forEachOpen(F f) {
    for (auto& [id, flow] : flows_)
      if (!flow.closing) f(id, flow.state);
  }

  // ---- sending ----
  // Appends an event to the current batch; the caller fills it, then commits it if it belongs to a
  // flow (after canSend), or does nothing more for a control event. Closing events go by close().
  typename Event::Builder add() {
    if (count_ > 0 && count_ == listCapacity_) flushFull();
    if (!batching()) startBatch();
    if (listCapacity_ == 0) {
      list_ = orphanage_.newOrphan<capnp::List<Event>>(capacity_);
      listCapacity_ = capacity_;
    }
    return list_.get()[count_++];
  }
  void commit(FlowId f, typename Event::Builder e) { tx_.onSent(f, sizeOf(e)); }

  // Sends what is batched now (also called at the end of each loop turn).
  void flush() {
    if (failed_ || (!peer_ && !plane_)) {  // nowhere to go (failed, or not bound yet): dropped
      if (batching()) {
        // The list lives in the message being dropped: release it before its arena goes.
        list_ = capnp::Orphan<capnp::List<Event>>();
        builder_.reset();
        request_.reset();
        count_ = listCapacity_ = 0;
      }
      return;
    }
    if (!batching() && !rx_.owesAnything()) return;
    if (!batching()) startBatch();
    auto batch = builder_ ? builder_->getRoot<typename Traits::Batch>() : request_->initBatch();
    if (listCapacity_ > 0) {  // a batch of credit alone has no list
      // Few events in a large list: the next batches start smaller.
      if (count_ * 4 <= listCapacity_ && listCapacity_ == capacity_)
        capacity_ = std::max(std::min(maxBatch_, kMinCapacity), capacity_ / 2);
      list_.truncate(count_);
      batch.adoptEvents(kj::mv(list_));
    }
    std::vector<flowctl::FlowGrant>& grants = grantScratch_;
    grants.clear();
    uint32_t conn = rx_.takeGrants(grants, true);
    auto credit = batch.initCredit();
    credit.setConnectionBytes(conn);
    auto flows = credit.initFlows(static_cast<unsigned>(grants.size()));
    for (unsigned i = 0; i < grants.size(); ++i) {
      flows[i].setFlow(grants[i].flow);
      flows[i].setMessages(grants[i].messages);
    }
    stats_.batchesSent++;
    stats_.eventsSent += count_;
    count_ = listCapacity_ = 0;
    if (builder_) {
      // A connection that is gone (or failed) ends the session through its owner.
      auto segments = builder_->getSegmentsForOutput();
      for (auto seg : segments)
        stats_.frameBytesSent += seg.size() * sizeof(capnp::word);
      if (plane_) plane_->send(segments);  // else unbound yet: dropped
      builder_.reset();                    // zeroes the arena for the next batch
      return;
    }
    auto req = kj::mv(*request_);
    request_.reset();
    tasks_.add(req.send().ignoreResult());
  }

  const Stats& stats() const { return stats_; }
  bool failed() const { return failed_; }
  uint32_t flowAvailable(FlowId f) const { return tx_.flowAvailable(f); }
  uint32_t flowHeld(FlowId f) const { return rx_.flowHeld(f); }
  size_t openFlows() const { return flows_.size(); }

 private:
  struct Flow {
    bool closing = false;  // we sent our close; the peer's is still to come
    State state;
  };

  class LocalSink final : public Sink::Server {
   public:
    explicit LocalSink(std::shared_ptr<BatchPipe*> pipe) : pipe_(std::move(pipe)) {}
    kj::Promise<void> push(typename Sink::Server::PushContext ctx) override {
      BatchPipe* p = *pipe_;
      if (!p) return KJ_EXCEPTION(DISCONNECTED, "the pipe is gone");
      p->receive(ctx.getParams().getBatch());
      if (p->failed_) return KJ_EXCEPTION(FAILED, "contract violation; closing the connection");
      return kj::READY_NOW;
    }

   private:
    std::shared_ptr<BatchPipe*> pipe_;
  };

  struct ErrorHandler final : public kj::TaskSet::ErrorHandler {
    BatchPipe* pipe = nullptr;
    void taskFailed(kj::Exception&& e) override {
      pipe->violate(std::string("push failed: ") + e.getDescription().cStr());
    }
  };

  // The same on both sides: the sender computes it on its builder, the receiver on its reader.
  template <class E>
  static uint32_t sizeOf(E e) {
    size_t n = Traits::payloadBytes(e);
    return n > Traits::kMaxEventBytes - kEventOverhead ? Traits::kMaxEventBytes + 1
                                                       : static_cast<uint32_t>(n + kEventOverhead);
  }

  bool batching() const { return builder_.has_value() || request_.has_value(); }
  // Batches are built as data frames unless the pipe pushes to an RPC sink.
  bool framed() const { return plane_ || !peer_; }

  // The first segment of an RPC call's batch (tests and fuzzers; the daemons send frames).
  static constexpr uint64_t kFirstSegmentWords = 4096;

  // The event list is allocated with the first event, for capacity_ events: a list allocated for
  // maxBatch events and truncated to a few left the unused slots in the message (zeroed one by one
  // and sent: a batch of 14 with maxBatch 256 was 13.6 KiB instead of 7.6 KiB). capacity_ follows
  // the batches: it doubles (up to maxBatch) when a batch fills its list, which is then sent at
  // once, and halves when a batch used a quarter of it or less.
  static constexpr uint32_t kMinCapacity = 16;
  void startBatch() {
    orphanage_ =
        capnp::Orphanage::getForMessageContaining(framed() ? startFrame() : startRequest());
    count_ = listCapacity_ = 0;
    scheduleFlush();
  }
  void flushFull() {
    if (listCapacity_ == capacity_) capacity_ = std::min(maxBatch_, capacity_ * 2);
    flush();
  }
  // The batch of an RPC call.
  typename Traits::Batch::Builder startRequest() {
    request_ = peer_->pushRequest(capnp::MessageSize{
        std::min<uint64_t>(kFirstSegmentWords,
                           uint64_t{maxBatch_} * (Traits::kMaxEventBytes / 8) + 64),
        0});
    return request_->getBatch();
  }
  // The batch of a data frame: its own message, built in the pipe's reused segment (no
  // allocation unless the batch outgrows it; batch_arena.h).
  typename Traits::Batch::Builder startFrame() {
    builder_.emplace(arena_);
    return builder_->template initRoot<typename Traits::Batch>();
  }

  // A data frame from the peer: parsed in place, with the same limits as RPC messages.
  void receiveMessage(kj::ArrayPtr<const capnp::word> message) {
    if (failed_) return;
    stats_.frameBytesReceived += message.size() * sizeof(capnp::word);
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&] {
                   capnp::ReaderOptions opts;
                   opts.traversalLimitInWords = kTraversalLimitWords;
                   opts.nestingLimit = kNestingLimit;
                   capnp::FlatArrayMessageReader reader(message, opts);
                   if (reader.getEnd() != message.end()) {
                     violate("a data frame with bytes after its message");
                     return;
                   }
                   receive(reader.getRoot<typename Traits::Batch>());
                 })) {
      violate(std::string("a malformed data frame: ") + e->getDescription().cStr());
    }
  }

  void scheduleFlush() {
    if (flushScheduled_) return;
    flushScheduled_ = true;
    tasks_.add(kj::evalLater([this]() {
      flushScheduled_ = false;
      flush();
    }));
  }

  void violate(const std::string& why) {
    if (failed_) return;
    failed_ = true;
    handler_.onViolation(why);
  }

  // CreditLedger: a token of ours went (its message left the edge).
  void release(FlowId f, uint32_t gen) override {
    if (auto st = rx_.onEdgeTaken(f, gen, 1); !st) {
      // Each token stands for one message received: returning more is a bug of ours, never the
      // peer's, and must not look like the peer's (an over-grant it would drop us for).
      ++stats_.overReturns;
      spdlog::error("ipc: credit of flow {:x} returned beyond what arrived ({})", f,
                    flowctl::describe(st.error()));
#ifndef NDEBUG
      std::abort();
#endif
      return;
    }
    if (rx_.hasGrantsDue()) scheduleFlush();
  }

  // Stage 4 and 5 for one event of a flow; false if the connection must go.
  bool receiveFlowEvent(FlowId f, typename Event::Reader e, uint32_t size, uint32_t& bytes) {
    bool closing = Traits::closesFlow(e);
    auto it = flows_.find(f);
    if (it != flows_.end() && Traits::opensNewFlowOnly(e)) {
      violate("opener for a flow id in use");
      return false;
    }
    if (it == flows_.end()) {
      if (closing || !Traits::opensFlow(e)) {
        if (!handler_.mayBeStale(e)) {
          violate("event for a flow that was never opened");
          return false;
        }
        ++stats_.crossedClose;
        if (closing) return true;  // a close costs no credit
        if (!rx_.onConnReceived(size)) {
          violate("bytes beyond the connection window");
          return false;
        }
        bytes += size;
        return true;
      }
      if (!tx_.openFlow(f) || !rx_.openFlow(f)) {
        tx_.closeFlow(f);
        violate("too many flows");
        return false;
      }
      it = flows_.emplace(f, Flow{}).first;
    }
    if (it->second.closing) {  // it crossed our close: dropped, whatever it is
      if (closing) {
        tx_.closeFlow(f);
        rx_.closeFlow(f);
        flows_.erase(it);
        handler_.onClosed(f);
        return !failed_;
      }
      if (!rx_.onConnReceived(size)) {
        violate("bytes beyond the connection window");
        return false;
      }
      bytes += size;
      ++stats_.crossedClose;
      return true;
    }
    if (closing) {  // the peer closes first: the owner hears it, we answer, the id is free
      handler_.onPeerClose(f, it->second.state, e);
      if (failed_) return false;
      it = flows_.find(f);  // the handler may have closed it itself meanwhile
      if (it != flows_.end() && !it->second.closing) Traits::echoClose(add(), f, e);
      if (it != flows_.end()) {
        tx_.closeFlow(f);
        rx_.closeFlow(f);
        flows_.erase(it);
      }
      handler_.onClosed(f);
      return !failed_;
    }
    if (auto st = rx_.onReceived(f, size); !st) {
      violate(std::string(flowctl::describe(st.error())));
      return false;
    }
    bytes += size;
    if (Verdict v = handler_.admitOnFlow(f, it->second.state, e); !v.ok()) {
      violate(v.violation);
      return false;
    }
    FlowVerdict v =
        handler_.onFlowEvent(f, it->second.state, e, CreditToken(ledger_, f, rx_.generation(f)));
    if (failed_) return false;
    if (v.close) close(f, v.reason);
    return true;
  }

  void receive(typename Traits::Batch::Reader batch) {
    if (failed_) return;
    stats_.batchesReceived++;
    // Stage 1: bounds.
    auto events = batch.getEvents();
    if (events.size() > Traits::kMaxEventsPerBatch) return violate("batch too long");
    // Stage 2: grants for what we send.
    auto credit = batch.getCredit();
    if (credit.getFlows().size() > windows_.maxFlows) return violate("too many grants");
    bool credited = credit.getConnectionBytes() > 0 || credit.getFlows().size() > 0;
    if (!tx_.onConnGrant(credit.getConnectionBytes()))
      return violate("connection credit over-granted");
    for (auto g : credit.getFlows())
      if (!tx_.onFlowGrant({g.getFlow(), g.getMessages()}))
        return violate("flow credit over-granted");
    // Stages 3-5: each event, in order.
    uint32_t bytes = 0;
    for (auto e : events) {
      stats_.eventsReceived++;
      uint32_t size = sizeOf(e);
      if (size > Traits::kMaxEventBytes) return violate("event too large");
      if (Verdict v = handler_.admit(e); !v.ok()) return violate(v.violation);
      if (failed_) return;
      auto flow = Traits::flowOf(e);
      if (!flow) {  // control events carry no credit
        if (Verdict v = handler_.onControl(e); !v.ok()) return violate(v.violation);
        if (failed_) return;
        continue;
      }
      if (!receiveFlowEvent(*flow, e, size, bytes)) return;
    }
    rx_.onConnTaken(bytes);
    if (rx_.hasGrantsDue()) scheduleFlush();
    if (credited) handler_.onCredit();
  }

  flowctl::CreditWindows windows_;
  Handler& handler_;
  uint32_t maxBatch_;
  flowctl::CreditSender tx_;
  flowctl::CreditReceiver rx_;
  std::unordered_map<FlowId, Flow> flows_;
  std::optional<typename Sink::Client> peer_;
  std::optional<capnp::Request<typename Sink::PushParams, typename Sink::PushResults>> request_;
  std::shared_ptr<DataPlane> plane_;
  BatchArena arena_;
  std::optional<BatchMessageBuilder> builder_;
  capnp::Orphanage orphanage_;
  capnp::Orphan<capnp::List<Event>> list_;
  uint32_t count_ = 0, listCapacity_ = 0, capacity_ = 0;
  bool flushScheduled_ = false;
  bool failed_ = false;
  std::vector<flowctl::FlowGrant> grantScratch_;
  Stats stats_;
  ErrorHandler errors_;
  kj::TaskSet tasks_;
  std::shared_ptr<BatchPipe*> alive_ = std::make_shared<BatchPipe*>(this);
  flowctl::LedgerHandle ledger_ =
      std::make_shared<flowctl::CreditLedger*>(static_cast<flowctl::CreditLedger*>(this));
};

}  // namespace onionsplit::ipc

// common/ipc/batch_pipe.h: one direction-pair of batched, credit-controlled messages over a Cap'n
// Proto connection between two daemons (both ends of one boundary of proto/).
//
// Where it sits: every boundary (channel_circuit, circuit_stream, circuit_conflux, conflux_stream)
// has the same shape: each side implements a Sink with push(batch), a batch holds a list of events
// and the credit grants for the other direction. BatchPipe is that shape once, parameterised by a
// Traits type that names the schema types and says which events belong to which flow.
//
// Sending: the producer asks canSend(flow); if yes it appends an event with add(), fills it, and
// commits it to its flow with commit(). An event's size for the connection window is its
// payload (Traits::payloadBytes) plus a fixed overhead, computed the same way on both sides. Events
// go out in batches: a batch is flushed when it holds maxBatch events, or at the end of the current
// loop turn, so everything produced in one turn shares one call. Receiving: push() runs the checks
// in named stages (STYLE.md): is the batch within bounds, are the grants within the windows, does
// each event name a flow the peer may use, does credit allow it; then it hands the event to the
// Handler, which copies what it needs to its edge queue. When the edge takes messages, the owner
// calls taken(), and the grants ride the next batch back (or an empty batch when nothing else is
// going that way).
//
// Flows open with an event the Handler accepts as an opener and close in two phases: each side
// sends one closing event; the flow is forgotten when both have, so an id is never reused while
// messages for its previous life may still be on the wire. A closing event costs no credit (each
// side sends at most one per flow, so they are bounded by the open flows): a side can always end a
// flow, even one whose window the peer holds, and the Handler never calls taken() for one.
//
// Transport: in the daemons a pipe sends and receives its batches as data frames on its
// connection's socket (setPlane(), frame_stream.h): one write per batch, no reply. The same batches
// can also travel as RPC calls to the peer's Sink (setPeer(), makeLocalSink()), which tests and
// fuzzers use to drive a pipe without a socket.
//
// Any violation calls Handler::onViolation once; the owner must then drop the connection and
// everything bound to it. Lifetime: a BatchPipe lives exactly as long as its connection.
#pragma once

#include <capnp/capability.h>
#include <capnp/list.h>
#include <capnp/message.h>
#include <capnp/orphan.h>
#include <capnp/serialize.h>
#include <kj/async.h>
#include <kj/debug.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/flowctl/credit.h"
#include "common/ipc/frame_stream.h"

namespace onionsplit::ipc {

using flowctl::FlowId;

enum class UnknownFlow : uint8_t {
  kOpen,       // a legitimate opener: open the flow (both directions)
  kDrop,       // stale (e.g. its channel is gone): drop it, return its connection credit
  kViolation,  // the peer may not send this
};

// What an event costs the connection window beyond its payload (its struct and pointers).
inline constexpr uint32_t kEventOverhead = 64;
// Limits on a received data frame's message (as RpcLimits for RPC messages).
inline constexpr uint64_t kTraversalLimitWords = 1u << 17;
inline constexpr int kNestingLimit = 16;

template <class Traits>
class BatchPipe {
 public:
  using Sink = typename Traits::Sink;
  using Event = typename Traits::Event;

  class Handler {
   public:
    // noexcept(false) like KJ's destructors, so handlers may own KJ objects.
    virtual ~Handler() noexcept(false) = default;
    // What to do with an event for a flow that is not open.
    virtual UnknownFlow onUnknownFlow(typename Event::Reader e) = 0;
    // An event that passed every check. Returns false if the application refuses it (a violation).
    virtual bool onEvent(typename Event::Reader e) = 0;
    // Credit came back: producers waiting in canSend() may try again.
    virtual void onCredit() = 0;
    // The peer broke the contract; drop the connection. Called at most once.
    virtual void onViolation(const std::string& why) = 0;
  };

  struct Stats {
    uint64_t batchesSent = 0, eventsSent = 0, batchesReceived = 0, eventsReceived = 0;
  };

  BatchPipe(flowctl::CreditWindows w, Handler& h, uint32_t maxBatch = 256)
      : windows_(w), handler_(h), maxBatch_(maxBatch), tx_(w), rx_(w), tasks_(errors_) {
    errors_.pipe = this;
  }
  ~BatchPipe() { *alive_ = nullptr; }
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

  // Opens a flow from our side (we are about to send its opener).
  bool openFlow(FlowId f) {
    if (failed_ || states_.count(f)) return false;
    if (!tx_.openFlow(f) || !rx_.openFlow(f)) {
      tx_.closeFlow(f);
      return false;
    }
    states_.emplace(f, FlowState{});
    return true;
  }
  bool isOpen(FlowId f) const { return states_.count(f) != 0; }

  bool canSend(FlowId f) const {
    auto it = states_.find(f);
    return !failed_ && it != states_.end() && !it->second.sentClose &&
           tx_.canSend(f, Traits::kMaxEventBytes);
  }
  // Whether our closing event for f may go now (it needs no credit).
  bool canClose(FlowId f) const {
    auto it = states_.find(f);
    return !failed_ && it != states_.end() && !it->second.sentClose;
  }
  // Appends an event to the current batch; the caller fills it, then commits it if it belongs to a
  // flow (after canSend), or does nothing more for a flow-less event.
  typename Event::Builder add() {
    if (count_ == maxBatch_) flush();
    if (!batching()) startBatch();
    return list_.get()[count_++];
  }
  void commit(FlowId f, typename Event::Builder e) {
    auto r = e.asReader();
    if (Traits::closesFlow(r)) {
      auto it = states_.find(f);
      if (it != states_.end()) {
        it->second.sentClose = true;
        maybeForget(it);
      }
      return;
    }
    tx_.onSent(f, sizeOf(r));
  }
  // Our edge took `n` messages of flow f (or dropped them): their credit may go back.
  void taken(FlowId f, uint32_t n) {
    if (!rx_.onEdgeTaken(f, n)) return;  // a flow already forgotten owes nothing
    if (rx_.hasGrantsDue()) scheduleFlush();
  }
  // Forgets flows without the two-phase close (both sides agree they are gone, e.g. with a
  // channel).
  template <class Pred>
  void forgetFlows(Pred pred) {
    for (auto it = states_.begin(); it != states_.end();) {
      if (pred(it->first)) {
        tx_.closeFlow(it->first);
        rx_.closeFlow(it->first);
        it = states_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Sends what is batched now (also called at the end of each loop turn).
  void flush() {
    if (failed_ || (!peer_ && !plane_)) return;
    if (!batching() && !rx_.owesAnything()) return;
    if (!batching()) startBatch();
    list_.truncate(count_);
    auto batch = plane_ ? builder_->getRoot<typename Traits::Batch>() : request_->initBatch();
    batch.adoptEvents(kj::mv(list_));
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
    count_ = 0;
    if (plane_) {
      auto segments = builder_->getSegmentsForOutput();
      bool inScratch = reinterpret_cast<const uint64_t*>(segments[0].begin()) == scratch_.data();
      size_t used = segments[0].size();
      // A connection that is gone (or failed) ends the session through its owner.
      plane_->send(segments);
      builder_.reset();
      if (inScratch) std::memset(scratch_.data(), 0, used * sizeof(uint64_t));
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
  size_t openFlows() const { return states_.size(); }

 private:
  struct FlowState {
    bool sentClose = false;
    bool recvClose = false;
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

  static uint32_t sizeOf(typename Event::Reader e) {
    size_t n = Traits::payloadBytes(e);
    return n > Traits::kMaxEventBytes - kEventOverhead ? Traits::kMaxEventBytes + 1
                                                       : static_cast<uint32_t>(n + kEventOverhead);
  }

  bool batching() const { return plane_ ? builder_.has_value() : request_.has_value(); }

  // A first segment for a typical batch (about 50 relay messages), under malloc's mmap threshold:
  // a segment sized for a full batch (160 KiB) was mmapped, zeroed and page-faulted in for every
  // batch, most of which are small. Larger batches grow into further segments.
  static constexpr uint64_t kFirstSegmentWords = 4096;

  void startBatch() {
    capnp::Orphanage orphanage =
        capnp::Orphanage::getForMessageContaining(plane_ ? startFrame() : startRequest());
    list_ = orphanage.newOrphan<capnp::List<Event>>(maxBatch_);
    count_ = 0;
    scheduleFlush();
  }
  // The batch of an RPC call.
  typename Traits::Batch::Builder startRequest() {
    request_ = peer_->pushRequest(capnp::MessageSize{
        std::min<uint64_t>(kFirstSegmentWords,
                           uint64_t{maxBatch_} * (Traits::kMaxEventBytes / 8) + 64),
        0});
    return request_->getBatch();
  }
  // The batch of a data frame: its own message, built in a reused, zeroed first segment (no
  // allocation unless the batch outgrows it).
  typename Traits::Batch::Builder startFrame() {
    if (scratch_.empty()) scratch_.resize(kFirstSegmentWords);
    builder_.emplace(
        kj::arrayPtr(reinterpret_cast<capnp::word*>(scratch_.data()), scratch_.size()));
    return builder_->template initRoot<typename Traits::Batch>();
  }

  // A data frame from the peer: parsed in place, with the same limits as RPC messages.
  void receiveMessage(kj::ArrayPtr<const capnp::word> message) {
    if (failed_) return;
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

  void maybeForget(typename std::unordered_map<FlowId, FlowState>::iterator it) {
    if (!it->second.sentClose || !it->second.recvClose) return;
    tx_.closeFlow(it->first);
    rx_.closeFlow(it->first);
    states_.erase(it);
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
    // Stage 3: each event, in order.
    uint32_t bytes = 0;
    for (auto e : events) {
      stats_.eventsReceived++;
      auto flow = Traits::flowOf(e);
      uint32_t size = sizeOf(e);
      if (size > Traits::kMaxEventBytes) return violate("event too large");
      if (!flow) {  // flow-less events (e.g. a channel opened) carry no credit
        if (!handler_.onEvent(e)) return violate("event refused");
        continue;
      }
      bool closing = Traits::closesFlow(e);
      if (!closing) bytes += size;
      auto it = states_.find(*flow);
      if (it == states_.end()) {
        switch (handler_.onUnknownFlow(e)) {
          case UnknownFlow::kDrop:
            if (!closing && !rx_.onConnReceived(size))
              return violate("bytes beyond the connection window");
            continue;
          case UnknownFlow::kViolation:
            return violate("event for a flow that is not open");
          case UnknownFlow::kOpen:
            if (!tx_.openFlow(*flow) || !rx_.openFlow(*flow)) return violate("too many flows");
            it = states_.emplace(*flow, FlowState{}).first;
        }
      }
      if (it->second.recvClose) return violate("event after the flow's close");
      if (!closing) {
        if (auto st = rx_.onReceived(*flow, size); !st)
          return violate(std::string(flowctl::describe(st.error())));
      }
      if (!handler_.onEvent(e)) return violate("event refused");
      if (failed_) return;
      if (closing) {
        it = states_.find(*flow);  // the handler may have sent its own close meanwhile
        if (it != states_.end()) {
          it->second.recvClose = true;
          maybeForget(it);
        }
      }
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
  std::unordered_map<FlowId, FlowState> states_;
  std::optional<typename Sink::Client> peer_;
  std::optional<capnp::Request<typename Sink::PushParams, typename Sink::PushResults>> request_;
  std::shared_ptr<DataPlane> plane_;
  std::vector<uint64_t> scratch_;  // words (capnp::word cannot live in a vector)
  std::optional<capnp::MallocMessageBuilder> builder_;
  capnp::Orphan<capnp::List<Event>> list_;
  uint32_t count_ = 0;
  bool flushScheduled_ = false;
  bool failed_ = false;
  std::vector<flowctl::FlowGrant> grantScratch_;
  Stats stats_;
  ErrorHandler errors_;
  kj::TaskSet tasks_;
  std::shared_ptr<BatchPipe*> alive_ = std::make_shared<BatchPipe*>(this);
};

}  // namespace onionsplit::ipc

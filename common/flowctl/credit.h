// common/flowctl/credit.h: credit windows between two daemons (pure), two levels like HTTP/2.
//
// Where it sits: every IPC boundary (channeld<->circuitd, circuitd<->streamd, circuitd<->confluxd,
// confluxd<->streamd) carries batches of messages, each message belonging to a flow (a circuit or
// a stream, named by the boundary's id). The sender holds a CreditSender, the receiver a
// CreditReceiver, and the two exchange grants inside the batches that already travel the other way.
//
// Level 1, per flow, in messages: a message leaves the sender's edge queue only while its flow has
// credit; the receiver returns that credit only when its own edge has taken the message (channeld's
// TLS output below its watermark, streamd's socket write, circuitd's downstream credit). A stalled
// consumer therefore holds at most one window of that flow, wherever it is, and slows the producer
// all the way back to the source.
//
// Level 2, per connection, in bytes: bounds what is in flight on the socket itself. The receiver
// returns it as soon as its reader has moved a batch into the per-flow queues, so a stalled flow
// never holds connection credit and never blocks the other flows on the same socket (HTTP/2 returns
// its connection window only at the application, which lets a few stalled streams block a whole
// connection; here the per-flow windows already bound the receiver's memory, so the connection
// window needs to cover only the socket). Memory at the receiver is bounded by the sum of the flow
// windows plus one connection window.
//
// The peer is untrusted: a receiver refuses a message beyond a window, a sender refuses a grant
// that would open a window beyond its size. Either is a violation that ends the connection.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/result.h"

namespace onionsplit::flowctl {

using FlowId = uint64_t;

enum class CreditErrc : uint8_t {
  kUnknownFlow,    // a message or grant for a flow that is not open
  kFlowOverrun,    // more messages than the flow's window allowed
  kConnOverrun,    // more bytes than the connection's window allowed
  kFlowOverGrant,  // a grant that would open a flow beyond its window
  kConnOverGrant,  // a grant that would open the connection beyond its window
  kDuplicateFlow,  // opening a flow that is already open
  kTooManyFlows,   // beyond the limit of open flows
  kEdgeOverTake,   // our own edge claims to have taken messages it never received: our bug
};
std::string_view describe(CreditErrc e);

using CreditStatus = Expected<void, CreditErrc>;

struct CreditWindows {
  uint32_t flowMessages = 64;        // per flow
  uint32_t connBytes = 1024 * 1024;  // per connection
  uint32_t maxFlows = 65536;         // open flows per connection
};

// One flow's grant, as it travels in a batch.
struct FlowGrant {
  FlowId flow = 0;
  uint32_t messages = 0;
};

// The sending side of one connection.
class CreditSender {
 public:
  explicit CreditSender(CreditWindows w) : w_(w), connAvail_(w.connBytes) {}

  CreditStatus openFlow(FlowId id);
  // Forgets a flow; grants that arrive for it later are ignored (they crossed the close on the
  // wire).
  void closeFlow(FlowId id) { flows_.erase(id); }
  bool isOpen(FlowId id) const { return flows_.count(id) != 0; }

  // True if a message of `bytes` may leave for `id` now. Every boundary's messages are far smaller
  // than a connection window (a cell body is 509 bytes), so a message never waits forever.
  bool canSend(FlowId id, uint32_t bytes) const;
  // Spends the credit of one message; the caller checked canSend.
  void onSent(FlowId id, uint32_t bytes);

  CreditStatus onFlowGrant(const FlowGrant& g);
  CreditStatus onConnGrant(uint32_t bytes);

  uint32_t connAvailable() const { return connAvail_; }
  uint32_t flowAvailable(FlowId id) const;
  size_t openFlows() const { return flows_.size(); }

 private:
  CreditWindows w_;
  uint32_t connAvail_;
  std::unordered_map<FlowId, uint32_t> flows_;  // available messages per flow
};

// The receiving side of one connection. Grants accumulate and are handed out in batches: a flow's
// grant is released once a quarter of its window (at least one) is owed, the connection's once a
// quarter of its window is owed, or everything when `flush` asks (e.g. an idle loop turn).
class CreditReceiver {
 public:
  explicit CreditReceiver(CreditWindows w) : w_(w) {}

  CreditStatus openFlow(FlowId id);
  // Forgets a flow; what it owed is not granted (the sender forgets the flow too).
  void closeFlow(FlowId id);
  bool isOpen(FlowId id) const { return flows_.count(id) != 0; }
  // The open flow's generation (0 if not open): unique per opening, so a credit token of a flow's
  // previous life (credit_token.h) is told apart from the flow that reused its id.
  uint32_t generation(FlowId id) const;

  // A message arrived off the socket for `id`: checks both windows.
  CreditStatus onReceived(FlowId id, uint32_t bytes);
  // A message arrived for no open flow (stale, dropped): only the connection window counts it.
  CreditStatus onConnReceived(uint32_t bytes);
  // The reader moved `bytes` off the socket into the flow queues (connection level).
  void onConnTaken(uint32_t bytes);
  // Our edge took `messages` of flow `id` in its generation `gen` (flow level). A flow that is no
  // longer open in that generation owes nothing (success). More than it received is our own bug:
  // kEdgeOverTake.
  CreditStatus onEdgeTaken(FlowId id, uint32_t gen, uint32_t messages);

  // Appends the grants that are due (or all owed, with `flush`) to `out` and returns the connection
  // bytes to grant; clears what it returned.
  uint32_t takeGrants(std::vector<FlowGrant>& out, bool flush);
  bool hasGrantsDue() const { return connOwed_ >= connThreshold() || dueFlows_ > 0; }
  bool owesAnything() const { return connOwed_ > 0 || !owing_.empty(); }

  uint32_t connInFlight() const { return connUsed_; }
  uint32_t flowHeld(FlowId id) const;

 private:
  struct Flow {
    uint32_t held = 0;    // received and not yet taken by the edge
    uint32_t owed = 0;    // taken by the edge and not yet granted back
    uint32_t gen = 0;     // which opening of the id this is
    bool listed = false;  // in owing_
  };
  uint32_t connThreshold() const { return w_.connBytes / 4 ? w_.connBytes / 4 : 1; }
  uint32_t flowThreshold() const { return w_.flowMessages / 2 ? w_.flowMessages / 2 : 1; }

  CreditWindows w_;
  uint32_t connUsed_ = 0;  // received and not yet moved off the socket
  uint32_t connOwed_ = 0;
  std::unordered_map<FlowId, Flow> flows_;
  std::vector<FlowId> owing_;  // flows that may owe a grant (stale entries are skipped)
  size_t dueFlows_ = 0;        // flows whose owed grant reached the threshold (an upper bound)
  uint32_t nextGen_ = 1;
};

}  // namespace onionsplit::flowctl

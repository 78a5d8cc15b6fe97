// common/flowctl/credit_token.h: the credit of one received message, as a move-only value (pure).
//
// Where it sits: a daemon that receives a message from a peer daemon (common/ipc/batch_pipe.h)
// gets, with it, a CreditToken for that message's flow credit. The token goes wherever the message
// goes: into a queue at the edge (circuitd's held and BWD queues, confluxd's set queues, channeld's
// output scheduler) or nowhere. When the token is destroyed (the message left the edge, was
// dropped, or its queue was cleared or destroyed) the credit goes back to the peer. So nobody
// returns credit by hand: a message cannot be returned twice or forgotten, whatever path frees it.
//
// Lifetime: tokens may outlive the receiver they came from (a queue destroyed after its
// connection); the receiver clears the shared handle when it dies, and such tokens return nothing.
// A flow closed meanwhile is told apart by its generation: a token of a flow's previous life
// returns nothing to a flow that reused the id.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

namespace onionsplit::flowctl {

using FlowId = uint64_t;

// The receiving side of a connection, as its tokens see it.
class CreditLedger {
 public:
  // One message of `flow` (in its generation `gen`) left the edge.
  virtual void release(FlowId flow, uint32_t gen) = 0;

 protected:
  ~CreditLedger() = default;
};

// Shared between a ledger and its tokens; the ledger sets it to nullptr when it goes away.
using LedgerHandle = std::shared_ptr<CreditLedger*>;

class CreditToken {
 public:
  CreditToken() = default;  // no credit: a message its holder made itself
  CreditToken(LedgerHandle ledger, FlowId flow, uint32_t gen)
      : ledger_(std::move(ledger)), flow_(flow), gen_(gen) {}
  CreditToken(CreditToken&& o) noexcept
      : ledger_(std::move(o.ledger_)), flow_(o.flow_), gen_(o.gen_) {}
  CreditToken& operator=(CreditToken&& o) noexcept {
    if (this != &o) {
      release();
      ledger_ = std::move(o.ledger_);
      flow_ = o.flow_;
      gen_ = o.gen_;
    }
    return *this;
  }
  CreditToken(const CreditToken&) = delete;
  CreditToken& operator=(const CreditToken&) = delete;
  ~CreditToken() { release(); }

  // Returns the credit now (the message left the edge); a second call does nothing.
  void release() {
    if (!ledger_) return;
    LedgerHandle l = std::move(ledger_);
    if (*l) (*l)->release(flow_, gen_);
  }
  // True while the token still holds a peer's credit.
  bool holds() const { return ledger_ != nullptr; }
  FlowId flow() const { return flow_; }

 private:
  LedgerHandle ledger_;
  FlowId flow_ = 0;
  uint32_t gen_ = 0;
};

}  // namespace onionsplit::flowctl

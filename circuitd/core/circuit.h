// circuitd/core/circuit.h: one circuit at this relay (pure): its two reactors, FWD (cells from the
// client: decrypt, recognize, pass through the handler chain) and BWD (messages for the client:
// SENDME accounting, congestion control, digest, encrypt). tor-spec §5-7, proposals 289, 324, 329,
// 359. The circuit's relay crypto (tor1 or CGO) and its relay cell format (v0 or v1) were chosen
// at CREATE (hop_crypto.h); everything here goes through them: recognizing, decoding, SENDME tags
// (tor1's digest or CGO's tag), encoding, and the middle role's forwarding both ways. On a v1
// circuit a message that carries no stream id reaches the handler chain (and the stream side)
// with stream id 0, and DATA from the stream side longer than a v1 cell holds goes as two cells.
//
// Where it sits: circuitd's shell (circuitd/net) owns one Circuit per (channeld connection, flow)
// and implements CircuitIo: cells go to channeld, stream messages to streamd (or to confluxd on a
// conflux leg), each only while that boundary's credit allows (canSendCell, canDeliver). What
// cannot go on now waits in the circuit's own bounded queues with the credit it came with (a
// CreditToken), so a slow client slows streamd's reads and a stalled streamd slows the client, with
// at most one credit window held here per direction; the credit goes back when the message leaves.
//
// FWD's handler chain (STYLE.md "Reactors"), built once, each handler taking the message or passing
// it on: DROP and unknown commands; circuit SENDMEs (flow control, handed to BWD: the design doc's
// sendme_tx); the middle role (EXTEND, EXTEND2, TRUNCATE: middle.h); conflux (LINK, LINKED_ACK,
// SWITCH); stream messages (to the stream side); and last what only an exit sends, which a client
// may not (PROTOCOL).
//
// What the circuit answers itself (TRUNCATED, EXTENDED2, END for a stream it refuses or whose
// stream side went) never takes a slot of the stream side's window: a few circuit answers have
// slots of their own, stream ENDs one per stream; a client that provokes more loses its circuit
// (RESOURCELIMIT), nobody else anything (issue 15).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "circuitd/core/create.h"
#include "circuitd/core/hop_crypto.h"
#include "circuitd/core/middle.h"
#include "common/base/bytes.h"
#include "common/cell/constants.h"
#include "common/cell/relay.h"
#include "common/crypto/tor1.h"
#include "common/flowctl/credit_token.h"
#include "common/flowctl/msg_queue.h"
#include "common/flowctl/sendme.h"
#include "common/flowctl/vegas.h"

namespace onionsplit::circuitd {

using flowctl::CreditToken;
using flowctl::MsgQueue;

// What the shell did with a message for the stream side.
struct Delivery {
  enum Kind : uint8_t {
    kDelivered,  // it went to streamd (or confluxd)
    kRefused,    // the stream is refused: the circuit answers END with `reason`
    kDestroy,    // the circuit must close with DESTROY `reason`
  };
  Kind kind = kDelivered;
  uint8_t reason = 0;
};

// What the circuit needs from its shell.
class CircuitIo {
 public:
  virtual ~CircuitIo() = default;
  virtual bool canSendCell() = 0;               // channeld's credit allows one more cell
  virtual void sendCell(Bytes payload509) = 0;  // an encrypted RELAY cell for the client
  // The stream side: streamd, or confluxd once the circuit is a conflux leg (it sent LINK).
  virtual bool canDeliver() = 0;  // the stream side's credit allows one more message
  // A message for the stream side: stream messages, and on a leg also CONFLUX_LINK,
  // CONFLUX_LINKED_ACK and CONFLUX_SWITCH (streamId 0), which the shell routes to confluxd.
  virtual Delivery deliver(cell::StreamId streamId, uint8_t command, Bytes body) = 0;
  virtual void random(MutBytes out) = 0;  // padding of originated cells
  // The middle role: channeld's credit for the next hop's flow allows one more cell; a client cell
  // for it (decrypted by our layer; RELAY_EARLY kept); an EXTEND2 that passed the checks; the next
  // hop to destroy (TRUNCATE, with the client's reason).
  virtual bool canSendNext() = 0;
  virtual void sendNext(bool early, Bytes payload509) = 0;
  virtual void extend(ExtendTarget target) = 0;
  virtual void destroyNextHop(uint8_t reason) = 0;
  // A DROP message from the client arrived and was dropped (counted: tor_relay_drop_cell_total).
  virtual void droppedCell() = 0;
  // An onion-service message (ESTABLISH_INTRO, ESTABLISH_RENDEZVOUS, INTRODUCE1, RENDEZVOUS1) was
  // dropped: this relay is no introduction or rendezvous point (counted for the MetricsPort).
  virtual void unservedOnionServiceCell(uint8_t /*command*/) {}
};

class Circuit {
 public:
  static std::optional<Circuit> create(const Created& c, const CircuitParams& params);

  // Every call that can end the circuit returns whether it still lives; once false,
  // destroyReason() is the DESTROY reason and the shell closes it.

  // FWD: a RELAY (early = RELAY_EARLY) cell from the client, decrypted in place; `credit` is its
  // channeld credit.
  [[nodiscard]] bool fromClient(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload,
                                uint64_t nowUsec, CircuitIo& io, CreditToken credit);
  // FWD: messages held for the stream side go on (through the chain) while it can take them.
  [[nodiscard]] bool drainHeld(uint64_t nowUsec, CircuitIo& io);
  size_t held() const { return fwd_.held.size(); }

  // BWD: a message from the stream side for the client, with its credit. From confluxd
  // (`fromConflux`, a leg only) CONFLUX_SWITCH on stream 0 is allowed too.
  [[nodiscard]] bool fromStreams(cell::StreamId streamId, uint8_t command, Bytes body,
                                 uint64_t nowUsec, CircuitIo& io, CreditToken credit,
                                 bool fromConflux = false);
  // BWD: CONFLUX_LINKED for the client (confluxd's answer to the leg's LINK), with its credit.
  [[nodiscard]] bool linked(Bytes body, uint64_t nowUsec, CircuitIo& io, CreditToken credit);
  // BWD: END for a stream, made here (its stream side went away, or the shell refuses it).
  [[nodiscard]] bool endStream(cell::StreamId streamId, uint8_t reason);
  // BWD and the middle role: sends what waits (our SENDMEs, then queued messages in order, then
  // stream ENDs, then the next hop's cells) while the windows and channeld allow, and the client's
  // cells for the next hop while its flow allows.
  [[nodiscard]] bool pump(uint64_t nowUsec, CircuitIo& io);
  // BWD has something to send once channeld's credit allows (or the next hop's, forward).
  bool bwdWaiting() const {
    return !bwd_.queue.empty() || bwd_.dueSendmes.size() > 0 || !bwd_.endsDue.empty() ||
           !middle_.back().empty();
  }
  bool fwdWaiting() const { return !middle_.forward().empty(); }

  // ---- the middle role ----
  void setHopIdentities(HopIdentities ids) { middle_.setHopIdentities(std::move(ids)); }
  Middle::Extended extendResult(bool ok) { return middle_.extendResult(ok); }
  // A cell from the next hop (CREATED2, RELAY) with its credit on the next hop's flow.
  [[nodiscard]] bool fromNextHop(uint8_t cellCmd, std::span<uint8_t, cell::kCellPayloadLen> payload,
                                 CircuitIo& io, CreditToken credit);
  // The next hop is gone (it destroyed, or its channel closed): what waited for it goes.
  void nextHopGone() { middle_.dropForward(); }

  // ---- the memory budget (flowctl/mem_budget.h) ----
  // Charges the circuit's cell queues (FWD's held messages, BWD's queue, the middle role's cells
  // both ways) to `memory` from now on; they give their bytes back as cells leave, and all of
  // them when the circuit is destroyed.
  void account(flowctl::MemCounter& memory) {
    fwd_.held.account(memory);
    bwd_.queue.account(memory);
    middle_.account(memory);
  }
  uint64_t memHeld() const {
    return fwd_.held.memHeld() + bwd_.queue.memHeld() + middle_.memHeld();
  }
  // The enqueue stamp of its oldest queued cell (0: none): C tor's OOM handler closes the
  // circuits whose oldest queued cell is oldest first.
  uint64_t oldestQueued() const;

  cell::DestroyReason destroyReason() const { return destroyReason_; }
  bool ccEnabled() const { return cc_.has_value(); }
  bool isCgo() const { return crypto_.isCgo(); }
  cell::RelayCellFormat cellFormat() const { return crypto_.format(); }
  // The client sent CONFLUX_LINK: from then on every multiplexed message goes to confluxd.
  bool isLeg() const { return leg_; }
  uint8_t sendmeInc() const { return sendmeInc_; }
  const flowctl::VegasController* vegas() const { return cc_ ? &*cc_ : nullptr; }
  uint64_t cellsFromClient() const { return fwd_.cells; }
  uint64_t cellsToClient() const { return bwd_.cells; }

  // Bounds of what the circuit makes itself (issue 15: never in a peer's window).
  static constexpr size_t kCircuitAnswers = 8;  // TRUNCATED, EXTENDED2 waiting at once
  static constexpr size_t kMaxEndsDue = 512;    // stream ENDs waiting (one per stream at most)
  // Our SENDMEs that may wait for channeld's credit: more means the client sends beyond any
  // window it could have had from us.
  static constexpr size_t kMaxDueSendmes = 256;

 private:
  // One recognized message from the client, as the FWD chain sees it.
  struct FwdMsg {
    cell::RelayHeader header;
    Bytes body;
    bool early = false;
    uint64_t nowUsec = 0;
    CreditToken& credit;  // keep it (move it away) if the message waits
  };
  // What one handler of the chain did with the message.
  enum class Step : uint8_t { kNext, kDone, kDead };
  using FwdHandler = Step (Circuit::*)(FwdMsg&, CircuitIo&);

  Circuit(HopCrypto crypto, const CircuitParams& p, bool cc, uint8_t sendmeInc);
  bool destroy(cell::DestroyReason r) {
    destroyReason_ = r;
    return false;
  }
  Step dead(cell::DestroyReason r) {
    destroyReason_ = r;
    return Step::kDead;
  }
  bool dispatch(FwdMsg& m, CircuitIo& io);
  // The chain, in order.
  Step dropHandler(FwdMsg& m, CircuitIo& io);
  Step sendmeHandler(FwdMsg& m, CircuitIo& io);
  Step middleHandler(FwdMsg& m, CircuitIo& io);
  Step confluxHandler(FwdMsg& m, CircuitIo& io);
  Step streamHandler(FwdMsg& m, CircuitIo& io);
  Step exitOnlyHandler(FwdMsg& m, CircuitIo& io);
  static const FwdHandler kFwdChain[6];

  // The message goes to the stream side now, or waits in `held` with its credit.
  Step toStreams(FwdMsg& m, CircuitIo& io);
  bool forward(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload, CircuitIo& io,
               CreditToken credit);
  // Queues a message we make ourselves for the client (circuit-level: stream 0).
  bool answer(uint8_t command, Bytes body);
  // Originates one cell for the client; false if crypto failed.
  bool originate(cell::StreamId streamId, uint8_t command, Bytes body, CircuitIo& io,
                 flowctl::SendmeTag* digest);
  bool toClient(cell::StreamId streamId, uint8_t command, Bytes body, uint64_t nowUsec,
                CircuitIo& io, CreditToken credit);
  bool pumpQueue(uint64_t nowUsec, CircuitIo& io);
  bool pumpRelayed(CircuitIo& io);
  void pumpForward(CircuitIo& io);
  bool dataWindowOpen() const;
  void dataSent(const flowctl::SendmeTag& digest, uint64_t nowUsec);

  struct FwdState {
    flowctl::DeliverWindow deliver;
    MsgQueue held{64};  // messages waiting for the stream side, with their channeld credit
    uint8_t relayEarly = 0;
    uint64_t cells = 0;
  };
  struct BwdState {
    flowctl::ClassicSendWindow classic;
    flowctl::SendmeTagQueue sentTags;    // tags the client's SENDMEs must carry
    flowctl::SendmeTagQueue dueSendmes;  // our SENDMEs waiting for channeld's credit
    // The stream side's messages (its window, 64) and our circuit answers (slots of their own).
    MsgQueue queue{64, kCircuitAnswers};
    std::vector<std::pair<cell::StreamId, uint8_t>> endsDue;  // ENDs we make (stream, reason)
    uint64_t cells = 0;
  };

  HopCrypto crypto_;
  CircuitParams params_;
  std::optional<flowctl::VegasController> cc_;
  FwdState fwd_;
  BwdState bwd_;
  Middle middle_;
  cell::DestroyReason destroyReason_ = cell::DestroyReason::kNone;
  bool leg_ = false;
  uint8_t sendmeInc_ = 0;
};

}  // namespace onionsplit::circuitd

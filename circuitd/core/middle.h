// circuitd/core/middle.h: the middle role of a circuit (pure): EXTEND2 checked as C tor's
// circuit_extend() checks it, the next hop's life (extend asked, CREATE2 sent, open, truncated),
// and the cells that wait between the two flows of a circuit with a next hop. tor-spec §5.1.2,
// §5.4, §5.5.
//
// Where it sits: a Circuit (circuit.h) owns one Middle; its FWD handler chain gives the middle role
// the client's EXTEND, EXTEND2 and TRUNCATE, and the cells its layer does not recognize; the next
// hop's cells come through Circuit::fromNextHop. Each waiting cell keeps the credit of the flow it
// came on (a CreditToken), so a next hop that does not read slows the client, and a client that
// does not read slows the next hop, by exactly one flow window each.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/result.h"
#include "common/cell/constants.h"
#include "common/cell/relay_v1.h"
#include "common/flowctl/credit_token.h"
#include "common/flowctl/mem_budget.h"

namespace onionsplit::circuitd {

// The next hop an EXTEND2 names (tor-spec 5.1.2), after circuitd's checks.
struct ExtendTarget {
  std::optional<std::array<uint8_t, 4>> ipv4;
  uint16_t ipv4Port = 0;
  std::optional<std::array<uint8_t, 16>> ipv6;
  uint16_t ipv6Port = 0;
  std::array<uint8_t, 20> rsaId{};
  std::optional<std::array<uint8_t, 32>> edId;
  uint16_t htype = 0;  // the CREATE2 to send there
  std::vector<uint8_t> hdata;
};

// Who an EXTEND2 must not name: the previous hop (extending back to it; C tor refuses that as a
// protocol violation) and this relay (C tor refuses to connect to itself: CONNECTFAILED).
struct HopIdentities {
  std::optional<std::array<uint8_t, 20>> prevRsa;  // set when the previous hop is a relay
  std::optional<std::array<uint8_t, 32>> prevEd;
  std::array<uint8_t, 20> ourRsa{};
  std::array<uint8_t, 32> ourEd{};
};

// Parses and checks an EXTEND2 body as C tor's circuit_extend does: an RSA identity (nonzero) is
// required, at least one IPv4 or IPv6 address with a nonzero address and port, a CREATE2 handshake
// circuitd knows (ntor with its 84 bytes, or ntor v3); the first specifier of each type counts and
// unknown types are ignored. Private addresses are channeld's to refuse (its configuration). A
// failure is the DESTROY reason for the circuit.
Expected<ExtendTarget, cell::DestroyReason> checkExtend2(Bytes body, const HopIdentities& ids);

// A cell waiting for the other flow's credit, holding the credit of the flow it came on.
struct WaitingCell {
  bool early = false;
  std::array<uint8_t, cell::kCellPayloadLen> payload{};
  flowctl::CreditToken credit;
  uint64_t stamp = 0;  // its enqueue stamp (flowctl::MemCounter::stamp) once accounted
};

class Middle {
 public:
  // Cells waiting for a flow's credit: each at most the other flow's window (64), so a peer that
  // keeps to its credit never overflows them.
  static constexpr size_t kMaxWaitingCells = 64;

  void setHopIdentities(HopIdentities ids) { ids_ = std::move(ids); }

  // ---- the client's messages ----
  // EXTEND2 (tor-spec 5.1.2). Nothing: dropped, as C tor drops one on a stream or outside
  // RELAY_EARLY. A target: ask channeld for it. An error: close the circuit with that reason.
  Expected<std::optional<ExtendTarget>, cell::DestroyReason> onExtend2(cell::StreamId streamId,
                                                                       Bytes body, bool early);
  // TRUNCATE (tor-spec 5.4): the client's reason for the next hop's DESTROY if there is an open
  // or half-made next hop to destroy now (an extend channeld still works on is cancelled and its
  // answer closes what it opened). The TRUNCATED answer is the circuit's to queue.
  std::optional<uint8_t> onTruncate(Bytes body);

  // ---- channeld's answer to our extend ----
  enum class Extended : uint8_t {
    kKeep,      // the next hop is ours: CREATE2 went out on it
    kUnwanted,  // no extend of ours any more (cancelled): the shell closes the flow it opened
    kFailed,    // the connection failed: C tor closes the circuit (DESTROY to the client)
  };
  Extended extendResult(bool ok);

  // ---- the next hop ----
  // Its CREATED2: the EXTENDED2 body for the client, or the reason to close the circuit. A reply
  // too long for one cell of the client circuit's `format` (a v1 cell holds 490 bytes, a v0 cell
  // 498) is the next hop's fault: PROTOCOL.
  Expected<std::vector<uint8_t>, cell::DestroyReason> onCreated2(Bytes payload509,
                                                                 cell::RelayCellFormat format);
  // Only RELAY cells once the next hop is open may come from it (an inbound RELAY_EARLY closes the
  // circuit, as C tor since 0.2.4.23: it was the injection channel of the 2014 attack).
  bool acceptsFromNext(uint8_t cellCmd) const;
  bool hasNextHop() const { return hop_ == Hop::kCreateSent || hop_ == Hop::kOpen; }

  // ---- waiting cells ----
  // Both queues charge the memory budget kCellBytes per cell they hold once `account` is called
  // (flowctl/mem_budget.h); a cell leaves only through the calls below, which give it back.
  static constexpr uint64_t kCellBytes = sizeof(WaitingCell);
  void account(flowctl::MemCounter& memory) {
    charge_ = flowctl::MemCharge(memory);
    charge_.set((toNext_.size() + toClient_.size()) * kCellBytes);
  }
  uint64_t memHeld() const { return charge_.held(); }
  // The smaller enqueue stamp of the two queues' front cells (0: none, or not accounted).
  uint64_t oldestStamp() const;

  // A client cell our layer did not recognize, for the next hop; false if its queue is full (only
  // a client beyond its credit gets there).
  bool queueForward(bool early, std::span<const uint8_t, cell::kCellPayloadLen> payload,
                    flowctl::CreditToken credit);
  const std::deque<WaitingCell>& forward() const { return toNext_; }
  // Removes the front cell for the next hop (it went); its client credit goes back.
  void popForward();
  // A next hop's cell for the client (our layer not yet added); false if full.
  bool queueBack(std::span<const uint8_t, cell::kCellPayloadLen> payload,
                 flowctl::CreditToken credit);
  // The front cell for the client, to add our layer to; popBack once it went.
  WaitingCell& frontBack() { return toClient_.front(); }
  const std::deque<WaitingCell>& back() const { return toClient_; }
  void popBack();
  // The next hop is gone: the cells waiting for it go, their credit back.
  void dropForward();
  // The client removed the next hop (TRUNCATE): its cells for the client go too.
  void dropBack();

 private:
  // The next hop: none; an extend channeld works on (`cancelled_` if the client truncated it
  // meanwhile); CREATE2 sent; CREATED2 answered.
  enum class Hop : uint8_t { kNone, kPending, kCreateSent, kOpen };
  Hop hop_ = Hop::kNone;
  bool cancelled_ = false;
  HopIdentities ids_;
  std::deque<WaitingCell> toNext_;    // the client's, for the next hop
  std::deque<WaitingCell> toClient_;  // the next hop's, for the client
  flowctl::MemCharge charge_;         // both queues' cells
};

}  // namespace onionsplit::circuitd
